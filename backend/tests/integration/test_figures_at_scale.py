"""The operators' figures and the job listing stay bounded on a large table: every query has an index path,
counts past the exact bound are estimates that say so, and the listing's cursor walks every job once."""

from __future__ import annotations

import json
from typing import Any

from app.worker import stats

_NOOP = """INSERT INTO jobs (job_type, params, queue, priority, run_at, max_attempts, status)
           SELECT $1, '{}'::jsonb, $2, 0, now(), 3, $3::job_status FROM generate_series(1, $4)"""


async def _insert(pool, count: int, status: str = "pending", job_type: str = "noop", queue_name: str = "default"):
    await pool.execute(_NOOP, job_type, queue_name, status, count)


class Explaining:
    """An executor that EXPLAINs every statement (with the planner told to avoid sequential scans wherever
    an index can serve) before running it, and keeps the plans."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.plans: list[tuple[str, str]] = []

    async def _explain(self, query: str, args: tuple[Any, ...]) -> None:
        rows = await self.conn.fetchval(f"EXPLAIN (FORMAT JSON) {query}", *args)
        self.plans.append((query, rows if isinstance(rows, str) else json.dumps(rows)))

    async def fetch(self, query: str, *args: Any, timeout: float | None = None) -> list[Any]:
        await self._explain(query, args)
        return await self.conn.fetch(query, *args)

    async def fetchrow(self, query: str, *args: Any, timeout: float | None = None) -> Any:
        await self._explain(query, args)
        return await self.conn.fetchrow(query, *args)

    async def fetchval(self, query: str, *args: Any, column: int = 0, timeout: float | None = None) -> Any:
        await self._explain(query, args)
        return await self.conn.fetchval(query, *args)

    async def execute(self, query: str, *args: Any, timeout: float | None = None) -> str:
        return await self.conn.execute(query, *args)


async def test_every_figure_query_has_an_index_path_on_jobs(pool):
    await _insert(pool, 2000)
    await _insert(pool, 300, "retry")
    await _insert(pool, 50, "waiting", "test_record")
    await _insert(pool, 3000, "completed")
    await pool.execute("UPDATE jobs SET finished_at = now(), started_at = now() WHERE status = 'completed'")
    await pool.execute("ANALYZE jobs")
    async with pool.acquire() as conn:
        await conn.execute("SET enable_seqscan = off")
        try:
            ex = Explaining(conn)
            estimates: dict[stats.Group, int] = {}
            await stats.counts_estimated(ex, 1440, estimates)
            await stats.queue_depth(ex, estimates)
            window = await stats.window_sample(ex, 15)
            await stats.throughput(ex, 15, window)
            await stats.durations(ex, 15, window)
            await stats.duration_histogram(ex, 60, [0.1, 1.0])
            await stats.totals(ex)
        finally:
            await conn.execute("RESET enable_seqscan")
    assert len(ex.plans) >= 8
    for query, plan in ex.plans:
        if " jobs" in query:
            assert '"Seq Scan"' not in plan, f"a sequential scan for:\n{query}\n{plan}"


async def test_counts_past_the_exact_bound_are_estimates_and_say_so(client, pool):
    big = stats.EXACT_UP_TO + 2000
    await _insert(pool, big)
    await _insert(pool, 7, "retry")
    await _insert(pool, 5, "waiting", "test_record")
    await pool.execute("ANALYZE jobs")

    body = (await client.get("/stats")).json()
    assert body["estimated"]["counts"] is True
    assert body["exact_up_to"] == stats.EXACT_UP_TO
    # a random sample of half the ids or fewer: well within a third of the truth at this size
    assert stats.EXACT_UP_TO < body["by_status"]["pending"] < big * 4 / 3
    assert abs(body["by_status"]["pending"] - big) < big / 3
    assert body["by_status"]["retry"] == 7  # small groups stay exact
    assert body["by_status"]["waiting"] == 5
    [depth] = body["queues"]
    assert depth["estimated"] is True
    assert depth["retrying"] == 7

    listed = (await client.get("/jobs", params={"status": "pending", "limit": 5})).json()
    assert listed["total_estimated"] is True
    assert listed["total"] > stats.EXACT_UP_TO
    exact = (await client.get("/jobs", params={"status": "retry"})).json()
    assert exact == {**exact, "total": 7, "total_estimated": False}

    metrics = (await client.get("/metrics")).text
    assert "estimated from a random sample" in metrics


async def test_counts_at_or_below_the_exact_bound_are_exact(client, pool):
    await _insert(pool, 120)
    await _insert(pool, 3, "retry")
    body = (await client.get("/stats")).json()
    assert body["by_status"] == {"pending": 120, "retry": 3}
    assert body["estimated"] == {"counts": False, "queues": False, "window": False}
    assert body["queues"][0]["depth"] == 123
    listed = (await client.get("/jobs")).json()
    assert (listed["total"], listed["total_estimated"]) == (123, False)


async def test_cursor_walks_every_job_once_in_listing_order(client, pool):
    # One statement's jobs share their created_at: the cursor must tell them apart by id.
    await _insert(pool, 130)
    await _insert(pool, 45, "completed")
    await _insert(pool, 20, "failed", "test_record")
    expected = [
        str(r["id"])
        for r in await pool.fetch("SELECT id FROM jobs WHERE status <> 'processing' ORDER BY created_at DESC, id")
    ]
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 40} | ({"cursor": cursor} if cursor else {})
        page = (await client.get("/jobs", params=params)).json()
        seen += [j["id"] for j in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        assert page["total"] == 195
        if cursor is None:
            break
    assert seen == expected
    assert pages == 5
    first = (await client.get("/jobs", params={"limit": 40})).json()
    assert [j["id"] for j in first["items"]] == expected[:40]


async def test_cursor_with_offset_or_malformed_is_422_naming_the_field(client):
    cursor = "1764900000000000_00000000-0000-0000-0000-000000000000"
    both = await client.get("/jobs", params={"cursor": cursor, "offset": 10})
    assert both.status_code == 422
    assert both.json()["detail"][0]["loc"] == ["query", "offset"]
    bad = await client.get("/jobs", params={"cursor": "yesterday"})
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["query", "cursor"]
    for cursor in (
        "99999999999999999999_00000000-0000-0000-0000-000000000000",
        "1_0000000000000000000000000000000000-0",
    ):
        refused = await client.get("/jobs", params={"cursor": cursor})
        assert refused.status_code == 422
        assert refused.json()["detail"][0]["loc"] == ["query", "cursor"]


async def test_a_busy_window_is_sampled_and_says_so(client, pool):
    busy = stats.WINDOW_EXACT_UP_TO + 4000
    await _insert(pool, busy, "completed")
    await pool.execute(
        "UPDATE jobs SET started_at = now() - interval '2 seconds', finished_at = now() WHERE status = 'completed'"
    )
    await pool.execute("ANALYZE jobs")
    body = (await client.get("/stats", params={"minutes": 15})).json()
    assert body["estimated"]["window"] is True
    assert body["window_exact_up_to"] == stats.WINDOW_EXACT_UP_TO
    finished = sum(m["completed"] for m in body["throughput_per_minute"])
    assert abs(finished - busy) < busy / 3
    [noop] = body["durations"]
    assert abs(noop["finished"] - busy) < busy / 3
    assert 1.5 < noop["p50_seconds"] < 2.5
    assert abs(body["by_status"]["completed"] - busy) < busy / 3


async def test_depth_counts_due_jobs_and_retrying_counts_every_waiting_retry(client, pool):
    await _insert(pool, 5)
    await _insert(pool, 3)
    await pool.execute("UPDATE jobs SET run_at = now() + interval '1 hour' WHERE id IN (SELECT id FROM jobs LIMIT 3)")
    await _insert(pool, 2, "retry")
    await pool.execute("UPDATE jobs SET run_at = now() + interval '5 minutes' WHERE status = 'retry'")
    [default] = (await client.get("/stats")).json()["queues"]
    assert (default["depth"], default["retrying"], default["estimated"]) == (5, 2, False)


async def test_listing_by_type_walks_every_job_of_the_type_once_whatever_its_status(client, pool):
    # By type, the listing merges three parts (migration 0012): settled jobs from the type's index, pending
    # ones and running ones. Every status, of the type and of another, in several statements.
    for status in ("completed", "pending", "processing", "retry", "waiting", "failed", "cancelled", "pending"):
        await _insert(pool, 9, status)
        await _insert(pool, 4, status, "test_record")
    expected = [
        str(r["id"])
        for r in await pool.fetch("SELECT id FROM jobs WHERE job_type = 'test_record' ORDER BY created_at DESC, id")
    ]
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"job_type": "test_record", "limit": 7} | ({"cursor": cursor} if cursor else {})
        page = (await client.get("/jobs", params=params)).json()
        assert (page["total"], page["total_estimated"]) == (32, False)
        seen += [j["id"] for j in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == expected
    by_offset = (await client.get("/jobs", params={"job_type": "test_record", "limit": 10, "offset": 10})).json()
    assert [j["id"] for j in by_offset["items"]] == expected[10:20]
    for status, count in (("pending", 8), ("processing", 4), ("completed", 4), ("retry", 4)):
        listed = (await client.get("/jobs", params={"job_type": "test_record", "status": status})).json()
        assert listed["total"] == count
        assert {j["status"] for j in listed["items"]} == {status}
