"""Polling helpers for tests that watch jobs change state."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg


async def wait_until(check: Callable[[], Awaitable[Any]], timeout: float = 10.0, interval: float = 0.05) -> Any:
    """Poll `check` until it returns something truthy; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s (last value: {value!r})")
        await asyncio.sleep(interval)


async def job_row(pool: asyncpg.Pool, job_id: uuid.UUID | str) -> dict[str, Any]:
    """The job's row as a dict, with params and result decoded from JSON."""
    row = await pool.fetchrow("SELECT *, status::text AS status FROM jobs WHERE id = $1", uuid.UUID(str(job_id)))
    data = dict(row)
    for key in ("params", "result"):
        if data[key] is not None:
            data[key] = json.loads(data[key])
    return data


async def wait_status(pool: asyncpg.Pool, job_id: uuid.UUID | str, *statuses: str, timeout: float = 10.0) -> Any:
    async def check() -> Any:
        row = await job_row(pool, job_id)
        return row if row["status"] in statuses else None

    return await wait_until(check, timeout)


async def wait_progressing(
    check: Callable[[], Awaitable[Any]],
    progress: Callable[[], Awaitable[Any]],
    *,
    stall: float = 120.0,
    interval: float = 0.25,
) -> Any:
    """Poll `check` until it returns something truthy, for as long as `progress` keeps changing: fail only
    when the work stopped moving for `stall` seconds, not after a fixed time that a busy host may need."""
    last, moved = await progress(), time.monotonic()
    while True:
        value = await check()
        if value:
            return value
        now, seen = time.monotonic(), await progress()
        if seen != last:
            last, moved = seen, now
        elif now - moved > stall:
            raise AssertionError(f"no progress for {stall} s (last: {seen!r}, check: {value!r})")
        await asyncio.sleep(interval)
