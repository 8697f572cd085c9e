"""Enqueue alone, in interleaved rounds: Skiplock, pgqueuer and the raw-SQL floor, side by side.

    PYTHONPATH=backend python bench/queue/enqueue.py                       # 5 rounds, 20,000 + 1,000 jobs
    PYTHONPATH=backend python bench/queue/enqueue.py --rounds 9 --jobs 10000 --one-by-one 500

Each system gets a fresh database (run.py's parents, the same API calls as run.py's enqueue phase); every
round enqueues `--jobs` jobs in batches of 1000 and `--one-by-one` jobs one at a time (one statement and
commit each) on every system in turn, emptying the table before each. On a shared host single rates move
with the load: the per-round ratios Skiplock ÷ peer, and their median, are what compare. With PostgreSQL on
the same host, the CPU time per enqueued job is also shown, of the enqueueing process and of its server
process (from /proc), which moves less with the load than the rates do.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import floor  # noqa: E402
import peers  # noqa: E402
import skiplock_sys  # noqa: E402
from common import create_database, drop_database  # noqa: E402

SYSTEMS = {"skiplock": skiplock_sys.Parent, "pgqueuer": peers.PgqueuerParent, "floor": floor.Parent}
CHUNK = 1000
TICK = os.sysconf("SC_CLK_TCK")


def server_cpu(pid: int) -> float:
    """Seconds of CPU a local PostgreSQL backend used so far (0 when /proc does not have it)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


async def batch_rate(parent: object, n: int, cpu: list[tuple[float, float]]) -> float:
    await parent.reset()  # type: ignore[attr-defined]
    pid = await parent.conn.fetchval("SELECT pg_backend_pid()")  # type: ignore[attr-defined]
    client, server = time.process_time(), server_cpu(pid)
    started = time.perf_counter()
    for start in range(0, n, CHUNK):
        await parent.enqueue_batch([{"k": k} for k in range(start, min(n, start + CHUNK))])  # type: ignore[attr-defined]
    rate = n / (time.perf_counter() - started)
    cpu.append(((time.process_time() - client) / n * 1e6, (server_cpu(pid) - server) / n * 1e6))
    return rate


async def one_rate(parent: object, n: int, cpu: list[tuple[float, float]]) -> float:
    await parent.reset()  # type: ignore[attr-defined]
    pid = await parent.conn.fetchval("SELECT pg_backend_pid()")  # type: ignore[attr-defined]
    client, server = time.process_time(), server_cpu(pid)
    started = time.perf_counter()
    for k in range(n):
        await parent.enqueue_one({"k": k})  # type: ignore[attr-defined]
    rate = n / (time.perf_counter() - started)
    cpu.append(((time.process_time() - client) / n * 1e6, (server_cpu(pid) - server) / n * 1e6))
    return rate


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=20000, help="jobs per batch-enqueue run (batches of 1000)")
    parser.add_argument("--one-by-one", type=int, default=1000, help="jobs per one-by-one run")
    args = parser.parse_args()
    parents: dict[str, object] = {}
    dbs = []
    try:
        for name, cls in SYSTEMS.items():
            db = f"bench_enqueue_{name}_{os.getpid()}"
            dsn = await create_database(db)
            dbs.append(db)
            parent = cls()
            await parent.setup(dsn)
            await parent.open(dsn)
            parents[name] = parent
        rates: dict[str, dict[str, list[float]]] = {k: {n: [] for n in SYSTEMS} for k in ("batch", "one")}
        cpu: dict[str, dict[str, list[tuple[float, float]]]] = {k: {n: [] for n in SYSTEMS} for k in rates}
        for r in range(args.rounds):
            for name, parent in parents.items():
                rates["batch"][name].append(await batch_rate(parent, args.jobs, cpu["batch"][name]))
                rates["one"][name].append(await one_rate(parent, args.one_by_one, cpu["one"][name]))
            line = "  ".join(f"{n} {rates['batch'][n][-1]:8.0f}/{rates['one'][n][-1]:5.0f}" for n in SYSTEMS)
            print(f"round {r + 1}: jobs/s batch/one-by-one  {line}  load {os.getloadavg()[0]:.1f}", flush=True)
        print()
        for kind, label in (("batch", f"batches of {CHUNK}"), ("one", "one by one")):
            med = {n: statistics.median(v) for n, v in rates[kind].items()}
            ratio = {
                peer: statistics.median(s / p for s, p in zip(rates[kind]["skiplock"], rates[kind][peer], strict=True))
                for peer in ("pgqueuer", "floor")
            }
            print(
                f"{label:18} median jobs/s: "
                + ", ".join(f"{n} {v:,.0f}" for n, v in med.items())
                + f"; median per-round ratio skiplock/pgqueuer {ratio['pgqueuer']:.2f}x, "
                f"skiplock/floor {ratio['floor']:.0%}"
            )
            print(
                f"{'':18} CPU per job (median, µs) client / server: "
                + ", ".join(
                    f"{n} {statistics.median(c for c, _ in v):.1f} / {statistics.median(s for _, s in v):.1f}"
                    for n, v in cpu[kind].items()
                )
            )
    finally:
        for parent in parents.values():
            await parent.close()  # type: ignore[attr-defined]
        for db in dbs:
            await drop_database(db)


if __name__ == "__main__":
    asyncio.run(main())
