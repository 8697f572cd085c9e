"""Chaos on real worker processes and a real PostgreSQL: no job runs twice at once, every job completes once.

Each test's handler (`test_chaos`) records every execution's start and end in the `executions` side table;
the assertions are on that table, which shows what the handlers really did. Leases are a few seconds long,
with the default ratio of lease to shutdown grace (1:1), so that the tests stay short.
"""

from __future__ import annotations

import asyncio
import random
import signal
import time
import uuid
from pathlib import Path

import pytest
from app.worker import queue
from app.worker.dispatcher import build_job

from tests.support.executions import JobRuns, job_runs, table
from tests.support.processes import start_worker, stop_all
from tests.support.waiting import wait_progressing, wait_until

LEASE = {"LEASE_SECONDS": "3", "SHUTDOWN_GRACE_SECONDS": "3"}


async def enqueue_chaos(pool, count: int, **params) -> list[uuid.UUID]:
    jobs = [build_job("test_chaos", params, default_max_attempts=20) for _ in range(count)]
    return [job_id for job_id, _ in await queue.enqueue_many(pool, jobs)]


async def started(pool, ids: list[uuid.UUID], pid: int) -> bool:
    return await pool.fetchval(
        "SELECT count(DISTINCT job_id) = $2 FROM executions WHERE job_id = ANY($1) AND pid = $3", ids, len(ids), pid
    )


async def all_completed(pool) -> bool:
    return await pool.fetchval("SELECT count(*) = 0 FROM jobs WHERE job_type = 'test_chaos' AND status <> 'completed'")


async def activity(pool) -> tuple:
    """What moves while jobs drain: executions started and ended, jobs completed."""
    row = await pool.fetchrow(
        """SELECT (SELECT count(*) FROM executions), (SELECT count(finished) FROM executions),
                  (SELECT count(*) FROM jobs WHERE status = 'completed')"""
    )
    return tuple(row)


def logs_of(directory: Path) -> str:
    return "".join(p.read_text(errors="replace") for p in sorted(directory.iterdir()))


def report(title: str, jobs: list[JobRuns], lines_for: int | None = None) -> None:
    print("\n" + table(title, jobs, lines_for))


@pytest.mark.parametrize(("mode", "seconds"), [("honour", 5.0), ("ignore", 10.0)])
async def test_sigterm_with_lease_as_long_as_the_grace_never_runs_a_job_twice(
    pool, subprocess_env, tmp_path, mode, seconds
):
    """A stopping worker keeps its jobs' leases until each is finished or released: the idle worker next to
    it never reaps them, and a job given back costs no attempt. Jobs outlast the grace: a handler that
    honours cancellation stops at the end of the grace; one that ignores it is cancelled 5 s later (the
    cancel grace) and released then."""
    env = {**subprocess_env, **LEASE}
    logs = tmp_path / "logs"
    # The spare worker starts first and is paused while the other claims every job, so that the SIGTERM
    # comes at a known point of the jobs' run, not after however long a worker takes to start.
    spare = start_worker(env, logs, "--concurrency", "4")
    stopping = None
    try:
        await wait_until(lambda: pool.fetchval("SELECT count(*) = 1 FROM workers"), timeout=120, interval=0.1)
        spare.send_signal(signal.SIGSTOP)
        stopping = start_worker(env, logs, "--concurrency", "4")
        await wait_until(lambda: pool.fetchval("SELECT count(*) = 2 FROM workers"), timeout=120, interval=0.1)
        ids = await enqueue_chaos(pool, 4, seconds=seconds, mode=mode)
        await wait_until(lambda: started(pool, ids, stopping.pid), timeout=120, interval=0.1)
        spare.send_signal(signal.SIGCONT)
        stopping.send_signal(signal.SIGTERM)
        await asyncio.to_thread(stopping.wait, 60)
        await wait_progressing(lambda: all_completed(pool), lambda: activity(pool), interval=0.2)
    finally:
        spare.send_signal(signal.SIGCONT)
        stop_all([p for p in (stopping, spare) if p is not None])
        jobs = await job_runs(pool)
        report(f"SIGTERM, lease 3 s, grace 3 s, handler that {mode}s cancellation, {seconds:g} s jobs", jobs)
    assert stopping is not None
    assert stopping.returncode == 0
    assert all(j.status == "completed" and j.overlaps == 0 and j.returned == 1 for j in jobs)
    assert all(j.attempts == 1 and j.reaped == 0 for j in jobs)  # released: no attempt spent, nothing reaped
    text = logs_of(logs)
    assert "refused" not in text
    assert "lease lost" not in text


