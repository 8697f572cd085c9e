"""Signing in to the dashboard of a production server (keys required): the sign-in form, what each scope is
shown, sign-out; the key is kept nowhere in the browser, only an HttpOnly session cookie."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import asyncpg
import httpx
import pytest

pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
from playwright.sync_api import Page, expect


def make_key(database_url: str, owner: str, scope: str) -> str:
    async def create() -> str:
        from app.core import keys

        conn = await asyncpg.connect(database_url)
        try:
            _, token = await keys.create(conn, f"{owner}-{scope}", owner, keys.Scope(scope))
            return token
        finally:
            await conn.close()

    with ThreadPoolExecutor(1) as pool:  # Playwright's loop runs in this thread
        return pool.submit(asyncio.run, create()).result()


def enqueue(server: str, token: str, job_type: str = "sleep", params: dict[str, Any] | None = None) -> str:
    response = httpx.post(
        f"{server}/jobs",
        json={"job_type": job_type, "params": params or {"seconds": 60}},
        headers={"Authorization": f"Bearer {token}"},
        timeout=20,
    )
    assert response.status_code == 201, response.text
    return response.json()["job"]["id"]


@pytest.fixture
def signin_page(browser, production_server: str):  # type: ignore[no-untyped-def]
    from tests.e2e.conftest import DESKTOP, _open

    yield from _open(browser, production_server, DESKTOP)


def sign_in(page: Page, token: str) -> None:
    page.goto("/dashboard")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label("API key").fill(token)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#whoami")).to_be_visible()


def no_key_kept(page: Page, token: str) -> None:
    stored = page.evaluate(
        "() => JSON.stringify([{...localStorage}, {...sessionStorage}, location.href, document.cookie])"
    )
    assert token not in stored
    assert token.split("_", 2)[2] not in stored  # sk_<prefix>_<secret>: the secret may begin with "_"
    cookies = page.context.cookies()
    assert [(c["name"], c["httpOnly"], c["sameSite"]) for c in cookies] == [("skiplock_session", True, "Strict")]
    assert all(token not in c["value"] for c in cookies)


def test_a_read_key_signs_in_sees_its_owners_jobs_and_no_controls(signin_page: Page, production_server, database_url):
    page = signin_page
    writer, reader = make_key(database_url, "alice", "write"), make_key(database_url, "alice", "read")
    mine = enqueue(production_server, writer)
    theirs = enqueue(production_server, make_key(database_url, "bob", "write"))
    page.goto("/dashboard")
    expect(page.locator("#jobs")).to_be_hidden()  # nothing shows before signing in
    page.console_watch.allow(r"401")  # a wrong key, on purpose
    page.get_by_label("API key").fill("sk_0123456789_" + "x" * 43)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#signin-msg")).to_contain_text("invalid or revoked")
    sign_in(page, reader)
    expect(page.locator("#whoami")).to_contain_text("alice")
    expect(page.locator("#whoami")).to_contain_text("read")
    expect(page.locator(f'#jobs-body tr[data-id="{mine}"]')).to_be_visible()
    expect(page.locator(f'#jobs-body tr[data-id="{theirs}"]')).to_have_count(0)
    expect(page.locator("#submit-title")).to_be_hidden()  # no enqueue or upload forms
    expect(page.locator("#workers")).to_be_hidden()  # workers and statistics are for admins
    page.locator(f'#jobs-body tr[data-id="{mine}"] td').first.click()
    expect(page.locator("#detail-body")).to_contain_text("sleep")
    expect(page.get_by_role("button", name="Cancel job")).to_have_count(0)
    expect(page.get_by_role("button", name="Retry job")).to_have_count(0)
    no_key_kept(page, reader)


def test_a_write_key_cancels_its_job_and_signs_out(signin_page: Page, production_server, database_url):
    page = signin_page
    writer = make_key(database_url, "carol", "write")
    job = enqueue(production_server, writer)
    sign_in(page, writer)
    expect(page.locator("#submit-title")).to_be_visible()
    page.locator(f'#jobs-body tr[data-id="{job}"] td').first.click()
    page.get_by_role("button", name="Cancel job").click()
    expect(page.locator("#action-msg")).to_contain_text("Cancel")
    expect(page.locator(f'#jobs-body tr[data-id="{job}"]')).to_have_attribute("data-status", "cancelled")
    no_key_kept(page, writer)
    # The page's own refreshes in flight when the session ends answer 401 (and it starts over at the sign-in form).
    page.console_watch.allow(r"status of 401")
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.locator("#jobs")).to_be_hidden()
    assert page.context.cookies() == []
    assert page.request.get("/jobs").status == 401


def test_an_admin_key_sees_every_owner_and_the_workers(signin_page: Page, production_server, database_url):
    page = signin_page
    job = enqueue(production_server, make_key(database_url, "dave", "write"))
    sign_in(page, make_key(database_url, "ops", "admin"))
    expect(page.locator(f'#jobs-body tr[data-id="{job}"]')).to_be_visible()
    expect(page.locator("#workers li").first).to_be_visible()
    page.locator(f'#jobs-body tr[data-id="{job}"] td').first.click()
    expect(page.get_by_role("button", name="Cancel job")).to_be_visible()
