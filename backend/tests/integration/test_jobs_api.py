"""The jobs API end to end: enqueue, poll, list, process inline, and every 4xx."""

from __future__ import annotations

import uuid

import httpx
import pytest
from app.core.config import Settings
from app.main import create_app
from app.worker import queue

from tests.support.waiting import job_row


async def enqueue(client: httpx.AsyncClient, job_type: str, params: dict | None = None, **extra) -> dict:
    response = await client.post("/jobs", json={"job_type": job_type, "params": params or {}, **extra})
    assert response.status_code == 201, response.text
    return response.json()["job"]


async def test_health_reports_database_migrations_and_mode(client):
    body = (await client.get("/health")).json()
    assert body["database"] is True
    assert body["migrations_at_head"] is True
    assert body["status"] == "ok"
    assert body["environment"] == "development"


async def test_job_goes_pending_then_processing_then_completed_with_result(client, pool):
    job = await enqueue(client, "noop", {"hello": "world"})
    assert job["status"] == "pending"
    assert job["attempts"] == 0
    body = (await client.post("/jobs/process")).json()
    assert body["processed"] is True
    assert body["job_id"] == job["id"]
    assert body["status"] == "completed"
    assert body["result"] == {"echo": {"hello": "world"}}
    assert body["processing_time_ms"] >= 0
    done = (await client.get(f"/jobs/{job['id']}")).json()
    assert done["status"] == "completed"
    assert done["result"] == {"echo": {"hello": "world"}}
    assert done["attempts"] == 1
    assert done["started_at"]
    assert done["finished_at"]
    assert done["progress"] == 100


async def test_running_job_is_seen_processing(client, runtime, pool):
    job = await enqueue(client, "sleep", {"seconds": 0.6})
    import asyncio

    processing = asyncio.create_task(client.post("/jobs/process"))
    for _ in range(100):
        row = await job_row(pool, job["id"])
        if row["status"] == "processing":
            break
        await asyncio.sleep(0.02)
    assert row["status"] == "processing"
    assert row["locked_by"] is not None
    assert row["locked_until"] is not None
    assert (await processing).json()["status"] == "completed"


async def test_completed_job_is_never_processed_again(client, pool):
    job = await enqueue(client, "noop")
    assert (await client.post("/jobs/process")).json()["processed"] is True
    again = (await client.post("/jobs/process")).json()
    assert again == {**again, "processed": False}
    assert (await job_row(pool, job["id"]))["attempts"] == 1


async def test_empty_queue_gives_processed_false_with_message(client):
    body = (await client.post("/jobs/process")).json()
    assert body == {**body, "processed": False, "message": "no job is waiting"}


async def test_process_with_the_embedded_worker_running_says_why_nothing_waits(settings: Settings):
    app = create_app(settings.model_copy(update={"worker_enabled": True}))
    transport = httpx.ASGITransport(app=app)
    async with app.router.lifespan_context(app), httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        body = (await http.post("/jobs/process")).json()
    assert body["processed"] is False
    assert body["message"].startswith("no job is waiting (the embedded worker claims jobs as they arrive")
    assert "--no-worker" in body["message"]


async def test_unknown_job_type_fails_at_once_without_retry(client, pool):
    new = queue.NewJob(job_type="no_such_type", params={}, max_attempts=5)
    job_id, _ = await queue.enqueue(pool, new)
    body = (await client.post("/jobs/process")).json()
    assert body["status"] == "failed"
    assert "no_such_type" in body["error"]
    row = await job_row(pool, job_id)
    assert row["status"] == "failed"
    assert row["attempts"] == 1
    assert "unknown job type" in row["error"]


async def test_permanent_error_fails_without_retry(client, pool):
    job = await enqueue(client, "fail", {"permanent": True, "message": "the input is bad: fix X"})
    body = (await client.post("/jobs/process")).json()
    assert body["status"] == "failed"
    assert body["error"] == "the input is bad: fix X"
    assert (await job_row(pool, job["id"]))["attempts"] == 1


