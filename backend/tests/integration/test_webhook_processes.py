"""Webhooks on real worker processes and a real receiver (an HTTP server on 127.0.0.1 in this process): every
event arrives once per successful delivery, signed, even after the receiver refused connections and then
answered 503 for a while; a delivery that runs out of attempts fails saying what to do, and a redelivery sends
the same event again."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import Counter
from datetime import UTC, datetime

import pytest
from app.webhooks import signing, store
from app.worker import queue
from app.worker.dispatcher import build_job

from tests.support.processes import start_worker, stop_all
from tests.support.receiver import Receiver, free_port
from tests.support.waiting import wait_status


@pytest.fixture
def hook_env(subprocess_env):
    return {
        **subprocess_env,
        "WEBHOOKS_ALLOW_PRIVATE": "true",
        "WEBHOOKS_ALLOW_HTTP": "true",
        "WEBHOOKS_RETRY_BASE": "0.2",
        "WEBHOOKS_RETRY_MAX": "1.0",
        "WEBHOOKS_TIMEOUT": "10",
    }


@pytest.fixture
def receiver():
    r = Receiver(free_port())  # not started: connections are refused until the test starts it
    yield r
    r.stop()


async def until(check, progress, *, stall: float = 90.0) -> None:
    """Poll `check` while `progress` keeps moving; fail only when nothing moved for `stall` seconds."""
    last, moved = await progress(), time.monotonic()
    while not await check():
        seen = await progress()
        if seen != last:
            last, moved = seen, time.monotonic()
        elif time.monotonic() - moved > stall:
            raise AssertionError(f"no progress for {stall:.0f} s (last: {seen!r})")
        await asyncio.sleep(0.1)


async def attempts_made(pool) -> int:
    return await pool.fetchval("SELECT count(*) FROM webhook_attempts")


async def alices_jobs(pool, *jobs: tuple[str, dict]) -> list[uuid.UUID]:
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT set_config('skiplock.owner', 'alice', true)")
        made = await queue.enqueue_many(conn, [build_job(t, p, default_max_attempts=1, run_at=r) for t, p, r in jobs])
    return [job_id for job_id, _ in made]


async def test_every_event_arrives_once_signed_after_the_receiver_was_down(pool, hook_env, receiver, tmp_path, client):
    hook, secret = await store.create(pool, "alice", receiver.url, description=None, all_jobs=True, max_attempts=60)
    ids = await alices_jobs(
        pool,
        *[("noop", {"n": i}, None) for i in range(4)],
        ("fail", {"permanent": True, "message": "bad input"}, None),
        ("noop", {"n": 99}, datetime(2999, 1, 1, tzinfo=UTC)),  # cancelled before it runs
    )
    async with pool.acquire() as conn:
        await queue.request_cancel(conn, ids[-1])
    procs = [start_worker(hook_env, tmp_path / "logs", "--concurrency", "10") for _ in range(2)]
    try:
        # Down: connections refused. Every delivery fails at least twice.
        async def each_tried_twice() -> bool:
            counts = await pool.fetch("SELECT delivery_id, count(*) AS n FROM webhook_attempts GROUP BY 1")
            return len(counts) == len(ids) and all(r["n"] >= 2 for r in counts)

        await until(each_tried_twice, lambda: attempts_made(pool))
        # Up, but answering 503: every delivery is answered 503 at least once.
        receiver.status = 503
        receiver.start()

        async def each_answered_503() -> bool:
            n = await pool.fetchval("SELECT count(DISTINCT delivery_id) FROM webhook_attempts WHERE status_code = 503")
            return n == len(ids)

        await until(each_answered_503, lambda: attempts_made(pool))
        # Healthy: everything arrives.
        receiver.status = 200

        async def all_delivered() -> bool:
            return await pool.fetchval("SELECT count(*) FROM webhook_deliveries WHERE status = 'delivered'") == len(ids)

        await until(all_delivered, lambda: attempts_made(pool))
        await asyncio.sleep(1.0)  # a second copy, if one were coming, would have time to arrive
    finally:
        stop_all(procs)

    got = receiver.delivered()
    events = [json.loads(r.body) for r in got]
    assert Counter(e["id"] for e in events) == Counter(
        str(r["event_id"]) for r in await pool.fetch("SELECT event_id FROM webhook_deliveries")
    )
    assert len(got) == len(ids) == len({e["id"] for e in events})  # each event exactly once
    for request, event in zip(got, events, strict=True):
        assert signing.verify(secret, request.body, request.headers[signing.HEADER])
        assert not signing.verify(signing.new_secret(), request.body, request.headers[signing.HEADER])
        assert request.headers["Skiplock-Event-Id"] == event["id"]
        assert request.headers["Skiplock-Event-Type"] == event["type"]
    by_job = {e["job"]["id"]: e for e in events}
    assert set(by_job) == {str(i) for i in ids}
    assert [by_job[str(i)]["type"] for i in ids] == ["job.completed"] * 4 + ["job.failed", "job.cancelled"]
    assert by_job[str(ids[0])]["job"]["result"] == {"echo": {"n": 0}}
    assert by_job[str(ids[4])]["job"]["error"] == "bad input"
    assert by_job[str(ids[4])]["job"]["attempts"] == 1
    assert by_job[str(ids[5])]["job"]["started_at"] is None

    listed = (await client.get(f"/webhooks/{hook.id}/deliveries")).json()["items"]
    assert len(listed) == len(ids)
    assert {d["status"] for d in listed} == {"delivered"}
    for d in listed:
        responses = d["responses"]
        assert d["attempts"] == len(responses) >= 4
        assert "could not connect" in responses[0]["error"]
        assert responses[0]["status_code"] is None
        assert any(r["status_code"] == 503 for r in responses)
        assert responses[-1]["status_code"] == 200
        assert responses[-1]["response_excerpt"] == '{"ok": true}'
        assert d["last_error"] is None
        assert d["next_attempt_at"] is None
    statuses = await pool.fetch("SELECT status::text FROM jobs WHERE job_type = 'webhook_delivery'")
    assert {r["status"] for r in statuses} == {"completed"}


async def test_a_delivery_out_of_attempts_fails_saying_what_to_do_and_can_be_sent_again(
    pool, hook_env, receiver, tmp_path, client
):
    hook, secret = await store.create(pool, "alice", receiver.url, description=None, all_jobs=True, max_attempts=3)
    [job] = await alices_jobs(pool, ("noop", {}, None))
    procs = [start_worker(hook_env, tmp_path / "logs", "--concurrency", "4")]
    try:
        await wait_status(pool, job, "completed", timeout=120)
        sender_job = await pool.fetchval("SELECT delivery_job_id FROM webhook_deliveries")
        row = await wait_status(pool, sender_job, "failed", timeout=120)
        assert "failed after 3 attempts" in row["error"]
        assert "could not connect" in row["error"]
        assert "/redeliver" in row["error"]
        [failed] = (await client.get(f"/webhooks/{hook.id}/deliveries")).json()["items"]
        assert failed["status"] == "failed"
        assert failed["attempts"] == 3
        assert len(failed["responses"]) == 3
        assert "could not connect" in failed["last_error"]
        assert (await client.get(f"/webhooks/{hook.id}/deliveries?status=failed")).json()["items"] == [failed]

        receiver.start()
        again = await client.post(f"/webhooks/{hook.id}/deliveries/{failed['id']}/redeliver")
        assert again.status_code == 202, again.text
        assert again.json()["event_id"] == failed["event_id"]
        assert again.json()["status"] == "pending"
        await wait_status(pool, uuid.UUID(again.json()["delivery_job_id"]), "completed", timeout=120)
    finally:
        stop_all(procs)
    [request] = receiver.delivered()
    assert json.loads(request.body)["id"] == failed["event_id"]
    assert request.body.decode() == failed["body"]
    assert signing.verify(secret, request.body, request.headers[signing.HEADER])


async def test_a_ping_is_signed_by_the_new_secret_and_for_a_while_by_the_previous_one(
    pool, hook_env, receiver, tmp_path, client
):
    hook, first = await store.create(pool, "alice", receiver.url, description=None, all_jobs=True, max_attempts=3)
    receiver.start()
    rotated = (await client.post(f"/webhooks/{hook.id}/rotate-secret")).json()
    second = rotated["secret"]
    assert second != first
    assert rotated["previous_valid_until"] is not None
    procs = [start_worker(hook_env, tmp_path / "logs", "--concurrency", "4")]
    try:
        ping = (await client.post(f"/webhooks/{hook.id}/ping")).json()
        assert ping["event_type"] == "ping"
        assert ping["job_id"] is None
        await wait_status(pool, uuid.UUID(ping["delivery_job_id"]), "completed", timeout=120)
        cut = (await client.post(f"/webhooks/{hook.id}/rotate-secret?keep_previous_hours=0")).json()
        assert cut["previous_valid_until"] is None
        again = (await client.post(f"/webhooks/{hook.id}/ping")).json()
        await wait_status(pool, uuid.UUID(again["delivery_job_id"]), "completed", timeout=120)
    finally:
        stop_all(procs)
    overlap, after = receiver.delivered()
    assert json.loads(overlap.body)["type"] == "ping"
    assert json.loads(overlap.body)["webhook"]["id"] == str(hook.id)
    assert overlap.headers[signing.HEADER].count("v1=") == 2
    assert signing.verify(second, overlap.body, overlap.headers[signing.HEADER])
    assert signing.verify(first, overlap.body, overlap.headers[signing.HEADER])
    assert signing.verify(cut["secret"], after.body, after.headers[signing.HEADER])
    assert not signing.verify(second, after.body, after.headers[signing.HEADER])
    listed = (await client.get(f"/webhooks/{hook.id}/deliveries")).json()["items"]
    assert [d["status"] for d in listed] == ["delivered", "delivered"]
