"""Queue benchmark: Skiplock side by side with pgqueuer, procrastinate and a raw-SQL floor, on one PostgreSQL.

    python bench/queue/run.py              # full run (20,000 jobs), rewrites bench/queue/README.md
    python bench/queue/run.py --quick      # smoke test (2,000 jobs, fewer settings), about a minute

PostgreSQL: $BENCH_DSN (default postgresql://postgres@127.0.0.1:5432/postgres); every system gets a fresh
database, created for the run and dropped after it. See README.md for what is measured and how.
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import asyncpg  # noqa: E402
import floor  # noqa: E402
import peers  # noqa: E402
import skiplock_sys  # noqa: E402
from common import (  # noqa: E402
    admin_dsn,
    create_database,
    drop_database,
    exactly_once,
    load_records,
    percentile,
    worker_loop,
)

PARENTS = {
    "skiplock": skiplock_sys.Parent,
    "pgqueuer": peers.PgqueuerParent,
    "procrastinate": peers.ProcrastinateParent,
    "floor": floor.Parent,
}
ORDER = ["skiplock", "pgqueuer", "procrastinate", "floor"]
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
            "floor": {"sweep": [{"batch_size": 1}, {"batch_size": 10}, {"batch_size": 100}], "latency": None},
        }
    return {
        "skiplock": {
            "sweep": [
                {"concurrency": 50, "batch_size": 50},
                {"concurrency": 100, "batch_size": 100},
                {"concurrency": 100, "batch_size": 100, "prefetch": 100},
                {"concurrency": 200, "batch_size": 100},
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
            "sweep": [{"concurrency": 10}, {"concurrency": 30}, {"concurrency": 100}],
            "sweep_jobs": 4000,
            "latency": None,
        },
        "floor": {
            "sweep": [
                {"batch_size": 1},
                {"batch_size": 10},
                {"batch_size": 100},
                {"batch_size": 250},
                {"batch_size": 500},
            ],
            "latency": None,
        },
    }


def label(opts: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in opts.items())


@dataclass
class Trial:
    procs: int
    opts: dict[str, Any]
    jobs: int
    seconds: float
    problems: list[str]
    reference: bool = False  # a reference setting (see grids), not a candidate for the best

    @property
    def rate(self) -> float:
        return self.jobs / self.seconds if self.seconds else 0.0


@dataclass
class SystemResult:
    name: str
    version: str = ""
    enqueue_batch: float = 0.0
    enqueue_one: float = 0.0
    trials: list[Trial] = field(default_factory=list)
    latency: dict[str, float] = field(default_factory=dict)
    latency_opts: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def candidates(self) -> list[Trial]:
        return [t for t in self.trials if not t.problems and not t.reference]

    def best(self, procs: int, full_jobs: int) -> Trial | None:
        ok = [t for t in self.candidates() if t.procs == procs and t.jobs == full_jobs]
        return max(ok, key=lambda t: t.rate, default=None)


# -- worker processes -------------------------------------------------------------------------------------
class Workers:
    def __init__(self, system: str, dsn: str, opts: dict[str, Any], count: int, tmp: Path) -> None:
        self.system, self.dsn, self.opts, self.count, self.tmp = system, dsn, opts, count, tmp
        self.procs: list[asyncio.subprocess.Process] = []
        self.outs: list[str] = []

    async def start(self) -> None:
        for i in range(self.count):
            out = str(self.tmp / f"{self.system}-{time.monotonic_ns()}-{i}.json")
            self.outs.append(out)
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                str(HERE / "worker.py"),
                self.system,
                "--dsn",
                self.dsn,
                "--out",
                out,
                *[a for k, v in self.opts.items() for a in ("--opt", f"{k}={v}")],
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
            )
            self.procs.append(proc)
        for proc in self.procs:
            await self._expect(proc, "READY", 120)

    async def _expect(self, proc: asyncio.subprocess.Process, word: str, timeout: float) -> None:
        assert proc.stdout is not None
        deadline = time.monotonic() + timeout
        while True:
            line = await asyncio.wait_for(proc.stdout.readline(), max(0.1, deadline - time.monotonic()))
            if not line:
                raise RuntimeError(f"{self.system} worker exited before {word} (rc={await proc.wait()})")
            if line.decode().strip() == word:
                return

    def send(self, word: str) -> None:
        for proc in self.procs:
            assert proc.stdin is not None
            if proc.returncode is None:
                proc.stdin.write(f"{word}\n".encode())

    def alive(self) -> bool:
        return all(p.returncode is None for p in self.procs)

    async def stop(self, timeout: float = 60) -> list[str]:
        self.send("STOP")
        problems = []
        for proc in self.procs:
            try:
                rc = await asyncio.wait_for(proc.wait(), timeout)
            except TimeoutError:
                proc.kill()
                rc = await proc.wait()
                problems.append(f"a worker did not stop within {timeout:g} s and was killed")
            if rc != 0:
                problems.append(f"a worker exited with status {rc}")
        return problems

    def records(self) -> tuple[list[int], dict[int, float]]:
        return load_records([o for o in self.outs if Path(o).exists()])


async def wait_drained(parent: Any, workers: Workers, timeout: float) -> tuple[float, list[str]]:
    """Seconds until no job is left unfinished, polling every 20 ms."""
    t0 = time.monotonic()
    while await parent.unfinished():
        if not workers.alive():
            return time.monotonic() - t0, ["a worker died while draining"]
        if time.monotonic() - t0 > timeout:
            return time.monotonic() - t0, [f"not drained after {timeout:g} s"]
        await asyncio.sleep(0.02)
    return time.monotonic() - t0, []


# -- phases -----------------------------------------------------------------------------------------------
async def fill(parent: Any, n: int) -> float:
    """Enqueue n jobs (keys 0..n-1) in batches; returns jobs/s."""
    t0 = time.monotonic()
    for start in range(0, n, ENQUEUE_CHUNK):
        await parent.enqueue_batch([{"k": k} for k in range(start, min(n, start + ENQUEUE_CHUNK))])
    return n / (time.monotonic() - t0)


async def enqueue_one_by_one(parent: Any, n: int) -> float:
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
    seconds, problems = await wait_drained(parent, workers, timeout=max(120.0, n / 50))
    seconds = time.monotonic() - t0
    problems += await workers.stop()
    keys, _ = workers.records()
    problems += exactly_once(keys, range(n)) + await parent.verify(n)
    trial = Trial(procs, opts, n, seconds, problems)
    status = "OK" if not problems else "FAILED: " + "; ".join(problems)
    print(
        f"  drain  {name:<13} procs={procs} {label(opts):<32} {n:>6} jobs {seconds:7.2f} s "
        f"{trial.rate:9.0f} jobs/s  exactly-once {status}",
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
    enqueued: dict[int, float] = {}
    total = n + LATENCY_WARMUP
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
    dist = {"skiplock": "skiplock", "pgqueuer": "pgqueuer", "procrastinate": "procrastinate"}.get(name)
    if dist is None:
        return f"asyncpg {importlib.metadata.version('asyncpg')}"
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "?"


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
            two = grid["sweep"] if grid.get("two_all") else [best_opts]
            for opts in two:
                res.trials.append(await drain(parent, name, dsn, opts, 2, n, tmp, False))
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
def fmt_rate(v: float | None) -> str:
    return "—" if not v else f"{v:,.0f}"


def fmt_ratio(a: float | None, b: float | None, inverse: bool = False) -> str:
    if not isinstance(a, (int, float)) or not isinstance(b, (int, float)) or not a or not b:
        return "—"
    return f"{(b / a if inverse else a / b):.2f}×"


Target = tuple[str, bool | None, str]


def report(results: dict[str, SystemResult], args: argparse.Namespace) -> tuple[str, list[Target]]:
    n = args.jobs
    sk = results.get("skiplock")
    cols = [s for s in ORDER if s in results]
    ratio_to = [s for s in ("pgqueuer", "procrastinate", "floor") if s in results]

    def row(title: str, get: Any, fmt: Any, lower_better: bool = False) -> str:
        vals = {s: get(results[s]) for s in cols}
        cells = [fmt(vals[s]) for s in cols]
        ratios = [fmt_ratio(vals.get("skiplock"), vals[s], inverse=lower_better) for s in ratio_to]
        return "| " + " | ".join([title, *cells, *ratios]) + " |"

    def best_rate(procs: int) -> Any:
        return lambda r: b.rate if (b := r.best(procs, n)) else None

    def lat(q: str) -> Any:
        return lambda r: r.latency.get(q)

    head = "| metric | " + " | ".join(cols) + " | " + " | ".join(f"Skiplock vs {s}" for s in ratio_to) + " |"
    sep = "|" + "---|" * (1 + len(cols) + len(ratio_to))
    lines = [
        head,
        sep,
        row("enqueue, batches of 1000 (jobs/s)", lambda r: r.enqueue_batch, fmt_rate),
        row("enqueue, one by one (jobs/s)", lambda r: r.enqueue_one, fmt_rate),
        row(f"drain {n:,} no-op jobs, 1 process (jobs/s, best setting)", best_rate(1), fmt_rate),
        row(f"drain {n:,} no-op jobs, 2 processes (jobs/s)", best_rate(2), fmt_rate),
        row("enqueue→start latency p50 (ms)", lat("p50"), lambda v: "—" if v is None else f"{v:.2f}", True),
        row("enqueue→start latency p95 (ms)", lat("p95"), lambda v: "—" if v is None else f"{v:.2f}", True),
        row("enqueue→start latency p99 (ms)", lat("p99"), lambda v: "—" if v is None else f"{v:.2f}", True),
        row("exactly once, every run", lambda r: "yes" if not r.problems else "**NO**", str),
    ]
    lines.append("")
    lines.append(
        "Ratios are Skiplock ÷ peer for throughput and peer ÷ Skiplock for latency: above 1× Skiplock is "
        "better. “best setting” is the fastest one-process setting below; the two-process run uses it."
    )
    lines.append("")
    lines.append("Every drain run (one row per run):")
    lines.append("")
    lines.append("| system | processes | settings | jobs | seconds | jobs/s | exactly once |")
    lines.append("|---|---|---|---|---|---|---|")
    for s in cols:
        for t in results[s].trials:
            lines.append(
                f"| {s} | {t.procs} | {label(t.opts)} | {t.jobs:,} | {t.seconds:.2f} | {t.rate:,.0f} | "
                f"{'yes' if not t.problems else 'NO: ' + '; '.join(t.problems)} |"
            )
    lines.append("")
    for s in cols:
        lt = results[s].latency
        if lt:
            lines.append(
                f"- {s}: latency measured at {label(results[s].latency_opts)}; "
                f"max {lt.get('max', float('nan')):.2f} ms over {lt.get('n', 0)} jobs"
            )
    for s in cols:
        for note in results[s].notes:
            lines.append(f"- {s}: {note}")

    targets: list[Target] = []
    if sk:
        sk1 = sk.best(1, n)
        pq1 = results["pgqueuer"].best(1, n) if "pgqueuer" in results else None
        fl1 = results["floor"].best(1, n) if "floor" in results else None

        def check(title: str, ok: bool | None, detail: str) -> None:
            targets.append((title, ok, detail))

        if sk1 and pq1:
            check(
                "drain, 1 process ≥ 1.7× pgqueuer at its best batch size",
                sk1.rate >= 1.7 * pq1.rate,
                f"{sk1.rate:,.0f} vs {pq1.rate:,.0f} jobs/s ({label(pq1.opts)}) = {sk1.rate / pq1.rate:.2f}×",
            )
        else:
            check("drain, 1 process ≥ 1.7× pgqueuer at its best batch size", None, "not measured")
        if sk1 and fl1:
            check(
                "drain, 1 process ≥ 60% of the raw-SQL floor",
                sk1.rate >= 0.6 * fl1.rate,
                f"{sk1.rate:,.0f} vs {fl1.rate:,.0f} jobs/s ({label(fl1.opts)}) = {100 * sk1.rate / fl1.rate:.0f}%",
            )
        else:
            check("drain, 1 process ≥ 60% of the raw-SQL floor", None, "not measured")
        p50, p99 = sk.latency.get("p50"), sk.latency.get("p99")
        check(
            "latency p50 ≤ 2 ms",
            None if p50 is None else p50 <= 2.0,
            "not measured" if p50 is None else f"{p50:.2f} ms",
        )
        check(
            "latency p99 ≤ 5 ms",
            None if p99 is None else p99 <= 5.0,
            "not measured" if p99 is None else f"{p99:.2f} ms",
        )
        if "pgqueuer" in results and sk.enqueue_one and results["pgqueuer"].enqueue_one:
            pq = results["pgqueuer"].enqueue_one
            check(
                "enqueue one by one ≥ pgqueuer's",
                sk.enqueue_one >= pq,
                f"{sk.enqueue_one:,.0f} vs {pq:,.0f} jobs/s = {sk.enqueue_one / pq:.2f}×",
            )
        else:
            check("enqueue one by one ≥ pgqueuer's", None, "not measured")
        check(
            "every job completed exactly once",
            not any(r.problems for r in results.values()),
            "; ".join(f"{s}: {p}" for s, r in results.items() for p in r.problems) or "all runs verified",
        )
    lines.append("")
    lines.append("Targets (Skiplock):")
    lines.append("")
    for title, ok, detail in targets:
        mark = "**met**" if ok else ("not measured" if ok is None else "**MISSED**")
        lines.append(f"- {title}: {mark} — {detail}")
    return "\n".join(lines), targets


async def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
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


README_HEAD = """# Queue benchmark