async def test_failure_goes_to_retry_with_backoff_then_succeeds(client, pool):
    job = await enqueue(client, "fail", {"times": 2})
    first = (await client.post("/jobs/process")).json()
    assert first["status"] == "retry"
    assert "attempt 1" in first["error"]
    row = await job_row(pool, job["id"])
    assert row["run_at"] > row["updated_at"] - __import__("datetime").timedelta(seconds=1)
    assert row["run_at"] > row["started_at"]  # pushed into the future by the backoff
    import asyncio

    for expected in ("retry", "completed"):
        await asyncio.sleep(0.25)  # backoff in tests is at most 0.2 s
        body = (await client.post("/jobs/process")).json()
        assert body["status"] == expected, body
    row = await job_row(pool, job["id"])
    assert row["attempts"] == 3
    assert row["result"] is not None
    assert row["error"] is None


async def test_retries_exhausted_ends_failed(client, pool):
    job = await enqueue(client, "fail", {"times": 10}, max_attempts=2)
    import asyncio

    statuses = []
    for _ in range(2):
        statuses.append((await client.post("/jobs/process")).json()["status"])
        await asyncio.sleep(0.25)
    assert statuses == ["retry", "failed"]
    assert (await client.post("/jobs/process")).json()["processed"] is False
    row = await job_row(pool, job["id"])
    assert row["status"] == "failed"
    assert row["attempts"] == 2
    assert row["finished_at"] is not None


async def test_enqueue_unregistered_type_is_422_naming_it(client):
    response = await client.post("/jobs", json={"job_type": "bogus_type", "params": {}})
    assert response.status_code == 422
    assert "bogus_type" in response.text


async def test_enqueue_invalid_params_is_422_with_field_errors(client):
    response = await client.post("/jobs", json={"job_type": "sleep", "params": {"seconds": "soon"}})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "params", "seconds"]


async def test_a_param_the_job_type_does_not_have_is_422_naming_it_and_makes_no_job(client, pool):
    response = await client.post("/jobs", json={"job_type": "sleep", "params": {"second": 5}})  # for `seconds`
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "params", "second"]
    assert response.json()["detail"][0]["type"] == "extra_forbidden"
    assert await pool.fetchval("SELECT count(*) FROM jobs") == 0
    tasks = {t["name"]: t for t in (await client.get("/tasks")).json()}
    assert tasks["sleep"]["params_schema"]["additionalProperties"] is False  # clients can tell from the schema
    assert tasks["noop"]["params_schema"].get("additionalProperties") is not False  # takes any params, by design


async def test_a_job_queued_with_a_param_its_type_no_longer_has_still_runs(client, pool):
    """Only new jobs are held to their type's fields: one queued before a param was dropped from its type (here
    written straight into the table) runs with what its type still knows, instead of failing."""
    new = queue.NewJob(job_type="sleep", params={"seconds": 0, "old": 1}, max_attempts=3)
    job_id, _ = await queue.enqueue(pool, new)
    body = (await client.post("/jobs/process")).json()
    assert body["job_id"] == str(job_id)
    assert body["status"] == "completed", body.get("error")


async def test_idempotency_key_returns_the_existing_job(client):
    first = await client.post("/jobs", json={"job_type": "noop", "idempotency_key": "k-1"})
    second = await client.post("/jobs", json={"job_type": "noop", "idempotency_key": "k-1"})
    assert first.status_code == 201
    assert second.status_code == 200
    assert first.json()["job"]["id"] == second.json()["job"]["id"]
    assert second.json()["created"] is False


async def test_get_unknown_job_is_404_and_malformed_id_is_422(client):
    assert (await client.get(f"/jobs/{uuid.uuid4()}")).status_code == 404
    assert (await client.get("/jobs/not-a-uuid")).status_code == 422


async def test_list_jobs_newest_first_with_filters_and_total(client):
    ids = [(await enqueue(client, "noop", {"i": i}))["id"] for i in range(3)]
    await enqueue(client, "sleep", {"seconds": 0})
    body = (await client.get("/jobs", params={"job_type": "noop", "limit": 2})).json()
    assert body["total"] == 3
    assert [j["id"] for j in body["items"]] == ids[::-1][:2]
    page2 = (await client.get("/jobs", params={"job_type": "noop", "limit": 2, "offset": 2})).json()
    assert [j["id"] for j in page2["items"]] == [ids[0]]
    assert (await client.get("/jobs", params={"status": "completed"})).json()["total"] == 0
    assert (await client.get("/jobs", params={"status": "bogus"})).status_code == 422


