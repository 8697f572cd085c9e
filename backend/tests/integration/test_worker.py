"""The worker loop in this process: wake-ups, cancellation, timeouts, leases, the reaper, caps."""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from contextlib import asynccontextmanager

from app.worker import queue
from app.worker.dispatcher import DISPATCH_TABLE, build_job
from pydantic import BaseModel

from tests.support.waiting import job_row, wait_status, wait_until


@asynccontextmanager
async def running_worker(runtime, registry=None, **overrides):
    """A worker running in this process (config `overrides`, dispatch table `registry` or the real one)."""
    worker = runtime.worker(registry, **overrides)
    task = asyncio.create_task(worker.run())
    await wait_until(lambda: runtime.pool.fetchval("SELECT count(*) FROM workers WHERE id = $1", worker.id))
    try:
        yield worker
    finally:
        worker.stop()
        await asyncio.wait_for(task, 30)


async def submit(pool, job_type: str, params: dict | None = None, **kw) -> uuid.UUID:
    job_id, _ = await queue.enqueue(pool, build_job(job_type, params or {}, default_max_attempts=3, **kw))
    return job_id


async def test_idle_worker_is_woken_by_notify_not_polling(runtime, pool):
    async with running_worker(runtime, poll_interval=30.0):
        await asyncio.sleep(0.3)  # the worker is now idle, waiting on LISTEN
        started = time.monotonic()
        job_id = await submit(pool, "noop")
        await wait_status(pool, job_id, "completed", timeout=5)
        assert time.monotonic() - started < 10.0  # far below the 30 s poll interval, even on a busy host


async def test_worker_runs_many_jobs_concurrently_and_records_results(runtime, pool):
    ids = [await submit(pool, "sleep", {"seconds": 1.0}) for _ in range(8)]
    async with running_worker(runtime, concurrency=8):
        rows = [await wait_status(pool, job_id, "completed", timeout=30) for job_id in ids]
    # Side by side, not one after another: every job started before any of them finished.
    assert max(r["started_at"] for r in rows) < min(r["finished_at"] for r in rows)


async def test_cancel_pending_job_is_immediate_and_cancel_twice_is_409(client, pool):
    job_id = await submit(pool, "noop")
    response = await client.post(f"/jobs/{job_id}/cancel")
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    assert (await client.post(f"/jobs/{job_id}/cancel")).status_code == 409
    assert (await client.post("/jobs/process")).json()["processed"] is False


async def test_cancel_running_async_job_stops_it_within_seconds(client, runtime, pool):
    job_id = await submit(pool, "sleep", {"seconds": 60})
    async with running_worker(runtime):
        await wait_status(pool, job_id, "processing")
        asked = time.monotonic()
        assert (await client.post(f"/jobs/{job_id}/cancel")).status_code == 200
        row = await wait_status(pool, job_id, "cancelled", timeout=5)
        assert time.monotonic() - asked < 30
        assert row["finished_at"] is not None


async def test_cancel_running_thread_job_stops_it(client, runtime, pool):
    job_id = await submit(pool, "sleep", {"seconds": 60, "cpu": True})
    async with running_worker(runtime):
        await wait_status(pool, job_id, "processing")
        assert (await client.post(f"/jobs/{job_id}/cancel")).status_code == 200
        await wait_status(pool, job_id, "cancelled", timeout=5)


async def test_retry_endpoint_requeues_failed_or_cancelled_and_409s_otherwise(client, pool):
    job_id = await submit(pool, "fail", {"permanent": True})
    assert (await client.post(f"/jobs/{job_id}/retry")).status_code == 409  # pending
    await client.post("/jobs/process")
    assert (await job_row(pool, job_id))["status"] == "failed"
    response = await client.post(f"/jobs/{job_id}/retry")
    assert response.status_code == 200
    assert response.json()["status"] == "pending"
    assert response.json()["attempts"] == 0
    assert response.json()["error"] is None


async def test_frozen_handler_is_timed_out(runtime, pool):
    job_id = await submit(pool, "test_freeze")
    async with running_worker(runtime, cancel_grace=0.5):
        row = await wait_status(pool, job_id, "failed", timeout=10)
    assert row["error"] == "timed out after 1 s"


async def test_reaper_requeues_job_whose_lease_expired(runtime, pool):
    job_id = await submit(pool, "noop")
    dead_worker = uuid.uuid4()
    [claimed] = await queue.claim(pool, dead_worker, 1, lease_seconds=0.2)
    assert claimed.id == job_id
    await asyncio.sleep(0.3)  # the "worker" died: nobody extends the lease
    async with running_worker(runtime, reaper_interval=0.2):
        row = await wait_status(pool, job_id, "completed", timeout=10)
    assert row["attempts"] == 2  # the reclaim shows in the attempts


