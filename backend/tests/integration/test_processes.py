"""Real worker processes against one PostgreSQL: exactly-once draining, clean SIGTERM, SIGKILL chaos."""

from __future__ import annotations

import asyncio
import signal
import time

from app.worker import queue
from app.worker.dispatcher import build_job

from tests.support.processes import start_worker, stop_all
from tests.support.waiting import job_row, wait_status, wait_until


async def enqueue_many(pool, count: int, params: dict) -> None:
    jobs = [build_job("test_record", params, default_max_attempts=5) for _ in range(count)]
    for start in range(0, count, 500):
        await queue.enqueue_many(pool, jobs[start : start + 500])


async def test_eight_worker_processes_drain_2000_jobs_each_exactly_once(pool, subprocess_env, tmp_path):
    """Eight processes claim from one table at once (more than the cores of a small host): every job runs
    once, none is claimed twice or lost, and every process exits cleanly."""
    await enqueue_many(pool, 2000, {"unique": False})  # a second run of a job counts up `runs` instead of failing
    env = {**subprocess_env, "DB_POOL_SIZE": "2"}  # eight processes stay well inside max_connections
    procs = [start_worker(env, tmp_path / "logs", "--concurrency", "10") for _ in range(8)]
    try:
        await wait_until(lambda: _all_finished(pool), timeout=180, interval=0.25)
    finally:
        stop_all(procs)
    stats = await pool.fetchrow(
        """SELECT count(*) FILTER (WHERE status = 'completed') AS completed, count(*) AS total,
                  max(attempts) AS max_attempts FROM jobs WHERE job_type = 'test_record'"""
    )
    assert stats["completed"] == stats["total"] == 2000
    assert stats["max_attempts"] == 1
    runs = await pool.fetchrow("SELECT count(*) AS jobs, sum(runs) AS runs, max(runs) AS most FROM exec_log")
    assert (runs["jobs"], runs["runs"], runs["most"]) == (2000, 2000, 1)
    assert all(p.returncode == 0 for p in procs)


async def _all_finished(pool) -> bool:
    return (
        await pool.fetchval(
            "SELECT count(*) FROM jobs WHERE job_type = 'test_record' AND status NOT IN ('completed', 'failed')"
        )
        == 0
    )


async def test_sigterm_of_busy_worker_leaves_no_job_processing(pool, subprocess_env, tmp_path):
    env = {**subprocess_env, "SHUTDOWN_GRACE_SECONDS": "1"}
    quick = [
        (await queue.enqueue(pool, build_job("sleep", {"seconds": 0.2}, default_max_attempts=3)))[0] for _ in range(2)
    ]
    slow = [
        (await queue.enqueue(pool, build_job("sleep", {"seconds": 60}, default_max_attempts=3)))[0] for _ in range(2)
    ]
    proc = start_worker(env, tmp_path / "logs", "--concurrency", "4")
    try:
        for job_id in slow:
            await wait_status(pool, job_id, "processing", timeout=20)
        for job_id in quick:
            await wait_status(pool, job_id, "completed", timeout=20)
    finally:
        started = time.monotonic()
        stop_all([proc], signal.SIGTERM)
    assert proc.returncode == 0
    assert time.monotonic() - started < 15
    assert await pool.fetchval("SELECT count(*) FROM jobs WHERE status = 'processing'") == 0
    for job_id in slow:
        row = await job_row(pool, job_id)
        assert row["status"] == "pending"
        assert row["attempts"] == 0
    assert await pool.fetchval("SELECT count(*) FROM workers") == 0


async def test_chaos_sigkill_a_worker_every_second_loses_nothing(pool, subprocess_env, tmp_path):
    env = {**subprocess_env, "LEASE_SECONDS": "1.5"}
    await enqueue_many(pool, 2000, {"unique": False, "sleep": 0.05})
    logs = tmp_path / "logs"
    procs = [start_worker(env, logs, "--concurrency", "8") for _ in range(4)]
    kills = 0
    try:
        await wait_until(lambda: pool.fetchval("SELECT count(*) FROM jobs WHERE status = 'completed'"), timeout=30)
        # Kill the oldest worker every second while work remains, always starting a replacement.
        while kills < 8 and not await _all_finished(pool):
            await asyncio.sleep(1.0)
            victim = procs.pop(0)
            victim.send_signal(signal.SIGKILL)
            victim.wait()
            kills += 1
            procs.append(start_worker(env, logs, "--concurrency", "8"))
        await wait_until(lambda: _all_finished(pool), timeout=120, interval=0.25)
    finally:
        stop_all(procs)
    assert kills >= 3
    stats = await pool.fetchrow(
        """SELECT count(*) FILTER (WHERE status = 'completed') AS completed,
                  count(*) FILTER (WHERE status = 'processing') AS processing,
                  count(*) FILTER (WHERE attempts > 1) AS reclaimed FROM jobs WHERE job_type = 'test_record'"""
    )
    assert stats["completed"] == 2000
    assert stats["processing"] == 0
    assert stats["reclaimed"] >= 1  # killed workers' jobs came back through the reaper
    # A job ran more than once only if it was reclaimed from a killed worker (at-least-once, never twice
    # at the same time and never completed twice).
    rerun_without_reclaim = await pool.fetchval(
        "SELECT count(*) FROM exec_log e JOIN jobs j ON j.id = e.job_id WHERE e.runs > 1 AND j.attempts = 1"
    )
    assert rerun_without_reclaim == 0
    assert await pool.fetchval("SELECT count(*) FROM exec_log") == 2000