async def test_list_puts_running_jobs_in_their_place_among_the_others(client, pool):
    """Running jobs are not on the listing index (migration 0006): the listing merges them back in, newest
    first, across pages and with every filter."""
    ids = []
    for i in range(6):
        ids.append((await enqueue(client, "noop", {"i": i}))["id"])
        await pool.execute(
            "UPDATE jobs SET created_at = now() + make_interval(secs => $1) WHERE id = $2", i, uuid.UUID(ids[-1])
        )
    running = {ids[1], ids[4]}
    await pool.execute(
        "UPDATE jobs SET status = 'processing', locked_by = gen_random_uuid(), locked_until = now() + interval '1 hour'"
        " WHERE id = ANY($1::uuid[])",
        [uuid.UUID(i) for i in running],
    )
    newest_first = ids[::-1]
    pages = [(await client.get("/jobs", params={"limit": 4, "offset": o})).json() for o in (0, 4)]
    assert [j["id"] for p in pages for j in p["items"]] == newest_first
    assert pages[0]["total"] == 6
    assert [j["status"] for j in pages[0]["items"]] == ["pending", "processing", "pending", "pending"]
    only_running = (await client.get("/jobs", params={"status": "processing"})).json()
    assert [j["id"] for j in only_running["items"]] == [ids[4], ids[1]]
    assert only_running["total"] == 2
    waiting = (await client.get("/jobs", params={"status": "pending", "limit": 2, "offset": 1})).json()
    assert [j["id"] for j in waiting["items"]] == [ids[3], ids[2]]
    assert waiting["total"] == 4
    by_prefix = (await client.get("/jobs", params={"id_prefix": ids[4][:13]})).json()
    assert [j["id"] for j in by_prefix["items"]] == [ids[4]]


async def test_priority_then_run_at_decides_claim_order(client):
    low = await enqueue(client, "noop", {"n": "low"}, priority=10)
    high = await enqueue(client, "noop", {"n": "high"}, priority=-5)
    mid = await enqueue(client, "noop", {"n": "mid"})
    order = [(await client.post("/jobs/process")).json()["job_id"] for _ in range(3)]
    assert order == [high["id"], mid["id"], low["id"]]


async def test_future_run_at_is_not_claimed_early(client):
    await enqueue(client, "noop", run_at="2999-01-01T00:00:00Z")
    assert (await client.post("/jobs/process")).json()["processed"] is False


async def test_process_endpoint_is_absent_in_production(settings: Settings):
    prod = settings.model_copy(update={"environment": "production"})
    app = create_app(prod)
    transport = httpx.ASGITransport(app=app)
    async with app.router.lifespan_context(app), httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        assert (await http.post("/jobs/process")).status_code in (404, 405)
        assert (await http.get("/health")).json()["environment"] == "production"


@pytest.mark.parametrize("path", ["cancel", "retry"])
async def test_cancel_and_retry_unknown_job_is_404(client, path):
    assert (await client.post(f"/jobs/{uuid.uuid4()}/{path}")).status_code == 404


async def test_list_filters_by_id_prefix(client):
    ids = [(await client.post("/jobs", json={"job_type": "noop"})).json()["job"]["id"] for _ in range(12)]
    target = ids[5]
    for prefix in (target[:3], target[:11], target.upper()[:8], target):
        body = (await client.get("/jobs", params={"id_prefix": prefix, "limit": 500})).json()
        expected = {i for i in ids if i.replace("-", "").startswith(prefix.lower().replace("-", ""))}
        assert {j["id"] for j in body["items"]} == expected
        assert body["total"] == len(expected)
        assert target in expected
    assert (await client.get("/jobs", params={"id_prefix": "xyz"})).status_code == 422
