"""Workers survive a PostgreSQL restart mid-run: they reconnect and finish the queue."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from app.core import migrations
from app.worker import queue
from app.worker.dispatcher import build_job

from tests.support.processes import start_worker, stop_all
from tests.support.waiting import wait_until


@pytest.fixture
def private_server(tmp_path):
    """A PostgreSQL of this test's own (embedded), so restarting it disturbs no other test."""
    import pgserver
    from pgserver._commands import pg_ctl

    server = pgserver.get_server(tmp_path / "pg", cleanup_mode="delete")
    server.psql('CREATE DATABASE "restart";')
    url = server.get_uri().replace("/postgres?", "/restart?", 1)

    def restart() -> None:
        pg_ctl(["-w", "-m", "fast", "restart"], pgdata=server.pgdata, user=server.system_user)

    yield url, restart
    server.cleanup()


async def test_workers_reconnect_and_finish_after_postgres_restart(private_server, subprocess_env, tmp_path):
    url, restart = private_server
    await asyncio.to_thread(migrations.upgrade, url)
    pool = await asyncpg.create_pool(url, min_size=1, max_size=2)
    try:
        await pool.execute(
            "CREATE TABLE exec_log (job_id uuid PRIMARY KEY, attempt int, runs int NOT NULL DEFAULT 1,"
            " at timestamptz DEFAULT now())"
        )
        jobs = [build_job("test_record", {"unique": False, "sleep": 0.02}, default_max_attempts=10) for _ in range(600)]
        await queue.enqueue_many(pool, jobs)
        env = {**subprocess_env, "DATABASE_URL": url}
        procs = [start_worker(env, tmp_path / "logs", "--concurrency", "4") for _ in range(2)]
        try:
            await wait_until(
                lambda: pool.fetchval("SELECT count(*) > 50 FROM jobs WHERE status = 'completed'"), timeout=60
            )
            await pool.expire_connections()
            await asyncio.to_thread(restart)
            await wait_until(lambda: _done(pool), timeout=120, interval=0.5)
        finally:
            stop_all(procs)
        stats = await pool.fetchrow("""SELECT count(*) FILTER (WHERE status = 'completed') AS completed,
                                              count(*) AS total FROM jobs WHERE job_type = 'test_record'""")
        assert stats["completed"] == stats["total"] == 600
        assert all(p.returncode == 0 for p in procs)
        logs = "".join(p.read_text() for p in (tmp_path / "logs").iterdir())
        assert "LISTEN connection re-established" in logs
    finally:
        await pool.close()


async def _done(pool: asyncpg.Pool) -> bool:
    try:
        return await pool.fetchval(
            "SELECT count(*) = 0 FROM jobs WHERE job_type = 'test_record' AND status <> 'completed'"
        )
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
        return False