async def test_reaper_fails_job_with_no_attempts_left(runtime, pool):
    job_id = await submit(pool, "noop", max_attempts=1)
    await queue.claim(pool, uuid.uuid4(), 1, lease_seconds=0.1)
    await asyncio.sleep(0.2)
    async with pool.acquire() as conn:
        assert await queue.reap_expired(conn) == [(job_id, "failed")]
    row = await job_row(pool, job_id)
    assert row["status"] == "failed"
    assert "worker lost" in row["error"]


async def test_cpu_bound_job_longer_than_lease_is_not_reaped_or_run_twice(runtime, pool):
    job_id = await submit(pool, "sleep", {"seconds": 2.5, "cpu": True})
    async with running_worker(runtime, lease_seconds=0.6, reaper_interval=0.2):
        row = await wait_status(pool, job_id, "completed", timeout=15)
    assert row["attempts"] == 1
    assert row["error"] is None


async def test_concurrency_cap_holds_across_workers(runtime, pool):
    ids = [await submit(pool, "test_capped", {"sleep": 0.3}) for _ in range(4)]
    async with running_worker(runtime, concurrency=4), running_worker(runtime, concurrency=4):
        for job_id in ids:
            row = await wait_status(pool, job_id, "completed", timeout=15)
            assert row["result"]["running_together"] == 1


async def test_clean_stop_releases_unfinished_jobs(runtime, pool):
    job_id = await submit(pool, "sleep", {"seconds": 30})
    async with running_worker(runtime, shutdown_grace=0.2):
        await wait_status(pool, job_id, "processing")
    row = await job_row(pool, job_id)
    assert row["status"] == "pending"
    assert row["attempts"] == 0
    assert row["locked_by"] is None
    assert await pool.fetchval("SELECT count(*) FROM workers") == 0


async def test_progress_is_visible_while_running(client, runtime, pool):
    job_id = await submit(pool, "sleep", {"seconds": 2})
    async with running_worker(runtime):
        row = await wait_until(lambda: _progress_between(pool, job_id), timeout=5)
        assert row["progress_message"]


async def _progress_between(pool, job_id):
    row = await job_row(pool, job_id)
    return row if row["status"] == "processing" and 0 < row["progress"] < 100 else None


async def test_jobs_of_a_capped_claim_start_even_if_the_next_claim_statement_fails(runtime, pool, monkeypatch):
    """A claim round runs the capped types' statements first: the jobs they lease must run even when the
    general claim after them fails (connection trouble), not wait for their lease to expire."""
    registry = dict(DISPATCH_TABLE)
    registry["capped_noop"] = dataclasses.replace(DISPATCH_TABLE["noop"], name="capped_noop", concurrency=1)
    job_id = await pool.fetchval("INSERT INTO jobs (job_type, max_attempts) VALUES ('capped_noop', 3) RETURNING id")
    real_claim, failures = queue.claim, []

    async def flaky_claim(*args, **kwargs):
        if not failures:
            failures.append(1)
            raise ConnectionError("connection lost (test)")
        return await real_claim(*args, **kwargs)

    monkeypatch.setattr(queue, "claim", flaky_claim)
    async with running_worker(runtime, registry, lease_seconds=60.0):
        row = await wait_status(pool, job_id, "completed", timeout=10)
    assert failures == [1]
    assert row["attempts"] == 1


async def test_enqueue_notifies_its_queue_for_due_jobs_only(pool, database_url):
    """One job, with and without an idempotency key: a due job wakes its queue's workers, a job scheduled
    for later does not (polling and the scheduler's run_at pick it up)."""
    import datetime

    import asyncpg

    notices: list[str] = []
    listener = await asyncpg.connect(database_url)
    try:
        await listener.add_listener(queue.JOBS_CHANNEL, lambda *args: notices.append(args[3]))
        later = datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=1)
        await queue.enqueue(pool, build_job("noop", {}, default_max_attempts=1, queue="media"))
        await queue.enqueue(pool, build_job("noop", {}, default_max_attempts=1, queue="later", run_at=later))
        keyed = build_job("noop", {}, default_max_attempts=1, queue="keyed", idempotency_key="k-1")
        first, second = await queue.enqueue(pool, keyed), await queue.enqueue(pool, keyed)
        await wait_until(lambda: asyncio.sleep(0.05, len(notices) >= 2), timeout=5)
        await asyncio.sleep(0.2)
    finally:
        await listener.close()
    assert sorted(notices) == ["keyed", "media"]
    assert first[1] is True
    assert second == (first[0], False)


