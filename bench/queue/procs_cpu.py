"""Where a many-process drain spends its CPU: `python bench/queue/procs_cpu.py PROCS [--jobs N] [--warm]
[--opt k=v ...]`, one Skiplock drain with PROCS worker processes, printed as one JSON line.

It reports jobs/s, the CPU time per job of the worker processes and of every PostgreSQL process (read from
`/proc` over the drain alone, so the host must be Linux and PostgreSQL local), when each process ran its first
job after GO (the earliest and the latest, then every process's), and how many jobs each process ran. With
`--warm` the workers are told GO on an empty queue and left to settle (connected, registered, idle); the jobs
are then enqueued in one transaction and the clock starts at its commit, which leaves each process's start-up
out of the drain. Run it in interleaved rounds (1, 8, 1, 8, ...) and compare medians: single runs on a shared
host move by 30% or more.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import run
import skiplock_sys
from common import exactly_once, load_records
from processes import Workers, wait_drained

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(match: bytes, anywhere: bool = False) -> float:
    """User and system CPU time of every process whose command line starts with (or holds) `match`."""
    total = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
            if not (match in cmd if anywhere else cmd.startswith(match)):
                continue
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except OSError:  # the process ended meanwhile
            continue
    return total / TICKS


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("procs", type=int)
    parser.add_argument("--jobs", type=int, default=20000)
    parser.add_argument("--warm", action="store_true", help="leave the processes' start-up out of the drain")
    parser.add_argument(
        "--opt", action="append", default=[], help="a worker setting, k=v (default: the best one-process one)"
    )
    args = parser.parse_args()
    opts: dict[str, Any] = {"concurrency": 500, "batch_size": 500, "prefetch": 1000}
    opts.update(o.split("=", 1) for o in args.opt)
    n = args.jobs
    db = f"bench_procs_cpu_{os.getpid()}"
    dsn = await run.create_database(db)
    parent = skiplock_sys.Parent()
    try:
        await parent.setup(dsn)
        await parent.open(dsn)
        await parent.reset()
        await run.fill(parent, n)
        await parent.analyze()
        if args.warm:
            await parent.reset()  # the statistics stay those of a full queue, as in a cold drain
        workers = Workers("skiplock", dsn, opts, args.procs, Path(tempfile.mkdtemp()))
        await workers.start()
        if args.warm:
            workers.send("GO")
            await asyncio.sleep(1.5)
            tx = parent.conn.transaction()
            await tx.start()
            await run.fill(parent, n)
        pg0 = cpu_seconds(b"postgres:")
        w0 = cpu_seconds(b"worker.py\x00skiplock", anywhere=True)
        t0 = time.monotonic()
        if args.warm:
            await tx.commit()
        else:
            workers.send("GO")
        _, problems = await wait_drained(parent, workers, 120)
        seconds = time.monotonic() - t0
        pg = cpu_seconds(b"postgres:") - pg0
        w = cpu_seconds(b"worker.py\x00skiplock", anywhere=True) - w0
        problems += await workers.stop()
        keys, _ = workers.records()
        problems += exactly_once(keys, range(n)) + await parent.verify(n)
        per = [load_records([o]) if Path(o).exists() else ([], {}) for o in workers.outs]
        firsts = sorted(min(starts.values()) for _, starts in per if starts)
        print(
            json.dumps(
                {
                    "procs": args.procs,
                    "warm": args.warm,
                    "jobs_per_s": round(n / seconds),
                    "seconds": round(seconds, 3),
                    "pg_cpu_us_per_job": round(pg / n * 1e6, 1),
                    "worker_cpu_us_per_job": round(w / n * 1e6, 1),
                    "first_job_ms_after_go": [round(1000 * (firsts[0] - t0)), round(1000 * (firsts[-1] - t0))]
                    if firsts
                    else None,
                    "first_job_ms_each": [round(1000 * (f - t0)) for f in firsts],
                    "jobs_per_process": [len(k) for k, _ in per],
                    "problems": problems,
                }
            ),
            flush=True,
        )
    finally:
        await parent.close()
        await run.drop_database(db)


if __name__ == "__main__":
    asyncio.run(main())
