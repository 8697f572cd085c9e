"""Dashboard sessions: an HttpOnly cookie holding a random token, stored only as its hash, tied to the API
key that signed in (revoking the key ends its sessions), with a CSRF token for state-changing requests."""

from __future__ import annotations

import secrets
from typing import Any

from app.core import keys
from app.core.keys import ApiKey

COOKIE = "skiplock_session"

_FIND = """
SELECT k.id, k.prefix, k.name, k.owner, k.scope, k.created_at, k.revoked_at, s.csrf_token
FROM api_sessions s JOIN api_keys k ON k.id = s.key_id
WHERE s.token_sha256 = $1 AND s.expires_at > now() AND k.revoked_at IS NULL
"""


async def create(conn: Any, key: ApiKey, hours: float) -> tuple[str, str]:
    """A new session for `key`: (cookie token, CSRF token). Expired sessions are swept on the way."""
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    await conn.execute("DELETE FROM api_sessions WHERE expires_at <= now()")
    await conn.execute(
        "INSERT INTO api_sessions (token_sha256, key_id, csrf_token, expires_at)"
        " VALUES ($1, $2, $3, now() + make_interval(secs => $4))",
        keys.token_hash(token),
        key.id,
        csrf,
        hours * 3600.0,
    )
    return token, csrf


async def find(conn: Any, token: str) -> tuple[ApiKey, str] | None:
    """The key and CSRF token of a live session, or None (unknown, expired, or its key revoked)."""
    row = await conn.fetchrow(_FIND, keys.token_hash(token))
    if row is None:
        return None
    key = ApiKey(row["id"], row["prefix"], row["name"], row["owner"], keys.Scope(row["scope"]), row["created_at"], None)
    return key, row["csrf_token"]


async def end(conn: Any, token: str) -> None:
    await conn.execute("DELETE FROM api_sessions WHERE token_sha256 = $1", keys.token_hash(token))
