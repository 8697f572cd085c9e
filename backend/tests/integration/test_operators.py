"""Operator endpoints: task catalogue, workers, stats, metrics, and the live event stream."""

from __future__ import annotations

import asyncio
import json
import uuid

from app.api.events import APPLICATION_NAME, EventHub
from app.worker import queue
from app.worker.client import wait as wait_for_job
from app.worker.dispatcher import build_job
from app.worker.ticks import TickLease

from tests.integration.test_worker import running_worker
from tests.support.waiting import wait_status, wait_until


async def test_tasks_catalogue_comes_from_the_dispatch_table(client):
    tasks = {t["name"]: t for t in (await client.get("/tasks")).json()}
    assert {"noop", "sleep", "fail", "health_check", "cut_analysis", "restoration", "training"} <= set(tasks)
    assert tasks["sleep"]["params_schema"]["properties"]["seconds"]["type"] == "number"
    assert tasks["training"]["concurrency_limit"] == 1
    assert tasks["training"]["queue"] == "ml"
    assert tasks["prune_jobs"]["schedule"] == "17 * * * *"
    assert tasks["prune_jobs"]["schedule_timezone"] == "UTC"
    assert tasks["noop"]["schedule"] is None
    assert tasks["noop"]["schedule_timezone"] is None
    assert tasks["cut_analysis"]["description"]


async def test_workers_lists_live_worker_with_jobs_in_hand(client, runtime, pool):
    job_id, _ = await queue.enqueue(pool, build_job("sleep", {"seconds": 5}, default_max_attempts=1))
    async with running_worker(runtime, concurrency=3, queues=["default"]) as worker:
        await wait_status(pool, job_id, "processing")
        workers = (await client.get("/workers")).json()
        mine = next(w for w in workers if w["id"] == str(worker.id))
        assert mine["alive"]
        assert mine["jobs_in_hand"] == 1
        assert mine["concurrency"] == 3
        assert mine["queues"] == ["default"]
        assert mine["heartbeat_age_seconds"] < 5
        await client.post(f"/jobs/{job_id}/cancel")


async def test_stats_counts_depth_throughput_and_durations(client, pool):
    for _ in range(3):
        await client.post("/jobs", json={"job_type": "noop"})
    await client.post("/jobs", json={"job_type": "fail", "params": {"permanent": True}})
    for _ in range(2):
        await client.post("/jobs/process")
    body = (await client.get("/stats")).json()
    assert sum(body["by_status"].values()) == 4
    assert body["by_status"]["completed"] == 2
    default = next(q for q in body["queues"] if q["queue"] == "default")
    assert default["depth"] == 2
    assert default["oldest_age_seconds"] >= 0
    assert sum(m["completed"] for m in body["throughput_per_minute"]) == 2
    noop = next(d for d in body["durations"] if d["job_type"] == "noop")
    assert noop["finished"] == 2
    assert noop["p50_seconds"] is not None
    assert noop["p95_seconds"] >= noop["p50_seconds"]


async def test_metrics_in_prometheus_format(client):
    await client.post("/jobs", json={"job_type": "noop"})
    await client.post("/jobs/process")
    await client.post("/jobs", json={"job_type": "noop"})
    text = (await client.get("/metrics")).text
    assert 'skiplock_jobs{job_type="noop",queue="default",status="completed"} 1.0' in text
    assert 'skiplock_queue_depth{queue="default"} 1.0' in text
    assert 'skiplock_job_duration_seconds_count{job_type="noop"} 1.0' in text
    assert "skiplock_workers_alive" in text
    assert "skiplock_jobs_reaped_total" in text


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
    assert len(progress) >= 2
    assert progress == sorted(progress)
    assert events[-1][0] == "status"
    assert events[-1][1]["status"] == "completed"
    assert events[-1][1]["result"]["slept"] >= 1.5


async def test_events_of_unknown_job_is_404(client):
    assert (await client.get("/jobs/00000000-0000-0000-0000-000000000000/events")).status_code == 404


