"""Prefetch: jobs claimed ahead into the worker's local buffer are leased like running ones, start when a
slot frees, can be cancelled before they start, and go back to the queue untouched on a clean stop."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from contextlib import contextmanager

from app.worker import queue
from app.worker.dispatcher import DISPATCH_TABLE, build_job
from app.worker.worker import AUTO_PREFETCH_STALE

from tests.integration.test_worker import running_worker, submit
from tests.support.waiting import job_row, wait_status, wait_until


def _holds(pool, worker_id, count: int):
    """A check for wait_until: the worker holds (runs or buffers) exactly `count` jobs."""

    async def check() -> bool:
        sql = "SELECT count(*) FROM jobs WHERE status = 'processing' AND locked_by = $1"
        return bool(await pool.fetchval(sql, worker_id) == count)

    return check


async def test_buffered_job_keeps_its_lease_and_records_its_real_start(runtime, pool):
    # One slot, one buffered job: the buffered job waits 2.5 s, far longer than its 0.6 s lease.
    # Its one slot and one buffer place serve the default queue only: periodic jobs (a tick every second, the
    # pruning) would otherwise take them and the worker would hold other jobs than the two counted here.
    async with running_worker(
        runtime, concurrency=1, prefetch=1, lease_seconds=0.6, reaper_interval=0.2, queues=["default"]
    ) as w:
        first = await submit(pool, "sleep", {"seconds": 2.5})
        await wait_until(_holds(pool, w.id, 1))
        second = await submit(pool, "noop")
        await wait_until(_holds(pool, w.id, 2))
        ran_first = await wait_status(pool, first, "completed", timeout=15)
        ran_second = await wait_status(pool, second, "completed", timeout=15)
    for row in (ran_first, ran_second):
        assert row["attempts"] == 1
        assert row["reaped"] == 0
        assert row["error"] is None
    # started_at is when the handler started, not when the job was claimed into the buffer.
    assert (ran_second["started_at"] - ran_first["started_at"]).total_seconds() > 2.0


async def test_clean_stop_gives_buffered_jobs_back_at_once_without_spending_an_attempt(runtime, pool):
    ids = [await submit(pool, "sleep", {"seconds": 30}) for _ in range(3)]
    async with running_worker(runtime, concurrency=1, prefetch=2, shutdown_grace=3.0, queues=["default"]) as w:
        await wait_until(_holds(pool, w.id, 3))
        w.stop()

        async def buffered_back() -> bool:
            rows = [await job_row(pool, i) for i in ids]
            states = sorted(r["status"] for r in rows)
            return states == ["pending", "pending", "processing"]

        # The buffered two are released while the running one still has its grace period.
        await wait_until(buffered_back, timeout=2.5)
    for job_id in ids:
        row = await job_row(pool, job_id)
        assert row["status"] == "pending"
        assert row["attempts"] == 0
        assert row["locked_by"] is None
        assert row["started_at"] is None


async def test_cancel_of_a_buffered_job_cancels_it_before_it_starts(client, runtime, pool):
    running = await submit(pool, "sleep", {"seconds": 30})
    waiting = await submit(pool, "sleep", {"seconds": 30})
    async with running_worker(runtime, concurrency=1, prefetch=1, shutdown_grace=0.2, queues=["default"]) as w:
        await wait_until(_holds(pool, w.id, 2))

        async def started() -> object:
            rows = {j: await job_row(pool, j) for j in (running, waiting)}
            return next((j for j, r in rows.items() if r["progress"] > 0), None)

        # Both are processing; the one that reports progress runs, the other waits in the buffer.
        other = await wait_until(started, timeout=5)
        buffered = waiting if other == running else running
        assert (await job_row(pool, buffered))["status"] == "processing"
        response = await client.post(f"/jobs/{buffered}/cancel")
        assert response.status_code == 200
        row = await wait_status(pool, buffered, "cancelled", timeout=5)
        assert row["error"] == "cancelled on request before it started"
        assert row["attempts"] == 0
        assert row["started_at"] is None
        assert row["finished_at"] is not None
        assert (await job_row(pool, other))["status"] == "processing"


async def test_next_claim_is_sent_before_the_claimed_jobs_run(runtime, pool, monkeypatch):
    # With room for another batch, the worker sends its next claim before the batch it just claimed runs:
    # the database claims while the worker runs jobs, instead of the two taking turns.
    claims = 0
    seen: list[int] = []
    real_claim = queue.claim

    async def counted_claim(*args, **kwargs):
        nonlocal claims
        claims += 1
        return await real_claim(*args, **kwargs)

    async def probe(ctx, params):
        seen.append(claims)

    monkeypatch.setattr(queue, "claim", counted_claim)
    # Without job types under a concurrency cap: the lookup of waiting capped types (every 0.25 s, before the
    # claim) would let the first batch start before the second claim whenever the first claim took that long,
    # as on a loaded host; that lookup is not what this test is about.
    registry = {k: v for k, v in DISPATCH_TABLE.items() if not v.concurrency}
    registry["noop"] = dataclasses.replace(DISPATCH_TABLE["noop"], handler=probe)
    ids = [await submit(pool, "noop") for _ in range(20)]
    async with running_worker(runtime, registry, concurrency=10, batch_size=10, prefetch=10):
        for job_id in ids:
            await wait_status(pool, job_id, "completed")
    assert len(seen) == 20
    assert seen[:10] == [2] * 10  # the first batch ran after the second claim went out


async def test_auto_prefetch_buffers_short_jobs_and_never_slow_ones(runtime, pool, monkeypatch):
    # prefetch "auto" (the default): jobs that take microseconds are claimed ahead of the one slot, in batches;
    # jobs that take a second are not: the worker holds only the one it runs, and the rest stay in the queue
    # for other workers.
    batches: list[int] = []
    real_claim = queue.claim

    async def counted_claim(conn, worker_id, limit, *args, **kwargs):
        jobs = await real_claim(conn, worker_id, limit, *args, **kwargs)
        if jobs:
            batches.append(len(jobs))
        return jobs

    monkeypatch.setattr(queue, "claim", counted_claim)
    async with running_worker(runtime, concurrency=1, queues=["default"]) as w:
        assert w.config.prefetch == "auto"
        warm = [await submit(pool, "noop") for _ in range(3)]
        for job_id in warm:
            await wait_status(pool, job_id, "completed")
        batches.clear()
        await queue.enqueue_many(pool, [build_job("noop", {"n": i}, default_max_attempts=3) for i in range(200)])
        waiting = "SELECT count(*) = 0 FROM jobs WHERE job_type = 'noop' AND status <> 'completed'"
        await wait_until(lambda: pool.fetchval(waiting), 60)
        assert max(batches) > 1  # claimed ahead of the single slot

        # Slow jobs right after the fast ones: the buffer may take a few as they arrive, but gives back those
        # still waiting once the jobs are seen to be slow; from then on the worker holds the one it runs.
        slow = [await submit(pool, "sleep", {"seconds": 1.5}) for _ in range(4)]

        async def seen_slow() -> bool:  # a slow job has run long enough for the worker to have judged it slow
            ages = [time.monotonic() - r.started for r in list(w.running.values()) if r.job.job_type == "sleep"]
            return bool(ages) and max(ages) > 2 * AUTO_PREFETCH_STALE and await _holds(pool, w.id, 1)()

        await wait_until(seen_slow, timeout=60)
        for _ in range(3):  # within one slow job
            assert await pool.fetchval(_HELD, w.id) <= 1
            await asyncio.sleep(0.2)
        for job_id in slow:
            row = await wait_status(pool, job_id, "completed", timeout=30)
            assert row["attempts"] == 1  # a job given back from the buffer spent no attempt


_HELD = "SELECT count(*) FROM jobs WHERE status = 'processing' AND locked_by = $1"


async def test_a_job_claimed_again_keeps_its_new_lease_when_an_earlier_outcome_settles(runtime, pool):
    # A buffered job given back to the queue can be claimed again by the same worker before the acker, having
    # written the release, tells the heartbeat to stop keeping its lease. That late word must not drop the new
    # lease: the job would be reaped (and run again elsewhere) while it still runs here.
    async with running_worker(runtime, concurrency=1, queues=["default"], lease_seconds=1.0, reaper_interval=0.2) as w:
        job_id = await submit(pool, "sleep", {"seconds": 4})

        async def running_here() -> bool:
            return job_id in w.running

        await wait_until(running_here, timeout=60)
        w._settled([job_id])  # the earlier outcome's settlement, arriving after the new claim
        row = await wait_status(pool, job_id, "completed", timeout=120)
    assert row["attempts"] == 1
    assert row["reaped"] == 0


@contextmanager
def slot_tasks():
    """Counts the tasks the worker makes to run jobs (`Worker._run_one`), in a one-element list."""
    loop = asyncio.get_running_loop()
    previous = loop.get_task_factory()
    made = [0]

    def factory(loop, coro, **kwargs):
        if getattr(coro, "__qualname__", "") == "Worker._run_one":
            made[0] += 1
        # the factory set before this one, if any, still makes every task
        return previous(loop, coro, **kwargs) if previous is not None else asyncio.Task(coro, loop=loop, **kwargs)

    loop.set_task_factory(factory)
    try:
        yield made
    finally:
        loop.set_task_factory(previous)


async def test_a_slot_runs_its_buffered_jobs_in_one_task(runtime, pool):
    # Short jobs must not cost a task each: the task of a slot that frees takes the next buffered job itself.
    # (A task per job, and a turn of the event loop per `concurrency` jobs, made a worker at its default
    # concurrency drain short jobs at about two thirds of the rate it reaches with hundreds of slots.)
    ids = [await submit(pool, "noop", {"n": i}) for i in range(40)]
    with slot_tasks() as made:
        async with running_worker(runtime, concurrency=1, prefetch=100, queues=["default"]):
            rows = [await wait_status(pool, job_id, "completed", timeout=60) for job_id in ids]
    assert all(row["attempts"] == 1 for row in rows)
    assert made[0] == 1  # one claim took all 40 into the one slot and its buffer


async def test_the_next_job_of_a_slot_runs_normally_after_its_task_cancelled_a_frozen_job(runtime, pool):
    # The frozen job ignores its timeout and is cancelled after the grace; the task that ran it goes on to the
    # next buffered job of its slot, which must neither inherit that cancellation nor be run twice.
    frozen = await submit(pool, "test_freeze")
    after = [await submit(pool, "sleep", {"seconds": 0.1}) for _ in range(3)]
    with slot_tasks() as made:
        async with running_worker(runtime, concurrency=1, prefetch=10, cancel_grace=0.3, queues=["default"]):
            timed_out = await wait_status(pool, frozen, "failed", timeout=30)
            rows = [await wait_status(pool, job_id, "completed", timeout=30) for job_id in after]
    assert timed_out["error"] == "timed out after 1 s"
    assert all(row["attempts"] == 1 and row["error"] is None for row in rows)
    assert made[0] == 1  # the three ran in the very task whose frozen job was cancelled
