"""Queue benchmark: Skiplock side by side with pgqueuer, procrastinate, oban and a raw-SQL floor, on one PostgreSQL.

    python bench/queue/run.py              # full run (20,000 jobs), rewrites bench/queue/README.md and its charts
    python bench/queue/run.py --quick      # smoke test (2,000 jobs, fewer settings), a few minutes

PostgreSQL: $BENCH_DSN (default postgresql://postgres@127.0.0.1:5432/postgres); every system gets a fresh
database, created for the run and dropped after it. oban runs under its own Python ≥ 3.12 (--oban-python or
$BENCH_OBAN_PYTHON, else python3.12/3.13 on PATH); without one it is skipped. See README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.metadata
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import asyncpg  # noqa: E402
import floor  # noqa: E402
import oban_peer  # noqa: E402
import peers  # noqa: E402
import skiplock_sys  # noqa: E402
from common import (  # noqa: E402
    admin_dsn,
    cpu_name,
    create_database,
    drop_database,
    exactly_once,
    percentile,
    worker_loop,
)
from processes import Workers, wait_drained  # noqa: E402
from report import SystemResult, Trial, charts_markdown, label, replace_results, report, write_charts  # noqa: E402

PARENTS = {
    "skiplock": skiplock_sys.Parent,
    "pgqueuer": peers.PgqueuerParent,
    "procrastinate": peers.ProcrastinateParent,
    "oban": oban_peer.Parent,
    "floor": floor.Parent,
}
ORDER = ["skiplock", "pgqueuer", "procrastinate", "oban", "floor"]
PROCESSES = [1, 2, 4, 8]  # worker processes in the scaling runs (each at the system's best 1-process setting)
ENQUEUE_CHUNK = 1000  # jobs per statement for batch enqueue


def grids(quick: bool) -> dict[str, dict[str, Any]]:
    """Settings tried per system with one worker process; the best is then also run with two processes.

    `sweep_jobs` None: the sweep uses the full job count; a number: the sweep uses that many jobs and
    only the best setting is re-run with the full count (for the slow peer).
    """
    if quick:
        return {
            "skiplock": {"sweep": [{"concurrency": 100, "batch_size": 100}], "latency": None},
            "pgqueuer": {"sweep": [{"batch_size": 10}, {"batch_size": 100}], "latency": None},
            "procrastinate": {"sweep": [{"concurrency": 20}], "latency": None},
            "oban": {"sweep": [{"limit": 100}], "latency": None},
            "floor": {"sweep": [{"batch_size": 1}, {"batch_size": 10}, {"batch_size": 100}], "latency": None},
        }
    return {
        "skiplock": {
            "sweep": [
                {},  # the defaults of `python -m app.worker`
                {"concurrency": 50, "batch_size": 50, "prefetch": 0},
                {"concurrency": 100, "batch_size": 100, "prefetch": 0},
                {"concurrency": 100, "batch_size": 100, "prefetch": 100},
                {"concurrency": 200, "batch_size": 100, "prefetch": 0},
                {"concurrency": 250, "batch_size": 250, "prefetch": 250},
                {"concurrency": 500, "batch_size": 500, "prefetch": 500},
                {"concurrency": 500, "batch_size": 500, "prefetch": 1000},
            ],
            # run once after the sweep for reference, never picked as the best setting
            "reference": [{"concurrency": 500, "batch_size": 500, "prefetch": 500, "result": "echo"}],
            "latency": None,
        },
        "pgqueuer": {
            "sweep": [
                {"batch_size": 10},
                {"batch_size": 50},
                {"batch_size": 100},
                {"batch_size": 250},
                {"batch_size": 500},
            ],
            "latency": None,
        },
        "procrastinate": {
            "sweep": [{"concurrency": 1}, {"concurrency": 10}, {"concurrency": 30}, {"concurrency": 100}],  # 1: default
            "sweep_jobs": 4000,
            "scale_with_sweep_jobs": True,
            "latency": None,
        },
        # oban's documented knob is the queue's `limit` (jobs run at once per process); its pool stays at
        # the documented default (10), which its guide calls comfortable for most deployments
        "oban": {
            "sweep": [{"limit": 10}, {"limit": 50}, {"limit": 100}, {"limit": 250}, {"limit": 500}],
            "sweep_jobs": 10000,
            "latency": None,
        },
        "floor": {
            "sweep": [
                {"batch_size": 1},
                {"batch_size": 10},
                {"batch_size": 50},
                {"batch_size": 50, "loops": 2},
                {"batch_size": 50, "loops": 4},
                {"batch_size": 100},
                {"batch_size": 100, "loops": 2},
                {"batch_size": 100, "loops": 4},
                {"batch_size": 250},
                {"batch_size": 250, "loops": 2},
                {"batch_size": 250, "loops": 4},
                {"batch_size": 500},
                {"batch_size": 500, "loops": 2},
                {"batch_size": 500, "loops": 4},
            ],
            "latency": None,
        },
    }


# -- phases -----------------------------------------------------------------------------------------------
async def fill(parent: Any, n: int) -> float:
    """Enqueue n jobs (keys 0..n-1) in batches; returns jobs/s."""
    if hasattr(parent, "timed_fill"):  # a peer whose client runs in another process times itself
        return n / await parent.timed_fill(n, ENQUEUE_CHUNK)
    t0 = time.monotonic()
    for start in range(0, n, ENQUEUE_CHUNK):
        await parent.enqueue_batch([{"k": k} for k in range(start, min(n, start + ENQUEUE_CHUNK))])
    return n / (time.monotonic() - t0)


async def enqueue_one_by_one(parent: Any, n: int) -> float:
    if hasattr(parent, "timed_one_by_one"):
        return n / await parent.timed_one_by_one(n)
    t0 = time.monotonic()
    for k in range(n):
        await parent.enqueue_one({"k": k})
    return n / (time.monotonic() - t0)


async def drain(
    parent: Any, name: str, dsn: str, opts: dict[str, Any], procs: int, n: int, tmp: Path, filled: bool
) -> Trial:
    if not filled:
        await parent.reset()
        await fill(parent, n)
    await parent.analyze()
    workers = Workers(name, dsn, opts, procs, tmp)
    await workers.start()
    t0 = time.monotonic()
    workers.send("GO")
    seconds, problems = await wait_drained(parent, workers, timeout=max(120.0, n / 20))
    seconds = time.monotonic() - t0
    problems += await workers.stop()
    keys, starts = workers.records()
    problems += exactly_once(keys, range(n)) + await parent.verify(n)
    trial = Trial(procs, opts, n, seconds, problems)
    status = "OK" if not problems else "FAILED: " + "; ".join(problems)
    firsts = sorted(workers.first_jobs())
    started = ""
    if firsts:  # how long the processes took to start, and the rate once every one of them was running
        all_in, end = firsts[-1], t0 + seconds
        trial.steady = sum(t >= all_in for t in starts.values()) / (end - all_in) if end > all_in else 0.0
        started = (
            f"first job {1000 * (firsts[0] - t0):.0f}-{1000 * (all_in - t0):.0f} ms after GO "
            f"({len(firsts)}/{procs} ran jobs); {trial.steady:,.0f} jobs/s once all ran"
        )
    print(
        f"  drain  {name:<13} procs={procs} {label(opts):<32} {n:>6} jobs {seconds:7.2f} s "
        f"{trial.rate:9.0f} jobs/s  exactly-once {status}  {started}",
        flush=True,
    )
    await parent.reset()
    return trial


LATENCY_WARMUP = 20  # jobs run before the measured ones, not counted


async def latency(
    parent: Any, name: str, dsn: str, opts: dict[str, Any], n: int, tmp: Path, spacing: float = 0.010
) -> tuple[dict[str, float], list[str]]:
    """Enqueue→start latency of n jobs, after LATENCY_WARMUP unmeasured ones: a system's first jobs pay
    one-time costs (each connection's first statements are planned, a trigger function compiled), which in
    a run of a few hundred jobs would be most of its p99."""
    await parent.reset()
    workers = Workers(name, dsn, opts, 1, tmp)
    await workers.start()
    workers.send("GO")
    await asyncio.sleep(1.0)  # let the worker settle into idle
    total = n + LATENCY_WARMUP
    if hasattr(parent, "enqueue_spaced"):  # the same loop, in the peer's own client process
        enqueued = await parent.enqueue_spaced(total, spacing)
    else:
        enqueued = {}
        tick = time.monotonic()
        for k in range(total):
            t = time.monotonic()
            enqueued[k] = t
            await parent.enqueue_one({"k": k, "t": t})
            tick += spacing
            await asyncio.sleep(max(0.0, tick - time.monotonic()))
    _, problems = await wait_drained(parent, workers, timeout=60)
    problems += await workers.stop()
    keys, starts = workers.records()
    problems += exactly_once(keys, range(total)) + await parent.verify(total)
    lat = [(starts[k] - enqueued[k]) * 1000 for k in enqueued if k in starts and k >= LATENCY_WARMUP]
    result = {
        "p50": percentile(lat, 50),
        "p95": percentile(lat, 95),
        "p99": percentile(lat, 99),
        "max": max(lat, default=float("nan")),
        "n": len(lat),
    }
    status = "OK" if not problems else "FAILED: " + "; ".join(problems)
    print(
        f"  latency {name:<12} {label(opts):<32} p50 {result['p50']:.2f} ms  p95 {result['p95']:.2f} ms  "
        f"p99 {result['p99']:.2f} ms  exactly-once {status}",
        flush=True,
    )
    await parent.reset()
    return result, problems


def version_of(name: str) -> str:
    if name == "oban":
        return oban_peer.version()
    dist = {"skiplock": "skiplock", "pgqueuer": "pgqueuer", "procrastinate": "procrastinate"}.get(name)
    if dist is None:
        return f"asyncpg {importlib.metadata.version('asyncpg')}"
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "?"


def scaling_opts(best: dict[str, Any]) -> dict[str, Any]:
    """The setting each process runs in the scaling runs: the best one-process setting, with one claim loop
    per process where a system pipelines (the floor's `loops`), so N processes are N loops."""
    return {k: v for k, v in best.items() if k != "loops"}


async def bench_system(name: str, args: argparse.Namespace, grid: dict[str, Any], tmp: Path) -> SystemResult:
    res = SystemResult(name, version_of(name))
    db = f"bench_queue_{name}_{os.getpid()}"
    print(f"\n== {name} ({res.version}) in database {db}", flush=True)
    dsn = await create_database(db)
    parent = PARENTS[name]()
    try:
        await parent.setup(dsn)
        await parent.open(dsn)
        n = args.jobs
        try:
            # 1. enqueue: one by one, then in batches (which fills the queue for the first drain)
            await parent.reset()
            res.enqueue_one = await enqueue_one_by_one(parent, args.one_by_one)
            await parent.reset()
            sweep_n = grid.get("sweep_jobs") or n
            sweep_n = min(sweep_n, n)
            res.enqueue_batch = await fill(parent, sweep_n)
            print(
                f"  enqueue {name:<12} one by one {res.enqueue_one:9.0f} jobs/s   "
                f"batches of {ENQUEUE_CHUNK} {res.enqueue_batch:9.0f} jobs/s",
                flush=True,
            )
            filled = True
            # 2. drain: sweep settings with one process, then the best with two
            for opts in grid["sweep"]:
                res.trials.append(await drain(parent, name, dsn, opts, 1, sweep_n, tmp, filled))
                filled = False
            for opts in grid.get("reference", []):
                trial = await drain(parent, name, dsn, opts, 1, n, tmp, False)
                trial.reference = True
                res.trials.append(trial)
            one = [t for t in res.candidates() if t.procs == 1]
            best_opts = max(one, key=lambda t: t.rate).opts if one else grid["sweep"][0]
            if sweep_n != n:
                res.notes.append(f"settings swept with {sweep_n} jobs; the best re-run with {n}")
                res.trials.append(await drain(parent, name, dsn, best_opts, 1, n, tmp, False))
            # many processes, each at the best one-process setting (a slow peer with its sweep's job count)
            scale, scale_n = scaling_opts(best_opts), (sweep_n if grid.get("scale_with_sweep_jobs") else n)
            if scale_n != n:
                res.scale_jobs = scale_n
                res.notes.append(f"many-process runs with {scale_n} jobs, against its one-process run with as many")
            # interleaved rounds (median shown); one round for a slow peer, whose sweep run stands for 1 process
            rounds = 1 if grid.get("sweep_jobs") else args.repeat
            res.notes.append(
                f"many-process figures: median of {rounds} round(s) of {', '.join(map(str, args.processes))} processes"
            )
            for _ in range(rounds):
                for procs in args.processes:
                    if procs == 1 and rounds == 1 and scale == best_opts:
                        continue
                    trial = await drain(parent, name, dsn, scale, procs, scale_n, tmp, False)
                    trial.scaling = True
                    res.trials.append(trial)
            # 3. latency with one idle worker, at the best one-process setting
            res.latency_opts = grid.get("latency") or best_opts
            res.latency, problems = await latency(parent, name, dsn, res.latency_opts, args.latency_jobs, tmp)
            res.problems += problems
        finally:
            await parent.close()
    except Exception as exc:  # a broken peer must not hide the others' numbers
        res.problems.append(f"benchmark error: {exc!r}")
        print(f"  ERROR {name}: {exc!r}", flush=True)
    finally:
        await drop_database(db)
    for t in res.trials:
        res.problems += [f"drain procs={t.procs} {label(t.opts)}: {p}" for p in t.problems]
    return res


# -- report -----------------------------------------------------------------------------------------------
async def machine() -> str:
    cpu = cpu_name()
    conn = await asyncpg.connect(admin_dsn())
    try:
        pg = await conn.fetchval("SHOW server_version")
        settings = await conn.fetch(
            "SELECT name, setting, unit FROM pg_settings WHERE name IN "
            "('shared_buffers', 'synchronous_commit', 'fsync', 'max_connections') ORDER BY name"
        )
    finally:
        await conn.close()
    pg_settings = ", ".join(f"{r['name']}={r['setting']}{r['unit'] or ''}" for r in settings)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (
        f"{os.cpu_count()} CPU cores ({cpu}), shared by PostgreSQL, the benchmark and the workers "
        f"(load average {load} at the start); "
        f"PostgreSQL {pg} on the same host ({pg_settings}); Python {platform.python_version()}, "
        f"asyncpg {importlib.metadata.version('asyncpg')}; every worker process on {worker_loop()[0]}"
    )


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, help="jobs per drain run (default 20000; --quick 2000)")
    parser.add_argument("--one-by-one", type=int, help="jobs enqueued one by one (default 2000; --quick 300)")
    parser.add_argument("--latency-jobs", type=int, help="jobs in the latency run (default 1000; --quick 100)")
    parser.add_argument("--quick", action="store_true", help="small smoke run, a few minutes")
    parser.add_argument("--systems", default=",".join(ORDER), help="comma-separated subset of " + ",".join(ORDER))
    parser.add_argument(
        "--processes",
        default=",".join(map(str, PROCESSES)),
        help="worker processes of the scaling runs (default 1,2,4,8), each at the best one-process setting",
    )
    parser.add_argument(
        "--repeat", type=int, help="rounds of the many-process runs, median shown (default 3; --quick 1)"
    )
    parser.add_argument(
        "--oban-python",
        help=f"Python >= 3.12 with oban and asyncpg installed, for oban's processes (or ${oban_peer.ENV})",
    )
    parser.add_argument(
        "--readme",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="write the results and charts into README.md and bench/queue/*.png (default: on for full runs)",
    )
    parser.add_argument("--json", help="also write raw results to this file")
    parser.add_argument(
        "--best-only",
        action="store_true",
        help="drain with each system's last sweep setting only (its best in the full runs): enqueue and drain checks",
    )
    args = parser.parse_args()
    args.jobs = args.jobs or (2000 if args.quick else 20000)
    args.one_by_one = args.one_by_one or (300 if args.quick else 2000)
    args.latency_jobs = args.latency_jobs or (100 if args.quick else 1000)
    args.repeat = args.repeat or (1 if args.quick else 3)
    args.processes = sorted({1, *(int(p) for p in args.processes.split(",") if p)})
    args.systems = [s for s in args.systems.split(",") if s]
    unknown = set(args.systems) - set(ORDER)
    if unknown:
        parser.error(f"unknown systems: {', '.join(sorted(unknown))}")
    return args


def pick_oban(args: argparse.Namespace) -> str | None:
    """Choose oban's interpreter; a note when oban is skipped (it is then left out of the run)."""
    if "oban" not in args.systems:
        return None
    python, info = oban_peer.choose(args.oban_python)
    if python is None:
        args.systems.remove("oban")
        print(f"oban skipped: {info}", flush=True)
        return f"oban skipped: {info}"
    oban_peer.use(python, info)
    print(f"oban {info} runs under {python}", flush=True)
    return None


async def main() -> int:
    args = parse_args()
    write_readme = (not args.quick) if args.readme is None else args.readme
    skipped = pick_oban(args)
    host = await machine()
    print(f"machine: {host}", flush=True)
    results: dict[str, SystemResult] = {}
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="queue-bench-") as tmp:
        for name in [s for s in ORDER if s in args.systems]:
            grid = grids(args.quick)[name]
            if args.best_only:  # the sweep's last setting alone (each system's best in the full runs), no reference
                grid = {**grid, "sweep": grid["sweep"][-1:], "reference": [], "sweep_jobs": None}
            results[name] = await bench_system(name, args, grid, Path(tmp))
    took = time.monotonic() - started
    host += f"; load average {', '.join(f'{x:.1f}' for x in os.getloadavg())} at the end"
    table, _targets = report(results, args.jobs, args.processes)
    if skipped:
        table += f"\n\n{skipped.rstrip('.')}."
    command = (
        "python bench/queue/run.py"
        + (" --quick" if args.quick else "")
        + ("" if args.jobs == (2000 if args.quick else 20000) else f" --jobs {args.jobs}")
        + ("" if args.processes == PROCESSES else f" --processes {','.join(map(str, args.processes))}")
    )
    versions = ", ".join(f"{s} {results[s].version}" for s in results)
    print("\n" + table + "\n", flush=True)
    if write_readme:
        stamp = time.strftime("%Y-%m-%d %H:%M %Z")
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        names = write_charts(results, args.jobs, args.processes, HERE, f"{command}, {stamp}, load {load} at the end")
        body = (
            f"## Results\n\nCommand: `{command}` ({stamp}, took {took / 60:.1f} min)\n\n"
            f"Machine: {host}.\n\nVersions: {versions}"
            + (f"; oban under Python {oban_peer.python_version()}" if "oban" in results else "")
            + f".\n\n{charts_markdown(names)}\n\n{table}\n"
        )
        replace_results(HERE / "README.md", body)
        print(f"wrote {HERE / 'README.md'}" + (f" and {', '.join(names)}" if names else ""))
    if args.json:
        Path(args.json).write_text(json.dumps({s: raw(r) for s, r in results.items()}, indent=2))
    failed = [f"{s}: {p}" for s, r in results.items() for p in r.problems]
    if failed:
        print(
            "\n"
            + "!" * 78
            + "\nFAILED: not every job ran exactly once (or a run broke):\n  "
            + "\n  ".join(failed)
            + "\n"
            + "!" * 78,
            file=sys.stderr,
        )
        return 1
    print(f"all runs verified: every job completed exactly once ({took:.0f} s)")
    return 0


def raw(r: SystemResult) -> dict[str, Any]:
    return {
        "version": r.version,
        "enqueue_batch": r.enqueue_batch,
        "enqueue_one": r.enqueue_one,
        "latency": r.latency,
        "latency_opts": r.latency_opts,
        "trials": [
            {
                "procs": t.procs,
                "opts": t.opts,
                "jobs": t.jobs,
                "seconds": t.seconds,
                "rate": t.rate,
                "problems": t.problems,
                "reference": t.reference,
                "scaling": t.scaling,
                "steady": t.steady,
            }
            for t in r.trials
        ],
        "problems": r.problems,
    }


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
