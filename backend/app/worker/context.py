"""JobContext: what a handler gets besides its params — progress, cancellation, storage, database."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import importlib
import logging
import uuid
from collections.abc import Callable
from concurrent.futures import Executor
from types import ModuleType
from typing import Any, Protocol, TypeVar

from app.worker.errors import JobCancelled

T = TypeVar("T")


class ProgressSink(Protocol):
    def report(self, job_id: uuid.UUID, percent: float, message: str | None) -> None: ...


class JobContext:
    """Handed to every handler. Thread-safe where it matters: `progress` and `cancelled` may be used from
    the thread that `to_thread` (or a plain `def` handler) runs in."""

    def __init__(
        self,
        job_id: uuid.UUID,
        job_type: str,
        attempt: int,
        max_attempts: int,
        *,
        asset_id: uuid.UUID | None = None,
        progress_sink: ProgressSink | None = None,
        resources: dict[str, Any] | None = None,
        threads: Executor | None = None,
    ) -> None:
        self.job_id = job_id
        self.job_type = job_type
        self.attempt = attempt
        self.max_attempts = max_attempts
        self.asset_id = asset_id
        self.resources = resources or {}
        self._threads = threads  # None: the event loop's default executor
        self._log: logging.LoggerAdapter[logging.Logger] | None = None
        self._sink = progress_sink
        # A plain flag, not a threading.Event: set on the event loop, read by handler threads (one
        # attribute read is atomic), and a job context is made for every job on the hot path.
        self._stop = False
        self.stop_reason: str | None = None
        self._task: asyncio.Task[Any] | None = None
        self._cancel_grace = 0.0
        self._cancel_handle: asyncio.TimerHandle | None = None

    @property
    def log(self) -> logging.LoggerAdapter[logging.Logger]:
        """A logger whose lines carry this job's id and type."""
        if self._log is None:
            self._log = logging.LoggerAdapter(
                logging.getLogger(f"app.jobs.{self.job_type}"), {"job_id": str(self.job_id), "job_type": self.job_type}
            )
        return self._log

    # -- progress -----------------------------------------------------------------------------------
    def progress(self, percent: float, message: str | None = None) -> None:
        """Report progress in percent (0–100) with an optional message; cheap, batched by the worker."""
        if self._sink is not None:
            self._sink.report(self.job_id, max(0.0, min(100.0, float(percent))), message)

    # -- cancellation -------------------------------------------------------------------------------
    @property
    def cancelled(self) -> bool:
        """True once the job must stop: cancelled by a user, timed out, or its worker is shutting down."""
        return self._stop

    def should_stop(self) -> bool:
        return self._stop

    def check_cancelled(self) -> None:
        if self._stop:
            raise JobCancelled(self.stop_reason or "stop requested")

    def request_stop(self, reason: str) -> None:
        """Ask the handler to stop (call on the event loop). The first reason wins. A handler still running
        after the grace period is cancelled."""
        if self._stop:
            return
        self.stop_reason = reason
        self._stop = True
        if self._task is not None:
            self._cancel_handle = asyncio.get_running_loop().call_later(self._cancel_grace, self._cancel_task)

    def _cancel_task(self) -> None:
        if self._task is not None and not self._task.done():
            self.log.warning(
                "handler did not stop within %.1f s of being asked (%s); cancelling it",
                self._cancel_grace,
                self.stop_reason,
            )
            self._task.cancel()

    def bind_task(self, task: asyncio.Task[Any] | None, cancel_grace: float) -> None:
        """Called by the executor: the task running the handler, cancelled if it ignores a stop request."""
        self._task, self._cancel_grace = task, cancel_grace

    def unbind_task(self) -> None:
        self._task = None
        if self._cancel_handle is not None:
            self._cancel_handle.cancel()

    # -- resources ----------------------------------------------------------------------------------
    def resource(self, name: str) -> Any:
        """Something the host application provided (e.g. "storage", "sessionmaker", "settings")."""
        try:
            return self.resources[name]
        except KeyError:
            raise LookupError(f"resource {name!r} was not provided to the worker") from None

    async def load(self, module: str) -> ModuleType:
        """Import a module off the event loop: importing PyTorch or PyAV takes seconds, long enough to miss
        the heartbeats that keep every running job's lease."""
        return await asyncio.to_thread(importlib.import_module, module)

    async def to_thread(self, func: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """Run blocking or CPU-heavy code off the event loop. The function should poll `ctx.cancelled`: a
        thread cannot be stopped from outside, so a job whose handler is cancelled while its thread runs
        keeps its slot and its lease until the thread returns (it must never run twice at once)."""
        call = functools.partial(contextvars.copy_context().run, func, *args, **kwargs)
        future = asyncio.get_running_loop().run_in_executor(self._threads, call)
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            if not future.done():
                self.log.warning(
                    "cancelled while its thread still runs (%s); the job keeps its lease until the thread returns",
                    self.stop_reason or "cancelled",
                )
                while not future.done():
                    with contextlib.suppress(asyncio.CancelledError):
                        await asyncio.wait([future])
            if not future.cancelled():
                future.exception()  # retrieved: the cancellation is what the caller hears of
            raise
