"""How fast the operator queries stay with a million jobs in the table.

    python bench/stats/run.py [--rows 1000000] [--database-url postgresql://…]

Creates a scratch database, migrates it, fills `jobs` with ROWS realistic rows (a mix of types, queues and
states, finished over the last week, a few thousand waiting), VACUUM ANALYZEs, then times each query behind
GET /stats, GET /metrics, GET /workers and GET /jobs (first page, filtered page, count) — median of 7 runs.
Writes the table into bench/stats/README.md.
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
from urllib.parse import urlsplit, urlunsplit

import asyncpg

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "backend"))

from app.core import migrations  # noqa: E402
from app.worker import stats  # noqa: E402

FILL = """
INSERT INTO jobs (job_type, queue, status, params, attempts, max_attempts, run_at, created_at, started_at,
                  finished_at, updated_at, result)
SELECT (ARRAY['noop','cut_analysis','restoration','training','health_check','prune_jobs'])[1 + g % 6],
       (ARRAY['default','media','ml','maintenance'])[1 + g % 4],
       CASE WHEN g % 500 = 0 THEN 'pending' WHEN g % 997 = 0 THEN 'retry' WHEN g % 50 = 0 THEN 'failed'
            WHEN g % 333 = 0 THEN 'cancelled' ELSE 'completed' END::job_status,
       '{}'::jsonb, 1 + (g % 50 = 0)::int, 4,
       now() - make_interval(secs => g % 604800), now() - make_interval(secs => g % 604800),
       now() - make_interval(secs => g % 604800),
       CASE WHEN g % 500 = 0 OR g % 997 = 0 THEN NULL
            ELSE now() - make_interval(secs => g % 604800) + make_interval(secs => (g % 97) / 10.0) END,
       now(), '{"ok": true}'::jsonb
FROM generate_series(1, $1) AS g
"""

LIST_PAGE = "SELECT * FROM jobs ORDER BY created_at DESC, id LIMIT 50"
LIST_FILTERED = (
    "SELECT * FROM jobs WHERE status = 'failed' AND job_type = 'restoration' ORDER BY created_at DESC, id LIMIT 50"
)
LIST_COUNT = "SELECT count(*) FROM jobs WHERE status = 'failed' AND job_type = 'restoration'"


async def timed(fn, runs: int = 7) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        await fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument(
        "--database-url", default=os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    )
    args = parser.parse_args()
    name = f"skiplock_bench_stats_{uuid.uuid4().hex[:6]}"
    admin = await asyncpg.connect(args.database_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = urlunsplit(urlsplit(args.database_url)._replace(path=f"/{name}"))
    try:
        await asyncio.to_thread(migrations.upgrade, url)
        conn = await asyncpg.connect(url)
        started = time.perf_counter()
        await conn.execute("ALTER TABLE jobs DISABLE TRIGGER jobs_events")
        await conn.execute(FILL, args.rows)
        await conn.execute("ALTER TABLE jobs ENABLE TRIGGER jobs_events")
        await conn.execute("VACUUM ANALYZE jobs")
        fill_s = time.perf_counter() - started
        rows = [
            ("GET /stats: counts by status, type, queue", lambda: stats.counts(conn)),
            ("GET /stats: queue depth and oldest job", lambda: stats.queue_depth(conn)),
            ("GET /stats: throughput per minute (15 min)", lambda: stats.throughput(conn, 15)),
            ("GET /stats: p50/p95 per type (15 min)", lambda: stats.durations(conn, 15)),
            ("GET /metrics: duration histogram (60 min)", lambda: stats.duration_histogram(conn, 60, [0.1, 1, 10, 60])),
            ("GET /metrics: retries and reaped totals", lambda: stats.totals(conn)),
            ("GET /workers", lambda: stats.workers(conn, 30)),
            ("GET /jobs first page", lambda: conn.fetch(LIST_PAGE)),
            ("GET /jobs filtered page", lambda: conn.fetch(LIST_FILTERED)),
            ("GET /jobs filtered total", lambda: conn.fetchval(LIST_COUNT)),
        ]
        results = [(label, await timed(fn)) for label, fn in rows]
        await conn.close()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
    lines = [f"| query ({args.rows:,} jobs) | median ms |", "|---|---:|"]
    lines += [f"| {label} | {ms:.1f} |" for label, ms in results]
    table = "\n".join(lines)
    print(table)
    print(f"(filled in {fill_s:.0f} s; {os.cpu_count()} cores)")
    readme = Path(__file__).with_name("README.md")
    readme.write_text(
        "# Operator queries with a million jobs\n\n"
        "`python bench/stats/run.py` (needs a PostgreSQL; `--database-url`, default the local server).\n\n"
        "Each figure is the median of 7 runs of the SQL behind an endpoint, on a table of "
        f"{args.rows:,} jobs (mixed types, queues and states over a week; VACUUM ANALYZEd), on a "
        f"{os.cpu_count()}-core machine.\n\n" + table + "\n"
    )


if __name__ == "__main__":
    asyncio.run(main())
