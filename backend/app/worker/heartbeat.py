"""The heartbeat thread: keeps the leases of the jobs a worker holds, and its `workers` row, fresh from a thread
of its own, with its own event loop and database connection, so that a handler that blocks the worker's event
loop (a `time.sleep` in an `async def`) cannot let them run out; and watches that event loop, warning when it
stalls and naming the job that blocks it.

A job is held from its claim until its outcome is written (or refused), it is released, or its lease is lost:
through a shutdown's grace and while an outcome waits to be written, its lease stays alive. When extensions
fail (the database is unreachable) for most of a lease period, the worker is told to stop those jobs before
another worker's reaper may take them: two copies of a job must never run at once. They stay held (extended
again as soon as the database answers) until their handlers have returned, so that the worker's own reaper
never takes a job whose handler still runs. A heartbeat that was merely late (the process starved of CPU or
of the GIL, say by a big import) stops nothing: it extends the leases when it gets to run.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from types import FrameType
from typing import Any, NamedTuple

import asyncpg

from app.worker import queue
from app.worker.executor import execute
from app.worker.outage import Outage, describe, is_connection_trouble

log = logging.getLogger(__name__)

STALL_CHECK = 0.25  # seconds between two looks at the worker's event loop


class LeaseNews(NamedTuple):
    """What a round of lease extension found, delivered on the worker's event loop."""

    lost: list[uuid.UUID]  # no longer this worker's (reaped, taken over, or finished meanwhile)
    cancel: list[uuid.UUID]  # a user asked for the job to be cancelled
    expired: list[uuid.UUID]  # not extended for too long: stop them before another worker may take them


