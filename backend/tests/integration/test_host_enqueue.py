"""Host code enqueues in its own transaction (SQLAlchemy session or asyncpg connection) and waits for outcomes."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from app.worker import JobRequest, UnknownDependencies, enqueue, enqueue_many, wait
from sqlalchemy import text

from tests.integration.test_worker import running_worker
from tests.support.waiting import job_row, wait_status


async def _count_jobs(pool) -> int:
    return await pool.fetchval("SELECT count(*) FROM jobs")


async def test_rolled_back_host_transaction_leaves_no_job(runtime, pool):
    with pytest.raises(RuntimeError):
        async with runtime.sessionmaker() as session, session.begin():
            await enqueue(session, "test_record", {})  # the first statement of the transaction
            await enqueue_many(session, [JobRequest("test_record"), JobRequest("test_record")])
            await session.execute(text("INSERT INTO exec_log (job_id) VALUES (gen_random_uuid())"))
            raise RuntimeError("the host's own work failed")
    assert await _count_jobs(pool) == 0
    assert await pool.fetchval("SELECT count(*) FROM exec_log") == 0


async def test_committed_enqueue_wakes_a_listening_worker_only_at_commit(runtime, pool):
    woken = asyncio.Event()
    listener = await pool.acquire()

    def on_notice(*_: object) -> None:
        woken.set()

    await listener.add_listener("skiplock_jobs", on_notice)
    try:
        async with runtime.sessionmaker() as session, session.begin():
            job_id = await enqueue(session, "test_record", {})
            await asyncio.sleep(0.2)
            assert not woken.is_set(), "workers must not be woken before the commit"
        await asyncio.wait_for(woken.wait(), 10)
    finally:
        await listener.remove_listener("skiplock_jobs", on_notice)
        await pool.release(listener)
    async with running_worker(runtime):
        outcome = await wait(pool, job_id, timeout=30)
    assert outcome.ok
    assert outcome.result == {"recorded": str(job_id)}


async def test_wait_returns_a_failed_outcome_and_times_out_on_a_job_that_does_not_finish(runtime, pool):
    async with pool.acquire() as conn, conn.transaction():
        bad = await enqueue(conn, "test_freeze", {"seconds": 600})
        slow = await enqueue(conn, "test_record", {}, run_at=datetime.now(UTC) + timedelta(hours=1))
    async with running_worker(runtime):
        outcome = await wait(pool, bad, timeout=30)
    assert outcome.status == "failed"
    assert "timed out" in (outcome.error or "")
    with pytest.raises(TimeoutError):
        await wait(runtime.url, slow, timeout=0.3)
    with pytest.raises(LookupError):
        await wait(pool, uuid.uuid4(), timeout=5)


async def test_a_dependant_runs_after_its_dependencies_complete(runtime, pool):
    async with pool.acquire() as conn, conn.transaction():
        first, second = await enqueue_many(conn, [JobRequest("test_record"), JobRequest("test_record")])
        last = await enqueue(conn, "test_record", {}, depends_on=[first, second])
    assert (await job_row(pool, last))["status"] == "waiting"
    async with running_worker(runtime):
        await wait(pool, last, timeout=30)
    order = [r["job_id"] for r in await pool.fetch("SELECT job_id FROM exec_log ORDER BY at, job_id")]
    assert order[-1] == last
    assert set(order[:2]) == {first, second}


async def test_unknown_dependency_is_refused_and_rolls_back_the_batch(pool):
    with pytest.raises(UnknownDependencies) as raised:
        async with pool.acquire() as conn, conn.transaction():
            await enqueue(conn, "test_record", {}, depends_on=[missing := uuid.uuid4()])
    assert raised.value.ids == [missing]
    assert await _count_jobs(pool) == 0


async def test_failure_cancels_dependants_transitively_naming_it_except_run_anyway(runtime, pool):
    async with pool.acquire() as conn, conn.transaction():
        doomed = await enqueue(conn, "test_freeze", {"seconds": 600})
        child = await enqueue(conn, "test_record", {}, depends_on=[doomed])
        grandchild = await enqueue(conn, "test_record", {}, depends_on=[child])
        cleanup = await enqueue(conn, "test_record", {}, depends_on=[doomed], run_anyway=True)
    async with running_worker(runtime):
        assert (await wait(pool, cleanup, timeout=30)).ok
    for dependant in (child, grandchild):
        row = await job_row(pool, dependant)
        assert row["status"] == "cancelled"
        assert str(doomed) in row["error"]
        assert "failed" in row["error"]


async def test_cancelling_a_waiting_job_cancels_its_dependants(client, pool):
    async with pool.acquire() as conn, conn.transaction():
        root = await enqueue(conn, "test_record", {}, queue="nobody-listens")
        middle = await enqueue(conn, "test_record", {}, depends_on=[root])
        leaf = await enqueue(conn, "test_record", {}, depends_on=[middle])
    response = await client.post(f"/jobs/{middle}/cancel")
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    await wait_status(pool, leaf, "cancelled")
    assert (await job_row(pool, root))["status"] == "pending"


async def test_depending_on_a_finished_job(runtime, pool):
    async with pool.acquire() as conn, conn.transaction():
        done = await enqueue(conn, "test_record", {})
    async with running_worker(runtime):
        await wait(pool, done, timeout=30)
        async with pool.acquire() as conn, conn.transaction():
            after = await enqueue(conn, "test_record", {}, depends_on=[done])
        assert (await wait(pool, after, timeout=30)).ok
