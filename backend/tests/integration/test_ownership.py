"""Owners: a read or write key sees, follows, cancels, retries and downloads only its owner's jobs and files;
another owner's id answers exactly like a missing one. Admin keys see every owner's."""

from __future__ import annotations

import uuid

import pytest
from app.worker import queue

from tests.integration.test_uploads import png_bytes
from tests.support.auth import app_client, bearer, create_key, keys_required

TRACEBACK = (
    "Traceback (most recent call last):\n"
    '  File "/srv/skiplock/backend/app/jobs/media.py", line 42, in run\n'
    "    raise FileNotFoundError(path)\n"
    "FileNotFoundError: /srv/skiplock/storage/uploads/ab/cd.png is gone"
)


@pytest.fixture
async def owners(settings, pool, tmp_path):
    """alice (write), bob (write), an admin; one job and one uploaded asset of alice's, with a clip and an
    artifact."""
    tokens = {
        "alice": await create_key(pool, "alice", "write"),
        "bob": await create_key(pool, "bob", "write"),
        "bob-read": await create_key(pool, "bob", "read"),
        "admin": await create_key(pool, "ops", "admin"),
    }
    async with app_client(keys_required(settings)) as client:
        as_alice = bearer(tokens["alice"])
        job = (await client.post("/jobs", json={"job_type": "noop"}, headers=as_alice)).json()["job"]
        upload = (
            await client.post("/upload", files={"file": ("p.png", png_bytes(), "image/png")}, headers=as_alice)
        ).json()
        thumb = settings.storage_dir / "clips" / "t.jpg"
        thumb.parent.mkdir(parents=True, exist_ok=True)
        thumb.write_bytes(b"\xff\xd8\xff")
        clip_id = await pool.fetchval(
            "INSERT INTO clips (asset_id, rank, start_ms, end_ms, visual_score, thumbnail_path)"
            " VALUES ($1, 1, 0, 1000, 0.5, 'clips/t.jpg') RETURNING id",
            uuid.UUID(upload["asset_id"]),
        )
        artifact = settings.storage_dir / "jobs" / job["id"] / "out.png"
        artifact.parent.mkdir(parents=True)
        artifact.write_bytes(png_bytes())
        yield client, tokens, {"job": job["id"], "asset": upload["asset_id"], "clip": str(clip_id)}


def _paths(ids: dict[str, str]) -> list[tuple[str, str]]:
    return [
        ("GET", f"/jobs/{ids['job']}"),
        ("GET", f"/jobs/{ids['job']}/events"),
        ("GET", f"/jobs/{ids['job']}/artifacts"),
        ("GET", f"/jobs/{ids['job']}/artifacts/out.png"),
        ("POST", f"/jobs/{ids['job']}/cancel"),
        ("POST", f"/jobs/{ids['job']}/retry"),
        ("GET", f"/assets/{ids['asset']}"),
        ("GET", f"/assets/{ids['asset']}/file"),
        ("GET", f"/clips/{ids['clip']}/thumbnail"),
    ]


async def test_another_owners_jobs_assets_artifacts_clips_and_events_answer_404_like_missing_ones(owners):
    client, tokens, ids = owners
    missing = {key: str(uuid.uuid4()) for key in ids}
    for who in ("bob", "bob-read"):
        for (method, path), (_, missing_path) in zip(_paths(ids), _paths(missing), strict=True):
            theirs = await client.request(method, path, headers=bearer(tokens[who]))
            nothing = await client.request(method, missing_path, headers=bearer(tokens[who]))
            if who == "bob-read" and method == "POST":
                assert theirs.status_code == nothing.status_code == 403
                continue
            assert theirs.status_code == nothing.status_code == 404, (who, path)
            for key in ids:  # the same words, but for the id
                assert (
                    theirs.json()["detail"].replace(ids[key], "ID")
                    == nothing.json()["detail"].replace(missing[key], "ID")
                    or ids[key] not in path
                )


async def test_the_owner_and_admins_reach_the_same_things(owners):
    client, tokens, ids = owners
    for who in ("alice", "admin"):
        for method, path in _paths(ids):
            if method == "POST" or path.endswith("/events"):
                continue
            response = await client.request(method, path, headers=bearer(tokens[who]))
            assert response.status_code == 200, (who, path, response.text)


