"""Operator endpoints: task catalogue, workers, stats, metrics, and the live event stream."""

from __future__ import annotations

import asyncio
import json
import uuid

from app.worker import queue
from app.worker.dispatcher import build_job

from tests.integration.test_worker import running_worker
from tests.support.waiting import wait_status


async def test_tasks_catalogue_comes_from_the_dispatch_table(client):
    tasks = {t["name"]: t for t in (await client.get("/tasks")).json()}
    assert {"noop", "sleep", "fail", "health_check", "cut_analysis", "restoration", "training"} <= set(tasks)
    assert tasks["sleep"]["params_schema"]["properties"]["seconds"]["type"] == "number"
    assert tasks["training"]["concurrency_limit"] == 1 and tasks["training"]["queue"] == "ml"
    assert tasks["prune_jobs"]["schedule"] == "17 * * * *"
    assert tasks["cut_analysis"]["description"]


async def test_workers_lists_live_worker_with_jobs_in_hand(client, runtime, pool):
    job_id, _ = await queue.enqueue(pool, build_job("sleep", {"seconds": 5}, default_max_attempts=1))
    async with running_worker(runtime, concurrency=3, queues=["default"]) as worker:
        await wait_status(pool, job_id, "processing")
        workers = (await client.get("/workers")).json()
        mine = next(w for w in workers if w["id"] == str(worker.id))
        assert mine["alive"] and mine["jobs_in_hand"] == 1 and mine["concurrency"] == 3
        assert mine["queues"] == ["default"] and mine["heartbeat_age_seconds"] < 5
        await client.post(f"/jobs/{job_id}/cancel")


async def test_stats_counts_depth_throughput_and_durations(client, pool):
    for _ in range(3):
        await client.post("/jobs", json={"job_type": "noop"})
    await client.post("/jobs", json={"job_type": "fail", "params": {"permanent": True}})
    for _ in range(2):
        await client.post("/jobs/process")
    body = (await client.get("/stats")).json()
    assert sum(body["by_status"].values()) == 4 and body["by_status"]["completed"] == 2
    default = next(q for q in body["queues"] if q["queue"] == "default")
    assert default["depth"] == 2 and default["oldest_age_seconds"] >= 0
    assert sum(m["completed"] for m in body["throughput_per_minute"]) == 2
    noop = next(d for d in body["durations"] if d["job_type"] == "noop")
    assert noop["finished"] == 2 and noop["p50_seconds"] is not None and noop["p95_seconds"] >= noop["p50_seconds"]


async def test_metrics_in_prometheus_format(client):
    await client.post("/jobs", json={"job_type": "noop"})
    await client.post("/jobs/process")
    await client.post("/jobs", json={"job_type": "noop"})
    text = (await client.get("/metrics")).text
    assert 'skiplock_jobs{job_type="noop",queue="default",status="completed"} 1.0' in text
    assert 'skiplock_queue_depth{queue="default"} 1.0' in text
    assert 'skiplock_job_duration_seconds_count{job_type="noop"} 1.0' in text
    assert "skiplock_workers_alive" in text and "skiplock_jobs_reaped_total" in text


async def test_job_events_stream_progress_until_completed(client, runtime, pool):
    job_id, _ = await queue.enqueue(pool, build_job("sleep", {"seconds": 1.5}, default_max_attempts=1))
    async with running_worker(runtime):
        response = await asyncio.wait_for(client.get(f"/jobs/{job_id}/events"), 20)
    assert response.headers["content-type"].startswith("text/event-stream")
    events = [
        (block.split("\n")[0][7:], json.loads(block.split("\n")[1][6:]))
        for block in response.text.strip().split("\n\n")
        if block.startswith("event:")
    ]
    assert events[0][0] == "state"
    progress = [e["progress"] for kind, e in events if kind == "progress"]
    assert len(progress) >= 2 and progress == sorted(progress)
    assert events[-1][0] == "status" and events[-1][1]["status"] == "completed"
    assert events[-1][1]["result"]["slept"] >= 1.5


async def test_events_of_unknown_job_is_404(client):
    assert (await client.get("/jobs/00000000-0000-0000-0000-000000000000/events")).status_code == 404


async def _event_payloads(database_url: str, pool, statement, count: int) -> list[str]:
    """The payloads sent on the events channel while `statement(conn)` runs, once `count` events arrived
    (and a moment more, for any extra)."""
    import asyncpg

    payloads: list[str] = []
    listener = await asyncpg.connect(database_url)
    try:
        await listener.add_listener(queue.EVENTS_CHANNEL, lambda *args: payloads.append(args[3]))
        async with pool.acquire() as conn:
            await statement(conn)
        for _ in range(100):
            if sum(len(json.loads(p)) for p in payloads) >= count:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.2)
    finally:
        await listener.close()
    return payloads


async def test_one_statement_changing_many_jobs_sends_every_event_in_bounded_payloads(pool, database_url):
    ids = [(await queue.enqueue(pool, build_job("noop", {}, default_max_attempts=1)))[0] for _ in range(150)]
    message = '\u0001é"\\' * 60  # escapes and multi-byte characters: the longest events there are

    async def update(conn) -> None:
        await conn.execute("UPDATE jobs SET progress = 50, progress_message = $1", message)
        await conn.execute("UPDATE jobs SET run_at = run_at")  # no state or progress change: no event

    payloads = await _event_payloads(database_url, pool, update, len(ids))
    events = [e for p in payloads for e in json.loads(p)]
    assert len(payloads) > 1 and all(len(p.encode()) < 8000 for p in payloads)
    assert sorted(e["id"] for e in events) == sorted(str(i) for i in ids)
    assert {(e["progress"], e["message"]) for e in events} == {(50, message[:200])}


async def test_events_of_a_big_batch_without_messages_come_in_bounded_payloads(pool, database_url):
    """A claim or a completion of hundreds of jobs: every event arrives, in several payloads under 8000 bytes."""
    await queue.enqueue_many(pool, [build_job("noop", {}, default_max_attempts=1) for _ in range(230)])
    claimed: list[queue.ClaimedJob] = []

    async def claim(conn) -> None:
        claimed.extend(await queue.claim(conn, uuid.uuid4(), 500, 60.0))

    payloads = await _event_payloads(database_url, pool, claim, 230)
    events = [e for p in payloads for e in json.loads(p)]
    assert len(claimed) == 230 and len(payloads) >= 3 and all(len(p.encode()) < 8000 for p in payloads)
    assert sorted(e["id"] for e in events) == sorted(str(j.id) for j in claimed)
    assert {(e["status"], e["progress"], e["message"]) for e in events} == {("processing", 0, None)}


async def test_events_trigger_stays_linear_after_small_statements(pool):
    """The trigger's plan is cached from the first statements (one row each): it must still not join a later
    statement's thousands of rows in nested loops (quadratic: about 30 s for 20,000 rows instead of under 1 s)."""
    async with pool.acquire() as conn:
        await conn.execute("INSERT INTO jobs (job_type) SELECT 'noop' FROM generate_series(1, 20000)")
        for _ in range(3):
            await conn.execute("UPDATE jobs SET progress = progress + 1 WHERE id = (SELECT id FROM jobs LIMIT 1)")
        async with conn.transaction():
            await conn.execute("SET LOCAL statement_timeout = '15s'")  # a complexity guard, not a speed target
            assert await conn.execute("UPDATE jobs SET progress = 1") == "UPDATE 20000"
