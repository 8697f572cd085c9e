"""Skiplock for host code: enqueue in the caller's own transaction, and wait for a job's outcome.

    from app.worker import enqueue, wait

    async with session.begin():                      # the host's SQLAlchemy AsyncSession
        session.add(order)
        job_id = await enqueue(session, "send_invoice", {"order": order.number})
    outcome = await wait(pool, job_id, timeout=30)   # woken by NOTIFY when the job settles

The job is written by the caller's transaction: rolled back with it, and visible to workers (who are woken
by a NOTIFY that PostgreSQL delivers only at commit) once it commits. Jobs may depend on other jobs
(`depends_on`): they wait until every dependency completed, and are cancelled when one fails for good or is
cancelled, unless `run_anyway`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeAlias

import asyncpg
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.worker import queue as queue_sql
from app.worker import workflows
from app.worker.dispatcher import build_job
from app.worker.ticks import TickLease

DEFAULT_MAX_ATTEMPTS = 4  # the MAX_JOB_RETRIES setting's default (3) plus the first attempt
Database: TypeAlias = AsyncSession | asyncpg.Connection


@dataclass(frozen=True)
class JobRequest:
    """One job of a batch for :func:`enqueue_many`. Its `id` is chosen here, so that later jobs of the same
    batch can name it in `depends_on`."""

    job_type: str
    params: dict[str, Any] | BaseModel | None = None
    depends_on: Sequence[uuid.UUID] = ()
    run_anyway: bool = False
    queue: str | None = None
    priority: int | None = None
    run_at: datetime | None = None
    idempotency_key: str | None = None
    max_attempts: int | None = None
    asset_id: uuid.UUID | None = None
    id: uuid.UUID = field(default_factory=uuid.uuid4)


@dataclass(frozen=True)
class JobOutcome:
    """How a job ended: `status` is completed, failed or cancelled."""

    id: uuid.UUID
    job_type: str
    status: str
    result: dict[str, Any] | None
    error: str | None

    @property
    def ok(self) -> bool:
        return self.status == "completed"


async def connection_of(db: Database) -> asyncpg.Connection:
    """The asyncpg connection under `db`, inside its current transaction (a session begins one if needed)."""
    if isinstance(db, AsyncSession):
        raw = await (await db.connection()).get_raw_connection()
        driver = raw.driver_connection
        if not isinstance(driver, asyncpg.Connection):
            raise TypeError("Skiplock needs a session on the asyncpg driver (postgresql+asyncpg://)")
        if not driver.is_in_transaction():
            # SQLAlchemy's asyncpg adapter opens the database transaction with its first statement: until
            # then, statements sent on the driver's connection would commit on their own.
            await db.execute(text("SELECT 1"))
        return driver
    return db


def _step(request: JobRequest, default_max_attempts: int) -> workflows.Step:
    params = request.params.model_dump(mode="json") if isinstance(request.params, BaseModel) else request.params
    job = build_job(
        request.job_type,
        params,
        default_max_attempts=default_max_attempts,
        queue=request.queue,
        priority=request.priority,
        run_at=request.run_at,
        idempotency_key=request.idempotency_key,
        asset_id=request.asset_id,
        max_attempts=request.max_attempts,
    )
    return workflows.Step(job, request.id, tuple(request.depends_on), request.run_anyway)


async def enqueue(
    db: Database,
    job_type: str,
    params: dict[str, Any] | BaseModel | None = None,
    *,
    depends_on: Sequence[uuid.UUID] = (),
    run_anyway: bool = False,
    queue: str | None = None,
    priority: int | None = None,
    run_at: datetime | None = None,
    idempotency_key: str | None = None,
    max_attempts: int | None = None,
    asset_id: uuid.UUID | None = None,
    default_max_attempts: int = DEFAULT_MAX_ATTEMPTS,
) -> uuid.UUID:
    """Enqueue one job in `db`'s transaction (a SQLAlchemy AsyncSession or an asyncpg connection); its id.

    Params are validated against the job type's model (pydantic.ValidationError; UnknownJobType for an
    unregistered type). `depends_on`: ids of existing jobs it waits for (UnknownDependencies if one does not
    exist). A job with the same `idempotency_key` already there is not enqueued again: its id comes back.
    """
    request = JobRequest(
        job_type, params, depends_on, run_anyway, queue, priority, run_at, idempotency_key, max_attempts, asset_id
    )
    step = _step(request, default_max_attempts)
    conn = await connection_of(db)
    if not depends_on:  # the queue's own one-job insert, as the API's
        job_id, _ = await queue_sql.enqueue(conn, step.job)
        return job_id
    [(job_id, _)] = await workflows.insert(conn, [step])
    return job_id


async def enqueue_many(
    db: Database, requests: Sequence[JobRequest], *, default_max_attempts: int = DEFAULT_MAX_ATTEMPTS
) -> list[uuid.UUID]:
    """Enqueue a batch in `db`'s transaction, in one statement for the jobs and one for their dependencies.

    A request may depend on existing jobs and on requests earlier in the batch (by their `id`), never on
    later ones (ForwardDependency): a cycle cannot be built. Returns the ids, in order.
    """
    steps = [_step(r, default_max_attempts) for r in requests]
    conn = await connection_of(db)
    return [job_id for job_id, _ in await workflows.insert(conn, steps)]


# -- waiting for an outcome -----------------------------------------------------------------------------
_OUTCOME = """SELECT id, job_type, status::text AS status, result::text AS result, error
              FROM jobs WHERE id = $1"""


@contextlib.asynccontextmanager
async def _listening(source: asyncpg.Pool | asyncpg.Connection | str) -> AsyncIterator[asyncpg.Connection]:
    if isinstance(source, str):
        conn = await asyncpg.connect(source)
        try:
            yield conn
        finally:
            await conn.close()
    elif isinstance(source, asyncpg.Pool):
        async with source.acquire() as conn:
            yield conn
    else:
        yield source


async def wait(
    source: asyncpg.Pool | asyncpg.Connection | str,
    job_id: uuid.UUID,
    timeout: float | None = None,
    *,
    recheck: float = 5.0,
) -> JobOutcome:
    """Wait until a job is completed, failed for good or cancelled, and return how it ended.

    `source`: an asyncpg pool, a connection outside any transaction, or a DSN; it must keep a session (a
    direct connection, not one through a pooler in transaction mode: LISTEN). The job's row is read when
    the wait begins and again after each tick on the events channel (every UPDATE of jobs sends one while a
    listener is registered, as this one is while it waits, and PostgreSQL delivers it at commit), at most
    every 20 ms, once more a second after the start (`TickLease.listen`), and every `recheck` seconds in case a
    tick was lost with the connection. Raises TimeoutError after `timeout` seconds, LookupError for an unknown job.
    """
    tick = asyncio.Event()

    def on_tick(*_: Any) -> None:
        tick.set()

    lease = TickLease(recheck)  # renewed at each wake-up, at least every `recheck`
    async with _listening(source) as conn:
        settle = await lease.listen(conn, tick.set)  # ticks are sent only while a listener is registered (0013)
        await conn.add_listener(queue_sql.EVENTS_CHANNEL, on_tick)
        try:
            async with asyncio.timeout(timeout):
                while True:
                    tick.clear()
                    row = await conn.fetchrow(_OUTCOME, job_id)
                    if row is None:
                        raise LookupError(f"job {job_id} not found")
                    if row["status"] in workflows.FINAL:
                        result = json.loads(row["result"]) if row["result"] is not None else None
                        return JobOutcome(row["id"], row["job_type"], row["status"], result, row["error"])
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(recheck):
                            await tick.wait()
                    await asyncio.sleep(0.02)  # ticks of a busy queue come in bursts: one read per burst
                    await lease.keep(conn)
        finally:
            settle.cancel()
            await conn.remove_listener(queue_sql.EVENTS_CHANNEL, on_tick)
            with contextlib.suppress(Exception):  # a lost connection: the lease expires by itself
                await lease.release(conn)
