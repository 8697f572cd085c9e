"""Every route against every scope: the table below is the rule of each route, and a route missing from it
(or declaring another rule) fails here. README's scope × endpoint table is printed from the same rules."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from app.api.access import Rule, route_rules, rule_table
from app.main import create_app

from tests.support.auth import app_client, bearer, create_key, keys_required

R, W, A, P, M = Rule.read, Rule.write, Rule.admin, Rule.public, Rule.metrics

EXPECTED: dict[tuple[str, str], Rule] = {
    ("GET", "/"): P,
    ("GET", "/dashboard"): P,
    ("GET", "/dashboard/static/{name:path}"): P,
    ("GET", "/health"): P,
    ("POST", "/auth/login"): P,
    ("POST", "/auth/logout"): P,
    ("GET", "/auth/session"): P,
    ("GET", "/openapi.json"): R,
    ("GET", "/docs"): R,
    ("GET", "/docs/oauth2-redirect"): R,
    ("GET", "/redoc"): R,
    ("*", "/static-offline-docs"): P,
    ("GET", "/tasks"): R,
    ("GET", "/models"): R,
    ("GET", "/datasets"): R,
    ("GET", "/jobs"): R,
    ("GET", "/jobs/{job_id}"): R,
    ("GET", "/jobs/{job_id}/events"): R,
    ("GET", "/jobs/{job_id}/artifacts"): R,
    ("GET", "/jobs/{job_id}/artifacts/{name}"): R,
    ("GET", "/assets/{asset_id}"): R,
    ("GET", "/assets/{asset_id}/file"): R,
    ("GET", "/clips/{clip_id}/thumbnail"): R,
    ("POST", "/jobs"): W,
    ("POST", "/upload"): W,
    ("POST", "/jobs/{job_id}/cancel"): W,
    ("POST", "/jobs/{job_id}/retry"): W,
    ("GET", "/workflows/{workflow_id}"): R,
    ("POST", "/workflows/{workflow_id}/cancel"): W,
    ("GET", "/workers"): A,
    ("GET", "/stats"): A,
    ("GET", "/audit"): A,
    ("GET", "/keys"): A,
    ("POST", "/keys"): A,
    ("POST", "/keys/{id_or_prefix}/revoke"): A,
    ("GET", "/webhooks"): R,
    ("POST", "/webhooks"): W,
    ("GET", "/webhooks/{webhook_id}"): R,
    ("DELETE", "/webhooks/{webhook_id}"): W,
    ("GET", "/webhooks/{webhook_id}/deliveries"): R,
    ("POST", "/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver"): W,
    ("POST", "/webhooks/{webhook_id}/ping"): W,
    ("POST", "/webhooks/{webhook_id}/rotate-secret"): W,
    ("POST", "/jobs/process"): A,
    ("GET", "/metrics"): M,
}

# Which credentials each rule lets through.
ALLOWED = {
    P: {None, "read", "write", "admin"},
    R: {"read", "write", "admin"},
    W: {"write", "admin"},
    A: {"admin"},
    M: {"admin"},
}


def test_every_route_declares_the_rule_of_the_table(settings):
    rules = route_rules(create_app(keys_required(settings)))
    assert dict(rules.items()) == EXPECTED, (
        "a route was added, removed or changed its rule: give it one (Depends(require(...)) or public) "
        "and write it in EXPECTED and the README's table"
    )


def _url(path: str) -> str:
    if path == "/static-offline-docs":
        return "/static-offline-docs/swagger-ui.css"
    path = path.replace("{name:path}", "{name}")
    ids = {
        "job_id": uuid.uuid4(),
        "asset_id": uuid.uuid4(),
        "clip_id": uuid.uuid4(),
        "workflow_id": uuid.uuid4(),
        "webhook_id": uuid.uuid4(),
        "delivery_id": uuid.uuid4(),
        "id_or_prefix": "0123456789",
    }
    return path.format(name="x.png", **ids)


@pytest.mark.parametrize(("method", "path"), sorted(EXPECTED))
async def test_each_scope_gets_exactly_what_the_route_rule_allows(settings, pool, method, path):
    rule = EXPECTED[(method, path)]
    tokens = {scope: await create_key(pool, "alice", scope) for scope in ("read", "write", "admin")}
    async with app_client(keys_required(settings)) as client:
        for who in (None, "read", "write", "admin"):
            headers = bearer(tokens[who]) if who else {}
            response = await client.request("GET" if method == "*" else method, _url(path), headers=headers)
            if who in ALLOWED[rule]:
                assert response.status_code not in (401, 403), (who, response.text)
            else:
                assert response.status_code == (401 if who is None else 403), (who, response.text)
                assert "request_id" in response.json()


async def test_production_requires_a_key_everywhere_but_health(settings, pool):
    async with app_client(settings.model_copy(update={"environment": "production"})) as client:
        assert (await client.get("/health")).status_code == 200
        for path in ("/jobs", "/tasks", "/openapi.json", "/docs", "/metrics", "/stats"):
            response = await client.get(path)
            assert response.status_code == 401, path
            assert response.headers["www-authenticate"] == "Bearer", path
        token = await create_key(pool, "alice", "read")
        assert (await client.get("/jobs", headers=bearer(token))).status_code == 200


@pytest.mark.parametrize(
    ("environment", "bind_host", "host", "open_"),
    [
        ("development", "127.0.0.1", "127.0.0.1:8000", True),
        ("development", "localhost", "localhost:8000", True),
        ("development", "0.0.0.0", "127.0.0.1:8000", False),
        ("development", None, "127.0.0.1:8000", False),
        ("production", "127.0.0.1", "127.0.0.1:8000", False),
        # A public name re-pointed at 127.0.0.1 (DNS rebinding) does not get the open mode.
        ("development", "127.0.0.1", "attacker.example:8000", False),
    ],
)
async def test_open_without_keys_only_in_development_on_loopback(settings, environment, bind_host, host, open_):
    configured = settings.model_copy(update={"environment": environment, "bind_host": bind_host})
    async with app_client(configured) as client:
        response = await client.get("/jobs", headers={"Host": host})
        assert response.status_code == (200 if open_ else 401)
        session = (await client.get("/auth/session", headers={"Host": host})).json()
        assert session["authenticated"] is open_
        assert not open_ or session["via"] == "open"


async def test_open_mode_says_so_in_one_line_at_start(settings, caplog):
    caplog.set_level("WARNING", logger="app.main")
    async with app_client(settings):
        pass
    lines = [r.getMessage() for r in caplog.records if "open without keys" in r.getMessage()]
    assert lines == ["the API is open without keys on 127.0.0.1 (development); keys are required anywhere else"]
    caplog.clear()
    async with app_client(keys_required(settings)):
        pass
    assert not [r for r in caplog.records if "open without keys" in r.getMessage()]


async def test_revoked_key_is_refused_on_the_next_request(settings, pool):
    from app.core import keys

    token = await create_key(pool, "alice", "write")
    async with app_client(keys_required(settings)) as client:
        assert (await client.get("/jobs", headers=bearer(token))).status_code == 200
        async with pool.acquire() as conn:
            assert await keys.revoke(conn, keys.parse_prefix(token) or "") is not None
        response = await client.get("/jobs", headers=bearer(token))
        assert response.status_code == 401
        assert response.json()["detail"] == "invalid or revoked API key"


@pytest.mark.parametrize(
    "header",
    ["Bearer sk_0123456789_" + "x" * 43, "Bearer not-a-key", "Basic YWxpY2U6c2VjcmV0", "Bearer "],
)
async def test_unknown_or_malformed_credentials_are_401_even_in_open_mode(client, header):
    response = await client.get("/jobs", headers={"Authorization": header})
    assert response.status_code == 401


async def test_a_key_with_the_right_prefix_but_another_secret_is_refused(settings, pool):
    token = await create_key(pool, "alice", "admin")
    forged = token[: token.rindex("_") + 1] + "A" * 43
    async with app_client(keys_required(settings)) as client:
        assert (await client.get("/jobs", headers=bearer(forged))).status_code == 401


async def test_metrics_answer_to_their_own_token(settings, pool):
    async with app_client(keys_required(settings, metrics_token="scrape-me-" + "x" * 20)) as client:
        assert (await client.get("/metrics", headers=bearer("scrape-me-" + "x" * 20))).status_code == 200
        assert (await client.get("/metrics", headers=bearer("wrong"))).status_code == 401
        read = await create_key(pool, "alice", "read")
        assert (await client.get("/metrics", headers=bearer(read))).status_code == 403
        # The scraper's token opens nothing else.
        assert (await client.get("/jobs", headers=bearer("scrape-me-" + "x" * 20))).status_code == 401


def test_the_readme_shows_the_rule_table(settings):
    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text()
    assert rule_table(create_app(keys_required(settings))) in readme, (
        "README's access table is out of date: paste app.api.access.rule_table(app)"
    )


def test_the_schema_declares_the_refusals_each_rule_can_give(settings):
    schema = create_app(settings).openapi()
    for (method, path), rule in EXPECTED.items():
        operation = schema["paths"].get(path, {}).get(method.lower())
        if operation is None:  # the offline docs' files and the dashboard's own routes are not in the schema
            continue
        declared = set(operation["responses"])
        if rule is not P:
            assert "401" in declared, (method, path)
        if rule in (W, A, M) or method == "POST":
            assert "403" in declared, (method, path)
