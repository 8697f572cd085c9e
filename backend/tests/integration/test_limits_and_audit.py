"""Rate limits per key (429 + Retry-After, counted in PostgreSQL across API processes), quotas per owner
(waiting jobs, stored bytes), and the audit log of cancels, retries and key changes."""

from __future__ import annotations

import pytest
from app.core import keys

from tests.integration.test_cli import cli
from tests.integration.test_uploads import png_bytes
from tests.support.auth import app_client, bearer, create_key, keys_required


async def test_enqueue_rate_is_limited_per_key_across_api_processes(settings, pool):
    limited = keys_required(settings, rate_limit_enqueue="3/minute")
    alice, bob = await create_key(pool, "alice", "write"), await create_key(pool, "bob", "write")
    job = {"job_type": "noop"}
    async with app_client(limited) as one, app_client(limited) as two:  # two API processes, one database
        for client in (one, two, one):
            assert (await client.post("/jobs", json=job, headers=bearer(alice))).status_code == 201
        refused = await two.post("/jobs", json=job, headers=bearer(alice))
        assert refused.status_code == 429
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert "3 per 1 minute" in refused.json()["detail"]
        assert "RATE_LIMIT_ENQUEUE" in refused.json()["detail"]
        assert (await one.post("/jobs", json=job, headers=bearer(bob))).status_code == 201  # bob's own count
    assert await pool.fetchval("SELECT count(*) FROM jobs WHERE owner = 'alice'") == 3


async def test_upload_rate_is_limited_per_key(settings, pool):
    alice = await create_key(pool, "alice", "write")
    async with app_client(keys_required(settings, rate_limit_upload="1/hour")) as client:
        files = {"file": ("p.png", png_bytes(), "image/png")}
        assert (await client.post("/upload", files=files, headers=bearer(alice))).status_code == 201
        refused = await client.post("/upload", files=files, headers=bearer(alice))
        assert refused.status_code == 429
        assert int(refused.headers["retry-after"]) > 60


async def test_waiting_jobs_are_capped_per_owner(settings, pool):
    alice = await create_key(pool, "alice", "write")
    async with app_client(keys_required(settings, max_waiting_jobs_per_owner=2)) as client:
        for _ in range(2):
            assert (await client.post("/jobs", json={"job_type": "noop"}, headers=bearer(alice))).status_code == 201
        refused = await client.post("/jobs", json={"job_type": "noop"}, headers=bearer(alice))
        assert refused.status_code == 429
        assert "MAX_WAITING_JOBS_PER_OWNER" in refused.json()["detail"]
        assert "limit is 2" in refused.json()["detail"]
        await pool.execute("UPDATE jobs SET status = 'completed' WHERE owner = 'alice'")
        assert (await client.post("/jobs", json={"job_type": "noop"}, headers=bearer(alice))).status_code == 201


async def test_stored_bytes_are_capped_per_owner(settings, pool):
    alice, bob = await create_key(pool, "alice", "write"), await create_key(pool, "bob", "write")
    data = png_bytes()
    async with app_client(keys_required(settings, max_stored_bytes_per_owner=len(data) + 10)) as client:
        files = {"file": ("p.png", data, "image/png")}
        assert (await client.post("/upload", files=files, headers=bearer(alice))).status_code == 201
        refused = await client.post("/upload", files=files, headers=bearer(alice))
        assert refused.status_code == 413
        assert "MAX_STORED_BYTES_PER_OWNER" in refused.json()["detail"]
        assert f"at most {len(data) + 10} bytes" in refused.json()["detail"]
        assert (await client.post("/upload", files=files, headers=bearer(bob))).status_code == 201
    files_left = [p for p in (settings.storage_dir / "uploads").rglob("*") if p.is_file()]
    assert len(files_left) == 2  # the refused upload left nothing behind


