"""A million waiting jobs: the drain, the claim and the operators' endpoints with a deep backlog, and the prune.

    PYTHONPATH=backend python bench/queue/backlog.py                # 1,000,000 vs 20,000; rewrites its README section
    PYTHONPATH=backend python bench/queue/backlog.py --jobs 100000 --small 10000 --no-readme

On a fresh database (migrated to the head), with real `python -m app.worker` processes at run.py's best setting
(concurrency 500, batch size 500, prefetch 1000, so that the figures compare with run.py's) through
bench/queue/timed_worker.py (the same entry point with a stopwatch around the claim statement):

1. **Drain**: `--small` no-op jobs enqueued in batches of 1,000 (then `VACUUM ANALYZE`, what autovacuum does
   after a bulk insert), the workers started; jobs/s from the first claim until no job is unfinished. Then the
   same with `--jobs` waiting. Drain rate and claim latency (each claim statement's time, as the worker waits
   for it) per twentieth of the backlog.
2. **Endpoints** with the `--jobs` backlog waiting (before its drain), and again with them all finished (after
   it), through the real API app (`create_app`, over httpx's ASGI transport, no network): `/stats`, `/metrics`,
   the dashboard page and the calls it makes (`/stats?minutes=15`, `/workers`, `/jobs?limit=50`), and
   `GET /jobs`: first page, filtered by status and by type (a type with a handful of jobs too), deep through its
   cursor (the page after the job half-way down), and, for reference, the same depth through `offset`.
   Median and maximum of `--requests` requests each, after two that warm up.
3. **Prune**: the `--jobs` finished jobs are pruned by the built-in `prune_jobs` job (its default batches and
   pauses) while the workers drain `--prune-load` new jobs; their drain rate against the same drain without it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import app.jobs  # noqa: E402,F401  (registers noop and prune_jobs)
import asyncpg  # noqa: E402
import httpx  # noqa: E402
from app.core import migrations  # noqa: E402
from app.core.config import Settings  # noqa: E402
from app.main import create_app  # noqa: E402
from app.worker import queue  # noqa: E402
from app.worker.dispatcher import build_job  # noqa: E402
from common import create_database, drop_database, percentile  # noqa: E402
from scale import Workers, machine_line, server_line, write_section  # noqa: E402

DB = "skiplock_bench_backlog"
WINDOWS = 20
TARGET_MS = 100.0


async def fill(conn: asyncpg.Connection, n: int, job_type: str = "noop", params: dict[str, Any] | None = None) -> float:
    started = time.monotonic()
    for start in range(0, n, 1000):
        batch = [build_job(job_type, params or {}, default_max_attempts=3) for _ in range(min(1000, n - start))]
        await queue.enqueue_many(conn, batch)
    took = time.monotonic() - started
    await conn.execute("VACUUM ANALYZE jobs")
    return took


async def unfinished(conn: asyncpg.Connection) -> int:
    return await conn.fetchval(
        "SELECT count(*) FROM (SELECT 1 FROM jobs WHERE status IN ('pending', 'processing', 'retry') "
        "AND job_type = 'noop' LIMIT 1) s"
    )


async def drain(
    dsn: str, conn: asyncpg.Connection, n: int, processes: int, args: argparse.Namespace, *extra: str
) -> dict[str, Any]:
    """Start workers on a filled table; time from their first claim to the last job's completion."""
    wal = (
        "SELECT (SELECT checkpoints_timed + checkpoints_req FROM pg_stat_bgwriter), wal_bytes, wal_fpi FROM pg_stat_wal"
    )
    wal_before = await conn.fetchrow(wal)
    workers = Workers(dsn, Path(tempfile.mkdtemp(prefix="backlog-")), {"WORKER_BATCH_SIZE": str(args.batch_size)})
    flags = ["--concurrency", str(args.concurrency), "--prefetch", str(args.prefetch)]
    workers.start(processes, *flags, *extra, time_claims=True)
    try:
        while await unfinished(conn):
            await asyncio.sleep(0.02)
        ended = time.monotonic()
    finally:
        workers.stop()
    wal_after = await conn.fetchrow(wal)
    claims = [c for c in workers.claim_times() if c[2] > 0]
    first = claims[0][0] - claims[0][1]
    row = await conn.fetchrow(
        """SELECT count(*) FILTER (WHERE status = 'completed' AND attempts = 1) AS once, count(*) AS total
           FROM jobs WHERE job_type = 'noop' AND finished_at IS NOT NULL AND started_at IS NOT NULL"""
    )
    # per twentieth of the backlog: its drain rate (claimed rows / time) and its claims' latency
    per: list[dict[str, Any]] = []
    done, k, window_start, lat = 0, 1, first, []
    for end, seconds, rows in claims:
        done += rows
        lat.append(seconds * 1000)
        if done >= k * n / WINDOWS or (end, seconds, rows) == claims[-1]:
            per.append(
                {
                    "remaining": n - done,
                    "rate": (done - (per[-1]["done"] if per else 0)) / max(1e-9, end - window_start),
                    "done": done,
                    "p50": percentile(lat, 50),
                    "p99": percentile(lat, 99),
                }
            )
            window_start, lat = end, []
            while done >= k * n / WINDOWS:
                k += 1
    all_lat = [c[1] * 1000 for c in claims]
    return {
        "jobs": n,
        "seconds": ended - first,
        "rate": n / (ended - first),
        "claims": len(claims),
        "rows_per_claim": n / len(claims),
        "claim_p50": percentile(all_lat, 50),
        "claim_p99": percentile(all_lat, 99),
        "windows": per,
        "checkpoints": wal_after[0] - wal_before[0],  # server-wide: other databases' work counts too
        "wal_bytes": int(wal_after[1] - wal_before[1]),
        "wal_fpi": wal_after[2] - wal_before[2],
        "once": row["once"],
        "total": row["total"],
    }


