"""PgBouncer in transaction-pooling mode in front of the database: the API and real worker processes run through
it (DATABASE_POOLER=transaction), with what needs a session (LISTEN, lease heartbeats, migrations) on
DATABASE_DIRECT_URL. Skipped, saying so, when pgbouncer is not installed (Debian: `apt-get install pgbouncer`)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator

import httpx
import pytest
from app.core import db
from app.core.config import Settings
from app.main import create_app
from app.runtime import Runtime
from app.worker import queue
from app.worker.dispatcher import build_job
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from tests.support.pgbouncer import pgbouncer_binary, running_pgbouncer
from tests.support.processes import start_worker, stop_all
from tests.support.waiting import wait_until

NO_PGBOUNCER = "pgbouncer is not installed (Debian: apt-get install pgbouncer): the PgBouncer tests did not run"


@pytest.fixture(scope="module")
def bouncer_url(database_url: str) -> Iterator[str]:
    """The test database through a PgBouncer in transaction mode with 4 server connections."""
    if pgbouncer_binary() is None:
        pytest.skip(NO_PGBOUNCER)
    with running_pgbouncer(database_url, pool_size=4) as url:
        yield url


@pytest.fixture
def pooled_settings(settings: Settings, bouncer_url: str, database_url: str) -> Settings:
    return settings.model_copy(
        update={"database_url": bouncer_url, "database_direct_url": database_url, "database_pooler": "transaction"}
    )


async def test_api_and_worker_processes_through_pgbouncer_run_each_job_once(
    pooled_settings, subprocess_env, bouncer_url, database_url, tmp_path
):
    env = {
        **subprocess_env,
        "DATABASE_URL": bouncer_url,
        "DATABASE_DIRECT_URL": database_url,
        "DATABASE_POOLER": "transaction",
        "DB_POOL_SIZE": "4",
        "WORKER_POLL_INTERVAL": "60",  # wake-ups must come by LISTEN on the direct connection
    }
    app = create_app(pooled_settings)
    async with app.router.lifespan_context(app):
        pool = app.state.runtime.pool  # through PgBouncer
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
            jobs = [build_job("test_record", {"unique": True}, default_max_attempts=3) for _ in range(300)]
            await queue.enqueue_many(pool, jobs)
            retried = (await client.post("/jobs", json={"job_type": "fail", "params": {"times": 2}})).json()
            fan_out = (await client.post("/jobs", json={"job_type": "test_fan_out", "params": {"children": 5}})).json()
            procs = [start_worker(env, tmp_path / "logs", "--concurrency", "8") for _ in range(2)]
            try:
                await wait_until(lambda: _all_records_done(pool, 306), timeout=180, interval=0.25)
                # The workers are idle now (polling every 60 s): a new job starts only if LISTEN woke them.
                late = (await client.post("/jobs", json={"job_type": "test_record", "params": {}})).json()
                async with asyncio.timeout(45):
                    events = await client.get(f"/jobs/{late['job']['id']}/events")  # the event hub, also LISTEN
                await wait_until(lambda: _ticks(pool, 3), timeout=60, interval=0.25)
                await wait_until(lambda: _status(pool, retried["job"]["id"], "completed"), timeout=60)
            finally:
                stop_all(procs)
            assert all(p.returncode == 0 for p in procs)
            stats = await pool.fetchrow(
                """SELECT count(*) FILTER (WHERE status = 'completed') AS completed, count(*) AS total,
                          max(attempts) AS max_attempts FROM jobs WHERE job_type = 'test_record'"""
            )
            assert stats["completed"] == stats["total"] == 307  # 300 + 5 children + fan-in + the late one
            assert stats["max_attempts"] == 1
            assert await pool.fetchval("SELECT count(*) FROM exec_log") == 307
            assert await pool.fetchval("SELECT count(*) FROM outcome_refusals") == 0  # every outcome written once
            assert await pool.fetchval("SELECT attempts FROM jobs WHERE id = $1", _id(retried)) == 3
            assert await pool.fetchval("SELECT status::text FROM jobs WHERE id = $1", _id(fan_out)) == "completed"
            last = [json.loads(line[5:]) for line in events.text.splitlines() if line.startswith("data:")][-1]
            assert last["status"] == "completed"
            ticks = await pool.fetch("SELECT run_at FROM jobs WHERE job_type = 'test_tick'")
            assert len({t["run_at"] for t in ticks}) == len(ticks) >= 3  # one job per tick across both workers


def _id(answer: dict) -> uuid.UUID:
    return uuid.UUID(answer["job"]["id"])


async def _all_records_done(pool, count: int) -> bool:
    done = await pool.fetchval("SELECT count(*) FROM jobs WHERE job_type = 'test_record' AND status = 'completed'")
    return bool(done >= count)


async def _ticks(pool, count: int) -> bool:
    return bool(await pool.fetchval("SELECT count(*) FROM jobs WHERE job_type = 'test_tick'") >= count)


async def _status(pool, job_id: str, status: str) -> bool:
    return bool(await pool.fetchval("SELECT status::text FROM jobs WHERE id = $1", uuid.UUID(job_id)) == status)


async def test_a_transaction_pooler_without_a_direct_url_is_refused(settings):
    pooled = settings.model_copy(update={"database_pooler": "transaction"})
    with pytest.raises(db.ConfigurationError, match="DATABASE_POOLER=transaction needs DATABASE_DIRECT_URL"):
        await Runtime.start(pooled, migrate=False)
    direct_only = settings.model_copy(update={"database_url": None, "database_direct_url": settings.database_url})
    with pytest.raises(db.ConfigurationError, match="DATABASE_DIRECT_URL is set but DATABASE_URL is not"):
        await Runtime.start(direct_only, migrate=False)


async def test_without_a_pooler_the_direct_url_defaults_to_the_database_url(runtime, settings):
    assert runtime.direct_url == runtime.url == settings.database_url


async def test_orm_statements_through_pgbouncer_need_the_pooler_setting(bouncer_url):
    """Without DATABASE_POOLER=transaction, SQLAlchemy's named prepared statements meet other server
    connections and fail; with it, the same load runs."""

    async def load(pooled: bool) -> None:
        engine = db.create_engine(bouncer_url, 8, pooled=pooled)

        async def transactions(n: int) -> None:
            for i in range(25):
                async with engine.begin() as conn:
                    await conn.execute(text("SELECT CAST(:n AS int) + CAST(:i AS int)"), {"n": n, "i": i})
                    await conn.execute(text("SELECT count(*) FROM jobs WHERE priority > :n"), {"n": n})

        try:  # every transaction ends before the engine closes, failed or not
            outcomes = await asyncio.gather(*[transactions(n) for n in range(8)], return_exceptions=True)
        finally:
            await engine.dispose()
        errors = [o for o in outcomes if isinstance(o, BaseException)]
        if errors:
            raise errors[0]

    await load(pooled=True)
    with pytest.raises(DBAPIError, match="prepared statement"):
        await load(pooled=False)
