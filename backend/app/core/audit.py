"""The audit log: who did what to which job or key, and when (cancel, retry, key creation and revocation)."""

from __future__ import annotations

import json
from typing import Any


async def record(
    conn: Any,
    *,
    actor: str,
    action: str,
    target: str | None = None,
    key_prefix: str | None = None,
    detail: dict[str, Any] | None = None,
    request_id: str | None = None,
) -> None:
    await conn.execute(
        "INSERT INTO audit_log (actor, key_prefix, action, target, detail, request_id)"
        " VALUES ($1, $2, $3, $4, $5::jsonb, $6)",
        actor,
        key_prefix,
        action,
        target,
        json.dumps(detail or {}),
        request_id,
    )


async def recent(
    conn: Any, limit: int = 100, before_id: int | None = None, action: str | None = None
) -> list[dict[str, Any]]:
    """Entries newest first; `before_id` pages back from an entry."""
    rows = await conn.fetch(
        """SELECT id, at, actor, key_prefix, action, target, detail::text AS detail, request_id FROM audit_log
           WHERE ($1::bigint IS NULL OR id < $1) AND ($2::text IS NULL OR action = $2)
           ORDER BY id DESC LIMIT $3""",
        before_id,
        action,
        limit,
    )
    return [{**dict(r), "detail": json.loads(r["detail"])} for r in rows]
