"""Handlers that prove the machinery: noop, sleep, fail, health_check."""

from __future__ import annotations

import asyncio
import platform
import shutil
import time
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import text

from app.worker import JobContext, NoParams, PermanentJobError, job_type


class NoopParams(BaseModel):
    model_config = ConfigDict(extra="allow")


@job_type("noop", params=NoopParams, description="Does nothing and echoes its params; measures the queue itself.")
async def noop(ctx: JobContext, params: NoopParams) -> dict[str, Any]:
    return {"echo": params.model_dump()} if params.model_extra else {"ok": True}


class SleepParams(BaseModel):
    seconds: float = Field(1.0, ge=0, le=86_400, description="How long to run.")
    cpu: bool = Field(False, description="Burn CPU in a thread instead of sleeping on the event loop.")
    ignore_cancel: bool = Field(False, description="Keep going when asked to stop (to test timeouts).")


def _spin(seconds: float, ctx: JobContext, ignore_cancel: bool) -> int:
    deadline, spins = time.monotonic() + seconds, 0
    while time.monotonic() < deadline and (ignore_cancel or not ctx.should_stop()):
        spins += sum(range(1000)) and 1
        if spins % 200 == 0:
            ctx.progress(100 * (1 - (deadline - time.monotonic()) / seconds) if seconds else 100)
    return spins


@job_type("sleep", params=SleepParams, description="Sleeps (or burns CPU) for a while, reporting progress.")
async def sleep(ctx: JobContext, params: SleepParams) -> dict[str, Any]:
    started = time.monotonic()
    if params.cpu:
        spins = await ctx.to_thread(_spin, params.seconds, ctx, params.ignore_cancel)
        ctx.check_cancelled()
        return {"slept": round(time.monotonic() - started, 3), "spins": spins}
    steps = max(1, int(params.seconds * 10))
    for step in range(steps):
        if params.ignore_cancel:
            await asyncio.shield(asyncio.sleep(params.seconds / steps))
        else:
            ctx.check_cancelled()
            await asyncio.sleep(params.seconds / steps)
        ctx.progress(100 * (step + 1) / steps, f"{step + 1}/{steps}")
    return {"slept": round(time.monotonic() - started, 3)}


class FailParams(BaseModel):
    times: int = Field(1, ge=0, description="Fail this many attempts, then succeed.")
    permanent: bool = Field(False, description="Raise a permanent error (no retry) instead.")
    message: str = "deliberate failure"


@job_type("fail", params=FailParams, description="Fails N attempts, then succeeds; or fails permanently.")
async def fail(ctx: JobContext, params: FailParams) -> dict[str, Any]:
    if params.permanent:
        raise PermanentJobError(params.message)
    if ctx.attempt <= params.times:
        raise RuntimeError(f"{params.message} (attempt {ctx.attempt} of {params.times} planned failures)")
    return {"succeeded_on_attempt": ctx.attempt}


@job_type(
    "health_check",
    params=NoParams,
    queue="default",
    timeout=60,
    description="Checks the database and storage from a worker and reports what it sees.",
)
async def health_check(ctx: JobContext, params: NoParams) -> dict[str, Any]:
    started = time.perf_counter()
    sessionmaker = ctx.resource("sessionmaker")
    async with sessionmaker() as session:
        row = (await session.execute(text("SELECT version(), now()"))).one()
        counts = dict((await session.execute(text("SELECT status::text, count(*) FROM jobs GROUP BY 1"))).all())
    db_ms = (time.perf_counter() - started) * 1000
    storage = ctx.resource("storage")
    probe = storage.job_dir(ctx.job_id) / "probe.txt"
    probe.write_text("ok")
    probe.unlink()
    disk = shutil.disk_usage(storage.root)
    return {
        "database": {
            "ok": True,
            "version": row[0].split(",")[0],
            "latency_ms": round(db_ms, 2),
            "server_time": row[1].isoformat(),
            "jobs_by_status": counts,
        },
        "storage": {"ok": True, "free_bytes": disk.free, "total_bytes": disk.total},
        "worker": {"python": platform.python_version(), "host": platform.node()},
    }