Skiplock side by side with [pgqueuer](https://github.com/janbjorge/pgqueuer),
[procrastinate](https://github.com/procrastinate-org/procrastinate) and a raw-SQL floor, on the same
PostgreSQL, in one run.

```
pip install -e '.[bench]'          # pgqueuer and procrastinate
python bench/queue/run.py          # full run: 20,000 jobs, rewrites this file (10-15 min on 2 busy cores)
python bench/queue/run.py --quick  # smoke test: 2,000 jobs, fewer settings, about a minute
```

PostgreSQL comes from `$BENCH_DSN` (default `postgresql://postgres@127.0.0.1:5432/postgres`); the user must be
able to create databases. Options: `--jobs N`, `--one-by-one N`, `--latency-jobs N`, `--systems a,b`.

## What is measured

Every system gets a fresh database (`CREATE DATABASE`, dropped at the end), and its own worker code runs in
separate OS processes (`worker.py`), started and connected before the clock starts.

1. **Enqueue**: jobs/s for one by one (one statement and commit per job, on one connection) and in batches of
   1000 per statement: Skiplock `enqueue` / `enqueue_many` with `build_job("noop", …)`, pgqueuer
   `Queries.enqueue`, procrastinate `defer_async` / `batch_defer_async`, the floor an `INSERT … unnest` + NOTIFY.
2. **Drain**: N no-op jobs already queued (then `ANALYZE`), the workers are told to go, and the clock stops
   when the database holds no unfinished job (polled every 20 ms). Each system's settings are swept with one
   process (pgqueuer `batch_size` 10 to 500, procrastinate `concurrency`, Skiplock `concurrency`/`batch_size` up
   to 500 with a local buffer, `prefetch`, of up to two batches, the floor batch sizes 1 to 500: every system up
   to the same batch size per statement); the best is run again with two processes.
3. **Latency**: one idle worker (best setting); jobs enqueued one at a time, 10 ms apart; latency = the
   handler's start time (`time.monotonic()`, inside the handler) − the time taken just before the enqueue
   call, on the same host clock. p50/p95/p99 reported over N jobs (default 1000), after 20 jobs that warm
   each system up (each connection's first statements are planned then) and are not counted.
4. **Exactly once**: every handler records its job's key; after each run the keys of all worker processes
   must be exactly the expected ones, each once, and the database must agree (Skiplock: all `completed` with
   `attempts = 1`; pgqueuer: queue empty and every job logged `successful`; procrastinate: all `succeeded`,
   none retried; floor: all done). Any failure is printed and the command exits with status 1.

Skiplock runs its real `Worker` (as `python -m app.worker` builds it, full dispatch table) on the built-in
`noop` job type; the only change is a wrapper around `noop` that records the execution and, like every peer's
handler, returns no result. Skiplock's built-in `noop` echoes its params as the job's result; the setting
`result=echo` runs it once per run, for reference and never as the best setting, so each run also shows what
storing that result costs (a JSON encode in the worker and a `jsonb` value per row).

Every worker process, whatever the system, runs on the same event loop: uvloop when it is installed (as
pgqueuer's `pgq run`, uvicorn and `python -m app.worker` do), else asyncio's; `BENCH_LOOP=asyncio` forces
asyncio's. The loop used is named in the results.

The machine is shared: every number moves with its load (the load average at the start and the end of the
run is recorded below), latency most of all, since a 10 ms enqueue spacing on a saturated 2-core host
measures scheduling delay as much as the queue. Compare systems within one run, not across runs.

Where Skiplock's time goes, with evidence and suggested fixes: [FINDINGS.md](FINDINGS.md).
What dependency support costs the hot path, and chain and fan-out/fan-in throughput: [WORKFLOWS.md](WORKFLOWS.md)
(`bench/queue/workflows.py`).
For profiling, `BENCH_PROFILE_DIR=DIR` makes every worker process write a cProfile dump there.

## Targets

- drain with one process ≥ 1.7× pgqueuer at its best batch size, and ≥ 60% of the raw-SQL floor;
- enqueue→start latency p50 ≤ 2 ms and p99 ≤ 5 ms;
- enqueue one by one ≥ pgqueuer's.
"""


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, help="jobs per drain run (default 20000; --quick 2000)")
    parser.add_argument("--one-by-one", type=int, help="jobs enqueued one by one (default 2000; --quick 300)")
    parser.add_argument("--latency-jobs", type=int, help="jobs in the latency run (default 1000; --quick 100)")
    parser.add_argument("--quick", action="store_true", help="small smoke run, about a minute")
    parser.add_argument("--systems", default=",".join(ORDER), help="comma-separated subset of " + ",".join(ORDER))
    parser.add_argument(
        "--readme",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="rewrite README.md with the results (default: on for full runs)",
    )
    parser.add_argument("--json", help="also write raw results to this file")
    args = parser.parse_args()
    args.jobs = args.jobs or (2000 if args.quick else 20000)
    args.one_by_one = args.one_by_one or (300 if args.quick else 2000)
    args.latency_jobs = args.latency_jobs or (100 if args.quick else 1000)
    write_readme = (not args.quick) if args.readme is None else args.readme
    systems = [s for s in args.systems.split(",") if s]
    unknown = set(systems) - set(ORDER)
    if unknown:
        parser.error(f"unknown systems: {', '.join(sorted(unknown))}")

    all_grids = grids(args.quick)
    host = await machine()
    print(f"machine: {host}", flush=True)
    results: dict[str, SystemResult] = {}
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="queue-bench-") as tmp:
        for name in [s for s in ORDER if s in systems]:
            results[name] = await bench_system(name, args, all_grids[name], Path(tmp))
    took = time.monotonic() - started
    host += f"; load average {', '.join(f'{x:.1f}' for x in os.getloadavg())} at the end"
    table, _targets = report(results, args)
    command = (
        "python bench/queue/run.py"
        + (" --quick" if args.quick else "")
        + ("" if args.jobs == (2000 if args.quick else 20000) else f" --jobs {args.jobs}")
    )
    versions = ", ".join(f"{s} {results[s].version}" for s in results)
    print("\n" + table + "\n", flush=True)
    if write_readme:
        stamp = time.strftime("%Y-%m-%d %H:%M %Z")
        body = (
            README_HEAD + f"\n## Results\n\nCommand: `{command}` ({stamp}, took {took / 60:.1f} min)\n\n"
            f"Machine: {host}.\n\nVersions: {versions}.\n\n{table}\n"
        )
        (HERE / "README.md").write_text(body)
        print(f"wrote {HERE / 'README.md'}")
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    s: {
                        "enqueue_batch": r.enqueue_batch,
                        "enqueue_one": r.enqueue_one,
                        "latency": r.latency,
                        "trials": [
                            {
                                "procs": t.procs,
                                "opts": t.opts,
                                "jobs": t.jobs,
                                "seconds": t.seconds,
                                "rate": t.rate,
                                "problems": t.problems,
                            }
                            for t in r.trials
                        ],
                        "problems": r.problems,
                    }
                    for s, r in results.items()
                },
                indent=2,
            )
        )
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


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
