"""Shared helpers for the queue benchmark: database URLs, fresh databases, the worker-process protocol,
execution records and percentiles."""

from __future__ import annotations

import asyncio
import json
import os
import platform
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
HERE = Path(__file__).resolve().parent


def cpu_name() -> str:
    """The processor's model name (Linux), else the machine type."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def worker_loop() -> tuple[str, Callable[..., object]]:
    """(name, run) of the event loop every system's worker processes run on: uvloop when it is installed
    (as pgqueuer's `pgq run`, uvicorn and `python -m app.worker` do), else asyncio's; BENCH_LOOP=asyncio
    forces asyncio's."""
    if os.environ.get("BENCH_LOOP", "uvloop") == "uvloop":
        try:
            import uvloop
        except ImportError:
            pass
        else:
            return f"uvloop {uvloop.__version__}", uvloop.run
    return "asyncio's default event loop", asyncio.run


def admin_dsn() -> str:
    """Where CREATE/DROP DATABASE runs: $BENCH_DSN, else a local server with trust auth."""
    return os.environ.get("BENCH_DSN", DEFAULT_DSN)


def dsn_for(dbname: str, base: str | None = None) -> str:
    parts = urlsplit(base or admin_dsn())
    return urlunsplit(parts._replace(path="/" + dbname))


async def create_database(name: str) -> str:
    conn = await asyncpg.connect(admin_dsn())
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return dsn_for(name)


async def drop_database(name: str) -> None:
    conn = await asyncpg.connect(admin_dsn())
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


# -- executions ---------------------------------------------------------------------------------------
@dataclass
class Recorder:
    """What a worker process saw: one (job key, start time) per handler execution.

    Times are `time.monotonic()`, a system-wide clock on Linux, so the parent's enqueue times and the
    workers' start times compare directly.
    """

    keys: list[int] = field(default_factory=list)
    starts: list[float] = field(default_factory=list)

    def __call__(self, key: int) -> None:
        self.starts.append(time.monotonic())
        self.keys.append(key)

    def dump(self, path: str) -> None:
        Path(path).write_text(json.dumps({"keys": self.keys, "starts": self.starts}))


def load_records(paths: Iterable[str]) -> tuple[list[int], dict[int, float]]:
    keys: list[int] = []
    first_start: dict[int, float] = {}
    for p in paths:
        data = json.loads(Path(p).read_text())
        keys += data["keys"]
        for k, t in zip(data["keys"], data["starts"], strict=True):
            first_start.setdefault(k, t)
    return keys, first_start


def exactly_once(keys: list[int], expected: Iterable[int]) -> list[str]:
    """Problems found (empty when every expected key ran exactly once and nothing else ran)."""
    counts = Counter(keys)
    want = set(expected)
    problems = []
    missing = [k for k in want if counts[k] == 0]
    dupes = {k: c for k, c in counts.items() if c > 1}
    extra = [k for k in counts if k not in want]
    if missing:
        problems.append(f"{len(missing)} job(s) never ran (e.g. {sorted(missing)[:5]})")
    if dupes:
        problems.append(f"{len(dupes)} job(s) ran more than once (e.g. {sorted(dupes.items())[:5]})")
    if extra:
        problems.append(f"{len(extra)} unexpected job(s) ran (e.g. {sorted(extra)[:5]})")
    return problems


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    if not values:
        return float("nan")
    s = sorted(values)
    rank = max(1, min(len(s), int(-(-q * len(s) // 100))))
    return s[rank - 1]


# -- worker-process protocol --------------------------------------------------------------------------
# The parent starts a worker process; it prints READY once connected, waits for GO on stdin, works,
# and on STOP (or end of input) stops cleanly, writes its records to --out and exits.
async def read_line() -> str:
    line = await asyncio.to_thread(sys.stdin.readline)
    return line.strip()


def say(word: str) -> None:
    sys.stdout.write(word + "\n")
    sys.stdout.flush()


async def protocol(start: Callable[[], asyncio.Future | asyncio.Task], stop: Callable[[], object]) -> None:
    """READY → GO → start() … STOP → stop(), then wait for the started task."""
    say("READY")
    while (await read_line()) not in ("GO", ""):
        pass
    task = start()
    while (await read_line()) not in ("STOP", ""):
        pass
    stop()
    await task
