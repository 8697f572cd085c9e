"""Errors: every error body carries the request id that its log line and X-Request-ID header carry; no
stack trace, SQL or server path reaches a client; database URLs are logged without their password."""

from __future__ import annotations

import logging
import uuid

from app.core import db
from app.core.logging import TextFormatter
from app.runtime import Runtime

from tests.support.auth import app_client


async def test_an_error_body_and_its_log_line_carry_the_same_request_id(client, caplog):
    caplog.set_level(logging.INFO, logger="app.api")
    response = await client.get(f"/jobs/{uuid.uuid4()}")
    rid = response.headers["x-request-id"]
    assert response.status_code == 404
    assert response.json()["request_id"] == rid
    lines = [TextFormatter().format(r) for r in caplog.records if "404" in r.getMessage()]
    assert lines
    assert all(f"[request={rid}]" in line for line in lines)


async def test_a_well_formed_client_request_id_is_kept_and_a_bad_one_replaced(client):
    mine = {"X-Request-ID": "trace-0123456789"}
    assert (await client.get("/health", headers=mine)).headers["x-request-id"] == "trace-0123456789"
    bad = await client.get("/health", headers={"X-Request-ID": "<script>"})
    assert bad.headers["x-request-id"] != "<script>"
    assert len(bad.headers["x-request-id"]) == 32


async def test_validation_and_refusal_errors_carry_the_request_id(client):
    for response in (
        await client.post("/jobs", json={"job_type": 5}),
        await client.get("/jobs", params={"limit": 0}),
        await client.post("/jobs", json={"job_type": "noop"}, headers={"Origin": "https://x.example"}),
    ):
        assert response.json()["request_id"] == response.headers["x-request-id"]


async def test_an_unexpected_error_answers_500_without_trace_sql_or_path(settings, caplog):
    async with app_client(settings) as client:

        async def broken() -> None:
            raise RuntimeError("SELECT secret FROM /srv/skiplock/app/secret.py")

        client.app.add_api_route("/broken", broken)  # type: ignore[attr-defined]
        response = await client.get("/broken")
    assert response.status_code == 500
    body = response.json()
    assert body == {"detail": "internal server error", "request_id": response.headers["x-request-id"]}
    logged = [r for r in caplog.records if r.exc_info]
    assert logged
    assert "/srv/skiplock" in TextFormatter().formatException(logged[0].exc_info)


async def test_database_urls_are_logged_without_password(settings, caplog):
    assert db.redacted("postgresql://app:s3cret@db:5432/x") == "postgresql://app:***@db:5432/x"
    assert db.redacted("postgresql://db/x") == "postgresql://db/x"
    with_password = db.plain_url(settings.database_url or "").replace("postgres@", "postgres:s3cret-pw@", 1)
    caplog.set_level(logging.INFO)
    try:
        rt = await Runtime.start(settings.model_copy(update={"database_url": with_password}), migrate=False)
        await rt.close()
    except Exception:  # the server may refuse the password; the log line comes first
        pass
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "database postgresql://postgres:***@" in text
    assert "s3cret-pw" not in text
    assert "s3cret-pw" not in repr(settings.model_copy(update={"database_url": with_password}))
