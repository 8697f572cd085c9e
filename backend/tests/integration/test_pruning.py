"""Pruning finished jobs while real worker processes drain the queue: bounded batches that delete exactly the
expired finished jobs, and nothing that is still to run."""

from __future__ import annotations

import json
from datetime import timedelta

from app.worker import queue
from app.worker.dispatcher import build_job

from tests.support.processes import start_worker, stop_all
from tests.support.waiting import wait_until


async def _enqueue(pool, count: int, job_type: str, params: dict) -> list:
    jobs = [build_job(job_type, params, default_max_attempts=3) for _ in range(count)]
    ids = []
    for start in range(0, count, 500):
        ids += [i for i, _ in await queue.enqueue_many(pool, jobs[start : start + 500])]
    return ids


async def _finish(pool, ids: list, status: str, age: timedelta) -> None:
    await pool.execute(
        """UPDATE jobs SET status = $2::job_status, attempts = 1, started_at = now() - $3::interval,
                finished_at = now() - $3::interval WHERE id = ANY($1)""",
        ids,
        status,
        age,
    )


async def _drained(pool) -> bool:
    return not await pool.fetchval(
        "SELECT EXISTS (SELECT 1 FROM jobs WHERE job_type = 'test_record' AND status <> 'completed')"
    )


async def _prune_done(pool, prune_id) -> bool:
    return await pool.fetchval("SELECT status::text FROM jobs WHERE id = $1", prune_id) in ("completed", "failed")


async def test_pruning_while_draining_deletes_exactly_the_expired_finished_jobs(pool, subprocess_env, tmp_path):
    expired = await _enqueue(pool, 1200, "noop", {})
    await _finish(pool, expired[:1000], "completed", timedelta(days=30))
    await _finish(pool, expired[1000:1100], "failed", timedelta(days=30))
    await _finish(pool, expired[1100:], "cancelled", timedelta(days=30))
    recent = await _enqueue(pool, 300, "noop", {})
    await _finish(pool, recent, "completed", timedelta(days=1))
    # Still to run, though their timestamps are as old as the expired jobs' (a job retried by hand keeps its
    # old finished_at until it finishes again): the prune must not touch them.
    old_waiting = await _enqueue(pool, 200, "noop", {"kept": True})
    await pool.execute(
        """UPDATE jobs SET run_at = now() + interval '1 hour', created_at = now() - interval '40 days',
                finished_at = now() - interval '30 days' WHERE id = ANY($1)""",
        old_waiting,
    )
    await pool.execute("UPDATE jobs SET status = 'retry' WHERE id = ANY($1)", old_waiting[:100])
    drained = await _enqueue(pool, 3000, "test_record", {"sleep": 0.02})

    # The hourly prune that the workers schedule may fire during the test: with a year's retention it finds
    # nothing to delete, and the prune under test (7 days) is the only one that deletes.
    env = {**subprocess_env, "JOB_RETENTION_DAYS": "365"}
    procs = [start_worker(env, tmp_path / "logs", "--concurrency", "10") for _ in range(2)]
    try:
        await wait_until(lambda: _some_completed(pool), timeout=120, interval=0.1)
        prune_id, _ = await queue.enqueue(
            pool,
            build_job(
                "prune_jobs",
                {"older_than_days": 7, "batch_size": 50, "pause_seconds": 0.01},
                default_max_attempts=1,
            ),
        )
        await wait_until(lambda: _prune_done(pool, prune_id), timeout=180, interval=0.2)
        await wait_until(lambda: _drained(pool), timeout=180, interval=0.2)
    finally:
        stop_all(procs)

    prune = await pool.fetchrow("SELECT status::text, result, started_at FROM jobs WHERE id = $1", prune_id)
    assert prune["status"] == "completed"
    result = json.loads(prune["result"]) if isinstance(prune["result"], str) else prune["result"]
    assert result["deleted"] == 1200
    assert result["batches"] >= 1200 // 50
    # it ran while the workers drained: some drained jobs finished after it started
    assert await pool.fetchval(
        "SELECT count(*) FROM jobs WHERE id = ANY($1) AND finished_at > $2", drained, prune["started_at"]
    )
    assert await pool.fetchval("SELECT count(*) FROM jobs WHERE id = ANY($1)", expired) == 0
    assert await pool.fetchval("SELECT count(*) FROM jobs WHERE id = ANY($1)", recent) == 300
    kept = await pool.fetch("SELECT status::text FROM jobs WHERE id = ANY($1)", old_waiting)
    assert sorted(r["status"] for r in kept) == ["pending"] * 100 + ["retry"] * 100
    # every drained job completed exactly once
    row = await pool.fetchrow(
        """SELECT count(*) FILTER (WHERE status = 'completed') AS completed, max(attempts) AS attempts
           FROM jobs WHERE id = ANY($1)""",
        drained,
    )
    assert row["completed"] == 3000
    assert row["attempts"] == 1
    runs = await pool.fetchrow(
        "SELECT count(*) AS jobs, max(runs) AS runs FROM exec_log WHERE job_id = ANY($1)", drained
    )
    assert runs["jobs"] == 3000
    assert runs["runs"] == 1
    assert all(p.returncode == 0 for p in procs)


async def _some_completed(pool) -> bool:
    return await pool.fetchval(
        "SELECT EXISTS (SELECT 1 FROM jobs WHERE job_type = 'test_record' AND status = 'completed')"
    )
