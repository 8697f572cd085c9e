"""What webhook support costs the queue: enqueue and drain of jobs no endpoint applies to, with and without it.

    PYTHONPATH=backend python bench/queue/webhooks.py            # rewrites bench/queue/WEBHOOKS.md
    PYTHONPATH=backend python bench/queue/webhooks.py --quick    # smaller, prints only

Three databases: `without` at migration 0009 (no webhook support), `with` at the head (the `jobs.webhooks`
column, the insert trigger `WHEN (NEW.owner <> 'system')` and the end-of-job trigger `WHEN (NEW.webhooks IS
NOT NULL AND …)`), and `hooked` at the head where every job belongs to an owner with one endpoint (each end
writes an event and a delivery job; for reference: what a job with a webhook costs). Each round, on each
database in turn (batch by batch, so that the load of a shared host falls on all alike):
1. enqueue N no-op jobs in batches of 100 (the queue's own `enqueue_many`);
2. drain them: claim a batch and complete it (the queue's own `claim` and `complete_many`; the delivery jobs
   the `hooked` database makes are left alone).
Reported: jobs/s of the database's statements alone (time spent in them), median over the rounds.

PostgreSQL comes from $BENCH_DSN (default postgresql://postgres@127.0.0.1:5432/postgres).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import app.jobs  # noqa: E402,F401  (registers noop)
import asyncpg  # noqa: E402
from app.core import migrations  # noqa: E402
from app.worker import queue  # noqa: E402
from app.worker.dispatcher import build_job  # noqa: E402
from common import create_database, drop_database  # noqa: E402

BATCH = 100
NAMES = {"without": "0009", "with": "head", "hooked": "head"}
OWNER = "bench-owner"


async def _enqueue(conn: asyncpg.Connection, name: str, jobs: list[queue.NewJob]) -> float:
    started = time.perf_counter()
    async with conn.transaction():
        if name == "hooked":
            await conn.execute("SELECT set_config('skiplock.owner', $1, true)", OWNER)
        await queue.enqueue_many(conn, jobs)
    return time.perf_counter() - started


async def one_round(conns: dict[str, asyncpg.Connection], n: int) -> dict[str, dict[str, float]]:
    """Enqueue then drain N jobs on each database, taking turns batch by batch."""
    for conn in conns.values():
        await conn.execute("TRUNCATE jobs CASCADE")
    order = list(conns)
    spent = {name: {"enqueue": 0.0, "drain": 0.0} for name in conns}
    for start in range(0, n, BATCH):
        jobs = [build_job("noop", {"k": k}, default_max_attempts=4) for k in range(start, min(n, start + BATCH))]
        order.reverse()  # who goes first alternates
        for name in order:
            spent[name]["enqueue"] += await _enqueue(conns[name], name, jobs)
    for conn in conns.values():
        await conn.execute("ANALYZE jobs")
    wid, done = uuid.uuid4(), dict.fromkeys(conns, 0)
    while any(done[name] < n for name in order):
        order.reverse()
        for name in order:
            conn = conns[name]
            started = time.perf_counter()
            jobs = await queue.claim(conn, wid, BATCH, 30.0, exclude_types=["webhook_delivery"])
            await queue.complete_many(conn, wid, [(j.id, None, 0.0) for j in jobs])
            spent[name]["drain"] += time.perf_counter() - started
            done[name] += len(jobs)
    return {name: {k: n / v for k, v in s.items()} for name, s in spent.items()}


def _median(runs: list[dict[str, dict[str, float]]], name: str, what: str) -> float:
    return statistics.median(r[name][what] for r in runs)


def _ratios(runs: list[dict[str, dict[str, float]]], name: str, what: str) -> str:
    ratios = [r[name][what] / r["without"][what] for r in runs]
    return f"{', '.join(f'{x:.3f}' for x in ratios)} ({statistics.median(ratios):.3f})"


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--jobs", type=int, help="jobs per round and database (default 20000; --quick 5000)")
    parser.add_argument("--rounds", type=int, help="rounds (default 7; --quick 3)")
    args = parser.parse_args()
    n = args.jobs or (5000 if args.quick else 20000)
    rounds = args.rounds or (3 if args.quick else 7)
    dbs = {name: f"bench_hooks_{name}_{os.getpid()}" for name in NAMES}
    started, load_before = time.monotonic(), os.getloadavg()
    runs: list[dict[str, dict[str, float]]] = []
    try:
        dsns = {name: await create_database(db) for name, db in dbs.items()}
        for name, revision in NAMES.items():
            await asyncio.to_thread(migrations.upgrade, dsns[name], revision)
        conns = {name: await asyncpg.connect(dsn) for name, dsn in dsns.items()}
        await conns["hooked"].execute(
            "INSERT INTO webhooks (owner, url, secret, max_attempts) VALUES ($1, 'https://example.com/h', 'x', 1)",
            OWNER,
        )
        try:
            for r in range(rounds):
                rates = await one_round(conns, n)
                runs.append(rates)
                print(
                    f"round {r + 1}: "
                    + "; ".join(
                        f"{k} enqueue {v['enqueue']:,.0f}/s drain {v['drain']:,.0f}/s" for k, v in rates.items()
                    ),
                    flush=True,
                )
        finally:
            for conn in conns.values():
                await conn.close()
    finally:
        for db in dbs.values():
            await drop_database(db)
    rows = []
    for what in ("enqueue", "drain"):
        rows += [
            (
                f"{what}, {n:,} jobs, without webhook support (median of {rounds}, jobs/s)",
                f"{_median(runs, 'without', what):,.0f}",
            ),
            (f"{what}, with webhook support, no endpoint (jobs/s)", f"{_median(runs, 'with', what):,.0f}"),
            (f"{what}, with ÷ without, per round (median)", _ratios(runs, "with", what)),
            (f"{what}, every job with an endpoint (jobs/s; for reference)", f"{_median(runs, 'hooked', what):,.0f}"),
            (f"{what}, every job with an endpoint ÷ without (median)", _ratios(runs, "hooked", what)),
        ]
    table = "\n".join(["| measure | result |", "|---|---|", *[f"| {a} | {b} |" for a, b in rows]])
    print("\n" + table)
    if not args.quick:
        took = (time.monotonic() - started) / 60
        loads = ", ".join(f"{x:.1f}" for x in load_before) + " → " + ", ".join(f"{x:.1f}" for x in os.getloadavg())
        text = (HERE / "webhooks.py").read_text().split('"""')[1].strip()
        out = HERE / "WEBHOOKS.md"
        notes = out.read_text().partition("\n## Notes")[2] if out.exists() else ""  # hand-written, kept
        out.write_text(
            f"# Webhook benchmark\n\n```\n{text}\n```\n\n## Results\n\nCommand: `PYTHONPATH=backend python "
            f"bench/queue/webhooks.py` ({time.strftime('%Y-%m-%d', time.gmtime())}, took {took:.1f} min; load"
            f" average {loads}; 2 shared cores)\n\n{table}\n" + (f"\n## Notes{notes}" if notes else "")
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