async def _ticks(database_url: str, pool, statement, *, registered: bool = True) -> list[str]:
    """The notifications sent on the events channel while `statement(conn)` runs (and a moment after), to a
    listener that holds a tick lease (`registered`) or listens without one."""
    import asyncpg

    payloads: list[str] = []
    listener = await asyncpg.connect(database_url)
    lease = TickLease()
    try:
        if registered:
            await lease.register(listener)
        await listener.add_listener(queue.EVENTS_CHANNEL, lambda *args: payloads.append(args[3]))
        async with pool.acquire() as conn:
            await statement(conn)
        await asyncio.sleep(0.3)
    finally:
        if registered:
            await lease.release(listener)
        await listener.close()
    return payloads


async def test_a_statement_changing_many_jobs_sends_one_empty_tick(pool, database_url):
    """Events cost the database one notification per statement, not a payload per job (migration 0006)."""
    await queue.enqueue_many(pool, [build_job("noop", {}, default_max_attempts=1) for _ in range(230)])
    claimed: list[queue.ClaimedJob] = []

    async def claim(conn) -> None:
        claimed.extend(await queue.claim(conn, uuid.uuid4(), 500, 60.0))

    assert await _ticks(database_url, pool, claim) == [""]
    assert len(claimed) == 230

    async def two_statements_in_one_transaction(conn) -> None:
        async with conn.transaction():
            await conn.execute("UPDATE jobs SET progress = 10")
            await conn.execute("UPDATE jobs SET progress = 20")

    assert await _ticks(database_url, pool, two_statements_in_one_transaction) == [""]  # folded at commit


async def test_no_tick_is_sent_while_no_listener_holds_a_current_lease(pool, database_url):
    """A notification wakes every listening backend and serialises commits: the trigger sends one only while
    a listener is registered (migration 0013), and a lease that has run out (its holder died) does not count."""
    await queue.enqueue_many(pool, [build_job("noop", {}, default_max_attempts=1) for _ in range(5)])

    async def update(conn) -> None:
        await conn.execute("UPDATE jobs SET progress = progress + 1")

    assert await _ticks(database_url, pool, update, registered=False) == []
    assert await _ticks(database_url, pool, update) == [""]
    stale = TickLease()
    await stale.register(pool)
    await pool.execute("UPDATE event_listeners SET expires_at = now() - interval '1 second' WHERE id = $1", stale.id)
    assert await _ticks(database_url, pool, update, registered=False) == []
    assert await pool.fetchval("SELECT count(*) FROM event_listeners") == 1  # the stale lease, until ...
    await _ticks(database_url, pool, update)  # ... the next registration removes expired ones
    assert await pool.fetchval("SELECT count(*) FROM event_listeners") == 0


async def test_waiting_for_a_job_holds_a_tick_lease_only_while_it_waits(runtime, pool):
    job_id, _ = await queue.enqueue(pool, build_job("noop", {}, default_max_attempts=1))
    waiting = asyncio.create_task(wait_for_job(pool, job_id, timeout=60, recheck=30))
    await wait_until(lambda: pool.fetchval("SELECT count(*) FROM event_listeners"))
    # renewed at each wake-up, so the lease outlasts three rechecks: one that expired between two would stop the ticks
    assert await pool.fetchval("SELECT extract(epoch FROM expires_at - now()) FROM event_listeners") > 85
    await asyncio.sleep(1.5)  # past the read a second after the start: from now on only a tick wakes it
    async with running_worker(runtime, concurrency=1):
        outcome = await waiting  # woken by the completion's tick (the recheck is 30 s away)
    assert outcome.status == "completed"
    assert await pool.fetchval("SELECT count(*) FROM event_listeners") == 0


async def test_event_hub_sees_a_change_whose_statement_ran_just_before_it_registered(pool, database_url):
    """That statement's trigger saw no lease and sent no tick, and it commits after the hub's first read:
    the read a second after registering finds it (the idle poll is 30 s away)."""
    job_id, _ = await queue.enqueue(pool, build_job("noop", {}, default_max_attempts=1))
    hub = EventHub(database_url, min_interval=0.01, idle_poll=30)
    try:
        async with pool.acquire() as conn:
            tx = conn.transaction()
            await tx.start()
            await conn.execute("UPDATE jobs SET progress = 40 WHERE id = $1", job_id)  # no lease yet: no tick
            async with hub.subscribe(str(job_id)) as events:
                assert (await _next(events))["progress"] == 0  # the first read: not committed yet
                await tx.commit()
                assert (await _next(events, 10))["progress"] == 40
    finally:
        await hub.close()


