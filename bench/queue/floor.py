"""The raw-SQL floor: what a minimal queue on the same PostgreSQL does with nothing but asyncpg.

One small table; enqueue is an INSERT (unnest for a batch) plus one NOTIFY; a worker process runs `loops`
claim loops (1 by default), each on its own connection: claim a batch with FOR UPDATE SKIP LOCKED, run the
handlers, acknowledge the batch in one UPDATE. With several loops one loop's claim overlaps another's
acknowledgement and handlers (pipelining), which a single loop cannot do. Jobs stay in the table, marked
done, as Skiplock's do. Batch sizes 1 to 500 are measured.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

import asyncpg

NAME = "floor"
CHANNEL = "floor_jobs"

SCHEMA = """
CREATE TABLE floor_jobs (
    id bigserial PRIMARY KEY,
    payload jsonb NOT NULL,
    status smallint NOT NULL DEFAULT 0  -- 0 waiting, 1 running, 2 done
);
CREATE INDEX floor_jobs_waiting ON floor_jobs (id) WHERE status = 0;
"""

ENQUEUE = f"""
WITH ins AS (INSERT INTO floor_jobs (payload) SELECT unnest($1::jsonb[]) RETURNING 1)
SELECT count(*), pg_notify('{CHANNEL}', '') FROM ins
"""

CLAIM = """
UPDATE floor_jobs SET status = 1
WHERE id IN (SELECT id FROM floor_jobs WHERE status = 0 ORDER BY id FOR UPDATE SKIP LOCKED LIMIT $1)
RETURNING id, payload::text
"""

ACK = "UPDATE floor_jobs SET status = 2 WHERE id = ANY($1::bigint[])"


class Parent:
    name = NAME

    async def setup(self, dsn: str) -> None:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(SCHEMA)
        finally:
            await conn.close()

    async def open(self, dsn: str) -> None:
        self.conn = await asyncpg.connect(dsn)

    async def close(self) -> None:
        await self.conn.close()

    async def enqueue_batch(self, payloads: list[dict[str, Any]]) -> None:
        await self.conn.fetchval(ENQUEUE, [json.dumps(p) for p in payloads])

    async def enqueue_one(self, payload: dict[str, Any]) -> None:
        await self.conn.fetchval(ENQUEUE, [json.dumps(payload)])

    async def unfinished(self) -> bool:
        return bool(await self.conn.fetchval("SELECT EXISTS (SELECT 1 FROM floor_jobs WHERE status <> 2)"))

    async def verify(self, n: int) -> list[str]:
        row = await self.conn.fetchrow(
            "SELECT count(*) AS total, count(*) FILTER (WHERE status = 2) AS done FROM floor_jobs"
        )
        if row["total"] != n or row["done"] != n:
            return [f"database: {row['done']}/{row['total']} jobs done, expected {n}"]
        return []

    async def reset(self) -> None:
        await self.conn.execute("TRUNCATE floor_jobs")

    async def analyze(self) -> None:
        await self.conn.execute("ANALYZE floor_jobs")


async def worker(dsn: str, opts: dict[str, Any], record: Any) -> tuple[Any, Any]:
    batch = int(opts["batch_size"])
    loops = int(opts.get("loops", 1))
    conns = [await asyncpg.connect(dsn) for _ in range(loops)]
    listen = await asyncpg.connect(dsn)
    wake = asyncio.Event()
    stopping = asyncio.Event()
    await listen.add_listener(CHANNEL, lambda *_: wake.set())

    async def handle(payload: dict[str, Any]) -> None:  # the no-op job
        record(payload["k"])

    async def loop(conn: asyncpg.Connection) -> None:
        while not stopping.is_set():
            wake.clear()
            rows = await conn.fetch(CLAIM, batch)
            if rows:
                for _id, payload in rows:
                    await handle(json.loads(payload))
                await conn.execute(ACK, [r[0] for r in rows])
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), 1.0)

    async def run() -> None:
        try:
            await asyncio.gather(*(loop(c) for c in conns))
        finally:
            for c in conns:
                await c.close()
            await listen.close()

    def stop() -> None:
        stopping.set()
        wake.set()

    return (lambda: asyncio.ensure_future(run())), stop
