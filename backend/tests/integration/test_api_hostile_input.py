"""Input PostgreSQL cannot store, or too much of it: a 422 naming the field (or a 413 naming the limit), never a
500, and nothing stored. Through POST /jobs, GET /jobs, POST /upload and the command line."""

from __future__ import annotations

import json
import os

import pytest

from tests.integration.test_cli import cli
from tests.integration.test_uploads import png_bytes, stored_files


def nested(depth: int) -> dict:
    value: dict = {"leaf": 1}
    for _ in range(depth - 1):
        value = {"a": value}
    return value


def refused_fields(response) -> list[list]:
    assert response.status_code == 422, response.text
    return [e["loc"] for e in response.json()["detail"]]


async def nothing_stored(pool, settings) -> bool:
    jobs = await pool.fetchval("SELECT count(*) FROM jobs")
    assets = await pool.fetchval("SELECT count(*) FROM assets")
    return jobs == 0 and assets == 0 and stored_files(settings) == []


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/jobs", {"job_type": "noop", "max_attempt": 5}, "max_attempt"),  # misspelt max_attempts
        ("/jobs", {"job_type": "noop", "timeout_seconds": 5}, "timeout_seconds"),  # a job type's setting, not a job's
        ("/keys", {"name": "ci", "scope": "read", "owner": "ci", "scopes": ["read"]}, "scopes"),
        ("/webhooks", {"url": "https://example.com/hook", "event": "job.failed"}, "event"),
    ],
)
async def test_a_field_the_request_does_not_have_is_422_naming_it(client, pool, settings, path, body, field):
    """A misspelt or unknown field would otherwise be dropped silently and the request done without it."""
    assert ["body", field] in refused_fields(await client.post(path, json=body))
    assert await nothing_stored(pool, settings)
    assert await pool.fetchval("SELECT count(*) FROM api_keys") == 0
    assert await pool.fetchval("SELECT count(*) FROM webhooks") == 0


@pytest.mark.parametrize("priority", [2**31, -(2**31) - 1, 2**63])
async def test_priority_outside_the_integer_column_is_422_naming_it(client, pool, settings, priority):
    response = await client.post("/jobs", json={"job_type": "noop", "priority": priority})
    assert refused_fields(response) == [["body", "priority"]]
    assert await nothing_stored(pool, settings)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"job_type": "noop", "params": {"note": "a\x00b"}}, ["body", "params"]),
        ({"job_type": "noop", "params": {"a\x00b": 1}}, ["body", "params"]),
        ({"job_type": "noop", "params": {"list": [1, {"deep": "\x00"}]}}, ["body", "params"]),
        ({"job_type": "noop", "queue": "q\x00"}, ["body", "queue"]),
        ({"job_type": "no\x00op"}, ["body", "job_type"]),
        ({"job_type": "noop", "idempotency_key": "k\x00"}, ["body", "idempotency_key"]),
    ],
)
async def test_nul_character_anywhere_is_422_naming_the_field(client, pool, settings, body, field):
    response = await client.post("/jobs", json=body)
    assert refused_fields(response) == [field]
    assert "NUL" in response.text
    assert await nothing_stored(pool, settings)


@pytest.mark.parametrize(
    "raw",
    [
        '{"job_type": "noop", "params": {"note": "\\ud800"}}',  # a lone surrogate, as JSON escapes allow
        '{"job_type": "noop", "params": {"\\udfff": 1}}',
        '{"job_type": "noop", "params": {"x": NaN}}',  # Python's JSON reader takes it; jsonb does not
        '{"job_type": "noop", "params": {"x": -Infinity}}',
    ],
)
async def test_lone_surrogate_or_non_finite_number_in_params_is_422(client, pool, settings, raw):
    response = await client.post("/jobs", content=raw, headers={"Content-Type": "application/json"})
    assert refused_fields(response) == [["body", "params"]]
    assert await nothing_stored(pool, settings)


async def test_params_nested_hundreds_of_levels_deep_are_422_and_32_levels_are_fine(client, pool, settings):
    response = await client.post("/jobs", json={"job_type": "noop", "params": nested(300)})
    assert refused_fields(response) == [["body", "params"]]
    assert "nested more than 32" in response.text
    assert await nothing_stored(pool, settings)
    ok = await client.post("/jobs", json={"job_type": "noop", "params": nested(31)})
    assert ok.status_code == 201, ok.text


