"""Hours of load: jobs in and out at a steady rate, finished jobs pruned, the jobs table watched.

    PYTHONPATH=backend python bench/queue/soak.py                 # 30 minutes; rewrites its README section
    PYTHONPATH=backend python bench/queue/soak.py --minutes 3 --no-readme

A fresh database (migrated to the head, so with the shipped per-table autovacuum settings) and real
`python -m app.worker` processes at their default settings. The benchmark enqueues no-op jobs in batches every
100 ms at `--rate` jobs/s; the built-in `prune_jobs` job, with its default batch size and pauses, is enqueued every
`--prune-every` seconds, and the workers run it like any other job. Retention is the only setting scaled down to
fit the run: `JOB_RETENTION_DAYS` is `--retention-minutes` (default 5), so that finished jobs are pruned many
times over in 30 minutes, as they would be over weeks with the default 14 days.

Every `--sample` seconds: the table's total, heap and per-index sizes, live and dead tuples, autovacuum and
autoanalyze counts, the jobs finished in the window and their enqueue→finish latency, and the waiting backlog.
At the end it prints the first-vs-last-window ratios and draws soak.png.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
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
from app.core import migrations  # noqa: E402
from app.worker import queue  # noqa: E402
from app.worker.dispatcher import build_job  # noqa: E402
from common import create_database, drop_database  # noqa: E402
from scale import Workers, machine_line, mib, server_line, sizes, wait_workers, write_section  # noqa: E402

DB = "skiplock_bench_soak"
TICK = 0.1


async def enqueuer(dsn: str, rate: float, stop: asyncio.Event, counter: list[int]) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        carry, next_at = 0.0, time.monotonic()
        while not stop.is_set():
            carry += rate * TICK
            n, carry = int(carry), carry - int(carry)
            if n:
                await queue.enqueue_many(conn, [build_job("noop", {}, default_max_attempts=3) for _ in range(n)])
                counter[0] += n
            next_at += TICK
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
    finally:
        await conn.close()


async def pruner(dsn: str, every: float, stop: asyncio.Event) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        while not stop.is_set():
            await queue.enqueue(conn, build_job("prune_jobs", {}, default_max_attempts=2))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every)
    finally:
        await conn.close()


async def sample(conn: asyncpg.Connection, since: datetime, started: float) -> tuple[dict[str, Any], datetime]:
    now = await conn.fetchval("SELECT now()")
    window = await conn.fetchrow(
        """SELECT count(*) AS finished,
                  percentile_cont(0.5) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM finished_at - created_at)) AS p50,
                  percentile_cont(0.99) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM finished_at - created_at)) AS p99
           FROM jobs WHERE finished_at > $1 AND finished_at <= $2 AND job_type = 'noop'""",
        since,
        now,
    )
    waiting = await conn.fetchval("SELECT count(*) FROM jobs WHERE status IN ('pending', 'retry')")
    s = await sizes(conn)
    seconds = (now - since).total_seconds()
    return {
        "t": time.monotonic() - started,
        "throughput": window["finished"] / seconds if seconds > 0 else 0.0,
        "latency_p50_ms": (window["p50"] or 0) * 1000,
        "latency_p99_ms": (window["p99"] or 0) * 1000,
        "waiting": waiting,
        "pruned": s["n_tup_del"],
        **s,
    }, now


def windows(samples: list[dict[str, Any]], parts: int = 6) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The first and last sixth of the samples (each at least one)."""
    k = max(1, len(samples) // parts)
    return samples[:k], samples[-k:]


def mean(rows: list[dict[str, Any]], key: str) -> float:
    return sum(float(r[key]) for r in rows) / len(rows)


def chart(samples: list[dict[str, Any]], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = [s["t"] / 60 for s in samples]
    fig, axes = plt.subplots(3, 1, figsize=(9, 10), sharex=True)
    ax = axes[0]
    ax.plot(t, [s["total"] / 2**20 for s in samples], label="total (table + indexes + TOAST)", linewidth=2)
    ax.plot(t, [s["heap"] / 2**20 for s in samples], label="heap")
    colours = plt.get_cmap("tab20")
    for i, name in enumerate(samples[0]["indexes"]):
        values = [s["indexes"].get(name, 0) / 2**20 for s in samples]
        if max(values) >= 0.1:
            ax.plot(t, values, label=name, linewidth=0.9, color=colours(i % 20))
    ax.set_ylabel("MiB")
    ax.set_title(title)
    ax.legend(fontsize=7, ncol=2)
    ax = axes[1]
    ax.plot(t, [s["n_dead_tup"] for s in samples], label="dead tuples", color="tab:red")
    ax.plot(t, [s["n_live_tup"] for s in samples], label="live tuples", color="tab:green")
    for s0, s1 in itertools.pairwise(samples):
        if s1["autovacuum_count"] > s0["autovacuum_count"]:
            ax.axvline(s1["t"] / 60, color="grey", linewidth=0.5)
    ax.set_ylabel("tuples (grey: an autovacuum ran)")
    ax.legend(fontsize=8)
    ax = axes[2]
    ax.plot(t, [s["throughput"] for s in samples], label="jobs finished/s", color="tab:blue")
    ax.set_ylabel("jobs/s")
    ax.set_xlabel("minutes")
    ax2 = ax.twinx()
    ax2.plot(t, [s["latency_p99_ms"] for s in samples], label="enqueue→finish p99 (ms)", color="tab:orange")
    ax2.set_ylabel("ms")
    ax.legend(loc="upper left", fontsize=8)
    ax2.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def report(samples: list[dict[str, Any]], args: argparse.Namespace, enqueued: int, head: str) -> str:
    first, last = windows(samples)
    half = samples[len(samples) // 2 :]
    h1, h2 = windows(half, 2)
    rows = [
        ("jobs finished/s", mean(first, "throughput"), mean(last, "throughput"), "{:,.0f}"),
        ("enqueue→finish p50 (ms)", mean(first, "latency_p50_ms"), mean(last, "latency_p50_ms"), "{:,.1f}"),
        ("enqueue→finish p99 (ms)", mean(first, "latency_p99_ms"), mean(last, "latency_p99_ms"), "{:,.1f}"),
        ("jobs waiting", mean(first, "waiting"), mean(last, "waiting"), "{:,.0f}"),
        ("total size (MiB)", mean(first, "total") / 2**20, mean(last, "total") / 2**20, "{:,.1f}"),
        ("heap (MiB)", mean(first, "heap") / 2**20, mean(last, "heap") / 2**20, "{:,.1f}"),
        ("live tuples", mean(first, "n_live_tup"), mean(last, "n_live_tup"), "{:,.0f}"),
        ("dead tuples", mean(first, "n_dead_tup"), mean(last, "n_dead_tup"), "{:,.0f}"),
    ]
    lines = [
        "| figure | first window | last window | last ÷ first |",
        "|---|---:|---:|---:|",
    ]
    for name, a, b, fmt in rows:
        ratio = f"{b / a:.2f}" if a else "—"
        lines.append(f"| {name} | {fmt.format(a)} | {fmt.format(b)} | {ratio} |")
    lines += ["", "Sizes over the second half (plateau: its first and last quarter):", ""]
    lines += ["| relation | second half, first quarter (MiB) | last quarter (MiB) | max over the run (MiB) |"]
    lines += ["|---|---:|---:|---:|"]
    lines.append(
        f"| jobs, total | {mib(mean(h1, 'total'))} | {mib(mean(h2, 'total'))} "
        f"| {mib(max(s['total'] for s in samples))} |"
    )
    lines.append(
        f"| jobs, heap | {mib(mean(h1, 'heap'))} | {mib(mean(h2, 'heap'))} | {mib(max(s['heap'] for s in samples))} |"
    )
    for name in samples[-1]["indexes"]:
        a = sum(s["indexes"].get(name, 0) for s in h1) / len(h1)
        b = sum(s["indexes"].get(name, 0) for s in h2) / len(h2)
        top = max(s["indexes"].get(name, 0) for s in samples)
        lines.append(f"| {name} | {mib(a)} | {mib(b)} | {mib(top)} |")
    end = samples[-1]
    lines += [
        "",
        f"Over the run: {enqueued:,} jobs enqueued, {end['pruned']:,} finished jobs pruned, "
        f"{end['autovacuum_count']} autovacuum and {end['autoanalyze_count']} autoanalyze runs on jobs, "
        f"dead tuples at most {max(s['n_dead_tup'] for s in samples):,}; "
        f"{end['n_tup_upd']:,} updates ({end['n_tup_hot_upd']:,} HOT), {end['n_tup_del']:,} deletes.",
    ]
    return head + "\n".join(lines)


async def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    load = os.getloadavg()
    dsn = await create_database(args.db)
    await asyncio.to_thread(migrations.upgrade, dsn)
    log_dir = Path(tempfile.mkdtemp(prefix="soak-"))
    retention_days = args.retention_minutes / 1440
    workers = Workers(dsn, log_dir, {"JOB_RETENTION_DAYS": f"{retention_days:.8f}"})
    conn = await asyncpg.connect(dsn)
    samples: list[dict[str, Any]] = []
    stop = asyncio.Event()
    enqueued = [0]
    try:
        server = await server_line(conn)
        if args.prefill:
            # finished jobs of the past week, as a table with a long retention holds them
            await conn.execute(
                """INSERT INTO jobs (job_type, params, queue, status, attempts, max_attempts, run_at, created_at,
                                    started_at, finished_at, result)
                   SELECT 'noop', '{}'::jsonb, 'default', 'completed', 1, 3, t, t, t, t, '{}'::jsonb
                   FROM (SELECT now() - make_interval(secs => g % 604800) AS t FROM generate_series(1, $1) g) s""",
                args.prefill,
            )
            await conn.execute("VACUUM ANALYZE jobs")
        if args.reloptions:
            await conn.execute(f"ALTER TABLE jobs {args.reloptions}")  # an A/B of the shipped settings
        reloptions = await conn.fetchval("SELECT reloptions FROM pg_class WHERE relname = 'jobs'")
        workers.start(args.processes)
        await wait_workers(conn, args.processes)
        started = time.monotonic()
        since = await conn.fetchval("SELECT now()")
        tasks = [
            asyncio.create_task(enqueuer(dsn, args.rate, stop, enqueued)),
            asyncio.create_task(pruner(dsn, args.prune_every, stop)),
        ]
        while time.monotonic() - started < args.minutes * 60:
            await asyncio.sleep(args.sample)
            row, since = await sample(conn, since, started)
            samples.append(row)
            print(
                f"{row['t'] / 60:6.1f} min  {row['throughput']:7.0f} jobs/s  p99 {row['latency_p99_ms']:7.1f} ms  "
                f"waiting {row['waiting']:6d}  total {mib(row['total'])} MiB  heap {mib(row['heap'])} MiB  "
                f"live {row['n_live_tup']:8d}  dead {row['n_dead_tup']:7d}  autovacuum {row['autovacuum_count']}  "
                f"pruned {row['pruned']:,}",
                flush=True,
            )
            if args.json:
                Path(args.json).write_text(json.dumps(samples, default=str))
        stop.set()
        await asyncio.gather(*tasks)
    finally:
        stop.set()
        workers.stop()
        await conn.close()
        if not args.keep:
            await drop_database(args.db)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    command = "python bench/queue/soak.py" + (f" --minutes {args.minutes:g}" if args.minutes != 30 else "")
    command += f" --rate {args.rate:g}" if args.rate != 300 else ""
    command += f" --reloptions {args.reloptions!r}" if args.reloptions else ""
    command += f" --prefill {args.prefill} --retention-minutes {args.retention_minutes:g}" if args.prefill else ""
    head = (
        f"Command: `{command}` ({stamp}), {args.processes} worker processes at their default settings, "
        f"{args.rate:g} jobs/s in, {args.prefill:,} finished jobs at the start, retention "
        f"{args.retention_minutes:g} min, `prune_jobs` every "
        f"{args.prune_every:g} s, sampled every {args.sample:g} s.\n\n"
        f"Machine: {machine_line(load)}; {server}; reloptions of jobs: {reloptions or 'none'}.\n\n"
    )
    body = report(samples, args, enqueued[0], head)
    print("\n" + body)
    chart(
        samples,
        Path(args.chart),
        f"{args.minutes:g} min at {args.rate:g} jobs/s, retention {args.retention_minutes:g} min",
    )
    print(f"wrote {args.chart}")
    if args.readme:
        write_section(
            "soak",
            "## Hours of load (`soak.py`)\n\n"
            + (__doc__ or "").split("\n\n", 2)[2].strip()
            + "\n\n"
            + body
            + f"\n\n![jobs table over the soak]({Path(args.chart).name})\n",
        )
        print("wrote the soak section of README.md")
    return samples


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=float, default=30)
    p.add_argument("--rate", type=float, default=300, help="jobs enqueued per second")
    p.add_argument("--processes", type=int, default=2, help="worker processes")
    p.add_argument("--retention-minutes", type=float, default=5)
    p.add_argument("--prune-every", type=float, default=60, help="seconds between prune_jobs runs")
    p.add_argument("--sample", type=float, default=15, help="seconds between samples")
    p.add_argument("--chart", default=str(HERE / "soak.png"))
    p.add_argument("--json", help="write the samples here as they come")
    p.add_argument("--prefill", type=int, default=0, help="finished jobs of the past week in the table at the start")
    p.add_argument(
        "--reloptions",
        help='applied to jobs after migrating, e.g. "RESET (autovacuum_vacuum_scale_factor)" or "SET (...)"',
    )
    p.add_argument("--keep", action="store_true", help="keep the database")
    p.add_argument("--db", default=DB, help="the scratch database's name (dropped first if it exists)")
    p.add_argument("--readme", action=argparse.BooleanOptionalAction, default=None, help="default: on for 30+ min")
    args = p.parse_args()
    if args.readme is None:
        args.readme = args.minutes >= 30
    asyncio.run(run(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
