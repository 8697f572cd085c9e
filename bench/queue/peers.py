"""The peers: pgqueuer and procrastinate, each through its own documented API.

pgqueuer: `Queries.install`, `Queries.enqueue` (lists for a batch), `QueueManager` + `@entrypoint`,
          `QueueManager.run(batch_size=...)` on an asyncpg connection (`AsyncpgDriver`).
procrastinate: `App(connector=PsycopgConnector(...))`, `@app.task`, `defer_async` / `batch_defer_async`,
          `run_worker_async(concurrency=...)`.
Every handler records (job key, start time) and does nothing else.
"""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

import asyncpg


# -- pgqueuer -------------------------------------------------------------------------------------------
class PgqueuerParent:
    name = "pgqueuer"
    entrypoint = "bench"

    async def setup(self, dsn: str) -> None:
        from pgqueuer.db import AsyncpgDriver
        from pgqueuer.queries import Queries

        conn = await asyncpg.connect(dsn)
        try:
            await Queries(AsyncpgDriver(conn)).install()
        finally:
            await conn.close()

    async def open(self, dsn: str) -> None:
        from pgqueuer.db import AsyncpgDriver
        from pgqueuer.queries import Queries

        self.conn = await asyncpg.connect(dsn)
        self.queries = Queries(AsyncpgDriver(self.conn))
        self.side = await asyncpg.connect(dsn)  # bookkeeping, outside the driver's lock

    async def close(self) -> None:
        await self.conn.close()
        await self.side.close()

    async def enqueue_batch(self, payloads: list[dict[str, Any]]) -> None:
        n = len(payloads)
        await self.queries.enqueue([self.entrypoint] * n, [json.dumps(p).encode() for p in payloads], [0] * n)

    async def enqueue_one(self, payload: dict[str, Any]) -> None:
        await self.queries.enqueue(self.entrypoint, json.dumps(payload).encode())

    async def unfinished(self) -> bool:
        return bool(await self.side.fetchval("SELECT EXISTS (SELECT 1 FROM pgqueuer)"))

    async def verify(self, n: int) -> list[str]:
        left = await self.side.fetchval("SELECT count(*) FROM pgqueuer")
        done = await self.side.fetchval("SELECT count(DISTINCT job_id) FROM pgqueuer_log WHERE status = 'successful'")
        problems = []
        if left:
            problems.append(f"database: {left} job(s) still in the pgqueuer table")
        if done != n:
            problems.append(f"database: {done} job(s) logged successful, expected {n}")
        return problems

    async def reset(self) -> None:
        await self.side.execute("TRUNCATE pgqueuer, pgqueuer_log, pgqueuer_statistics")

    async def analyze(self) -> None:
        await self.side.execute("ANALYZE pgqueuer")


async def pgqueuer_worker(dsn: str, opts: dict[str, Any], record: Any) -> tuple[Any, Any]:
    from pgqueuer.db import AsyncpgDriver
    from pgqueuer.models import Job
    from pgqueuer.qm import QueueManager
    from pgqueuer.queries import Queries

    conn = await asyncpg.connect(dsn)
    qm = QueueManager(Queries(AsyncpgDriver(conn)))

    @qm.entrypoint(PgqueuerParent.entrypoint)
    async def bench(job: Job) -> None:
        record(json.loads(job.payload)["k"])

    async def run() -> None:
        try:
            await qm.run(batch_size=int(opts["batch_size"]), dequeue_timeout=timedelta(seconds=30))
        finally:
            await conn.close()

    return (lambda: asyncio.ensure_future(run())), qm.shutdown.set


# -- procrastinate --------------------------------------------------------------------------------------
def _procrastinate_app(dsn: str, pool_size: int) -> Any:
    from procrastinate import App, PsycopgConnector

    return App(connector=PsycopgConnector(conninfo=dsn, min_size=1, max_size=pool_size))


class ProcrastinateParent:
    name = "procrastinate"

    async def setup(self, dsn: str) -> None:
        app = _procrastinate_app(dsn, 2)
        async with app.open_async():
            await app.schema_manager.apply_schema_async()

    async def open(self, dsn: str) -> None:
        self.app = _procrastinate_app(dsn, 2)

        @self.app.task(name="bench")
        async def bench(k: int, t: float | None = None) -> None:  # runs in the workers only
            pass

        self.task = bench
        await self.app.open_async()
        self.side = await asyncpg.connect(dsn)

    async def close(self) -> None:
        await self.app.close_async()
        await self.side.close()

    async def enqueue_batch(self, payloads: list[dict[str, Any]]) -> None:
        await self.task.batch_defer_async(*payloads)

    async def enqueue_one(self, payload: dict[str, Any]) -> None:
        await self.task.defer_async(**payload)

    async def unfinished(self) -> bool:
        return bool(
            await self.side.fetchval("SELECT EXISTS (SELECT 1 FROM procrastinate_jobs WHERE status <> 'succeeded')")
        )

    async def verify(self, n: int) -> list[str]:
        row = await self.side.fetchrow(
            """SELECT count(*) AS total, count(*) FILTER (WHERE status = 'succeeded') AS ok,
                      count(*) FILTER (WHERE attempts > 1) AS retried FROM procrastinate_jobs"""
        )
        problems = []
        if row["total"] != n or row["ok"] != n:
            problems.append(f"database: {row['ok']}/{row['total']} jobs succeeded, expected {n}")
        if row["retried"]:
            problems.append(f"database: {row['retried']} job(s) retried")
        return problems

    async def reset(self) -> None:
        await self.side.execute("TRUNCATE procrastinate_jobs, procrastinate_workers CASCADE")

    async def analyze(self) -> None:
        await self.side.execute("ANALYZE procrastinate_jobs")


async def procrastinate_worker(dsn: str, opts: dict[str, Any], record: Any) -> tuple[Any, Any]:
    concurrency = int(opts["concurrency"])
    app = _procrastinate_app(dsn, concurrency + 4)

    @app.task(name="bench")
    async def bench(k: int, t: float | None = None) -> None:
        record(k)

    await app.open_async()
    inner: list[asyncio.Task[None]] = []

    async def run() -> None:
        task = asyncio.ensure_future(
            app.run_worker_async(concurrency=concurrency, install_signal_handlers=False, listen_notify=True, wait=True)
        )
        inner.append(task)
        try:
            await task
        except asyncio.CancelledError:
            pass
        finally:
            await app.close_async()

    def stop() -> None:
        for t in inner:
            t.cancel()

    return (lambda: asyncio.ensure_future(run())), stop