async def test_time_out_of_range_in_utc_is_422(client, pool, settings):
    response = await client.post("/jobs", json={"job_type": "noop", "run_at": "0001-01-01T00:00:00+05:00"})
    assert refused_fields(response) == [["body", "run_at"]]
    assert await nothing_stored(pool, settings)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("job_type=a%00b", ["query", "job_type"]),
        ("queue=a%00b", ["query", "queue"]),
        (f"offset={2**63 - 1}", ["query", "offset"]),
        (f"offset={2**64}", ["query", "offset"]),
    ],
)
async def test_list_filter_postgresql_cannot_take_is_422_naming_it(client, query, field):
    assert refused_fields(await client.get(f"/jobs?{query}")) == [field]


async def test_upload_form_fields_postgresql_cannot_take_are_422_and_nothing_stored(client, pool, settings):
    png = {"file": ("a.png", png_bytes(), "image/png")}
    cases = [
        ({"job_type": "test\x00file"}, {}, ["body", "job_type"]),
        ({"job_type": "test_file", "params": '{"note": "\\u0000"}'}, {}, ["body", "params"]),
        ({"job_type": "test_file", "params": '{"note": "\\ud800"}'}, {}, ["body", "params"]),
        ({"job_type": "test_file", "params": json.dumps(nested(300))}, {}, ["body", "params"]),
        ({"job_type": "test_file"}, {"Idempotency-Key": "k\x00"}, ["header", "Idempotency-Key"]),
    ]
    for data, headers, field in cases:
        response = await client.post("/upload", files=png, data=data, headers=headers)
        assert refused_fields(response) == [field], data
    assert await nothing_stored(pool, settings)


async def test_json_body_over_the_request_limit_is_413_naming_it(client, pool, settings):
    big = {"job_type": "noop", "params": {"blob": "x" * settings.max_request_bytes}}
    response = await client.post("/jobs", json=big)
    assert response.status_code == 413
    assert str(settings.max_request_bytes) in response.json()["detail"]
    assert "MAX_REQUEST_BYTES" in response.text
    assert await nothing_stored(pool, settings)


async def test_chunked_json_body_is_read_no_further_than_the_limit(client, pool, settings):
    chunk = b" " * 64 * 1024
    sent = 0

    async def endless():
        nonlocal sent
        yield b'{"job_type": "noop", "params": {}'
        while sent < 50 * settings.max_request_bytes:
            sent += len(chunk)
            yield chunk

    response = await client.post("/jobs", content=endless(), headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert "MAX_REQUEST_BYTES" in response.text
    assert sent <= settings.max_request_bytes + len(chunk)
    assert await nothing_stored(pool, settings)


async def test_upload_params_over_the_request_limit_are_413(client, pool, settings):
    params = json.dumps({"note": "x" * settings.max_request_bytes})
    files = {"file": ("a.png", png_bytes(), "image/png")}
    response = await client.post("/upload", files=files, data={"job_type": "test_file", "params": params})
    assert response.status_code == 413
    assert "MAX_REQUEST_BYTES" in response.text
    assert await nothing_stored(pool, settings)


async def test_listing_carries_previews_not_params_or_results(client, pool):
    blob = "y" * 100_000
    created = (await client.post("/jobs", json={"job_type": "noop", "params": {"blob": blob}})).json()["job"]
    await client.post("/jobs/process")
    item = (await client.get("/jobs")).json()["items"][0]
    assert item["id"] == created["id"]
    assert "params" not in item
    assert "result" not in item
    assert item["params_preview"].startswith('{"blob": "yyy')
    assert len(item["params_preview"]) == 200
    assert item["result_preview"].startswith('{"echo": {"blob"')
    assert len(item["result_preview"]) == 200
    full = (await client.get(f"/jobs/{created['id']}")).json()
    assert full["params"] == {"blob": blob}
    assert full["result"] == {"echo": {"blob": blob}}


async def test_cli_refuses_what_postgresql_cannot_store_with_exit_2_and_the_reason(subprocess_env, pool):
    surrogate = os.fsdecode(b"\xff")  # an argument that is not UTF-8 arrives as a lone surrogate
    runs = [
        (("enqueue", "noop", '{"note": "\\u0000"}'), "NUL"),
        (("enqueue", "noop", '{"note": "\\ud800"}'), "surrogate"),
        (("enqueue", "noop", json.dumps(nested(300))), "nested more than 32"),
        (("enqueue", "noop", "--priority", str(2**31)), "priority"),
        (("enqueue", "noop", "--queue", surrogate), "queue"),
        (("list", "--job-type", surrogate), "surrogate"),
    ]
    for args, reason in runs:
        code, _, err = await cli(subprocess_env, *args)
        assert code == 2, (args, err)
        assert reason in err, (args, err)
        assert "Traceback" not in err, (args, err)
    assert await pool.fetchval("SELECT count(*) FROM jobs") == 0
