"""The webhooks API: registration refuses what a server must not call (422 naming `url`), the secret is
shown once, owners see only their own endpoints, jobs may name endpoints, and the event is written with the
job's end in the same transaction."""

from __future__ import annotations

import json
import uuid

import pytest
from app.worker import queue
from app.worker.dispatcher import build_job

from tests.support.auth import app_client, bearer, create_key, keys_required

PUBLIC_URL = "https://93.184.215.14/hook"  # a public address literal: no resolver needed


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://93.184.215.14/hook", "https://"),
        ("https://127.0.0.1/hook", "loopback"),
        ("https://10.0.0.7/hook", "private"),
        ("https://169.254.169.254/latest", "link-local"),
        ("https://[fd00::1]/hook", "private"),
        ("https://[::ffff:127.0.0.1]/hook", "IPv4-mapped"),
        ("https://localhost/hook", "loopback"),
        ("https://admin:pw@93.184.215.14/hook", "credentials"),
        ("https://no-such-host.invalid/hook", "does not resolve"),
    ],
)
async def test_registration_refuses_what_a_server_must_not_call(client, url, says):
    response = await client.post("/webhooks", json={"url": url})
    assert response.status_code == 422, response.text
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "url"]
    assert says in error["msg"]
    assert (await client.get("/webhooks")).json() == []


async def test_private_and_plain_http_endpoints_need_their_settings(settings):
    allowed = settings.model_copy(update={"webhooks_allow_private": True, "webhooks_allow_http": True})
    async with app_client(allowed) as client:
        assert (await client.post("/webhooks", json={"url": "http://127.0.0.1:9/hook"})).status_code == 201


async def test_the_secret_is_shown_once(client):
    created = await client.post("/webhooks", json={"url": PUBLIC_URL, "description": "ops"})
    assert created.status_code == 201, created.text
    hook = created.json()
    assert hook["secret"].startswith("whsec_")
    assert hook["all_jobs"] is True
    assert hook["max_attempts"] == 16
    listed = (await client.get("/webhooks")).json()
    assert [h["id"] for h in listed] == [hook["id"]]
    assert "secret" not in listed[0]
    assert "secret" not in (await client.get(f"/webhooks/{hook['id']}")).json()
    assert hook["secret"] not in json.dumps(listed)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "url"),
        ({"url": PUBLIC_URL, "max_attempts": 0}, "max_attempts"),
        ({"url": PUBLIC_URL, "description": "a\x00"}, "description"),
    ],
)
async def test_bad_fields_are_422_naming_them(client, body, field):
    response = await client.post("/webhooks", json=body)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][-1] == field


async def test_owners_see_only_their_own_webhooks(settings, pool):
    alice, bob = await create_key(pool, "alice", "write"), await create_key(pool, "bob", "write")
    async with app_client(keys_required(settings)) as client:
        hook = (await client.post("/webhooks", json={"url": PUBLIC_URL}, headers=bearer(alice))).json()
        assert (await client.get("/webhooks", headers=bearer(bob))).json() == []
        for method, path in [
            ("GET", f"/webhooks/{hook['id']}"),
            ("GET", f"/webhooks/{hook['id']}/deliveries"),
            ("DELETE", f"/webhooks/{hook['id']}"),
        ]:
            assert (await client.request(method, path, headers=bearer(bob))).status_code == 404
        # bob may not name alice's endpoint on his job either
        response = await client.post("/jobs", json={"job_type": "noop", "webhooks": [hook["id"]]}, headers=bearer(bob))
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"] == ["body", "webhooks"]
        assert (await client.delete(f"/webhooks/{hook['id']}", headers=bearer(alice))).status_code == 204
        assert (await client.get("/webhooks", headers=bearer(alice))).json() == []