async def timed(http: httpx.AsyncClient, url: str, n: int) -> dict[str, Any]:
    times = []
    for i in range(n + 2):
        t = time.perf_counter()
        r = await http.get(url)
        elapsed = (time.perf_counter() - t) * 1000
        if r.status_code != 200:
            raise RuntimeError(f"GET {url}: {r.status_code} {r.text[:300]}")
        if i >= 2:
            times.append(elapsed)
    body = r.json() if "json" in r.headers.get("content-type", "") else None
    note = ""
    if isinstance(body, dict) and "total" in body:
        note = f"total {'≈' if body.get('total_estimated') else ''}{body['total']:,}"
    if isinstance(body, dict) and "by_status" in body:
        note = ", ".join(f"{k} {v:,}" for k, v in sorted(body["by_status"].items()))
        note += " (estimated)" if any(body.get("estimated", {}).values()) else ""
    return {"url": url, "p50": statistics.median(times), "max": max(times), "note": note}


async def endpoints(dsn: str, conn: asyncpg.Connection, args: argparse.Namespace, status: str) -> list[dict[str, Any]]:
    settings = Settings(database_url=dsn, worker_enabled=False, bind_host="127.0.0.1")
    app = create_app(settings)
    # the job half-way down the listing: its cursor, and the offset that reaches the same page
    depth = args.jobs // 2
    mid = await conn.fetchrow(
        "SELECT created_at, id FROM jobs WHERE status <> 'processing' ORDER BY created_at DESC, id OFFSET $1 LIMIT 1",
        depth,
    )
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    delta = mid["created_at"] - epoch
    cursor = f"{(delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds}_{mid['id']}"
    urls = [
        "/stats",
        "/metrics",
        "/dashboard",
        "/stats?minutes=15",
        "/workers",
        "/jobs?limit=50",
        f"/jobs?status={status}",
        "/jobs?job_type=noop",
        "/jobs?job_type=sleep",
        f"/jobs?cursor={cursor}",
        f"/jobs?offset={depth + 1}",
    ]
    out = []
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench", timeout=120) as http:
            for url in urls:
                r = await timed(http, url, args.requests)
                if "cursor=" in url:
                    r["url"] = f"/jobs?cursor=… (after job {depth:,})"
                out.append(r)
                print(f"  {r['url']:<40} p50 {r['p50']:8.1f} ms  max {r['max']:8.1f} ms  {r['note']}", flush=True)
    return out


