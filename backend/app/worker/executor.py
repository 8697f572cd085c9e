"""Run one claimed job: find its handler, validate params, enforce timeout and stop requests, and turn
whatever happened into an Outcome. Used by the worker loop and by the inline `POST /jobs/process`."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import traceback
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import ValidationError

from app.worker.context import JobContext
from app.worker.dispatcher import DISPATCH_TABLE, JobCancelled, JobType, PermanentJobError, UnknownJobType
from app.worker.queue import ClaimedJob

log = logging.getLogger(__name__)

OutcomeKind = Literal["completed", "failed", "cancelled", "released", "lost"]

# Stop reasons set on a JobContext by the worker.
CANCEL, TIMEOUT, SHUTDOWN, LEASE_LOST = "cancelled", "timeout", "shutdown", "lease lost"


@dataclass(frozen=True)
class Outcome:
    kind: OutcomeKind
    result: dict[str, Any] | None = None
    error: str | None = None
    retry_in: float | None = None  # failed: seconds until the retry; None means failed for good


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with jitter: base·2^(attempt-1), capped, then scaled by a random factor in
    [0.5, 1] so that jobs failing together do not retry together."""

    base: float = 2.0
    cap: float = 600.0

    def delay(self, attempt: int) -> float:
        raw = min(self.cap, self.base * (2 ** max(0, attempt - 1)))
        return raw * (0.5 + random.random() / 2)


def _failure(job: ClaimedJob, error: str, backoff: Backoff, *, retryable: bool = True) -> Outcome:
    retry_in = backoff.delay(job.attempts) if retryable and job.attempts < job.max_attempts else None
    return Outcome("failed", error=error, retry_in=retry_in)


def _describe(exc: BaseException) -> str:
    text = "".join(traceback.format_exception(exc)).rstrip()
    return f"{type(exc).__name__}: {exc}\n\n{text}"


async def execute(
    job: ClaimedJob,
    ctx: JobContext,
    backoff: Backoff,
    *,
    registry: dict[str, JobType] = DISPATCH_TABLE,
    cancel_grace: float = 5.0,
) -> Outcome:
    jt = registry.get(job.job_type)
    if jt is None:
        return _failure(job, str(UnknownJobType(job.job_type)), backoff, retryable=False)
    try:
        params = jt.validate(job.params)
    except ValidationError as exc:
        return _failure(job, f"invalid params for {job.job_type!r}: {exc}", backoff, retryable=False)

    timeout = job.timeout_seconds or jt.timeout
    task = asyncio.ensure_future(jt.handler(ctx, params))
    stop_wait = asyncio.ensure_future(ctx.stopped())
    try:
        await asyncio.wait({task, stop_wait}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        if not task.done():
            ctx.request_stop(TIMEOUT)  # no-op if another reason came first
            # Let the handler stop by itself (threads cannot be killed), then cancel what is left.
            await asyncio.wait({task}, timeout=cancel_grace)
            if not task.done():
                task.cancel()
                await asyncio.wait({task})
    except asyncio.CancelledError:
        task.cancel()
        raise
    finally:
        stop_wait.cancel()
    return _outcome(job, ctx, task, timeout, backoff)


def _outcome(job: ClaimedJob, ctx: JobContext, task: asyncio.Future[Any], timeout: float | None,
             backoff: Backoff) -> Outcome:
    exc = None if task.cancelled() else task.exception()
    if not task.cancelled() and exc is None:
        return _success(job, task.result(), backoff)
    reason = ctx.stop_reason
    if reason == CANCEL or (reason is None and isinstance(exc, JobCancelled)):
        return Outcome("cancelled", error="cancelled on request while running")
    if reason == TIMEOUT:
        return _failure(job, f"timed out after {timeout:g} s", backoff)
    if reason == SHUTDOWN:
        return Outcome("released")
    if reason == LEASE_LOST:
        return Outcome("lost")
    if task.cancelled():
        return _failure(job, "handler was cancelled unexpectedly", backoff)
    assert exc is not None
    if isinstance(exc, PermanentJobError):
        return _failure(job, str(exc), backoff, retryable=False)
    return _failure(job, _describe(exc), backoff)


def _success(job: ClaimedJob, result: Any, backoff: Backoff) -> Outcome:
    if result is not None and not isinstance(result, dict):
        return _failure(job, f"handler returned {type(result).__name__}, expected a dict or None", backoff,
                        retryable=False)
    try:
        json.dumps(result)
    except (TypeError, ValueError) as exc:
        return _failure(job, f"handler result is not JSON-serialisable: {exc}", backoff, retryable=False)
    return Outcome("completed", result=result)
