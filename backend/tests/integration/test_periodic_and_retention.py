"""Periodic jobs fire once per tick across many workers; retention prunes old finished jobs."""

from __future__ import annotations

import itertools

from app.worker import queue
from app.worker.dispatcher import build_job

from tests.support.processes import start_worker, stop_all
from tests.support.waiting import job_row, wait_until


async def _ticks_since(pool, before: int, count: int) -> bool:
    return await pool.fetchval("SELECT count(*) FROM jobs WHERE job_type = 'test_tick'") >= before + count


async def _workers_up(pool, count: int) -> bool:
    return await pool.fetchval("SELECT count(*) FROM workers") >= count


async def test_three_workers_enqueue_one_job_per_tick(pool, subprocess_env, tmp_path):
    procs = [start_worker(subprocess_env, tmp_path / "logs", "--queues", "none") for _ in range(3)]
    try:
        # Workers start slowly on a busy machine: count ticks only once all three run.
        await wait_until(lambda: _workers_up(pool, 3), timeout=60, interval=0.2)
        first = await pool.fetchval("SELECT count(*) FROM jobs WHERE job_type = 'test_tick'")
        await wait_until(lambda: _ticks_since(pool, first, 4), timeout=60, interval=0.2)
    finally:
        stop_all(procs)
    rows = await pool.fetch("SELECT run_at, idempotency_key FROM jobs WHERE job_type = 'test_tick' ORDER BY run_at")
    assert len(rows) >= 3  # several ticks while the workers ran
    ticks = [r["run_at"] for r in rows]
    assert len(set(ticks)) == len(ticks)  # exactly one job per tick
    gaps = {(b - a).total_seconds() for a, b in itertools.pairwise(ticks)}
    assert gaps == {1.0}  # no tick skipped while workers were up
    assert all(r["idempotency_key"].startswith("cron:test_tick:") for r in rows)


async def test_a_worker_with_schedules_off_enqueues_no_tick(pool, subprocess_env, tmp_path):
    """WORKER_SCHEDULES=false: a worker that runs jobs and enqueues no periodic tick. It runs (it takes a
    job) for longer than the every-second tick's interval, and no tick comes; one with the default, started
    after it, enqueues them."""
    quiet = start_worker({**subprocess_env, "WORKER_SCHEDULES": "false"}, tmp_path / "logs")
    try:
        await wait_until(lambda: _workers_up(pool, 1), timeout=60, interval=0.2)
        ids = [i for i, _ in await queue.enqueue_many(pool, [build_job("noop", {}, default_max_attempts=1)])]
        await wait_until(lambda: _status_is(pool, ids[0], "completed"), timeout=60, interval=0.2)
        since = await pool.fetchval("SELECT now()")
        await wait_until(lambda: _seconds_since(pool, since, 3.0), timeout=60, interval=0.2)
        assert await pool.fetchval("SELECT count(*) FROM jobs WHERE job_type = 'test_tick'") == 0
        ticking = start_worker(subprocess_env, tmp_path / "logs", "--queues", "none")
        try:
            await wait_until(lambda: _ticks_since(pool, 0, 1), timeout=60, interval=0.2)
        finally:
            stop_all([ticking])
    finally:
        stop_all([quiet])


async def _status_is(pool, job_id, status: str) -> bool:
    return await pool.fetchval("SELECT status FROM jobs WHERE id = $1", job_id) == status


async def _seconds_since(pool, since, seconds: float) -> bool:
    return await pool.fetchval("SELECT extract(epoch FROM now() - $1::timestamptz)", since) >= seconds


async def test_prune_jobs_deletes_only_old_finished_jobs_in_batches(client, pool):
    new = [build_job("noop", {}, default_max_attempts=1) for _ in range(25)]
    ids = [i for i, _ in await queue.enqueue_many(pool, new)]
    await pool.execute(
        "UPDATE jobs SET status = 'completed', finished_at = now() - interval '30 days' WHERE id = ANY($1)", ids[:20]
    )
    await pool.execute(
        "UPDATE jobs SET status = 'failed', finished_at = now() - interval '1 day' WHERE id = ANY($1)", ids[20:22]
    )
    response = await client.post(
        "/jobs", json={"job_type": "prune_jobs", "params": {"older_than_days": 7, "batch_size": 6}}
    )
    prune_id = response.json()["job"]["id"]
    processed = [(await client.post("/jobs/process")).json() for _ in range(4)]
    prune = next(p for p in processed if p.get("job_id") == prune_id)
    assert prune["status"] == "completed"
    assert prune["result"]["deleted"] == 20
    assert prune["result"]["batches"] == 4
    remaining = await pool.fetchval("SELECT count(*) FROM jobs WHERE id = ANY($1)", ids)
    assert remaining == 5  # 2 recent failures + 3 still pending
    assert (await job_row(pool, prune_id))["status"] == "completed"
