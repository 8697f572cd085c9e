"""What a principal may see: its owner's jobs (all of them for admins), a one-line failure reason instead of
a traceback, and idempotency keys scoped to the owner."""

from __future__ import annotations

import re
import uuid
from typing import TypeVar

from fastapi import HTTPException, status
from sqlalchemy import ColumnElement, literal_column
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.access import Principal
from app.models import Asset, Job
from app.schemas import JobOut, _JobFields

# An absolute path of two or more parts, shown by its last part only.
_PATH = re.compile(r"(?:[A-Za-z]:)?(?:[\\/][\w.@+-]+){2,}")


# A literal, not a bound parameter, so that the planner sees the owner indexes' own predicate (migration 0009).
_NOT_SYSTEM = Job.owner != literal_column("'system'")


def owner_filter(principal: Principal) -> list[ColumnElement[bool]]:
    """Job listing filters: none for admins, the principal's owner for everyone else (never ``system``)."""
    if principal.is_admin:
        return []
    return [Job.owner == principal.owner, _NOT_SYSTEM]


def sees(principal: Principal, owner: str | None) -> bool:
    return principal.is_admin or owner == principal.owner


def not_found(what: str, ident: object) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, f"{what} {ident} not found")


async def visible_job(session: AsyncSession, job_id: uuid.UUID, principal: Principal) -> Job:
    """The job, if this principal may see it; else 404, the same answer as for an id that does not exist."""
    job = await session.get(Job, job_id, populate_existing=True)
    if job is None or not sees(principal, job.owner):
        raise not_found("job", job_id)
    return job


async def visible_asset(session: AsyncSession, asset_id: uuid.UUID, principal: Principal) -> Asset:
    asset = await session.get(Asset, asset_id)
    if asset is None or not sees(principal, asset.owner):
        raise not_found("asset", asset_id)
    return asset


def reason(error: str | None) -> str | None:
    """A failure as its owner sees it: the last line of the error (the exception, not the traceback),
    with server paths cut to their file name."""
    if not error:
        return error
    last = next((line.strip() for line in reversed(error.splitlines()) if line.strip()), "")
    return _PATH.sub(lambda m: re.split(r"[\\/]", m.group(0))[-1], last)[:500]


def scoped_key(principal: Principal, key: str | None) -> str | None:
    """The idempotency key as stored: prefixed by the owner, so owners never share (or learn) each other's."""
    return f"{principal.owner}:{key}" if key else None


def shown_key(owner: str, stored: str | None) -> str | None:
    """The idempotency key as its owner sent it (an upload's job keeps its ``upload:`` mark)."""
    if not stored:
        return stored
    for mark in ("", "upload:"):
        if stored.startswith(f"{mark}{owner}:"):
            return mark + stored[len(mark) + len(owner) + 1 :]
    return stored


JobView = TypeVar("JobView", bound=_JobFields)


def present(job: JobView, principal: Principal) -> JobView:
    """A job as this principal sees it: its idempotency key as sent, and for all but admins the failure's
    one-line reason instead of its traceback."""
    updates: dict[str, object] = {"idempotency_key": shown_key(job.owner, job.idempotency_key)}
    if not principal.is_admin:
        updates["error"] = reason(job.error)
    return job.model_copy(update=updates)


def job_out(job: Job, principal: Principal) -> JobOut:
    return present(JobOut.model_validate(job), principal)