async def test_cancel_and_retry_are_audited_and_only_admins_read_the_log(settings, pool):
    alice, admin = await create_key(pool, "alice", "write"), await create_key(pool, "ops", "admin")
    async with app_client(keys_required(settings)) as client:
        job = (await client.post("/jobs", json={"job_type": "noop"}, headers=bearer(alice))).json()["job"]
        await client.post(f"/jobs/{job['id']}/cancel", headers=bearer(alice))
        await client.post(f"/jobs/{job['id']}/retry", headers=bearer(admin))
        await client.post(f"/jobs/{job['id']}/retry", headers=bearer(admin))  # 409: nothing done, nothing logged
        assert (await client.get("/audit", headers=bearer(alice))).status_code == 403
        entries = (await client.get("/audit", headers=bearer(admin))).json()
    prefix = {t: keys.parse_prefix(t) for t in (alice, admin)}
    assert [(e["action"], e["actor"], e["key_prefix"], e["target"]) for e in entries] == [
        ("job.retry", "ops", prefix[admin], f"job:{job['id']}"),
        ("job.cancel", "alice", prefix[alice], f"job:{job['id']}"),
    ]
    assert all(e["at"] and e["request_id"] for e in entries)


async def test_cli_creates_a_key_once_lists_revokes_it_and_audits_both(subprocess_env, settings, pool):
    code, out, err = await cli(
        subprocess_env, "keys", "create", "--name", "ci", "--scope", "write", "--owner", "team-a"
    )
    token = out.strip()
    assert code == 0
    assert keys.parse_prefix(token)
    assert "only time" in err
    stored = await pool.fetchrow("SELECT * FROM api_keys")
    assert token not in str(dict(stored))
    assert stored["owner"] == "team-a"
    assert stored["scope"] == "write"
    async with app_client(keys_required(settings)) as client:
        assert (await client.get("/jobs", headers=bearer(token))).status_code == 200
        code, out, _ = await cli(subprocess_env, "keys", "list")
        assert code == 0
        assert stored["prefix"] in out
        assert "team-a" in out
        assert token not in out
        code, out, _ = await cli(subprocess_env, "keys", "revoke", stored["prefix"])
        assert code == 0
        assert "revoked" in out
        assert (await client.get("/jobs", headers=bearer(token))).status_code == 401
    code, _, err = await cli(subprocess_env, "keys", "revoke", stored["prefix"])
    assert code == 3
    assert "no active key" in err
    code, out, _ = await cli(subprocess_env, "audit")
    assert code == 0
    assert "key.create" in out
    assert "key.revoke" in out
    assert f"key:{stored['prefix']}" in out
    code, _, err = await cli(subprocess_env, "keys", "create", "--name", "x", "--scope", "read", "--owner", "Bad Owner")
    assert code == 2
    assert "owner" in err


async def test_no_key_can_act_as_the_system_owner(pool):
    async with pool.acquire() as conn:
        with pytest.raises(keys.InvalidKeyRequest, match="reserved"):
            await keys.create(conn, "x", "system", keys.Scope.admin)


async def test_admins_create_list_and_revoke_keys_over_http_and_each_is_audited(settings, pool):
    admin = await create_key(pool, "ops", "admin")
    async with app_client(keys_required(settings)) as client:
        body = {"name": "ci", "scope": "write", "owner": "team-a"}
        created = await client.post("/keys", json=body, headers=bearer(admin))
        assert created.status_code == 201
        assert created.json()["owner"] == "team-a"
        token = created.json()["key"]
        assert (await client.post("/jobs", json={"job_type": "noop"}, headers=bearer(token))).status_code == 201
        assert (await client.get("/keys", headers=bearer(token))).status_code == 403
        listed = (await client.get("/keys", headers=bearer(admin))).json()
        assert {k["owner"] for k in listed} == {"ops", "team-a"}
        assert token not in str(listed)
        prefix = created.json()["prefix"]
        assert (await client.post(f"/keys/{prefix}/revoke", headers=bearer(admin))).json()["revoked_at"]
        assert (await client.get("/jobs", headers=bearer(token))).status_code == 401
        assert (await client.post(f"/keys/{prefix}/revoke", headers=bearer(admin))).status_code == 404
        bad = await client.post("/keys", json={**body, "owner": "system"}, headers=bearer(admin))
        assert bad.status_code == 422
        entries = (await client.get("/audit", headers=bearer(admin))).json()
    assert [(e["action"], e["target"], e["actor"]) for e in entries] == [
        ("key.revoke", f"key:{prefix}", "ops"),
        ("key.create", f"key:{prefix}", "ops"),
    ]