async def prune_phase(dsn: str, conn: asyncpg.Connection, args: argparse.Namespace, cutoff: datetime) -> dict[str, Any]:
    """Drain --prune-load jobs without, then with, the prune of every job finished before `cutoff` running."""
    await fill(conn, args.prune_load)
    base = await drain(dsn, conn, args.prune_load, args.processes, args, "--queues", "default")
    print(f"  without prune: {base['rate']:,.0f} jobs/s", flush=True)
    finished_before = await conn.fetchval("SELECT count(*) FROM jobs WHERE finished_at < $1", cutoff)
    await fill(conn, args.prune_load)
    age = (await conn.fetchval("SELECT now()") - cutoff).total_seconds()
    prune_id, _ = await queue.enqueue(
        conn,
        build_job("prune_jobs", {"older_than_days": age / 86_400, "max_seconds": 3000}, default_max_attempts=1),
    )
    pruning = Workers(dsn, Path(tempfile.mkdtemp(prefix="backlog-prune-")))
    pruning.start(1, "--queues", "maintenance")  # the prune runs in its own worker process, as it may in production
    try:
        with_prune = await drain(dsn, conn, args.prune_load, args.processes, args, "--queues", "default")
        print(f"  with prune:    {with_prune['rate']:,.0f} jobs/s", flush=True)
        started = time.monotonic()
        while await conn.fetchval("SELECT status::text FROM jobs WHERE id = $1", prune_id) not in (
            "completed",
            "failed",
        ):
            await asyncio.sleep(0.5)
        waited = time.monotonic() - started
    finally:
        pruning.stop()
    prune = await conn.fetchrow(
        "SELECT status::text, result, started_at, finished_at FROM jobs WHERE id = $1", prune_id
    )
    result = json.loads(prune["result"]) if prune["result"] else {}
    seconds = (prune["finished_at"] - prune["started_at"]).total_seconds()
    left = await conn.fetchval("SELECT count(*) FROM jobs WHERE finished_at < $1", cutoff)
    return {
        "base": base,
        "with": with_prune,
        "ratio": with_prune["rate"] / base["rate"],
        "finished_before": finished_before,
        "deleted": result.get("deleted"),
        "batches": result.get("batches"),
        "prune_seconds": seconds,
        "waited_after_drain": waited,
        "left": left,
        "status": prune["status"],
    }