async def test_a_job_hears_of_all_jobs_endpoints_and_those_it_names_only(settings, pool):
    token = await create_key(pool, "alice", "write")
    async with app_client(keys_required(settings)) as client:
        every = (await client.post("/webhooks", json={"url": PUBLIC_URL}, headers=bearer(token))).json()
        named = (
            await client.post("/webhooks", json={"url": PUBLIC_URL + "2", "all_jobs": False}, headers=bearer(token))
        ).json()
        plain = (await client.post("/jobs", json={"job_type": "noop"}, headers=bearer(token))).json()["job"]
        naming = (
            await client.post("/jobs", json={"job_type": "noop", "webhooks": [named["id"]]}, headers=bearer(token))
        ).json()["job"]
        shown = (await client.get(f"/jobs/{naming['id']}", headers=bearer(token))).json()["webhooks"]
    assert shown == [every["id"], named["id"]]
    hooks = {r["id"]: set(r["webhooks"] or []) for r in await pool.fetch("SELECT id, webhooks FROM jobs")}
    assert hooks[uuid.UUID(plain["id"])] == {uuid.UUID(every["id"])}
    assert hooks[uuid.UUID(naming["id"])] == {uuid.UUID(every["id"]), uuid.UUID(named["id"])}


async def test_jobs_no_endpoint_applies_to_carry_none(client, pool):
    """The system's jobs (workers, schedules, the CLI) and those of owners without endpoints stay NULL, so the
    end-of-job trigger's WHEN clause passes them by."""
    await client.post("/webhooks", json={"url": PUBLIC_URL})  # the local admin's ("local")
    system_job, _ = await queue.enqueue(pool, build_job("noop", {}, default_max_attempts=1))
    assert await pool.fetchval("SELECT webhooks FROM jobs WHERE id = $1", system_job) is None


async def test_the_event_is_written_in_the_transaction_that_ends_the_job(client, pool):
    hook = (await client.post("/webhooks", json={"url": PUBLIC_URL})).json()
    job = (await client.post("/jobs", json={"job_type": "noop", "run_at": "2999-01-01T00:00:00Z"})).json()["job"]
    async with pool.acquire() as conn:
        tx = conn.transaction()
        await tx.start()
        await queue.request_cancel(conn, uuid.UUID(job["id"]))
        await tx.rollback()
    assert await pool.fetchval("SELECT count(*) FROM webhook_deliveries") == 0  # rolled back with it
    async with pool.acquire() as conn:
        await queue.request_cancel(conn, uuid.UUID(job["id"]))
    delivery = await pool.fetchrow("SELECT * FROM webhook_deliveries")
    assert delivery["event_type"] == "job.cancelled"
    assert str(delivery["webhook_id"]) == hook["id"]
    event = json.loads(delivery["body"])
    assert event["id"] == str(delivery["event_id"])
    assert event["type"] == "job.cancelled"
    assert event["job"]["id"] == job["id"]
    assert event["job"]["status"] == "cancelled"
    sender = await pool.fetchrow(
        "SELECT job_type, status::text, owner, queue FROM jobs WHERE id = $1", delivery["delivery_job_id"]
    )
    assert dict(sender) == {"job_type": "webhook_delivery", "status": "pending", "owner": "system", "queue": "webhooks"}
    listed = (await client.get(f"/webhooks/{hook['id']}/deliveries")).json()["items"]
    assert [d["id"] for d in listed] == [str(delivery["id"])]
    assert listed[0]["status"] == "pending"


async def test_redeliver_answers_404_for_another_endpoints_delivery(client):
    hook = (await client.post("/webhooks", json={"url": PUBLIC_URL})).json()
    response = await client.post(f"/webhooks/{hook['id']}/deliveries/{uuid.uuid4()}/redeliver")
    assert response.status_code == 404


