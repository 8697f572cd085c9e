"""Skiplock under the benchmark: its public queue API (`enqueue`, `enqueue_many`, `build_job`) to enqueue,
and its real `Worker` (as `python -m app.worker` builds it) to drain, running the built-in `noop` type.

The only change to the worker: `noop` is wrapped so that each execution is recorded (job key, start time) and,
like the peers' handlers, returns no result; with the setting `result=echo` the real noop handler runs after
the record and its result (the params echoed back) is stored. Validation, the executor, claiming and acking
are Skiplock's own.
"""

from __future__ import annotations

import asyncio
import dataclasses
import tempfile
from pathlib import Path
from typing import Any

import asyncpg

NAME = "skiplock"
JOB_TYPE = "noop"


class Parent:
    """The enqueueing side, in the benchmark's own process."""

    name = NAME

    async def setup(self, dsn: str) -> None:
        from app.core import migrations

        await asyncio.to_thread(migrations.upgrade, dsn)

    async def open(self, dsn: str) -> None:
        import app.jobs  # noqa: F401  (registers noop)
        from app.worker import queue
        from app.worker.dispatcher import build_job

        self._queue, self._build = queue, build_job
        self.conn = await asyncpg.connect(dsn)

    async def close(self) -> None:
        await self.conn.close()

    def _job(self, payload: dict[str, Any]) -> Any:
        return self._build(JOB_TYPE, payload, default_max_attempts=4)

    async def enqueue_batch(self, payloads: list[dict[str, Any]]) -> None:
        await self._queue.enqueue_many(self.conn, [self._job(p) for p in payloads])

    async def enqueue_one(self, payload: dict[str, Any]) -> None:
        await self._queue.enqueue(self.conn, self._job(payload))

    async def unfinished(self) -> bool:
        # Polled every 20 ms while the workers drain, so it must cost the database next to nothing: the
        # index of active jobs answers it (a job here is pending, running or completed; a failed one would be
        # caught by `verify`). Planned after an ANALYZE that saw every job pending, the query would scan the
        # table instead, through every completed row, up to ~5 ms a poll near the end of a drain of 20,000.
        async with self.conn.transaction():
            await self.conn.execute("SET LOCAL enable_seqscan = off")
            return bool(
                await self.conn.fetchval(
                    "SELECT EXISTS (SELECT 1 FROM jobs WHERE status IN ('pending', 'retry', 'processing')"
                    " AND job_type = $1)",
                    JOB_TYPE,
                )
            )

    async def verify(self, n: int) -> list[str]:
        row = await self.conn.fetchrow(
            """SELECT count(*) AS total, count(*) FILTER (WHERE status = 'completed') AS completed,
                      count(*) FILTER (WHERE attempts <> 1) AS reattempted FROM jobs WHERE job_type = $1""",
            JOB_TYPE,
        )
        problems = []
        if row["total"] != n or row["completed"] != n:
            problems.append(f"database: {row['completed']}/{row['total']} jobs completed, expected {n}")
        if row["reattempted"]:
            problems.append(f"database: {row['reattempted']} job(s) with attempts != 1")
        return problems

    async def reset(self) -> None:
        await self.conn.execute("TRUNCATE jobs, workers CASCADE")

    async def analyze(self) -> None:
        await self.conn.execute("ANALYZE jobs")

    async def stats(self) -> dict[str, Any]:
        row = await self.conn.fetchrow(
            "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = 'jobs'"
        )
        return dict(row) if row else {}


async def worker(dsn: str, opts: dict[str, Any], record: Any) -> tuple[Any, Any]:
    """Build the worker as `python -m app.worker` does; returns (start, stop) for the process protocol."""
    from app.core.config import Settings
    from app.runtime import Runtime
    from app.worker.dispatcher import DISPATCH_TABLE

    storage = Path(tempfile.mkdtemp(prefix="skiplock-bench-"))
    settings = Settings(
        database_url=dsn, worker_enabled=False, storage_dir=storage, db_pool_size=int(opts.get("pool", 10))
    )
    runtime = await Runtime.start(settings, migrate=False)

    real = DISPATCH_TABLE[JOB_TYPE]
    echo = opts.get("result") == "echo"

    async def recorded_noop(ctx: Any, params: Any) -> Any:
        record(params.model_extra["k"])
        # Like the peers' handlers, the job returns no result, unless `result=echo` asks for the built-in
        # noop's own (its params echoed back, encoded and stored as the job's result).
        return await real.handler(ctx, params) if echo else None

    registry = dict(DISPATCH_TABLE)
    if opts.get("uncapped"):  # experiment only: leave out job types with a concurrency cap
        registry = {k: v for k, v in registry.items() if not v.concurrency}
    registry[JOB_TYPE] = dataclasses.replace(real, handler=recorded_noop)
    # Settings not named keep their defaults (those of `python -m app.worker`).
    overrides: dict[str, Any] = {k: int(opts[k]) for k in ("concurrency", "batch_size") if k in opts}
    if "prefetch" in opts:
        overrides["prefetch"] = opts["prefetch"] if opts["prefetch"] == "auto" else int(opts["prefetch"])
    w = runtime.worker(registry, **overrides)

    async def run() -> None:
        try:
            await w.run()
        finally:
            await runtime.close()

    return (lambda: asyncio.ensure_future(run())), w.stop
