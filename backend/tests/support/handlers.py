"""Job types used only by the tests (loaded in worker subprocesses through HANDLER_MODULES)."""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any, Literal

import asyncpg
from app.worker import JobContext, PermanentJobError, job_type
from pydantic import BaseModel, ConfigDict


class RecordParams(BaseModel):
    sleep: float = 0.0
    unique: bool = True


@job_type("test_record", params=RecordParams, description="Inserts its job id into exec_log (unique).")
async def record(ctx: JobContext, params: RecordParams) -> dict[str, Any]:
    if params.sleep:
        await asyncio.sleep(params.sleep)
    pool = ctx.resource("pool")
    if params.unique:
        await pool.execute("INSERT INTO exec_log (job_id, attempt) VALUES ($1, $2)", ctx.job_id, ctx.attempt)
    else:  # count runs instead of failing on a re-run (chaos tests kill workers mid-job)
        await pool.execute(
            """INSERT INTO exec_log (job_id, attempt) VALUES ($1, $2)
               ON CONFLICT (job_id) DO UPDATE SET runs = exec_log.runs + 1, attempt = $2""",
            ctx.job_id,
            ctx.attempt,
        )
    return {"recorded": str(ctx.job_id)}


@job_type("test_capped", params=RecordParams, concurrency=1, description="At most one at a time.")
async def capped(ctx: JobContext, params: RecordParams) -> dict[str, Any]:
    pool = ctx.resource("pool")
    await pool.execute("INSERT INTO exec_log (job_id, attempt) VALUES ($1, $2)", ctx.job_id, ctx.attempt)
    running = await pool.fetchval("SELECT count(*) FROM jobs WHERE job_type = 'test_capped' AND status = 'processing'")
    await asyncio.sleep(params.sleep)
    return {"running_together": running}


class FreezeParams(BaseModel):
    seconds: float = 3600


@job_type(
    "test_freeze", params=FreezeParams, timeout=1.0, max_attempts=1, description="Blocks far past its 1 s timeout."
)
async def freeze(ctx: JobContext, params: FreezeParams) -> None:
    await asyncio.sleep(params.seconds)


@job_type("test_tick", schedule="* * * * * *", queue="ticks", description="Enqueued every second.")
async def tick(ctx: JobContext, params: Any) -> None:
    return None


class FanOutParams(BaseModel):
    children: int = 10
    fail_child: int | None = None  # index of a child that fails for good


@job_type("test_fan_out", params=FanOutParams, description="Enqueues children and one fan-in depending on all.")
async def fan_out(ctx: JobContext, params: FanOutParams) -> dict[str, Any]:
    ids = [
        ctx.enqueue("test_record", {"unique": False}) if i != params.fail_child else ctx.enqueue("test_fail")
        for i in range(params.children)
    ]
    fan_in = ctx.enqueue("test_record", {"unique": False}, depends_on=ids)
    return {"children": len(ids), "fan_in": str(fan_in)}


@job_type("test_fail", max_attempts=1, description="Fails for good at once.")
async def fail(ctx: JobContext, params: Any) -> None:
    raise PermanentJobError("this job always fails")


@job_type("test_spawn_then_fail", max_attempts=1, description="Enqueues a child, then fails: no child is left.")
async def spawn_then_fail(ctx: JobContext, params: Any) -> None:
    ctx.enqueue("test_record", {})
    raise PermanentJobError("failed after enqueueing a child")


class FileParams(BaseModel):
    model_config = ConfigDict(extra="allow")

    note: str = ""


@job_type(
    "test_file",
    params=FileParams,
    accepts=("image", "video"),
    description="Takes an uploaded image or video and does nothing with it.",
)
async def uploaded_file(ctx: JobContext, params: FileParams) -> dict[str, Any]:
    return {"asset_id": str(ctx.asset_id)}


class ChaosParams(BaseModel):
    seconds: float = 2.0
    # honour: checks ctx.cancelled every `step` s; ignore: never checks it (stopped only by task cancellation);
    # block: time.sleep on the event loop, as a careless `async def` handler does.
    mode: Literal["honour", "ignore", "block"] = "honour"
    step: float = 0.5


# What a lost database connection raises: the chaos handler's bookkeeping waits for the database to return.
_CONNECTION_TROUBLE = (
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.exceptions.InternalClientError,  # a pooled connection left mid-operation by the server's restart
)


async def _persist(pool: Any, query: str, *args: Any) -> Any:
    """Run one statement of the side table, retrying while the database is away (a restart mid-run)."""
    deadline = time.monotonic() + 120
    while True:
        try:
            return await pool.fetchval(query, *args)
        except _CONNECTION_TROUBLE:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


@job_type("test_chaos", params=ChaosParams, max_attempts=20, description="Records each execution's start and end.")
async def chaos(ctx: JobContext, params: ChaosParams) -> dict[str, Any]:
    pool = ctx.resource("pool")
    execution = await _persist(
        pool,
        "INSERT INTO executions (job_id, pid, attempt, started) VALUES ($1, $2, $3, $4) RETURNING id",
        ctx.job_id,
        os.getpid(),
        ctx.attempt,
        time.time(),
    )
    outcome = "stopped"
    try:
        if params.mode == "block":
            time.sleep(params.seconds)
        else:
            deadline = time.monotonic() + params.seconds
            while (left := deadline - time.monotonic()) > 0:
                if params.mode == "honour":
                    ctx.check_cancelled()
                await asyncio.sleep(min(params.step, left))
        outcome = "returned"
    finally:
        # Shielded: a cancellation of the handler must not lose the record of when it ended.
        await asyncio.shield(
            _persist(
                pool, "UPDATE executions SET finished = $2, outcome = $3 WHERE id = $1", execution, time.time(), outcome
            )
        )
    return {"pid": os.getpid()}


class RetryLaterParams(BaseModel):
    seconds: float = 0.0
    succeed_on: int = 2


@job_type(
    "test_retry_later", params=RetryLaterParams, description="Asks to be retried after `seconds` until an attempt."
)
async def retry_later(ctx: JobContext, params: RetryLaterParams) -> dict[str, Any]:
    from app.worker import RetryLater

    if ctx.attempt < params.succeed_on:
        raise RetryLater(f"not yet (attempt {ctx.attempt})", params.seconds)
    return {"attempt": ctx.attempt}
