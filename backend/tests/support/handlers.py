"""Job types used only by the tests (loaded in worker subprocesses through HANDLER_MODULES)."""

from __future__ import annotations

import asyncio
from typing import Any

from app.worker import JobContext, job_type
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