def chart(small: dict[str, Any], big: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(2, 1, figsize=(9, 7.5), sharex=True)
    for run, style in ((big, "-o"), (small, "--s")):
        x = [100 * w["remaining"] / run["jobs"] for w in run["windows"]]
        a.plot(x, [w["rate"] for w in run["windows"]], style, label=f"{run['jobs']:,} waiting", markersize=3)
        b.plot(x, [w["p50"] for w in run["windows"]], style, label=f"p50, {run['jobs']:,} waiting", markersize=3)
        b.plot(
            x,
            [w["p99"] for w in run["windows"]],
            style,
            label=f"p99, {run['jobs']:,} waiting",
            markersize=3,
            alpha=0.6,
        )
    a.set_ylabel("jobs claimed/s (per twentieth of the backlog)")
    a.set_title("Drain with a deep backlog: rate and claim latency as the backlog empties")
    a.legend(fontsize=8)
    a.set_ylim(bottom=0)
    b.set_ylabel("claim statement (ms)")
    b.set_xlabel("backlog left (% of the jobs enqueued)")
    b.set_ylim(bottom=0)
    b.legend(fontsize=8)
    a.invert_xaxis()
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def endpoint_table(before: list[dict[str, Any]], after: list[dict[str, Any]], n: int) -> str:
    lines = [
        f"| request | {n:,} waiting: p50 / max (ms) | {n:,} finished: p50 / max (ms) "
        f"| under {TARGET_MS:.0f} ms (p50) |",
        "|---|---:|---:|---|",
    ]
    for x, y in zip(before, after, strict=True):
        ok = "yes" if x["p50"] < TARGET_MS and y["p50"] < TARGET_MS else "**no**"
        url = x["url"].replace("status=pending", "status=pending / completed")
        lines.append(f"| `{url}` | {x['p50']:.1f} / {x['max']:.1f} | {y['p50']:.1f} / {y['max']:.1f} | {ok} |")
    lines += ["", "What the answers said:", ""]
    for x, y in zip(before, after, strict=True):
        if x["note"] or y["note"]:
            lines.append(f"- `{x['url']}`: {x['note'] or '—'}; after the drain: {y['note'] or '—'}")
    return "\n".join(lines)


async def run(args: argparse.Namespace) -> int:
    load = os.getloadavg()
    dsn = await create_database(args.db)
    await asyncio.to_thread(migrations.upgrade, dsn)
    conn = await asyncpg.connect(dsn)
    problems: list[str] = []
    try:
        server = await server_line(conn)
        print(f"{args.small:,} jobs waiting, {args.small_runs} times:", flush=True)
        smalls = []
        for _ in range(args.small_runs):
            await fill(conn, args.small)
            smalls.append(await drain(dsn, conn, args.small, args.processes, args))
            print(
                f"  drained at {smalls[-1]['rate']:,.0f} jobs/s, "
                f"claim p50 {smalls[-1]['claim_p50']:.2f} ms p99 {smalls[-1]['claim_p99']:.2f} ms"
            )
            if smalls[-1]["once"] != args.small:
                problems.append(f"{args.small:,} drain: {smalls[-1]['once']:,} completed once")
            await conn.execute("TRUNCATE jobs, workers CASCADE")
        small = sorted(smalls, key=lambda r: r["rate"])[len(smalls) // 2]  # the median run
        print(f"{args.jobs:,} jobs waiting:", flush=True)
        fill_s = await fill(conn, args.jobs)
        await fill(conn, 20, "sleep", {"seconds": 0})  # a rare type, for the type filter
        print(f"  enqueued in {fill_s:.1f} s ({args.jobs / fill_s:,.0f} jobs/s, batches of 1,000)", flush=True)
        before = await endpoints(dsn, conn, args, "pending")
        big = await drain(dsn, conn, args.jobs, args.processes, args)
        print(
            f"  drained at {big['rate']:,.0f} jobs/s, claim p50 {big['claim_p50']:.2f} ms p99 {big['claim_p99']:.2f} ms"
        )
        if big["once"] != big["jobs"] or big["total"] != big["jobs"]:
            problems.append(f"{big['jobs']:,} drain: {big['once']:,} completed once of {big['total']:,}")
        await conn.execute("VACUUM ANALYZE jobs")  # what autovacuum does after the drain's churn
        print(f"{args.jobs:,} jobs finished:", flush=True)
        after = await endpoints(dsn, conn, args, "completed")
        prune: dict[str, Any] | None = None
        if args.prune_load:
            print(f"prune {args.jobs:,} finished jobs while draining {args.prune_load:,}:", flush=True)
            cutoff = await conn.fetchval("SELECT now()")
            await asyncio.sleep(1)
            prune = await prune_phase(dsn, conn, args, cutoff)
            if prune["left"] or prune["status"] != "completed":
                problems.append(f"prune {prune['status']}: {prune['left']} of the expired jobs left")
    finally:
        await conn.close()
        if not args.keep:
            await drop_database(args.db)

    ratio = big["rate"] / small["rate"]
    first, last = big["windows"][0], big["windows"][-2] if len(big["windows"]) > 2 else big["windows"][-1]
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    command = "python bench/queue/backlog.py" + (f" --jobs {args.jobs}" if args.jobs != 1_000_000 else "")
    worker_desc = (
        f"{args.processes} worker process(es), concurrency={args.concurrency}, batch_size={args.batch_size}, "
        f"prefetch={args.prefetch} (run.py's best setting)"
    )
    lines = [
        f"Command: `{command}` ({stamp}); {worker_desc}.",
        "",
        f"Machine: {machine_line(load)}; {server}.",
        "",
        "| drain | jobs/s | claims | rows per claim | claim p50 (ms) | claim p99 (ms) | WAL, server-wide (MiB) "
        "| checkpoints | exactly once |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in (small, big):
        once = "yes" if r["once"] == r["total"] == r["jobs"] else "**no**"
        lines.append(
            f"| {r['jobs']:,} waiting{' (median run)' if r is small else ''} | {r['rate']:,.0f} | {r['claims']:,} "
            f"| {r['rows_per_claim']:.0f} | "
            f"{r['claim_p50']:.2f} | {r['claim_p99']:.2f} | {r['wal_bytes'] / 2**20:,.0f} | {r['checkpoints']} "
            f"| {once} |"
        )
    lines += [
        "",
        f"- drain with {args.jobs:,} waiting vs {args.small:,} (the median of {args.small_runs} runs: "
        + ", ".join(f"{r['rate']:,.0f}" for r in smalls)
        + f" jobs/s): **{ratio:.0%}** (target ≥ 90%: {'met' if ratio >= 0.9 else 'missed'})",
        f"- claim latency across the {args.jobs:,} drain, first vs last twentieth: p50 {first['p50']:.2f} → "
        f"{last['p50']:.2f} ms, p99 {first['p99']:.2f} → {last['p99']:.2f} ms",
        f"- the {args.jobs:,} drain by twentieths of the backlog (jobs claimed/s): "
        + ", ".join(f"{w['rate']:,.0f}" for w in big["windows"]),
        "- claim p50 by twentieths (ms): " + ", ".join(f"{w['p50']:.1f}" for w in big["windows"]),
        f"- batch enqueue of {args.jobs:,}: {args.jobs / fill_s:,.0f} jobs/s",
        "",
        endpoint_table(before, after, args.jobs),
    ]
    if prune:
        lines += [
            "",
            f"Prune: `prune_jobs` (default batches of 1,000 and pauses of 0.1 s, in its own worker process) "
            f"deleted {prune['deleted']:,} jobs (the {prune['finished_before']:,} expired when it was enqueued, and "
            f"those that expired while it ran: its cutoff moves with the clock) in {prune['batches']:,} batches over "
            f"{prune['prune_seconds']:.0f} s ({prune['deleted'] / max(1e-9, prune['prune_seconds']):,.0f} jobs/s); "
            f"{prune['left']:,} of the jobs expired at the start left.",
            "",
            "| drain of new jobs (`--queues default`) | jobs/s |",
            "|---|---:|",
            f"| {args.prune_load:,} jobs, no prune running | {prune['base']['rate']:,.0f} |",
            f"| {args.prune_load:,} jobs, the prune running | {prune['with']['rate']:,.0f} |",
            f"| ratio (target ≥ 80%) | **{prune['ratio']:.0%}** |",
        ]
    lines += ["", "![drain rate and claim latency against the backlog](backlog.png)"]
    body = "\n".join(lines)
    print("\n" + body)
    chart(small, big, Path(args.chart))
    print(f"wrote {args.chart}")
    if args.readme:
        intro = (__doc__ or "").split("\n\n", 2)[2].strip()
        write_section("backlog", "## A million waiting jobs (`backlog.py`)\n\n" + intro + "\n\n" + body + "\n")
        print("wrote the backlog section of README.md")
    for p in problems:
        print("PROBLEM:", p)
    return 1 if problems else 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--jobs", type=int, default=1_000_000, help="the deep backlog")
    p.add_argument("--small", type=int, default=20_000, help="the backlog to compare with")
    p.add_argument("--processes", type=int, default=1, help="worker processes")
    p.add_argument("--small-runs", type=int, default=3, help="drains of the small backlog (the median is compared)")
    p.add_argument("--concurrency", type=int, default=500, help="worker --concurrency (run.py's best setting)")
    p.add_argument("--batch-size", type=int, default=500, help="WORKER_BATCH_SIZE")
    p.add_argument("--prefetch", type=int, default=1000, help="worker --prefetch")
    p.add_argument("--requests", type=int, default=20, help="requests per endpoint")
    p.add_argument("--prune-load", type=int, default=200_000, help="jobs drained with and without the prune (0: skip)")
    p.add_argument("--chart", default=str(HERE / "backlog.png"))
    p.add_argument("--keep", action="store_true", help="keep the database")
    p.add_argument("--db", default=DB, help="the scratch database's name (dropped first if it exists)")
    p.add_argument("--readme", action=argparse.BooleanOptionalAction, default=None, help="default: on at 1,000,000")
    args = p.parse_args()
    if args.readme is None:
        args.readme = args.jobs >= 1_000_000
    return asyncio.run(run(args))


if __name__ == "__main__":
    raise SystemExit(main())
