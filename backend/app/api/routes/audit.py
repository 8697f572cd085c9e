"""GET /audit: who cancelled or retried which job, and who created or revoked which key (admins only)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from app.api.access import require
from app.api.deps import RuntimeDep
from app.api.errors import REFUSED_FIELD, errors
from app.core import audit
from app.core.keys import Scope

router = APIRouter(tags=["operators"], dependencies=[Depends(require(Scope.admin))])


@router.get("/audit", response_model=list[dict[str, Any]], responses=errors(e422=REFUSED_FIELD))
async def list_audit(
    runtime: RuntimeDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before_id: Annotated[int | None, Query(ge=1, description="Entries older than this id.")] = None,
    action: Annotated[
        str | None, Query(max_length=100, pattern=r"^[a-z._]+$", description="e.g. job.cancel, key.create")
    ] = None,
) -> list[dict[str, Any]]:
    """Audit entries, newest first."""
    rows = await audit.recent(runtime.pool, limit, before_id, action)
    return [{**r, "at": r["at"].isoformat()} for r in rows]
