"""A request never waits for a second database connection while its first holds a transaction open.

If it did, a lock request that needs the first one's locks gone (a migration's ALTER TABLE, a TRUNCATE) would
queue behind them, the request's statement on its second connection would queue behind that lock, and the three
would wait for each other: a deadlock PostgreSQL cannot see, because one side of it waits in the application.
Each test queues an ACCESS EXCLUSIVE lock on `jobs` at the moment the route goes on to its next statement; the
lock must then be granted once the request is done (before, it waited out its lock_timeout)."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest
from app.worker import queue, workflows

from tests.support.waiting import wait_until

LOCK_TIMEOUT = "60s"  # the deadlock's length before the fix; the fixed routes release the lock in milliseconds


async def _queue_a_lock(database_url: str, pool: asyncpg.Pool) -> asyncio.Task[None]:
    """An ACCESS EXCLUSIVE lock on jobs, asked for on a connection of its own and released as soon as it is
    granted; returns once it was granted or PostgreSQL shows it waiting."""
    conn = await asyncpg.connect(database_url)

    async def take_and_release() -> None:
        try:
            async with conn.transaction():
                await conn.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
                await conn.execute("LOCK TABLE jobs IN ACCESS EXCLUSIVE MODE")
        finally:
            await conn.close()

    task = asyncio.ensure_future(take_and_release())
    waiting = """SELECT count(*) > 0 FROM pg_locks
                 WHERE relation = 'jobs'::regclass AND mode = 'AccessExclusiveLock' AND NOT granted"""

    async def granted_or_waiting() -> bool:
        return task.done() or await pool.fetchval(waiting)

    await wait_until(granted_or_waiting, timeout=60)
    return task


def _queue_a_lock_before(monkeypatch: pytest.MonkeyPatch, module: Any, name: str, database_url: str, pool) -> list:
    """Make `module.name` queue the lock, then do what it does."""
    real = getattr(module, name)
    queued: list[asyncio.Task[None]] = []

    async def with_a_lock_waiting(*args: Any, **kwargs: Any) -> Any:
        if not queued:
            queued.append(await _queue_a_lock(database_url, pool))
        return await real(*args, **kwargs)

    monkeypatch.setattr(module, name, with_a_lock_waiting)
    return queued


async def _job(client) -> str:
    made = await client.post("/jobs", json={"job_type": "noop", "params": {}, "run_at": "2999-01-01T00:00:00Z"})
    assert made.status_code == 201, made.text
    return made.json()["job"]["id"]


async def test_reading_a_job_with_its_relatives_does_not_hold_up_a_lock(client, pool, database_url, monkeypatch):
    job_id = await _job(client)
    queued = _queue_a_lock_before(monkeypatch, workflows, "relatives", database_url, pool)
    answer = await client.get(f"/jobs/{job_id}")
    assert answer.status_code == 200, answer.text
    assert answer.json()["parents"] == []
    assert queued
    await queued[0]  # granted (a lock_timeout would raise here)


async def test_cancelling_a_job_does_not_hold_up_a_lock(client, pool, database_url, monkeypatch):
    job_id = await _job(client)
    queued = _queue_a_lock_before(monkeypatch, queue, "request_cancel", database_url, pool)
    answer = await client.post(f"/jobs/{job_id}/cancel")
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "cancelled"
    await queued[0]


async def test_retrying_a_job_does_not_hold_up_a_lock(client, pool, database_url, monkeypatch):
    job_id = await _job(client)
    assert (await client.post(f"/jobs/{job_id}/cancel")).status_code == 200
    queued = _queue_a_lock_before(monkeypatch, queue, "requeue", database_url, pool)
    answer = await client.post(f"/jobs/{job_id}/retry")
    assert answer.status_code == 200, answer.text
    await queued[0]


async def test_cancelling_a_workflow_does_not_hold_up_a_lock(client, pool, database_url, monkeypatch):
    root = await _job(client)
    child = await client.post("/jobs", json={"job_type": "noop", "params": {}, "depends_on": [root]})
    assert child.status_code == 201, child.text
    queued = _queue_a_lock_before(monkeypatch, workflows, "cancel_workflow", database_url, pool)
    answer = await client.post(f"/workflows/{root}/cancel")
    assert answer.status_code == 200, answer.text
    await queued[0]
