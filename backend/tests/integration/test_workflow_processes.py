"""Workflows on real worker processes: a long chain in order, a wide fan-out with one fan-in run exactly once,
failures cancelling dependants, and a rolled-back host transaction leaving nothing to run."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from app.worker import JobRequest, enqueue, enqueue_many, wait

from tests.integration.test_worker import submit
from tests.support.processes import start_worker, stop_all
from tests.support.waiting import job_row, wait_status


async def wait_finished(pool, expected: int, *, stall: float = 90.0) -> None:
    """Wait until `expected` jobs of the default queue (not the suite's periodic ticks) are finished; fail only
    when none finished for `stall` seconds (a slow host is slow, a stuck queue makes no progress)."""
    last, since = -1, time.monotonic()
    while True:
        done = await pool.fetchval(
            "SELECT count(*) FROM jobs WHERE queue = 'default' AND status IN ('completed', 'failed', 'cancelled')"
        )
        if done >= expected:
            return
        if done != last:
            last, since = done, time.monotonic()
        elif time.monotonic() - since > stall:
            raise AssertionError(f"no job finished for {stall:.0f} s: {done} of {expected} finished")
        await asyncio.sleep(0.25)


def workers(env, tmp_path, count: int = 2, concurrency: int = 20):
    return [start_worker(env, tmp_path / "logs", "--concurrency", str(concurrency)) for _ in range(count)]


async def test_chain_of_1000_jobs_completes_in_order(pool, subprocess_env, tmp_path):
    requests: list[JobRequest] = []
    for _ in range(1000):
        requests.append(JobRequest("test_record", depends_on=[requests[-1].id] if requests else []))
    async with pool.acquire() as conn, conn.transaction():
        chain = await enqueue_many(conn, requests)
    procs = workers(subprocess_env, tmp_path)
    try:
        await wait_finished(pool, 1000)
    finally:
        stop_all(procs)
    ran = [r["job_id"] for r in await pool.fetch("SELECT job_id FROM exec_log ORDER BY at")]
    assert ran == chain
    assert (
        await pool.fetchval(
            "SELECT count(*) FROM jobs WHERE job_type = 'test_record' AND status = 'completed' AND attempts = 1"
        )
        == 1000
    )


async def _fan_out(pool, env, tmp_path, children: int) -> None:
    parent = await submit(pool, "test_fan_out", {"children": children})
    procs = workers(env, tmp_path, concurrency=100)
    try:
        await wait_finished(pool, children + 2)
    finally:
        stop_all(procs)
    fan_in = uuid.UUID((await job_row(pool, parent))["result"]["fan_in"])
    assert (await job_row(pool, fan_in))["status"] == "completed"
    runs = await pool.fetchrow("SELECT count(*) AS jobs, max(runs) AS most, sum(runs) AS total FROM exec_log")
    assert runs["jobs"] == runs["total"] == children + 1
    assert runs["most"] == 1
    assert await pool.fetchval("SELECT runs FROM exec_log WHERE job_id = $1", fan_in) == 1


async def test_fan_out_of_2000_children_runs_the_fan_in_exactly_once(pool, subprocess_env, tmp_path):
    await _fan_out(pool, subprocess_env, tmp_path, 2000)


@pytest.mark.slow
async def test_fan_out_of_10000_children_runs_the_fan_in_exactly_once(pool, subprocess_env, tmp_path):
    await _fan_out(pool, subprocess_env, tmp_path, 10_000)


async def test_a_parent_failing_cancels_its_dependants(pool, subprocess_env, tmp_path):
    async with pool.acquire() as conn, conn.transaction():
        root = await enqueue(conn, "test_fail")
        child = await enqueue(conn, "test_record", {}, depends_on=[root])
        grandchild = await enqueue(conn, "test_record", {}, depends_on=[child])
        bystander = await enqueue(conn, "test_record", {})
    procs = workers(subprocess_env, tmp_path, count=1)
    try:
        outcome = await wait(pool, grandchild, timeout=120)
        assert (await wait(pool, bystander, timeout=120)).ok
    finally:
        stop_all(procs)
    assert outcome.status == "cancelled"
    assert str(root) in (outcome.error or "")
    assert (await job_row(pool, child))["status"] == "cancelled"
    assert [r["job_id"] for r in await pool.fetch("SELECT job_id FROM exec_log")] == [bystander]


async def test_rolled_back_host_transaction_leaves_no_job_for_running_workers(pool, subprocess_env, tmp_path):
    procs = workers(subprocess_env, tmp_path, count=1)
    try:
        with pytest.raises(RuntimeError):
            async with pool.acquire() as conn, conn.transaction():
                await enqueue(conn, "test_record", {})
                await enqueue_many(conn, [JobRequest("test_record") for _ in range(10)])
                raise RuntimeError("the host's own work failed")
        async with pool.acquire() as conn, conn.transaction():
            kept = await enqueue(conn, "test_record", {})
        await wait_status(pool, kept, "completed", timeout=120)
    finally:
        stop_all(procs)
    assert await pool.fetchval("SELECT count(*) FROM jobs WHERE job_type = 'test_record'") == 1
    assert [r["job_id"] for r in await pool.fetch("SELECT job_id FROM exec_log")] == [kept]