async def test_listings_show_the_owners_jobs_and_admins_all_of_them(owners):
    client, tokens, _ids = owners
    bob_job = (await client.post("/jobs", json={"job_type": "noop"}, headers=bearer(tokens["bob"]))).json()["job"]
    alice = (await client.get("/jobs", headers=bearer(tokens["alice"]))).json()
    bob = (await client.get("/jobs", headers=bearer(tokens["bob-read"]))).json()
    admin = (await client.get("/jobs", headers=bearer(tokens["admin"]))).json()
    assert {j["owner"] for j in alice["items"]} == {"alice"}
    assert alice["total"] == 2
    assert [j["id"] for j in bob["items"]] == [bob_job["id"]]
    assert bob["total"] == 1
    assert admin["total"] == 3
    assert {j["owner"] for j in admin["items"]} == {"alice", "bob"}
    for status in ("pending", "processing"):
        body = (await client.get("/jobs", params={"status": status}, headers=bearer(tokens["bob"]))).json()
        assert all(j["owner"] == "bob" for j in body["items"])


async def test_the_owner_cancels_and_retries_its_job(owners):
    client, tokens, ids = owners
    as_alice = bearer(tokens["alice"])
    assert (await client.post(f"/jobs/{ids['job']}/cancel", headers=as_alice)).json()["status"] == "cancelled"
    assert (await client.post(f"/jobs/{ids['job']}/retry", headers=as_alice)).json()["status"] == "pending"


async def test_idempotency_keys_are_each_owners_own(owners):
    client, tokens, _ = owners
    body = {"job_type": "noop", "idempotency_key": "nightly"}
    first = await client.post("/jobs", json=body, headers=bearer(tokens["alice"]))
    other = await client.post("/jobs", json=body, headers=bearer(tokens["bob"]))
    again = await client.post("/jobs", json=body, headers=bearer(tokens["alice"]))
    assert first.status_code == other.status_code == 201
    assert again.status_code == 200
    assert first.json()["job"]["id"] == again.json()["job"]["id"] != other.json()["job"]["id"]
    assert first.json()["job"]["idempotency_key"] == other.json()["job"]["idempotency_key"] == "nightly"
    upload = {"file": ("p.png", png_bytes(), "image/png")}
    a = await client.post("/upload", files=upload, headers={**bearer(tokens["alice"]), "Idempotency-Key": "u1"})
    b = await client.post("/upload", files=upload, headers={**bearer(tokens["bob"]), "Idempotency-Key": "u1"})
    assert a.status_code == b.status_code == 201
    assert a.json()["asset_id"] != b.json()["asset_id"]


async def test_a_failed_jobs_traceback_is_for_admins_and_its_owner_sees_one_line(owners, pool):
    client, tokens, ids = owners
    await pool.execute(
        "UPDATE jobs SET status = 'failed', error = $2, finished_at = now() WHERE id = $1",
        uuid.UUID(ids["job"]),
        TRACEBACK,
    )
    mine = (await client.get(f"/jobs/{ids['job']}", headers=bearer(tokens["alice"]))).json()
    assert mine["error"] == "FileNotFoundError: cd.png is gone"
    listed = (await client.get("/jobs", headers=bearer(tokens["alice"]))).json()["items"]
    assert all("/srv" not in (j["error"] or "") and "Traceback" not in (j["error"] or "") for j in listed)
    async with client.stream("GET", f"/jobs/{ids['job']}/events", headers=bearer(tokens["alice"])) as stream:
        text = "".join([chunk async for chunk in stream.aiter_text()])
    assert "FileNotFoundError: cd.png is gone" in text
    assert "/srv" not in text
    admin = (await client.get(f"/jobs/{ids['job']}", headers=bearer(tokens["admin"]))).json()
    assert admin["error"] == TRACEBACK


async def test_jobs_made_outside_the_api_belong_to_the_system(pool, owners):
    client, tokens, _ = owners
    job_id, _ = await queue.enqueue(pool, queue.NewJob(job_type="noop", params={}, max_attempts=1))
    assert await pool.fetchval("SELECT owner FROM jobs WHERE id = $1", job_id) == "system"
    assert (await client.get(f"/jobs/{job_id}", headers=bearer(tokens["alice"]))).status_code == 404
    assert (await client.get(f"/jobs/{job_id}", headers=bearer(tokens["admin"]))).json()["owner"] == "system"


async def test_open_development_mode_acts_as_the_local_owner(client):
    job = (await client.post("/jobs", json={"job_type": "noop"})).json()["job"]
    assert job["owner"] == "local"
