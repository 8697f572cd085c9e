"""GET /jobs filtered by type among many jobs: a rare type, a common one, and the unfiltered first page.

    PYTHONPATH=backend python bench/queue/listing.py --jobs 300000
    PYTHONPATH=backend python bench/queue/listing.py --jobs 300000 --revision 0011   # without the type index

On a fresh database migrated to `--revision`: `--jobs` no-op jobs enqueued in batches of 1,000 and 20 `sleep`
jobs after them (the rare type), then the requests through the real API app (as backlog.py makes them), first
with every job pending, then with every job completed (one UPDATE, then VACUUM ANALYZE). Median and maximum
of `--requests` requests each, after two that warm up. The full-size measurement is backlog.py's.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import app.jobs  # noqa: E402,F401  (registers noop and sleep)
import asyncpg  # noqa: E402
import httpx  # noqa: E402
from app.core import migrations  # noqa: E402
from app.core.config import Settings  # noqa: E402
from app.main import create_app  # noqa: E402
from backlog import fill, timed  # noqa: E402
from common import create_database, drop_database  # noqa: E402

DB = "skiplock_bench_listing"


async def endpoints(dsn: str, status: str, requests: int) -> None:
    app = create_app(Settings(database_url=dsn, worker_enabled=False, bind_host="127.0.0.1"))
    urls = [
        "/jobs?job_type=sleep",
        f"/jobs?job_type=sleep&status={status}",
        "/jobs?job_type=noop",
        "/jobs?limit=50",
        f"/jobs?status={status}",
    ]
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench", timeout=120) as http:
            for url in urls:
                r = await timed(http, url, requests)
                print(f"  {r['url']:<40} p50 {r['p50']:8.1f} ms  max {r['max']:8.1f} ms  {r['note']}", flush=True)


async def run(args: argparse.Namespace) -> None:
    dsn = await create_database(args.db)
    try:
        await asyncio.to_thread(migrations.upgrade, dsn, args.revision)
        conn = await asyncpg.connect(dsn)
        try:
            started = time.monotonic()
            await fill(conn, args.jobs)
            await fill(conn, 20, "sleep", {"seconds": 0})
            await conn.execute("VACUUM ANALYZE jobs")
            print(f"{args.jobs:,} jobs pending (filled in {time.monotonic() - started:.0f} s):", flush=True)
            await endpoints(dsn, "pending", args.requests)
            await conn.execute(
                "UPDATE jobs SET status = 'completed', attempts = 1, started_at = now(), finished_at = now()"
            )
            await conn.execute("VACUUM ANALYZE jobs")
            print(f"{args.jobs:,} jobs completed:", flush=True)
            await endpoints(dsn, "completed", args.requests)
        finally:
            await conn.close()
    finally:
        await drop_database(args.db)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--jobs", type=int, default=300_000)
    p.add_argument("--requests", type=int, default=10)
    p.add_argument("--revision", default="head", help="migrate to this revision (0011: before the type index)")
    p.add_argument("--db", default=DB)
    asyncio.run(run(p.parse_args()))


if __name__ == "__main__":
    main()
