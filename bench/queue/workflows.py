"""What workflows cost and how fast they run: dependency support on the queue's hot path, chains, fan-out/fan-in.

    PYTHONPATH=backend python bench/queue/workflows.py            # rewrites bench/queue/WORKFLOWS.md
    PYTHONPATH=backend python bench/queue/workflows.py --quick    # smaller, prints only

1. Hot path, A/B: two databases, one at migration 0006 (no dependency support) and one at the head (status
   `waiting`, the dependency columns and edge table, the settle trigger). Each holds N independent no-op jobs;
   one connection per database claims a batch and completes it (the queue's own `claim` and `complete_many`
   statements, identical for both), the two databases taking turns batch by batch, so that the load of a
   shared host falls on both alike. Reported: jobs/s of the database's statements alone (time spent in them).
2. Chain (on a third, fresh database): N no-op jobs, each depending on the one before, drained by one
   in-process Worker.
3. Fan-out/fan-in: one job enqueues N no-op children and one fan-in depending on all of them (`ctx.enqueue`),
   drained by one in-process Worker (concurrency 100, batches of 100); from the parent's enqueue to the
   fan-in's completion. For reference, the same worker draining N independent no-op jobs.

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
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import app.jobs  # noqa: E402,F401  (registers noop)
import asyncpg  # noqa: E402
from app.core import migrations  # noqa: E402
from app.worker import DISPATCH_TABLE, JobContext, JobRequest, enqueue_many, job_type, queue  # noqa: E402
from app.worker.dispatcher import build_job  # noqa: E402
from app.worker.worker import Worker, WorkerConfig  # noqa: E402
from common import create_database, drop_database  # noqa: E402

BATCH = 100


@job_type("bench_fan_out", description="Enqueues `children` no-op jobs and a no-op fan-in depending on them.")
async def fan_out(ctx: JobContext, params: Any) -> dict[str, Any]:
    children = int(os.environ.get("BENCH_FAN_OUT", "1000"))
    ids = [ctx.enqueue("noop", {}) for _ in range(children)]
    return {"fan_in": str(ctx.enqueue("noop", {}, depends_on=ids))}


async def _fill(dsn: str, n: int) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        for start in range(0, n, 1000):
            jobs = [build_job("noop", {"k": k}, default_max_attempts=4) for k in range(start, min(n, start + 1000))]
            await queue.enqueue_many(conn, jobs)
        await conn.execute("ANALYZE jobs")
    finally:
        await conn.close()


async def hot_path(dsns: dict[str, str], n: int) -> dict[str, float]:
    """Claim and complete N jobs in batches on each database, taking turns; jobs/s of the statements' time."""
    for dsn in dsns.values():
        await _fill(dsn, n)
    conns = {name: await asyncpg.connect(dsn) for name, dsn in dsns.items()}
    spent = dict.fromkeys(dsns, 0.0)
    done = dict.fromkeys(dsns, 0)
    wid = uuid.uuid4()
    order = list(dsns)
    try:
        while any(done[name] < n for name in order):
            order.reverse()  # who goes first alternates
            for name in order:
                conn = conns[name]
                started = time.perf_counter()
                jobs = await queue.claim(conn, wid, BATCH, 30.0)
                await queue.complete_many(conn, wid, [(j.id, None, 0.0) for j in jobs])
                spent[name] += time.perf_counter() - started
                done[name] += len(jobs)
    finally:
        for conn in conns.values():
            await conn.close()
    return {name: n / spent[name] for name in dsns}


async def _drain(dsn: str, until: Any, concurrency: int) -> float:
    """Seconds an in-process Worker takes until `until(conn)` is true."""
    pool = await asyncpg.create_pool(dsn, min_size=2, max_size=10)
    assert pool is not None
    config = WorkerConfig(concurrency=concurrency, batch_size=BATCH, poll_interval=1.0)
    registry = {name: DISPATCH_TABLE[name] for name in ("noop", "bench_fan_out")}  # no periodic jobs
    worker = Worker(pool, dsn, config, registry=registry)
    task = asyncio.create_task(worker.run())
    started = time.perf_counter()
    try:
        async with pool.acquire() as conn:
            while not await until(conn):
                await asyncio.sleep(0.01)
        return time.perf_counter() - started
    finally:
        worker.stop()
        await task
        await pool.close()


async def chain(dsn: str, n: int) -> float:
    requests: list[JobRequest] = []
    for _ in range(n):
        requests.append(JobRequest("noop", {}, depends_on=[requests[-1].id] if requests else []))
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("TRUNCATE jobs CASCADE")
        async with conn.transaction():
            ids = await enqueue_many(conn, requests)
    finally:
        await conn.close()

    async def finished(c: asyncpg.Connection) -> bool:
        return bool(await c.fetchval("SELECT status = 'completed' FROM jobs WHERE id = $1", ids[-1]))

    return n / await _drain(dsn, finished, concurrency=10)