class Heartbeat:
    def __init__(
        self,
        dsn: str,
        worker_id: uuid.UUID,
        lease_seconds: float,
        *,
        outage: Outage,
        on_news: Callable[[LeaseNews], None],
        register: Callable[[asyncpg.Connection], Awaitable[None]],
        running: Callable[[], list[tuple[uuid.UUID, str]]],
        stall_after: float = 1.0,
    ) -> None:
        self._dsn = dsn
        self._worker_id = worker_id
        self._lease = lease_seconds
        self._outage = outage
        self._on_news = on_news
        self._register = register
        self._running = running
        self._stall_after = stall_after
        self._held: dict[uuid.UUID, float] = {}  # job id -> monotonic time its lease is known to last until
        self._told_to_stop: set[uuid.UUID] = set()  # held jobs whose lease could not be kept: told to stop
        self._failing_since: float | None = None  # extensions fail (the database is unreachable) since then
        self._lock = threading.Lock()
        self.stopping = False  # the worker is shutting down (shown on its row)
        self.row = True  # keep the worker's `workers` row fresh too (not for a job run inline)
        self._conn: asyncpg.Connection | None = None
        self._thread: threading.Thread | None = None
        self._thread_loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._worker_loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread_id = 0
        self._loop_seen = time.monotonic()
        self._tick_handle: asyncio.TimerHandle | None = None
        self._stall_since: float | None = None
        self._stall_culprit = ""

    # -- held jobs (called on the worker's event loop) ------------------------------------------------
    def hold(self, ids: Iterable[uuid.UUID], since: float) -> None:
        """Jobs just claimed; `since`: time.monotonic() before the claim was sent (their lease runs from then)."""
        until = since + self._lease
        with self._lock:
            for job_id in ids:
                self._held[job_id] = until

    def forget(self, ids: Iterable[uuid.UUID]) -> None:
        """Jobs whose outcome is written or refused, or that were released: their leases are no longer kept."""
        with self._lock:
            for job_id in ids:
                self._held.pop(job_id, None)
                self._told_to_stop.discard(job_id)

    def held(self) -> list[uuid.UUID]:
        with self._lock:
            return list(self._held)

    # -- lifecycle ----------------------------------------------------------------------------------
    def start(self) -> None:
        """Start the thread; call on the worker's event loop, which the stall watch then looks after."""
        self._worker_loop = asyncio.get_running_loop()
        self._loop_thread_id = threading.get_ident()
        self._tick()
        ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(ready,), name="skiplock-heartbeat", daemon=True)
        self._thread.start()
        ready.wait()

    async def stop(self) -> None:
        """Stop the thread and wait for it; call on the worker's event loop."""
        if self._tick_handle is not None:
            self._tick_handle.cancel()
        await asyncio.to_thread(self._join)

    def _join(self) -> None:
        loop, stop = self._thread_loop, self._stop
        if loop is not None and stop is not None:
            with contextlib.suppress(RuntimeError):  # the loop already closed
                loop.call_soon_threadsafe(stop.set)
        if self._thread is not None:
            self._thread.join()

    def _tick(self) -> None:
        self._loop_seen = time.monotonic()
        assert self._worker_loop is not None
        self._tick_handle = self._worker_loop.call_later(STALL_CHECK / 2, self._tick)

    def _run(self, ready: threading.Event) -> None:
        loop = asyncio.new_event_loop()
        self._thread_loop = loop
        self._stop = asyncio.Event()
        ready.set()
        try:
            loop.run_until_complete(self._main())
        finally:
            loop.close()

    async def _main(self) -> None:
        assert self._stop is not None
        watch = asyncio.create_task(self._watch())
        try:
            await self._renew_loop(self._stop)
        finally:
            watch.cancel()
            await asyncio.gather(watch, return_exceptions=True)
            if self._conn is not None:
                await _close(self._conn)

    # -- lease extension ----------------------------------------------------------------------------
    async def _renew_loop(self, stop: asyncio.Event) -> None:
        """Renew every third of a lease, the first time (and the connection's opening) one interval after the
        start: the worker's registration has just written its row, and each claim sets its jobs' leases, so
        nothing needs renewing sooner, and the worker's first claim does not share the start with this round."""
        interval = self._lease / 3
        wait = interval
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), wait)
            if stop.is_set():
                break
            wait = interval
            try:
                await self._renew(time.monotonic())
                self._failing_since = None
                self._outage.ok()
            except Exception as exc:  # anything at all: the heartbeat must go on
                if self._failing_since is None:
                    self._failing_since = time.monotonic()
                wait = min(interval, 1.0)
                if is_connection_trouble(exc):
                    self._outage.failed("lease extension", exc, wait)
                else:
                    log.warning("lease extension failed (%s); retrying in %.1f s", describe(exc), wait)
                if self._conn is not None:
                    conn, self._conn = self._conn, None
                    await _close(conn)

    async def _renew(self, sent: float) -> None:
        if self._conn is None or self._conn.is_closed():
            self._conn = await asyncpg.connect(self._dsn, command_timeout=max(1.0, self._lease / 2))
        conn = self._conn
        if self.row and not await queue.worker_heartbeat(conn, self._worker_id, self.stopping):
            await self._register(conn)  # the row was pruned while this worker was frozen
        ids = self.held()
        if not ids:
            return
        alive = await queue.extend_leases(conn, self._worker_id, ids, self._lease)
        news = LeaseNews([], [], [])
        with self._lock:
            for job_id in ids:
                if job_id not in self._held:
                    continue  # settled meanwhile
                if job_id in alive:
                    self._held[job_id] = sent + self._lease
                    if alive[job_id]:
                        news.cancel.append(job_id)
                else:
                    del self._held[job_id]
                    self._told_to_stop.discard(job_id)
                    news.lost.append(job_id)
        if news.lost or news.cancel:
            self._tell(news)

    def _tell(self, news: LeaseNews) -> None:
        if self._worker_loop is not None:
            with contextlib.suppress(RuntimeError):  # the worker's loop is closed: nothing left to tell
                self._worker_loop.call_soon_threadsafe(self._on_news, news)

    def _give_up_expiring(self) -> None:
        """While extensions fail, jobs whose lease was last extended three quarters of a lease period ago are
        told to stop, so that they have stopped before their lease runs out and the job may start elsewhere.
        (Leases of a second or two, as tests use, only once they ran out.)"""
        if self._failing_since is None:
            return
        margin = max(0.0, min(self._lease / 4, self._lease - 1.0))
        now = time.monotonic()
        with self._lock:
            expiring = [
                job_id
                for job_id, until in self._held.items()
                if until - now < margin and job_id not in self._told_to_stop
            ]
            self._told_to_stop.update(expiring)
        if expiring:
            log.warning(
                "could not extend the leases of %d job(s) in time (database unreachable); stopping them before "
                "their leases run out: they will be retried",
                len(expiring),
            )
            self._tell(LeaseNews([], [], expiring))

    # -- the worker's event loop ----------------------------------------------------------------------
    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(STALL_CHECK)
            self._give_up_expiring()
            self._check_stall()

    def _check_stall(self) -> None:
        seen = self._loop_seen
        blocked = time.monotonic() - seen
        if blocked >= self._stall_after:
            if self._stall_since is None:
                self._stall_since = seen
                self._stall_culprit, extra = self._culprit()
                log.warning(
                    "event loop blocked for %.1f s so far by %s; leases are kept by the heartbeat thread",
                    blocked,
                    self._stall_culprit,
                    extra=extra,
                )
        elif self._stall_since is not None:
            log.warning(
                "event loop blocked for %.1f s by %s (a handler must not block: await, or use a plain def "
                "handler or ctx.to_thread for blocking code)",
                seen - self._stall_since - STALL_CHECK / 2,
                self._stall_culprit,
            )
            self._stall_since = None

    def _culprit(self) -> tuple[str, dict[str, Any]]:
        """Which job blocks the event loop, and where: read from the loop thread's stack."""
        frame: FrameType | None = sys._current_frames().get(self._loop_thread_id)
        innermost = frame
        while frame is not None:
            if frame.f_code is execute.__code__:
                job = frame.f_locals.get("job")
                if isinstance(job, queue.ClaimedJob) and innermost is not None:
                    where = f"{innermost.f_code.co_name} ({innermost.f_code.co_filename}:{innermost.f_lineno})"
                    return f"job {job.id} ({job.job_type}) in {where}", {
                        "job_id": str(job.id),
                        "job_type": job.job_type,
                    }
            frame = frame.f_back
        running = ", ".join(f"{job_id} ({job_type})" for job_id, job_type in self._running()) or "none"
        return f"the worker itself (jobs running: {running})", {}


async def _close(conn: asyncpg.Connection) -> None:
    try:
        await asyncio.wait_for(conn.close(), 2)
    except Exception:  # closing a broken connection: nothing to save
        conn.terminate()
