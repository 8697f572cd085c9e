"""Idempotency keys: the same key with the same request answers the first job; with a different request, a 409
that says what differs. Through POST /jobs, POST /upload and the command line."""

from __future__ import annotations

import pytest

from tests.integration.test_cli import cli
from tests.integration.test_uploads import png_bytes, stored_files


async def post_job(client, **body):
    return await client.post("/jobs", json={"job_type": "noop", "idempotency_key": "k-1", **body})


async def test_same_key_and_same_request_answers_the_first_job(client):
    first = await post_job(client, params={"a": 1}, priority=3)
    again = await post_job(client, params={"a": 1}, priority=3)
    assert first.status_code == 201
    assert again.status_code == 200
    assert again.json()["job"]["id"] == first.json()["job"]["id"]
    assert again.json()["created"] is False


@pytest.mark.parametrize(
    ("second", "differs"),
    [
        ({"job_type": "sleep", "params": {"seconds": 0}}, "job_type (was 'noop', now 'sleep')"),
        ({"params": {"a": 2}}, "params (a)"),
        ({"params": {"a": 1, "b": 1}}, "params (b)"),
        ({"params": {"a": 1}, "priority": 5}, "priority (was 0, now 5)"),
        ({"params": {"a": 1}, "queue": "other"}, "queue (was 'default', now 'other')"),
        ({"params": {"a": 1}, "max_attempts": 9}, "max_attempts"),
        ({"params": {"a": 1}, "run_at": "2999-01-01T00:00:00Z"}, "run_at"),
    ],
)
async def test_same_key_and_another_request_is_409_saying_what_differs(client, pool, second, differs):
    first = await post_job(client, params={"a": 1})
    response = await post_job(client, **second)
    assert response.status_code == 409, response.text
    assert differs in response.json()["detail"], response.text
    assert "k-1" in response.json()["detail"]
    assert await pool.fetchval("SELECT count(*) FROM jobs") == 1
    assert (await client.get(f"/jobs/{first.json()['job']['id']}")).json()["params"] == {"a": 1}


def png(shade: int = 200) -> dict:
    return {"file": ("a.png", png_bytes(shade=shade), "image/png")}


async def upload(client, files, **data):
    return await client.post("/upload", files=files, data=data, headers={"Idempotency-Key": "up-1"})


async def test_upload_with_same_key_and_another_file_job_type_or_params_is_409(client, pool, settings):
    first = await upload(client, png(), job_type="test_file", params='{"note": "x"}')
    assert first.status_code == 201
    repeat = await upload(client, png(), job_type="test_file", params='{"note": "x"}')
    assert repeat.status_code == 200
    assert repeat.json()["job_id"] == first.json()["job_id"]
    for files, data, differs in [
        (png(shade=10), {"job_type": "test_file", "params": '{"note": "x"}'}, "file (sha256"),
        (png(), {"job_type": "quality_assessment"}, "job_type (was 'test_file', now 'quality_assessment')"),
        (png(), {"job_type": "test_file", "params": '{"note": "y"}'}, "params (note)"),
    ]:
        response = await upload(client, files, **data)
        assert response.status_code == 409, response.text
        assert differs in response.json()["detail"], response.text
    assert len(stored_files(settings)) == 1
    assert await pool.fetchval("SELECT count(*) FROM jobs") == 1


async def test_cli_reusing_a_key_for_another_request_exits_4_saying_what_differs(subprocess_env):
    code, out, _ = await cli(subprocess_env, "enqueue", "noop", '{"a": 1}', "--idempotency-key", "cli-1")
    assert code == 0
    code, again, _ = await cli(subprocess_env, "enqueue", "noop", '{"a": 1}', "--idempotency-key", "cli-1")
    assert code == 0
    assert again == out
    code, _, err = await cli(subprocess_env, "enqueue", "noop", '{"a": 2}', "--idempotency-key", "cli-1")
    assert code == 4
    assert "params (a)" in err
    assert "cli-1" in err