async def _next(events: asyncio.Queue, timeout: float = 5.0) -> dict:
    return await asyncio.wait_for(events.get(), timeout)


async def test_event_hub_pushes_each_change_of_a_watched_job_and_nothing_else(pool, database_url):
    watched, _ = await queue.enqueue(pool, build_job("noop", {}, default_max_attempts=1))
    other, _ = await queue.enqueue(pool, build_job("noop", {}, default_max_attempts=1))
    hub = EventHub(database_url, min_interval=0.01, idle_poll=30)
    try:
        async with hub.subscribe(str(watched)) as events:
            first = await _next(events)  # the hub's first read: the state at subscription
            assert (first["id"], first["status"], first["progress"], first["message"]) == (
                str(watched),
                "pending",
                0,
                None,
            )
            await pool.execute("UPDATE jobs SET progress = 50, progress_message = 'half' WHERE id = $1", watched)
            assert (await _next(events))["progress"] == 50
            reads = hub.reads
            await pool.execute("UPDATE jobs SET progress = 70 WHERE id = $1", other)
            await pool.execute("UPDATE jobs SET run_at = run_at WHERE id = $1", watched)  # no visible change
            for _ in range(50):  # until the hub has read after those ticks
                if hub.reads >= reads + 1 and events.empty():
                    await asyncio.sleep(0.1)
                    break
                await asyncio.sleep(0.02)
            assert events.empty()
            assert hub.reads > reads
            await pool.execute("UPDATE jobs SET status = 'cancelled', finished_at = now() WHERE id = $1", watched)
            last = await _next(events)
            assert (last["status"], last["progress"], last["message"]) == ("cancelled", 50, "half")
        reads = hub.reads
        await pool.execute("UPDATE jobs SET progress = 90 WHERE id = $1", other)
        await asyncio.sleep(0.3)
        assert hub.reads == reads  # no subscriber, no reads, and no longer listening:
        assert await hub._conn.fetchval("SELECT count(*) FROM pg_listening_channels()") == 0
        async with hub.subscribe(str(other)) as events:  # until the next subscriber
            assert (await _next(events))["progress"] == 90
            await pool.execute("UPDATE jobs SET progress = 95 WHERE id = $1", other)
            assert (await _next(events))["progress"] == 95
    finally:
        await hub.close()


async def test_event_hub_reads_again_after_its_connection_is_lost(pool, database_url):
    job_id, _ = await queue.enqueue(pool, build_job("noop", {}, default_max_attempts=1))
    hub = EventHub(database_url, min_interval=0.01, idle_poll=0.2)
    try:
        async with hub.subscribe(str(job_id)) as events:
            await _next(events)
            await pool.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1", APPLICATION_NAME
            )
            await asyncio.sleep(0.1)
            await pool.execute("UPDATE jobs SET progress = 30 WHERE id = $1", job_id)
            assert (await _next(events, 10))["progress"] == 30
    finally:
        await hub.close()


async def test_event_hub_closed_while_its_reader_lets_go_leaves_no_lease(pool, database_url, monkeypatch):
    """The last subscriber gone, the reader releases the lease on its own; an app shutting down at that
    moment closes the hub: the lease must not be left to bring every statement's tick back until it expires."""
    job_id, _ = await queue.enqueue(pool, build_job("noop", {}, default_max_attempts=1))
    releasing = asyncio.Event()
    release = TickLease.release

    async def slow_release(self, conn) -> None:
        releasing.set()
        await asyncio.sleep(0.2)  # widen the moment between the reader letting go and its lease being gone
        await release(self, conn)

    monkeypatch.setattr(TickLease, "release", slow_release)
    hub = EventHub(database_url, min_interval=0.01, idle_poll=0.05)
    try:
        async with hub.subscribe(str(job_id)) as events:
            await _next(events)
        await asyncio.wait_for(releasing.wait(), 10)  # the reader is letting go ...
    finally:
        await hub.close()  # ... when the hub is closed
    await asyncio.sleep(0.3)
    assert await pool.fetchval("SELECT count(*) FROM event_listeners") == 0
