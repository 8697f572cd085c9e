"""Maintenance jobs: pruning finished jobs and webhook deliveries past their retention age."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from pydantic import BaseModel, Field

from app.webhooks import store as webhook_store
from app.worker import JobContext, job_type, queue


class PruneParams(BaseModel):
    older_than_days: float | None = Field(None, gt=0, description="Default: the JOB_RETENTION_DAYS setting.")
    batch_size: int = Field(1000, ge=1, le=50_000, description="Rows deleted per statement.")
    pause_seconds: float = Field(
        0.1, ge=0, le=60, description="Pause between batches, so that workers keep the database meanwhile."
    )
    max_seconds: float = Field(300.0, gt=0, description="Stop after this long; the next run continues.")


@job_type(
    "prune_jobs",
    params=PruneParams,
    queue="maintenance",
    schedule="17 * * * *",
    max_attempts=2,
    timeout=600,
    concurrency=1,
    description="Deletes finished jobs and webhook deliveries older than the retention age, in bounded batches"
    " (hourly).",
)
async def prune_jobs(ctx: JobContext, params: PruneParams) -> dict[str, Any]:
    days = params.older_than_days or ctx.resource("settings").job_retention_days
    pool = ctx.resource("pool")
    deleted, batches, started = 0, 0, time.monotonic()
    while time.monotonic() - started < params.max_seconds and not ctx.cancelled:
        count = await queue.prune_finished(pool, days * 86_400, params.batch_size)
        deleted += count
        batches += 1
        ctx.progress(min(99.0, batches), f"deleted {deleted} jobs")
        if count < params.batch_size:
            break
        await asyncio.sleep(params.pause_seconds)
    deliveries = 0
    while time.monotonic() - started < params.max_seconds and not ctx.cancelled:
        count = await webhook_store.prune(pool, days * 86_400, params.batch_size)
        deliveries += count
        if count < params.batch_size:
            break
        await asyncio.sleep(params.pause_seconds)
    return {"deleted": deleted, "batches": batches, "deliveries_deleted": deliveries, "older_than_days": days}