async def test_the_command_line_registers_lists_and_deletes(subprocess_env, pool):
    from tests.integration.test_cli import cli

    code, _, err = await cli(subprocess_env, "webhooks", "create", "https://127.0.0.1/hook", "--owner", "alice")
    assert code == 2
    assert "loopback" in err
    code, out, _ = await cli(subprocess_env, "webhooks", "create", PUBLIC_URL, "--owner", "alice", "--named-only")
    assert code == 0
    assert out.strip().startswith("whsec_")
    hook_id = str(await pool.fetchval("SELECT id FROM webhooks"))
    code, out, _ = await cli(subprocess_env, "webhooks", "list", "--owner", "alice")
    assert hook_id in out
    assert "whsec_" not in out
    code, out, _ = await cli(subprocess_env, "webhooks", "deliveries", hook_id)
    assert code == 0
    assert (await cli(subprocess_env, "webhooks", "delete", hook_id))[0] == 0
    assert (await cli(subprocess_env, "webhooks", "delete", hook_id))[0] == 3


async def test_old_deliveries_are_pruned_with_old_jobs(client, pool):
    from app.webhooks import store

    hook = (await client.post("/webhooks", json={"url": PUBLIC_URL})).json()
    for age in ("20 days", "1 hour"):
        await pool.execute(
            """INSERT INTO webhook_deliveries (webhook_id, event_id, event_type, job_id, body, delivery_job_id,
                                               created_at)
               VALUES ($1, gen_random_uuid(), 'job.completed', gen_random_uuid(), '{}', gen_random_uuid(),
                       now() - $2::text::interval)""",
            uuid.UUID(hook["id"]),
            age,
        )
    assert await store.prune(pool, 14 * 86_400, 100) == 1
    [kept] = (await client.get(f"/webhooks/{hook['id']}/deliveries")).json()["items"]
    assert kept["status"] == "pending"


async def test_a_repeated_idempotency_key_naming_other_webhooks_is_a_conflict(client):
    named = (await client.post("/webhooks", json={"url": PUBLIC_URL, "all_jobs": False})).json()
    first = await client.post("/jobs", json={"job_type": "noop", "idempotency_key": "k1", "webhooks": [named["id"]]})
    assert first.status_code == 201
    same = await client.post("/jobs", json={"job_type": "noop", "idempotency_key": "k1", "webhooks": [named["id"]]})
    assert same.status_code == 200
    other = (await client.post("/webhooks", json={"url": PUBLIC_URL + "x", "all_jobs": False})).json()
    differs = await client.post("/jobs", json={"job_type": "noop", "idempotency_key": "k1", "webhooks": [other["id"]]})
    assert differs.status_code == 409
    assert "webhooks" in differs.json()["detail"]


async def _end_a_job(client, pool) -> None:
    job = (await client.post("/jobs", json={"job_type": "noop", "run_at": "2999-01-01T00:00:00Z"})).json()["job"]
    async with pool.acquire() as conn:
        await queue.request_cancel(conn, uuid.UUID(job["id"]))


async def test_an_address_allowed_at_registration_is_refused_at_delivery_once_the_setting_is_off(settings, pool):
    allowed = settings.model_copy(update={"webhooks_allow_private": True, "webhooks_allow_http": True})
    async with app_client(allowed) as client:
        hook = (await client.post("/webhooks", json={"url": "http://127.0.0.1:9/hook"})).json()
        await _end_a_job(client, pool)
    strict = settings.model_copy(update={"webhooks_allow_http": True})
    async with app_client(strict) as client:
        ran = (await client.post("/jobs/process")).json()
        assert ran["job_type"] == "webhook_delivery"
        [delivery] = (await client.get(f"/webhooks/{hook['id']}/deliveries")).json()["items"]
    [attempt] = delivery["responses"]
    assert attempt["status_code"] is None
    assert attempt["error"].startswith("refused: 127.0.0.1 is a loopback address")
    assert delivery["status"] == "pending"
    assert delivery["next_attempt_at"] is not None


async def test_a_delivery_of_a_deleted_webhook_fails_saying_so(client, pool):
    hook = (await client.post("/webhooks", json={"url": PUBLIC_URL})).json()
    await _end_a_job(client, pool)
    assert (await client.delete(f"/webhooks/{hook['id']}")).status_code == 204
    ran = (await client.post("/jobs/process")).json()
    assert ran["job_type"] == "webhook_delivery"
    assert ran["status"] == "failed"
    assert "its webhook was deleted" in ran["error"]
