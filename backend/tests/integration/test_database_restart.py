"""Workers survive a PostgreSQL restart mid-run: they reconnect, finish the queue, run no job twice, and say so
in one line per event."""

from __future__ import annotations

import asyncio
import shlex
import subprocess
import time
from pathlib import Path

import asyncpg
import httpx
import pytest
from app.core import migrations
from app.core.config import Settings
from app.main import create_app
from app.worker import queue
from app.worker.dispatcher import build_job

from tests.integration.test_uploads import png_bytes
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

    opts = shlex.split((Path(server.pgdata) / "postmaster.opts").read_text())[1:]
    opts = [o for i, o in enumerate(opts) if o != "-D" and (i == 0 or opts[i - 1] != "-D")]

    def stop() -> None:
        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=server.pgdata, user=server.system_user)

    def start() -> None:
        """Start it again with the options it first ran with (a failed start shows its log)."""
        log = Path(server.pgdata) / "restart.log"  # not pg_ctl's stdout: the server would hold that pipe open
        try:
            args = ["-w", "-l", str(log), "-o", shlex.join(opts), "start"]
            pg_ctl(args, pgdata=server.pgdata, user=server.system_user)
        except subprocess.CalledProcessError as exc:
            raise AssertionError(f"PostgreSQL did not start again:\n{log.read_text()[-3000:]}") from exc

    def restart() -> None:
        """Stop the server, keep it down for a while (so every worker meets the outage, whatever it was doing), and
        start it again."""
        stop()
        time.sleep(2.0)
        start()

    restart.stop, restart.start = stop, start  # type: ignore[attr-defined]
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


async def test_api_answers_503_with_retry_after_while_the_database_is_down_and_recovers(
    private_server, tmp_path, caplog
):
    """With PostgreSQL stopped, requests that need it are answered 503 with Retry-After and a sentence, logged in one
    line without a traceback, not 500; an upload keeps no file and an enqueue makes no job; once the server is back
    the same requests succeed on the same app."""
    url, server = private_server
    await asyncio.to_thread(migrations.upgrade, url)
    storage = tmp_path / "storage"
    settings = Settings(database_url=url, storage_dir=storage, worker_enabled=False, bind_host="127.0.0.1")
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            made = await http.post("/jobs", json={"job_type": "noop", "params": {}})
            assert made.status_code == 201, made.text
            job_id = made.json()["job"]["id"]
            await asyncio.to_thread(server.stop)
            try:
                answers = [
                    await http.get(f"/jobs/{job_id}"),
                    await http.get("/jobs"),
                    await http.get("/stats"),
                    await http.post("/jobs", json={"job_type": "noop", "params": {}}),
                    await http.post("/upload", files={"file": ("page.png", png_bytes(), "image/png")}),
                ]
            finally:
                await asyncio.to_thread(server.start)
            for answer in answers:
                assert answer.status_code == 503, (answer.request.url, answer.status_code, answer.text)
                assert answer.headers["retry-after"] == "5"
                assert "database is unreachable" in answer.json()["detail"]
                assert answer.json()["request_id"] == answer.headers["x-request-id"]
            assert not [p for p in storage.rglob("*") if p.is_file()]  # the refused upload kept no file
            ours = [r for r in caplog.records if r.name.startswith("app")]
            assert [r.getMessage() for r in ours if r.exc_info] == []  # one line each, no traceback
            assert (await http.get(f"/jobs/{job_id}")).status_code == 200
            listed = await http.get("/jobs")
            assert listed.status_code == 200
            assert [j["id"] for j in listed.json()["items"]] == [job_id]  # the refused enqueue made no job
            again = await http.post("/upload", files={"file": ("page.png", png_bytes(), "image/png")})
            assert again.status_code == 201
