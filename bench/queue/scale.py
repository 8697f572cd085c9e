"""What the backlog and soak benchmarks share: a fresh migrated database, real `python -m app.worker` processes
(optionally timing every claim statement), table and index sizes, and their sections of README.md."""

from __future__ import annotations

import json
import os
import platform
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import asyncpg
from common import cpu_name

HERE = Path(__file__).resolve().parent
BACKEND = HERE.parent.parent / "backend"


def machine_line(load_at_start: tuple[float, ...]) -> str:
    cpu = cpu_name()
    start = ", ".join(f"{x:.1f}" for x in load_at_start)
    end = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (
        f"{os.cpu_count()} CPU cores ({cpu}), shared with other work; load average {start} at the start, "
        f"{end} at the end; Python {platform.python_version()}"
    )


async def server_line(conn: asyncpg.Connection) -> str:
    version = await conn.fetchval("SHOW server_version")
    rows = await conn.fetch(
        "SELECT name, current_setting(name) AS value FROM pg_settings WHERE name IN ('shared_buffers', "
        "'synchronous_commit', 'autovacuum', 'autovacuum_naptime', 'autovacuum_vacuum_cost_limit', "
        "'autovacuum_vacuum_scale_factor', 'max_wal_size', 'checkpoint_timeout') ORDER BY name"
    )
    return f"PostgreSQL {version} ({', '.join(r['name'] + '=' + r['value'] for r in rows)})"


class Workers:
    """Real worker processes: `python -m app.worker`, or with BENCH_CLAIM_TIMES the same entry point with the
    claim statement timed (bench/queue/timed_worker.py)."""

    def __init__(self, dsn: str, log_dir: Path, env: dict[str, str] | None = None) -> None:
        self.dsn = dsn
        self.log_dir = log_dir
        self.extra_env = env or {}
        self.procs: list[subprocess.Popen[bytes]] = []
        self.claim_files: list[Path] = []

    def start(self, count: int, *args: str, time_claims: bool = False) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for _ in range(count):
            n = len(self.procs)
            env = dict(os.environ)
            env.update(DATABASE_URL=self.dsn, PYTHONPATH=f"{BACKEND}{os.pathsep}{env.get('PYTHONPATH', '')}")
            env.update(self.extra_env)
            if time_claims:
                path = self.log_dir / f"claims-{n}.json"
                self.claim_files.append(path)
                env["BENCH_CLAIM_TIMES"] = str(path)
                cmd = [sys.executable, str(HERE / "timed_worker.py"), *args]
            else:
                cmd = [sys.executable, "-m", "app.worker", *args]
            log = open(self.log_dir / f"worker-{n}.log", "wb")  # noqa: SIM115
            self.procs.append(subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT))

    def stop(self, timeout: float = 60) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.procs = []

    def claim_times(self) -> list[tuple[float, float, int]]:
        """(monotonic time at the end, seconds, rows) of every timed claim, all processes."""
        out: list[tuple[float, float, int]] = []
        for path in self.claim_files:
            if path.exists():
                out += [tuple(x) for x in json.loads(path.read_text())]  # type: ignore[misc]
        return sorted(out)


async def wait_workers(conn: asyncpg.Connection, count: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while await conn.fetchval("SELECT count(*) FROM workers") < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{count} worker process(es) did not register within {timeout:.0f} s")
        await _sleep(0.2)


async def _sleep(seconds: float) -> None:
    import asyncio

    await asyncio.sleep(seconds)


async def sizes(conn: asyncpg.Connection, table: str = "jobs") -> dict[str, Any]:
    """Total, heap and per-index sizes (bytes), live/dead tuples and (auto)vacuum/analyze counts of a table."""
    row = await conn.fetchrow(
        """SELECT pg_total_relation_size(c.oid) AS total, pg_relation_size(c.oid) AS heap,
                  s.n_live_tup, s.n_dead_tup, s.autovacuum_count, s.vacuum_count, s.autoanalyze_count,
                  s.n_tup_ins, s.n_tup_upd, s.n_tup_hot_upd, s.n_tup_del
           FROM pg_class c JOIN pg_stat_user_tables s ON s.relid = c.oid WHERE c.relname = $1""",
        table,
    )
    indexes = await conn.fetch(
        """SELECT i.relname AS name, pg_relation_size(i.oid) AS bytes FROM pg_index x
           JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
           WHERE t.relname = $1 ORDER BY i.relname""",
        table,
    )
    return {**dict(row), "indexes": {r["name"]: r["bytes"] for r in indexes}}


def mib(n: float) -> str:
    return f"{n / 2**20:,.1f}"


def write_section(name: str, body: str) -> None:
    """Replace (or append) README.md's section between this benchmark's markers."""
    readme = HERE / "README.md"
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    text = readme.read_text()
    block = f"{start}\n{body.rstrip()}\n{end}"
    if start in text and end in text:
        before, rest = text.split(start, 1)
        text = before + block + rest.split(end, 1)[1]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    readme.write_text(text)