async def test_outcome_of_a_job_reaped_meanwhile_is_a_counted_warning_never_completed(client, runtime, pool, caplog):
    """The job's lease was lost while its handler ran (here: reaped, as after a long freeze): the worker's
    `completed` matches no row, and says so as a WARNING naming the job and why, counted in /metrics."""
    job_id = await submit(pool, "sleep", {"seconds": 1.5})
    async with running_worker(runtime, lease_seconds=60.0):  # no lease extension while the handler runs
        await wait_status(pool, job_id, "processing")
        await pool.execute(
            "UPDATE jobs SET status = 'retry', locked_by = NULL, run_at = now() + interval '1 h' WHERE id = $1", job_id
        )
        await wait_until(lambda: _refusals(client), timeout=10)
    lines = [r for r in caplog.records if str(job_id) in r.getMessage() or getattr(r, "job_id", "") == str(job_id)]
    assert any(r.levelname == "WARNING" and "refused" in r.getMessage() and "reaped" in r.getMessage() for r in lines)
    assert not any(r.levelname == "INFO" and r.getMessage().startswith("completed") for r in lines)
    assert (await job_row(pool, job_id))["status"] == "retry"


async def _refusals(client) -> str | None:
    text = (await client.get("/metrics")).text
    line = 'skiplock_outcomes_refused_total{outcome="completed",reason="reaped"} 1.0'
    return line if line in text else None


async def test_job_whose_lease_was_taken_is_stopped_and_its_outcome_dropped(runtime, pool, caplog):
    """Another worker holds the job now (its lease expired and was claimed again): the heartbeat finds the
    lease gone, the handler is asked to stop, and its outcome is dropped with a warning, not written."""
    job_id = await submit(pool, "sleep", {"seconds": 30})
    async with running_worker(runtime, lease_seconds=1.5):
        await wait_status(pool, job_id, "processing")
        await pool.execute("UPDATE jobs SET locked_by = gen_random_uuid() WHERE id = $1", job_id)
        await wait_until(lambda: asyncio.sleep(0.05, _logged(caplog, job_id, "lease lost")), timeout=10)
    row = await job_row(pool, job_id)
    assert row["status"] == "processing"
    assert row["attempts"] == 1


def _logged(caplog, job_id, text: str) -> bool:
    return any(getattr(r, "job_id", "") == str(job_id) and text in r.getMessage() for r in caplog.records)


async def test_plain_def_handler_runs_in_a_thread_and_sees_cancellation(client, runtime, pool):
    """A plain `def` handler runs in a thread (the event loop stays free: a 3 s blocking handler with a 1 s
    lease is neither reaped nor run twice), and sees its cancellation there."""
    import threading

    from app.worker import JobContext, job_type

    seen: dict[str, object] = {}

    @job_type("test_plain_def", params=BlockParams)
    def blocking(ctx: JobContext, params: BlockParams) -> dict:
        seen["thread"] = threading.current_thread().name
        deadline = time.monotonic() + params.seconds
        while time.monotonic() < deadline:
            ctx.check_cancelled()  # raises JobCancelled once ctx.cancelled is true
            time.sleep(0.05)
        return {"slept": params.seconds}

    try:
        done = await submit(pool, "test_plain_def", {"seconds": 3})
        stopped = await submit(pool, "test_plain_def", {"seconds": 60})
        async with running_worker(runtime, lease_seconds=1.0, reaper_interval=0.2, concurrency=2):
            row = await wait_status(pool, done, "completed", timeout=30)
            assert row["result"] == {"slept": 3}
            assert row["attempts"] == 1
            assert row["reaped"] == 0
            assert (await client.post(f"/jobs/{stopped}/cancel")).status_code == 200
            await wait_status(pool, stopped, "cancelled", timeout=10)
        assert str(seen["thread"]).startswith("skiplock-job")
    finally:
        DISPATCH_TABLE.pop("test_plain_def", None)


class BlockParams(BaseModel):
    seconds: float


async def test_retry_later_retries_after_the_handlers_delay_then_fails_with_its_message(runtime, pool):
    from tests.support.waiting import job_row

    soon = await submit(pool, "test_retry_later", {"seconds": 0.0, "succeed_on": 3}, max_attempts=5)
    later = await submit(pool, "test_retry_later", {"seconds": 3600.0, "succeed_on": 3}, max_attempts=5)
    out_of_attempts = await submit(pool, "test_retry_later", {"seconds": 0.0, "succeed_on": 9}, max_attempts=2)
    async with running_worker(runtime):
        done = await wait_status(pool, soon, "completed", timeout=30)
        failed = await wait_status(pool, out_of_attempts, "failed", timeout=30)
        waiting = await wait_status(pool, later, "retry", timeout=30)
    assert done["result"] == {"attempt": 3}
    assert failed["attempts"] == 2
    assert failed["error"] == "not yet (attempt 2)"
    assert waiting["error"] == "not yet (attempt 1)"
    delay = (waiting["run_at"] - (await job_row(pool, later))["updated_at"]).total_seconds()
    assert 3500 < delay <= 3600  # the handler's delay, not the worker's backoff (capped at 0.2 s in the tests)
