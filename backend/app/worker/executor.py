"""Run one claimed job: find its handler, validate params, enforce timeout and stop requests, and turn
whatever happened into an Outcome. Used by the worker loop and by the inline `POST /jobs/process`."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import re
import traceback
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

from pydantic import ValidationError

from app.worker.context import JobContext
from app.worker.dispatcher import DISPATCH_TABLE, JobType, UnknownJobType
from app.worker.errors import JobCancelled, PermanentJobError, RetryLater
from app.worker.queue import ClaimedJob

log = logging.getLogger(__name__)

OutcomeKind = Literal["completed", "failed", "cancelled", "released", "lost"]

# Stop reasons set on a JobContext by the worker.
CANCEL, TIMEOUT, SHUTDOWN, LEASE_LOST = "cancelled", "timeout", "shutdown", "lease lost"


class Outcome(NamedTuple):
    """What became of one run of a job (a named tuple: one is made for every job on the hot path)."""

    kind: OutcomeKind
    result: dict[str, Any] | None = None
    result_json: str | None = None  # the result, encoded once
    error: str | None = None
    retry_in: float | None = None  # failed: seconds until the retry; None means failed for good


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with jitter: base·2^(attempt-1), capped, then scaled by a random factor in
    [0.5, 1] so that jobs failing together do not retry together."""

    base: float = 2.0
    cap: float = 600.0

    def delay(self, attempt: int) -> float:
        raw = min(self.cap, self.base * 2.0 ** max(0, attempt - 1))
        return float(raw * (0.5 + random.random() / 2))


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
    # The handler runs in this very task (no extra task per job): a stop request (cancel, timeout, shutdown,
    # lost lease) sets ctx.cancelled and, if the handler has not returned after `cancel_grace`, cancels it.
    ctx.bind_task(asyncio.current_task(), cancel_grace)
    timer = asyncio.get_running_loop().call_later(timeout, ctx.request_stop, TIMEOUT) if timeout else None
    try:
        result = await jt.handler(ctx, params)
    except asyncio.CancelledError:
        if ctx.stop_reason is None:
            raise  # cancelled from outside the worker's own stop mechanism: let it propagate
        _uncancel()
        return _stopped(job, ctx, None, timeout, backoff)
    except Exception as exc:
        return _stopped(job, ctx, exc, timeout, backoff) if ctx.stop_reason else _raised(job, exc, backoff)
    finally:
        if timer is not None:
            timer.cancel()
        ctx.unbind_task()
    return _success(job, result, backoff)


def _uncancel() -> None:
    task = asyncio.current_task()
    if task is not None:
        task.uncancel()


def _stopped(
    job: ClaimedJob, ctx: JobContext, exc: BaseException | None, timeout: float | None, backoff: Backoff
) -> Outcome:
    """The outcome of a handler that ended (raised or was cancelled) after it was asked to stop."""
    reason = ctx.stop_reason
    if reason == CANCEL:
        return Outcome("cancelled", error="cancelled on request while running")
    if reason == TIMEOUT:
        return _failure(job, f"timed out after {timeout:g} s", backoff)
    if reason == SHUTDOWN:
        return Outcome("released")
    if reason == LEASE_LOST:
        return Outcome("lost")
    return _raised(job, exc, backoff) if exc else _failure(job, "handler was cancelled", backoff)


def _raised(job: ClaimedJob, exc: BaseException, backoff: Backoff) -> Outcome:
    if isinstance(exc, JobCancelled):
        return Outcome("cancelled", error=str(exc) or "cancelled by its handler")
    if isinstance(exc, PermanentJobError):
        return _failure(job, str(exc), backoff, retryable=False)
    if isinstance(exc, RetryLater):
        retry_in = exc.seconds if job.attempts < job.max_attempts else None
        return Outcome("failed", error=str(exc), retry_in=retry_in)
    return _failure(job, _describe(exc), backoff)


def _success(job: ClaimedJob, result: Any, backoff: Backoff) -> Outcome:
    if result is not None and not isinstance(result, dict):
        return _failure(
            job, f"handler returned {type(result).__name__}, expected a dict or None", backoff, retryable=False
        )
    if result is None:
        return Outcome("completed")
    try:
        encoded = encode_result(result)
    except (TypeError, ValueError) as exc:
        return _failure(job, f"handler result cannot be stored as JSON: {exc}", backoff, retryable=False)
    return Outcome("completed", result=result, result_json=encoded)


# \u0000 preceded by an even number of backslashes: an escaped NUL character, not a literal "\u0000" text.
_NUL_ESCAPE = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")
# One encoder for every result: json.dumps with any non-default option builds a new encoder per call.
_ENCODER = json.JSONEncoder(allow_nan=False, ensure_ascii=False)


def encode_result(result: dict[str, Any]) -> str:
    """A handler's result as JSON text that PostgreSQL's jsonb accepts, or ValueError/TypeError saying why not.

    jsonb refuses what Python's json module writes by default for NaN and infinities, the NUL character and
    lone surrogates; one such result in a batch would make the whole batch's write fail."""
    text = _ENCODER.encode(result)
    if "\\u0000" in text and _NUL_ESCAPE.search(text):
        raise ValueError("a string contains the NUL character (\\u0000), which PostgreSQL's jsonb cannot store")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(f"a string is not valid Unicode ({exc.reason} at position {exc.start})") from None
    return text
