"""Workers survive a PostgreSQL restart mid-run: they reconnect, finish the queue, run no job twice, and say so
in one line per event."""

from __future__ import annotations

import asyncio
import shlex
import time
from pathlib import Path

import asyncpg
import pytest
from app.core import migrations
from app.worker import queue
from app.worker.dispatcher import build_job

from tests.support.executions import create_side_tables, job_runs, table
from tests.support.processes import start_worker, stop_all
from tests.support.waiting import wait_progressing, wait_until


@pytest.fixture
def private_server(tmp_path):
    """A PostgreSQL of this test's own (embedded), so restarting it disturbs no other test."""
    import pgserver
    from pgserver._commands import pg_ctl

    server = pgserver.get_server(tmp_path / "pg", cleanup_mode="delete")
    server.psql('CREATE DATABASE "restart";')
    url = server.get_uri().replace("/postgres?", "/restart?", 1)

    def restart() -> None:
        """Stop the server, keep it down for a while (so every worker meets the outage, whatever it was doing), and
        start it again with the options it ran with."""
        opts = shlex.split((Path(server.pgdata) / "postmaster.opts").read_text())[1:]
        opts = [o for i, o in enumerate(opts) if o != "-D" and (i == 0 or opts[i - 1] != "-D")]
        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=server.pgdata, user=server.system_user)
        time.sleep(2.0)
        log = str(Path(server.pgdata) / "restart.log")  # not pg_ctl's stdout: the server would hold that pipe open
        pg_ctl(["-w", "-l", log, "-o", shlex.join(opts), "start"], pgdata=server.pgdata, user=server.system_user)

    yield url, restart
    server.cleanup()


async def test_postgres_restart_mid_drain_runs_every_job_once_and_logs_one_line_per_event(
    private_server, subprocess_env, tmp_path
):
    """PostgreSQL restarted while two workers drain 400 jobs: they reconnect and finish; no two executions
    of a job overlap and each job's work is done once (leases of 6 s outlast the restart); the logs say
    "database unreachable, retrying in N s" and "database back after N s", without tracebacks."""
    url, restart = private_server
    await asyncio.to_thread(migrations.upgrade, url)
    pool = await asyncpg.create_pool(url, min_size=1, max_size=2)
    try:
        async with pool.acquire() as conn:
            await create_side_tables(conn)
        jobs = [build_job("test_chaos", {"seconds": 0.1, "step": 0.05}, default_max_attempts=10) for _ in range(400)]
        await queue.enqueue_many(pool, jobs)
        env = {**subprocess_env, "DATABASE_URL": url, "LEASE_SECONDS": "6"}
        logs = tmp_path / "logs"
        procs = [start_worker(env, logs, "--concurrency", "4") for _ in range(2)]
        try:
            await wait_until(
                lambda: pool.fetchval("SELECT count(*) > 50 FROM executions WHERE outcome = 'returned'"), timeout=60
            )
            await pool.expire_connections()
            await asyncio.to_thread(restart)
            await wait_progressing(lambda: _done(pool), lambda: _activity(pool), interval=0.5)
        finally:
            stop_all(procs)
            runs = await job_runs(pool)
            print("\n" + table("PostgreSQL restarted while draining 400 jobs, lease 6 s", runs, lines_for=20))
        assert len(runs) == 400
        assert all(j.status == "completed" for j in runs)
        assert all(j.overlaps == 0 and j.returned == 1 for j in runs)
        assert all(p.returncode == 0 for p in procs)
        text = "".join(p.read_text() for p in logs.iterdir())
        assert "database unreachable, retrying in" in text
        assert "database back after" in text
        for noise in ("Traceback", "released back to the pool", "cannot switch to state"):
            assert noise not in text
    finally:
        await pool.close()


async def _done(pool: asyncpg.Pool) -> bool:
    try:
        return await pool.fetchval("SELECT count(*) = 0 FROM jobs WHERE status <> 'completed'")
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
        return False


async def _activity(pool: asyncpg.Pool) -> int | None:
    try:
        return await pool.fetchval("SELECT count(*) FROM executions")
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
        return None
