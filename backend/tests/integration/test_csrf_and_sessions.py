"""Cross-site requests are refused in every environment; dashboard sessions (cookie + CSRF token) act with
their key's scope and end at sign-out or when the key is revoked."""

from __future__ import annotations

import uuid

import pytest
from app.core import keys

from tests.integration.test_uploads import png_bytes
from tests.support.auth import app_client, create_key, keys_required

EVIL = {"Origin": "https://attacker.example", "Sec-Fetch-Site": "cross-site"}


async def test_a_cross_site_form_upload_is_refused_on_an_open_development_instance(client, pool):
    files = {"file": ("p.png", png_bytes(), "image/png")}
    form = {"job_type": "noop", "params": "{}"}
    for headers in (EVIL, {"Origin": "https://attacker.example"}, {"Sec-Fetch-Site": "cross-site"}):
        response = await client.post("/upload", files=files, data=form, headers=headers)
        assert response.status_code == 403, headers
        assert "cross-site" in response.json()["detail"], headers
    assert await pool.fetchval("SELECT count(*) FROM assets") == 0
    assert await pool.fetchval("SELECT count(*) FROM jobs") == 0


@pytest.mark.parametrize("path", ["/jobs/process", "/jobs/{id}/cancel", "/jobs/{id}/retry", "/jobs", "/auth/login"])
async def test_body_less_and_json_posts_from_another_site_are_refused(client, pool, path):
    job = (await client.post("/jobs", json={"job_type": "noop"})).json()["job"]
    response = await client.post(path.format(id=job["id"]), headers=EVIL, content=b"job_type=noop")
    assert response.status_code == 403
    assert (await client.get(f"/jobs/{job['id']}")).json()["status"] == "pending"


async def test_a_null_origin_is_refused_and_same_origin_or_no_origin_is_accepted(client):
    refused = await client.post("/jobs", json={"job_type": "noop"}, headers={"Origin": "null"})
    assert refused.status_code == 403
    same = {"Origin": "http://127.0.0.1:8000", "Host": "127.0.0.1:8000", "Sec-Fetch-Site": "same-origin"}
    assert (await client.post("/jobs", json={"job_type": "noop"}, headers=same)).status_code == 201
    assert (await client.post("/jobs", json={"job_type": "noop"})).status_code == 201  # curl, scripts


async def test_an_allowed_origin_may_post(settings):
    configured = settings.model_copy(update={"allowed_origins": ["https://ops.example.com"]})
    async with app_client(configured) as client:
        headers = {"Origin": "https://ops.example.com", "Sec-Fetch-Site": "cross-site"}
        assert (await client.post("/jobs", json={"job_type": "noop"}, headers=headers)).status_code == 201


async def _sign_in(client, token: str) -> str:
    response = await client.post("/auth/login", json={"key": token})
    assert response.status_code == 200, response.text
    return response.json()["csrf_token"]


async def test_sign_in_sets_an_httponly_strict_cookie_and_never_returns_the_key(settings, pool):
    token = await create_key(pool, "alice", "write")
    async with app_client(keys_required(settings)) as client:
        response = await client.post("/auth/login", json={"key": token})
        cookie = response.headers["set-cookie"]
        assert "HttpOnly" in cookie
        assert "SameSite=strict" in cookie
        assert "Path=/" in cookie
        assert "Secure" not in cookie  # plain http here; over https the cookie is Secure
        assert token not in response.text
        assert token.split("_", 2)[2] not in cookie  # the secret (it may hold "_" itself)
        body = (await client.get("/auth/session")).json()
        assert body == {**body, "authenticated": True, "owner": "alice", "scope": "write", "via": "cookie"}
    async with app_client(keys_required(settings), base_url="https://127.0.0.1") as client:
        assert "Secure" in (await client.post("/auth/login", json={"key": token})).headers["set-cookie"]


async def test_a_session_needs_its_csrf_token_for_state_changing_requests(settings, pool):
    token = await create_key(pool, "alice", "write")
    async with app_client(keys_required(settings)) as client:
        csrf = await _sign_in(client, token)
        assert (await client.get("/jobs")).status_code == 200
        refused = await client.post("/jobs", json={"job_type": "noop"})
        assert refused.status_code == 403
        assert "X-CSRF-Token" in refused.json()["detail"]
        wrong = await client.post("/jobs", json={"job_type": "noop"}, headers={"X-CSRF-Token": "x" * 43})
        assert wrong.status_code == 403
        ok = await client.post("/jobs", json={"job_type": "noop"}, headers={"X-CSRF-Token": csrf})
        assert ok.status_code == 201
        assert ok.json()["job"]["owner"] == "alice"


async def test_a_read_session_cannot_cancel(settings, pool):
    token = await create_key(pool, "alice", "read")
    async with app_client(keys_required(settings)) as client:
        csrf = await _sign_in(client, token)
        response = await client.post(f"/jobs/{uuid.uuid4()}/cancel", headers={"X-CSRF-Token": csrf})
        assert response.status_code == 403
        assert "write scope" in response.json()["detail"]


async def test_sign_out_ends_the_session(settings, pool):
    token = await create_key(pool, "alice", "read")
    async with app_client(keys_required(settings)) as client:
        csrf = await _sign_in(client, token)
        assert (await client.post("/auth/logout")).status_code == 403  # without the CSRF token
        response = await client.post("/auth/logout", headers={"X-CSRF-Token": csrf})
        assert response.status_code == 204
        assert 'skiplock_session=""' in response.headers["set-cookie"]
        assert (await client.get("/jobs")).status_code == 401
        assert (await client.get("/auth/session")).json()["authenticated"] is False
        assert await pool.fetchval("SELECT count(*) FROM api_sessions") == 0


async def test_revoking_the_key_ends_its_sessions(settings, pool):
    token = await create_key(pool, "alice", "read")
    async with app_client(keys_required(settings)) as client:
        await _sign_in(client, token)
        assert (await client.get("/jobs")).status_code == 200
        async with pool.acquire() as conn:
            await keys.revoke(conn, keys.parse_prefix(token) or "")
        assert (await client.get("/jobs")).status_code == 401


async def test_a_revoked_or_wrong_key_cannot_sign_in(settings, pool):
    async with app_client(keys_required(settings)) as client:
        assert (await client.post("/auth/login", json={"key": "sk_nope"})).status_code == 401
        assert "set-cookie" not in (await client.post("/auth/login", json={"key": "sk_nope"})).headers
