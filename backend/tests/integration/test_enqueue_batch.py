"""The queue's batch insert: every column of every job lands on its own row, ids come back in order, each due
queue is woken once, and the owner and webhooks defaults apply per row, whichever columns the batch shares."""

from __future__ import annotations

import asyncio
import json
import uuid

import asyncpg
from app.worker import queue
from app.worker.queue import NewJob

from tests.support.waiting import wait_until


async def _rows(pool: asyncpg.Pool, ids: list[uuid.UUID]) -> list[asyncpg.Record]:
    rows = await pool.fetch(
        """SELECT id, job_type, params::text AS params, queue, priority, max_attempts, timeout_seconds, asset_id,
                  status::text AS status, owner, webhooks
           FROM jobs WHERE id = ANY($1::uuid[])""",
        ids,
    )
    by_id = {r["id"]: r for r in rows}
    return [by_id[i] for i in ids]


async def test_a_batch_sharing_every_column_inserts_each_job_in_order(pool):
    jobs = [NewJob("noop", {"n": i, "text": 'it\'s "quoted" \\ ü'}, 3, "media", 5) for i in range(300)]
    made = await queue.enqueue_many(pool, jobs)
    assert [created for _, created in made] == [True] * 300
    rows = await _rows(pool, [job_id for job_id, _ in made])
    assert [json.loads(r["params"]) for r in rows] == [job.params for job in jobs]
    assert {(r["job_type"], r["queue"], r["priority"], r["max_attempts"], r["status"]) for r in rows} == {
        ("noop", "media", 5, 3, "pending")
    }
    assert {(r["timeout_seconds"], r["asset_id"], r["owner"], r["webhooks"]) for r in rows} == {
        (None, None, "system", None)
    }


async def test_a_batch_with_every_column_per_job_keeps_each_jobs_own_values(pool):
    asset = await pool.fetchval(
        "INSERT INTO assets (kind, stored_path, size_bytes, sha256) VALUES ('video', 'a.mp4', 1, 'x') RETURNING id"
    )
    jobs = [
        NewJob(
            "noop" if i % 2 else "sleep",
            {"seconds": 0} if i % 2 == 0 else {"i": i, "nested": {"list": [i, None, True]}},
            1 + i % 4,
            f"q{i % 3}",
            i % 5,
            None,
            None if i % 3 else 2.5 * i,
            None,
            asset if i % 4 == 0 else None,
        )
        for i in range(40)
    ]
    made = await queue.enqueue_many(pool, jobs)
    rows = await _rows(pool, [job_id for job_id, _ in made])
    for job, row in zip(jobs, rows, strict=True):
        assert (row["job_type"], row["queue"], row["priority"], row["max_attempts"]) == (
            job.job_type,
            job.queue,
            job.priority,
            job.max_attempts,
        )
        assert (row["timeout_seconds"], row["asset_id"]) == (job.timeout_seconds, job.asset_id)
        assert json.loads(row["params"]) == job.params


async def test_a_batch_wakes_each_of_its_queues_once_at_commit(pool, database_url):
    notices: list[str] = []
    listener = await asyncpg.connect(database_url)
    try:
        await listener.add_listener(queue.JOBS_CHANNEL, lambda *args: notices.append(args[3]))
        async with pool.acquire() as conn, conn.transaction():
            await queue.enqueue_many(conn, [NewJob("noop", {}, 1, f"q{i % 2}") for i in range(10)])
            await asyncio.sleep(0.2)
            assert notices == []  # delivered at commit, not before
        await wait_until(lambda: asyncio.sleep(0.05, len(notices) >= 2), timeout=5)
        await asyncio.sleep(0.2)
    finally:
        await listener.close()
    assert sorted(notices) == ["q0", "q1"]


async def test_a_batch_in_an_owners_transaction_belongs_to_the_owner_and_gets_its_webhooks(pool):
    hook = await pool.fetchval(
        "INSERT INTO webhooks (owner, url, secret, max_attempts) VALUES ('alice', 'https://example.com/h', 's', 3)"
        " RETURNING id"
    )
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT set_config('skiplock.owner', 'alice', true)")
        made = await queue.enqueue_many(conn, [NewJob("noop", {"i": i}, 1) for i in range(5)])
    rows = await _rows(pool, [job_id for job_id, _ in made])
    assert {(r["owner"], tuple(r["webhooks"])) for r in rows} == {("alice", (hook,))}


async def test_a_keyed_batch_keeps_each_jobs_params_and_returns_the_holders_of_taken_keys(pool):
    import datetime

    later = datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=1)
    [(held, _)] = await queue.enqueue_many(pool, [NewJob("noop", {"first": True}, 1, idempotency_key="k1")])
    jobs = [
        NewJob("noop", {"i": i}, 1, idempotency_key=f"k{i}" if i % 2 else None, run_at=later if i % 3 else None)
        for i in range(12)
    ]
    made = await queue.enqueue_many(pool, jobs)
    assert made[1] == (held, False)
    assert all(created for i, (_, created) in enumerate(made) if i != 1)
    rows = await _rows(pool, [job_id for job_id, _ in made])
    assert [json.loads(r["params"]) for r in rows] == [{"first": True} if i == 1 else {"i": i} for i in range(12)]
