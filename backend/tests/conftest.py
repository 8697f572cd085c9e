"""Fixtures: one real PostgreSQL database per test run (DATABASE_URL's server, or the embedded one),
migrated by Alembic, emptied before each test, dropped at the end."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pytest

BACKEND = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(BACKEND))

from app.core import db, migrations  # noqa: E402
from app.core.config import Settings  # noqa: E402
from app.main import create_app  # noqa: E402
from app.runtime import Runtime  # noqa: E402

import tests.support.handlers  # noqa: E402,F401  (registers the test job types in this process)
from tests.support.executions import create_side_tables  # noqa: E402
from tests.support.reset import truncate  # noqa: E402


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def _server_url() -> str:
    if os.environ.get("DATABASE_URL"):
        return db.plain_url(os.environ["DATABASE_URL"])
    return db.start_embedded_postgres(Settings().embedded_pg_dir)  # as the app would: ./.pgdata unless set


@pytest.fixture(scope="session")
def server_url() -> str:
    return _server_url()


@pytest.fixture(scope="session")
def database_url(server_url: str) -> Iterator[str]:
    name = f"skiplock_test_{uuid.uuid4().hex[:10]}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(server_url)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    url = _with_database(server_url, name)
    migrations.upgrade(url)
    asyncio.run(_create_side_tables(url))
    yield url
    asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _create_side_tables(url: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await create_side_tables(conn)
    finally:
        await conn.close()


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        storage_dir=tmp_path / "storage",
        worker_enabled=False,
        worker_poll_interval=0.2,
        retry_backoff_base=0.05,
        retry_backoff_max=0.2,
        reaper_interval_seconds=0.5,
        handler_modules=["tests.support.handlers"],
        max_upload_bytes=2 * 1024 * 1024,
        bind_host="127.0.0.1",  # open development mode: requests without a key act as the local admin
    )


@pytest.fixture
def subprocess_env(database_url: str, tmp_path: Path) -> dict[str, str]:
    """Environment for worker processes started by a test."""
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url,
        STORAGE_DIR=str(tmp_path / "storage"),
        HANDLER_MODULES="tests.support.handlers",
        PYTHONPATH=str(BACKEND) + os.pathsep + env.get("PYTHONPATH", ""),
        WORKER_POLL_INTERVAL="0.2",
        RETRY_BACKOFF_BASE="0.05",
        RETRY_BACKOFF_MAX="0.2",
        REAPER_INTERVAL_SECONDS="0.5",
    )
    return env


@pytest.fixture(autouse=True)
async def clean_database(database_url: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        await truncate(
            conn,
            "jobs, assets, clips, workers, exec_log, executions, outcome_refusals,"
            " api_keys, api_sessions, audit_log, rate_counters, webhooks, event_listeners",
        )
    finally:
        await conn.close()


@pytest.fixture
async def runtime(settings: Settings) -> AsyncIterator[Runtime]:
    rt = await Runtime.start(settings, migrate=False)
    yield rt
    await rt.close()


@pytest.fixture
async def pool(runtime: Runtime) -> asyncpg.Pool:
    return runtime.pool


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            http.app = app  # type: ignore[attr-defined]
            yield http


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say why tests were skipped even under -q (no Chromium, no pgbouncer...): one line per reason."""
    reasons = {
        str(report.longrepr[2]).removeprefix("Skipped: ")
        for report in terminalreporter.stats.get("skipped", [])
        if isinstance(report.longrepr, tuple)
    }
    for reason in sorted(reasons):
        terminalreporter.write_line(f"skipped: {reason}")
