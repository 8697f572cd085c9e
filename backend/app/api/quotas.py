"""Quotas and rate limits per key and owner: enqueue and upload rates (429 with Retry-After), waiting jobs
and stored bytes per owner (429 / 413, naming the limit). Counters live in PostgreSQL (`core/ratelimit`)."""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException, Request, status

from app.api.access import Principal
from app.core.config import Settings
from app.core.ratelimit import RateLimiter


def limiter(request: Request) -> RateLimiter:
    found: RateLimiter = request.app.state.limiter
    return found


async def check_rate(request: Request, principal: Principal, name: str) -> None:
    """Count one `name` request ("enqueue", "upload") for this key. The open local mode has no key and no
    rate limit."""
    if principal.key_prefix is None:
        return
    refusal = await limiter(request).hit(name, principal.key_prefix)
    if refusal is not None:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            f"rate limit for {name} reached: {refusal.limit} per key (RATE_LIMIT_{name.upper()}); "
            f"retry in {refusal.retry_after} s",
            headers={"Retry-After": str(refusal.retry_after)},
        )


async def check_waiting(conn: Any, settings: Settings, owner: str, adding: int = 1) -> None:
    cap = settings.max_waiting_jobs_per_owner
    if not cap:
        return
    waiting = await conn.fetchval(
        "SELECT count(*) FROM jobs WHERE owner = $1 AND owner <> 'system' AND status IN ('pending', 'retry')", owner
    )
    if waiting + adding > cap:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            f"owner {owner!r} has {waiting} waiting jobs; the limit is {cap} (MAX_WAITING_JOBS_PER_OWNER)",
            headers={"Retry-After": "60"},
        )


async def upload_limit(pool: Any, settings: Settings, owner: str) -> tuple[int, HTTPException | None]:
    """Before an upload is read: 429 if the owner has too many waiting jobs, 413 if its stored bytes are at
    the cap. Then the most bytes this upload may have, with the refusal to give past them when the owner's
    quota (not MAX_UPLOAD_BYTES) is the tighter bound."""
    async with pool.acquire() as conn:
        await check_waiting(conn, settings, owner)
        cap = settings.max_stored_bytes_per_owner
        if not cap:
            return settings.max_upload_bytes, None
        used = int(await conn.fetchval("SELECT coalesce(sum(size_bytes), 0) FROM assets WHERE owner = $1", owner))
    if used >= cap:
        raise storage_full(owner, cap, used)
    if cap - used >= settings.max_upload_bytes:
        return settings.max_upload_bytes, None
    return cap - used, storage_full(owner, cap, used)


def storage_full(owner: str, cap: int, used: int) -> HTTPException:
    return HTTPException(
        status.HTTP_413_CONTENT_TOO_LARGE,
        f"owner {owner!r} may store at most {cap} bytes of uploads (MAX_STORED_BYTES_PER_OWNER); "
        f"{used} are used, and this file does not fit",
    )