async def fan(dsn: str, n: int) -> float:
    os.environ["BENCH_FAN_OUT"] = str(n)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("TRUNCATE jobs CASCADE")
        await queue.enqueue(conn, build_job("bench_fan_out", {}, default_max_attempts=1))
    finally:
        await conn.close()

    return (n + 2) / await _drain(dsn, _all_completed, concurrency=100)


async def _all_completed(c: asyncpg.Connection) -> bool:
    """No job left that has not completed (cheap: it stops at the first one; a count of the completed jobs,
    polled every 10 ms, would take a good share of a 2-core host)."""
    return not await c.fetchval("SELECT EXISTS (SELECT 1 FROM jobs WHERE status <> 'completed')")


async def independent(dsn: str, n: int) -> float:
    """The same worker draining n independent no-op jobs: the reference for the chain and the fan-out."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("TRUNCATE jobs CASCADE")
    finally:
        await conn.close()
    await _fill(dsn, n)

    return n / await _drain(dsn, _all_completed, concurrency=100)


def _table(rows: list[tuple[str, str]]) -> str:
    return "\n".join(["| measure | result |", "|---|---|", *[f"| {a} | {b} |" for a, b in rows]])


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--jobs", type=int, help="jobs per hot-path run (default 20000; --quick 5000)")
    parser.add_argument("--rounds", type=int, help="hot-path A/B runs (default 5; --quick 2)")
    parser.add_argument("--chain", type=int, help="chain length (default 1000; --quick 200)")
    parser.add_argument("--fan-out", type=int, help="children of the fan-out (default 10000; --quick 1000)")
    args = parser.parse_args()
    n = args.jobs or (5000 if args.quick else 20000)
    rounds = args.rounds or (2 if args.quick else 5)
    chain_n = args.chain or (200 if args.quick else 1000)
    fan_n = args.fan_out or (1000 if args.quick else 10000)
    names = {"without": "0006", "with": "head", "graphs": "head"}  # chains and fan-outs on a fresh database
    dbs = {name: f"bench_flow_{name}_{os.getpid()}" for name in names}
    started = time.monotonic()
    load_before = os.getloadavg()
    try:
        dsns = {name: await create_database(db) for name, db in dbs.items()}
        for name, revision in names.items():
            await asyncio.to_thread(migrations.upgrade, dsns[name], revision)
        runs = []
        for r in range(rounds):
            rates = await hot_path({k: dsns[k] for k in ("without", "with")}, n)
            runs.append(rates)
            print(
                f"hot path run {r + 1}: without {rates['without']:,.0f} jobs/s, with {rates['with']:,.0f} jobs/s "
                f"({rates['with'] / rates['without']:.3f}x)",
                flush=True,
            )
        chain_rate = await chain(dsns["graphs"], chain_n)
        print(f"chain of {chain_n}: {chain_rate:,.0f} jobs/s", flush=True)
        fan_rate = await fan(dsns["graphs"], fan_n)
        print(f"fan-out of {fan_n} + fan-in: {fan_rate:,.0f} jobs/s", flush=True)
        plain_rate = await independent(dsns["graphs"], fan_n)
        print(f"{fan_n} independent jobs: {plain_rate:,.0f} jobs/s", flush=True)
    finally:
        for db in dbs.values():
            await drop_database(db)
    ratios = [r["with"] / r["without"] for r in runs]
    rows = [
        (
            f"hot path, {n:,} independent jobs, without dependency support (median of {rounds}, jobs/s)",
            f"{statistics.median(r['without'] for r in runs):,.0f}",
        ),
        (
            f"hot path, {n:,} independent jobs, with dependency support (median of {rounds}, jobs/s)",
            f"{statistics.median(r['with'] for r in runs):,.0f}",
        ),
        (
            "with ÷ without, per run (median)",
            f"{', '.join(f'{x:.3f}' for x in ratios)} ({statistics.median(ratios):.3f})",
        ),
        (f"chain of {chain_n:,} jobs, one worker (jobs/s)", f"{chain_rate:,.0f}"),
        (f"fan-out of {fan_n:,} children + one fan-in, one worker (jobs/s)", f"{fan_rate:,.0f}"),
        (f"reference: {fan_n:,} independent jobs, the same worker (jobs/s)", f"{plain_rate:,.0f}"),
    ]
    table = _table(rows)
    print("\n" + table)
    if not args.quick:
        took = (time.monotonic() - started) / 60
        loads = ", ".join(f"{x:.1f}" for x in load_before) + " → " + ", ".join(f"{x:.1f}" for x in os.getloadavg())
        text = (HERE / "workflows.py").read_text().split('"""')[1].strip()
        out = HERE / "WORKFLOWS.md"
        notes = out.read_text().partition("\n## Notes")[2] if out.exists() else ""  # hand-written, kept
        out.write_text(
            f"# Workflow benchmark\n\n```\n{text}\n```\n\n## Results\n\nCommand: `PYTHONPATH=backend python "
            f"bench/queue/workflows.py` (took {took:.1f} min; load average {loads}; 2 shared cores)\n\n{table}\n"
            + (f"\n## Notes{notes}" if notes else "")
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
