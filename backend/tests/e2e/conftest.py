"""Browser tests: a real server (API + embedded worker + dashboard) in a subprocess, driven by headless Chromium
through Playwright. Skipped when Playwright or Chromium is missing.

CHROMIUM_PATH overrides where Chromium is (default: Debian's /usr/bin/chromium); Playwright never downloads one.
SKIPLOCK_SCREENSHOTS=1 writes docs/dashboard.png and docs/dashboard-mobile.png."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.support.reset import truncate

BACKEND = Path(__file__).resolve().parents[2]
DOCS = BACKEND.parent / "docs"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = {"width": 1440, "height": 1000}
PHONE = {"width": 390, "height": 844}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def chromium_path() -> str:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.skip("playwright is not installed")
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        pytest.skip(f"no Chromium at {CHROMIUM} (set CHROMIUM_PATH)")
    return CHROMIUM


@pytest.fixture(scope="module")
def server(chromium_path: str, database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of `python -m tests.e2e.serve` on a free port, with its worker on; stopped after the module.
    Development on 127.0.0.1: open without keys."""
    yield from _serve(database_url, tmp_path_factory.mktemp("e2e-server"), {})


@pytest.fixture(scope="module")
def production_server(chromium_path: str, database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The same server with ENVIRONMENT=production: every API call needs a key or a signed-in session."""
    yield from _serve(database_url, tmp_path_factory.mktemp("e2e-prod-server"), {"ENVIRONMENT": "production"})


def _serve(database_url: str, work: Path, extra_env: dict[str, str]) -> Iterator[str]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("HANDLER_MODULES", "WORKER_QUEUES")}
    env.update(
        DATABASE_URL=database_url,
        STORAGE_DIR=str(work / "storage"),
        PYTHONPATH=str(BACKEND) + os.pathsep + env.get("PYTHONPATH", ""),
        WORKER_ENABLED="true",
        WORKER_CONCURRENCY="4",
        WORKER_POLL_INTERVAL="0.2",
        LEASE_SECONDS="3",
        REAPER_INTERVAL_SECONDS="1",
        WORKER_SCHEDULES="false",  # the hourly prune's tick would come in after a test empties the database
        RETRY_BACKOFF_BASE="0.05",
        RETRY_BACKOFF_MAX="0.2",
        SHUTDOWN_GRACE_SECONDS="1",
        LOG_LEVEL="WARNING",
        MAX_UPLOAD_BYTES=str(8 * 1024 * 1024),
        **extra_env,
    )
    log = open(work / "server.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.e2e.serve", str(port)], cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 40
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited: {(work / 'server.log').read_text()[-3000:]}")
            try:
                if httpx.get(f"{base}/health", timeout=2).json()["workers_alive"]:
                    break
            except (httpx.HTTPError, ValueError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"server did not start: {(work / 'server.log').read_text()[-3000:]}")
            time.sleep(0.2)
        yield base
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log.close()


async def _truncate(url: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await truncate(conn, "jobs, assets, clips, workers, exec_log, api_keys, api_sessions, audit_log, rate_counters")
    finally:
        await conn.close()


@pytest.fixture(autouse=True)
def clean_database(database_url: str) -> None:
    """Replaces the async fixture of the same name: Playwright's sync API keeps an event loop running in the
    test's thread, so the database is emptied from another thread. (The server's worker registers again at its
    next heartbeat.)"""
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, _truncate(database_url)).result()


@pytest.fixture(scope="module")
def browser(chromium_path: str, server: str) -> Iterator[object]:
    """Chromium for the module; it needs the server (and the database fixtures) made first, before Playwright's
    loop runs in this thread."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def api(server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server, timeout=20) as client:
        yield client


class ConsoleWatch:
    """Console errors and uncaught exceptions of a page; a test fails if any appear."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.allowed: list[re.Pattern[str]] = []

    def allow(self, pattern: str) -> None:
        """Expect console errors matching `pattern`: Chromium logs every 4xx answer to fetch(), including the
        409/415/422 answers a test provokes on purpose to see the page explain them."""
        self.allowed.append(re.compile(pattern))

    def unexpected(self) -> list[str]:
        return [e for e in self.errors if not any(p.search(e) for p in self.allowed)]

    def attach(self, page) -> None:  # type: ignore[no-untyped-def]
        page.on("console", lambda m: m.type == "error" and self.errors.append(f"console: {m.text} @ {m.location}"))
        page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))


def _open(browser, server: str, viewport: dict[str, int]) -> Iterator[object]:  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport=viewport, base_url=server)
    context.set_default_timeout(15_000)
    page = context.new_page()
    watch = ConsoleWatch()
    watch.attach(page)
    page.console_watch = watch
    try:
        yield page
        # Close the page first: the streams it holds end before the server goes.
        page.close()
        assert watch.unexpected() == [], watch.unexpected()
    finally:
        context.close()


@pytest.fixture
def page(browser, server: str) -> Iterator[object]:  # type: ignore[no-untyped-def]
    yield from _open(browser, server, DESKTOP)


@pytest.fixture
def phone_page(browser, server: str) -> Iterator[object]:  # type: ignore[no-untyped-def]
    yield from _open(browser, server, PHONE)


@pytest.fixture(scope="session")
def screenshots() -> Path | None:
    """docs/ when SKIPLOCK_SCREENSHOTS is set, else None."""
    if os.environ.get("SKIPLOCK_SCREENSHOTS", "") in ("", "0"):
        return None
    DOCS.mkdir(exist_ok=True)
    return DOCS