async def test_handler_blocking_the_event_loop_longer_than_its_lease_runs_once(pool, subprocess_env, tmp_path):
    """An `async def` handler that calls time.sleep blocks its worker's event loop for 8 s with a 3 s lease:
    its leases are extended from the heartbeat thread, neither worker reaps it, and the stall is logged
    with the job's id."""
    env = {**subprocess_env, **LEASE}
    logs = tmp_path / "logs"
    procs = [start_worker(env, logs, "--concurrency", "2") for _ in range(2)]
    try:
        await wait_until(lambda: pool.fetchval("SELECT count(*) = 2 FROM workers"), timeout=120, interval=0.1)
        ids = await enqueue_chaos(pool, 3, seconds=8, mode="block")
        await wait_progressing(lambda: all_completed(pool), lambda: activity(pool), interval=0.2)
    finally:
        stop_all(procs)
        jobs = await job_runs(pool)
        report("handler blocking its event loop for 8 s, lease 3 s", jobs)
    assert all(j.status == "completed" and j.overlaps == 0 and len(j.runs) == 1 for j in jobs)
    assert all(j.attempts == 1 and j.reaped == 0 for j in jobs)
    text = logs_of(logs)
    assert "event loop blocked" in text
    assert any(str(job_id) in text for job_id in ids)


async def test_sigkill_of_random_workers_while_draining_never_overlaps(pool, subprocess_env, tmp_path):
    """Workers killed at random while 300 jobs drain: a killed worker's jobs come back through the reaper,
    after their lease, so that no two executions of a job overlap and every job ends completed."""
    env = {**subprocess_env, "LEASE_SECONDS": "2"}
    logs = tmp_path / "logs"
    await enqueue_chaos(pool, 300, seconds=0.3, mode="honour", step=0.1)
    procs = [start_worker(env, logs, "--concurrency", "8") for _ in range(3)]
    killed: dict[int, float] = {}
    rng = random.Random(14)
    try:
        await wait_until(lambda: pool.fetchval("SELECT count(*) > 0 FROM executions"), timeout=120, interval=0.1)
        while len(killed) < 6 and not await all_completed(pool):
            await asyncio.sleep(rng.uniform(0.5, 1.5))
            victim = procs.pop(rng.randrange(len(procs)))
            victim.send_signal(signal.SIGKILL)
            await asyncio.to_thread(victim.wait)
            killed[victim.pid] = time.time()
            procs.append(start_worker(env, logs, "--concurrency", "8"))
        await wait_progressing(lambda: all_completed(pool), lambda: activity(pool), interval=0.25)
    finally:
        stop_all(procs)
        jobs = await job_runs(pool, killed)
        report(f"SIGKILL of {len(killed)} random workers while draining 300 jobs, lease 2 s", jobs, lines_for=20)
    assert len(killed) >= 3
    assert all(j.status == "completed" and j.overlaps == 0 for j in jobs)
    for j in jobs:
        # Every execution but the last was cut short by a kill (or stopped); the last one completed the job.
        assert j.runs
        assert j.runs[-1]["outcome"] == "returned"
        assert all(r["pid"] in killed or r["outcome"] == "stopped" for r in j.runs[:-1])
        assert len(j.runs) == 1 or j.attempts > 1
