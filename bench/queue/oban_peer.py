"""oban-py (the Python port of Oban, `pip install oban`) under the benchmark, through its documented API.

oban needs Python ≥ 3.12, so everything that imports it runs under its own interpreter: the worker processes
(`worker.py oban`, as for every system) and one client process that enqueues (`oban_peer.py client`), driven
by the benchmark over stdin/stdout and timing its own enqueues. The benchmark's process keeps only the SQL
bookkeeping (is anything left, did every job complete once), as for the other peers.

The interpreter: `--oban-python` / $BENCH_OBAN_PYTHON, else the running one when it is ≥ 3.12, else
`python3.12`, `python3.13` or `python3.14` on PATH; it needs `oban` and `asyncpg` importable
(`pip install oban asyncpg`, and `uvloop` to run on the same loop as the others). Without one, oban is skipped
and the run says why.

API used: `Oban.create_pool`, `oban.schema.install`, a worker class decorated with `@worker(queue=...)`,
`Oban(pool=..., queues={queue: limit})` started and stopped in the worker processes, `oban.enqueue(W.new(args))`
and `oban.enqueue_many([...])` in client mode (no queues).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import time
from functools import cache
from pathlib import Path
from typing import Any

import asyncpg

HERE = Path(__file__).resolve().parent
NAME = "oban"
QUEUE = "bench"
ENV = "BENCH_OBAN_PYTHON"
CANDIDATES = ("python3.12", "python3.13", "python3.14")
_CHECK = "import sys, oban, asyncpg; assert sys.version_info >= (3, 12); print(oban.__version__)"


# -- which interpreter ----------------------------------------------------------------------------------
@cache
def probe(python: str) -> tuple[bool, str]:
    """(usable, oban's version or why not) for one interpreter."""
    try:
        out = subprocess.run([python, "-c", _CHECK], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"{python}: {exc}"
    if out.returncode != 0:
        lines = [line.strip() for line in out.stderr.splitlines() if line.strip()] or ["failed"]
        why = lines[-1] if "Traceback" in out.stderr else lines[0]  # the exception, or a launcher's first word
        return False, f"{python}: {why}"
    return True, out.stdout.strip()


_chosen: dict[str, str] = {}


def choose(explicit: str | None = None) -> tuple[str | None, str]:
    """(interpreter, oban version) or (None, why oban is skipped)."""
    if explicit or os.environ.get(ENV):
        python = explicit or os.environ[ENV]
        ok, info = probe(python)
        return (python, info) if ok else (None, f"the interpreter given ({info}) cannot run oban")
    tried = []
    found = [sys.executable] if sys.version_info >= (3, 12) else []
    found += [p for c in CANDIDATES if (p := shutil.which(c))]
    for python in found:
        ok, info = probe(python)
        if ok:
            return python, info
        tried.append(info)
    if not found:
        return None, f"no Python ≥ 3.12 found (give one with --oban-python or ${ENV})"
    return None, "no Python ≥ 3.12 with oban and asyncpg installed: " + "; ".join(tried)


def use(python: str, version: str) -> None:
    _chosen.update(python=python, version=version)


def python() -> str:
    return _chosen["python"]


def version() -> str:
    return _chosen.get("version", "?")


@cache
def python_version() -> str:
    out = subprocess.run([python(), "-c", "import platform; print(platform.python_version())"], capture_output=True)
    return out.stdout.decode().strip() or "?"


# -- the benchmark's side (any Python) -------------------------------------------------------------------
class Parent:
    name = NAME

    async def setup(self, dsn: str) -> None:
        proc = await asyncio.create_subprocess_exec(python(), str(HERE / "oban_peer.py"), "install", "--dsn", dsn)
        if await proc.wait() != 0:
            raise RuntimeError("installing oban's schema failed")

    async def open(self, dsn: str) -> None:
        self.client = await asyncio.create_subprocess_exec(
            python(),
            str(HERE / "oban_peer.py"),
            "client",
            "--dsn",
            dsn,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        await self._reply()  # ready
        self.side = await asyncpg.connect(dsn)

    async def _reply(self) -> dict[str, Any]:
        assert self.client.stdout is not None
        line = await asyncio.wait_for(self.client.stdout.readline(), 600)
        if not line:
            raise RuntimeError(f"the oban client exited (rc={await self.client.wait()})")
        return dict(json.loads(line))

    async def _ask(self, **request: Any) -> dict[str, Any]:
        assert self.client.stdin is not None
        self.client.stdin.write((json.dumps(request) + "\n").encode())
        await self.client.stdin.drain()
        return await self._reply()

    async def close(self) -> None:
        if self.client.returncode is None:
            assert self.client.stdin is not None
            self.client.stdin.close()
            await self.client.wait()
        await self.side.close()

    # Enqueues are timed in the client process: a round trip to it per job would be timed as oban's.
    async def timed_fill(self, n: int, chunk: int) -> float:
        return float((await self._ask(op="fill", n=n, chunk=chunk))["seconds"])

    async def timed_one_by_one(self, n: int) -> float:
        return float((await self._ask(op="one_by_one", n=n))["seconds"])

    async def enqueue_spaced(self, total: int, spacing: float) -> dict[int, float]:
        """Jobs 0..total-1 one at a time, `spacing` s apart; {key: time.monotonic() just before its enqueue}."""
        times = (await self._ask(op="spaced", total=total, spacing=spacing))["enqueued"]
        return {k: float(t) for k, t in enumerate(times)}

    async def unfinished(self) -> bool:
        return bool(await self.side.fetchval("SELECT EXISTS (SELECT 1 FROM oban_jobs WHERE state <> 'completed')"))

    async def verify(self, n: int) -> list[str]:
        row = await self.side.fetchrow(
            """SELECT count(*) AS total, count(*) FILTER (WHERE state = 'completed') AS ok,
                      count(*) FILTER (WHERE attempt <> 1) AS reattempted FROM oban_jobs"""
        )
        problems = []
        if row["total"] != n or row["ok"] != n:
            problems.append(f"database: {row['ok']}/{row['total']} jobs completed, expected {n}")
        if row["reattempted"]:
            problems.append(f"database: {row['reattempted']} job(s) with attempt != 1")
        return problems

    async def reset(self) -> None:
        await self.side.execute("TRUNCATE oban_jobs, oban_leaders, oban_producers RESTART IDENTITY")

    async def analyze(self) -> None:
        await self.side.execute("ANALYZE oban_jobs")


# -- oban's side (Python ≥ 3.12, imports oban) -----------------------------------------------------------
def _bench_worker(record: Any) -> Any:
    """The no-op worker class, named `oban_peer.Bench` wherever it is built (jobs name their worker)."""
    from oban import worker

    class Bench:
        async def process(self, job: Any) -> None:
            record(job.args["k"])

    Bench.__module__, Bench.__qualname__ = "oban_peer", "Bench"
    return worker(queue=QUEUE)(Bench)


async def worker(dsn: str, opts: dict[str, Any], record: Any) -> tuple[Any, Any]:
    """One worker process: a started Oban instance with one queue of `limit` (its concurrency)."""
    from oban import Oban

    _bench_worker(record)
    pool = await Oban.create_pool(dsn, max_size=int(opts.get("pool", 10)))
    oban = Oban(pool=pool, queues={QUEUE: int(opts["limit"])})
    stopping = asyncio.Event()

    async def run() -> None:
        try:
            await oban.start()
            await stopping.wait()
            await oban.stop()
        finally:
            await pool.close()

    return (lambda: asyncio.ensure_future(run())), stopping.set


async def _client(dsn: str) -> None:
    """Answer the benchmark's enqueue requests, one JSON line each, timing them here."""
    from oban import Oban

    bench = _bench_worker(lambda _k: None)
    pool = await Oban.create_pool(dsn, min_size=1, max_size=2)
    oban = Oban(pool=pool)  # client mode: no queues, enqueue only

    def answer(**reply: Any) -> None:
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()

    answer(ready=True)
    try:
        while line := await asyncio.to_thread(sys.stdin.readline):
            req = json.loads(line)
            if req["op"] == "fill":
                t0 = time.monotonic()
                for start in range(0, req["n"], req["chunk"]):
                    keys = range(start, min(req["n"], start + req["chunk"]))
                    await oban.enqueue_many([bench.new({"k": k}) for k in keys])
                answer(seconds=time.monotonic() - t0)
            elif req["op"] == "one_by_one":
                t0 = time.monotonic()
                for k in range(req["n"]):
                    await oban.enqueue(bench.new({"k": k}))
                answer(seconds=time.monotonic() - t0)
            elif req["op"] == "spaced":
                times = []
                tick = time.monotonic()
                for k in range(req["total"]):
                    t = time.monotonic()
                    times.append(t)
                    await oban.enqueue(bench.new({"k": k, "t": t}))
                    tick += req["spacing"]
                    await asyncio.sleep(max(0.0, tick - time.monotonic()))
                answer(enqueued=times)
    finally:
        await pool.close()


async def _install(dsn: str) -> None:
    from oban import Oban
    from oban.schema import install

    pool = await Oban.create_pool(dsn, min_size=1, max_size=1)
    try:
        await install(pool)
    finally:
        await pool.close()


if __name__ == "__main__":
    import argparse

    sys.path.insert(0, str(HERE))
    from common import worker_loop

    parser = argparse.ArgumentParser()
    parser.add_argument("role", choices=["install", "client"])
    parser.add_argument("--dsn", required=True)
    args = parser.parse_args()
    _, run = worker_loop()
    run(_install(args.dsn) if args.role == "install" else _client(args.dsn))
