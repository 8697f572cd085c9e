"""The Worker: claims jobs in batches, runs up to `concurrency` at once, keeps their leases (from the heartbeat
thread), reaps expired ones, listens for wake-ups and cancels, and stops cleanly."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import random
import socket
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal

import asyncpg

from app.worker import queue
from app.worker.acks import Acker
from app.worker.context import JobContext
from app.worker.dispatcher import DISPATCH_TABLE, JobType, build_job
from app.worker.executor import CANCEL, LEASE_LOST, SHUTDOWN, Backoff, Outcome, execute
from app.worker.heartbeat import Heartbeat, LeaseNews
from app.worker.listener import Listener
from app.worker.outage import Outage, describe, is_connection_trouble
from app.worker.scheduler import PeriodicScheduler

log = logging.getLogger(__name__)

# With prefetch "auto", the local buffer holds what the worker's slots are expected to start within this many
# seconds, judged by the mean run time of its recent jobs: thousands of jobs that take microseconds, a few of
# those that take a second, none of those that take longer. A buffered job waits at most about this long
# for its slot while another worker might have started it.
AUTO_PREFETCH_HORIZON = 0.05
# Jobs one slot's task runs back to back before it lets the event loop take a turn (see `Worker._run_one`).
RUN_STREAK = 64
# Buffered jobs beyond what the buffer should now hold, waiting this long, go back to the queue.
AUTO_PREFETCH_STALE = 0.25


@dataclass
class WorkerConfig:
    concurrency: int = 4
    queues: list[str] = field(default_factory=list)  # empty: every queue
    poll_interval: float = 1.0
    batch_size: int = 500
    # Jobs claimed ahead of free slots into a local buffer, so the next claim's round trip overlaps running
    # jobs. Buffered jobs are `processing` with a lease (heartbeated) that other workers cannot take: keep
    # it small, or 0, when jobs are long. "auto": as many as this worker is expected to start within
    # AUTO_PREFETCH_HORIZON seconds at the jobs' recent run time (none for long jobs), at most two batches.
    prefetch: int | Literal["auto"] = "auto"
    lease_seconds: float = 30.0
    shutdown_grace: float = 30.0
    reaper_interval: float = 10.0
    schedules: bool = True  # enqueue the job types' periodic ticks (each tick once, however many workers do)
    # The reaper's (and the periodic scheduler's) first round comes after the worker's first claim, at a random
    # moment within this many seconds (at most one interval): the first claim never waits behind it, and
    # worker processes started together neither reap at once nor stay in step afterwards.
    maintenance_jitter: float = 1.0
    cancel_grace: float = 5.0
    backoff: Backoff = field(default_factory=Backoff)
    default_max_attempts: int = 4
    stall_warning: float = 1.0  # seconds the event loop may be blocked before a warning names the job


@dataclass(slots=True)
class _Running:
    job: queue.ClaimedJob
    ctx: JobContext
    task: asyncio.Task[Any]
    waited: float  # seconds between the claim and the start
    started: float  # time.monotonic() at the start


class Worker:
    def __init__(
        self,
        pool: asyncpg.Pool,
        dsn: str,
        config: WorkerConfig,
        *,
        resources: dict[str, Any] | None = None,
        registry: dict[str, JobType] | None = None,
    ) -> None:
        self.id = uuid.uuid4()  # fresh per process start: a restarted worker never inherits old jobs
        self.pool = pool
        self.config = config
        self.registry = DISPATCH_TABLE if registry is None else registry
        self.resources = resources or {}
        self.outage = Outage()
        self.heartbeat = Heartbeat(
            dsn,
            self.id,
            config.lease_seconds,
            outage=self.outage,
            on_news=self._on_lease_news,
            register=self._register,
            running=lambda: [(r.job.id, r.job.job_type) for r in list(self.running.values())],
            stall_after=config.stall_warning,
        )
        self.acker = Acker(pool, self.id, on_settled=self._settled, outage=self.outage)
        self.listener = Listener(dsn, self._on_jobs_notice, self._on_cancel_notice, config.poll_interval, self.outage)
        self.running: dict[uuid.UUID, _Running] = {}
        self.buffered: OrderedDict[uuid.UUID, tuple[queue.ClaimedJob, float]] = OrderedDict()  # job, claimed at
        self.stopping = asyncio.Event()
        self._hurry = asyncio.Event()  # a second stop request: end the grace now
        self._threads: ThreadPoolExecutor | None = None  # plain `def` handlers and ctx.to_thread
        self._wake = asyncio.Event()
        self._first_claim_done = asyncio.Event()  # start-up work that can wait does, until then
        self._slot_freed = asyncio.Event()
        self.scheduler = PeriodicScheduler(self.registry, config.default_max_attempts)
        self._capped_next_check = 0.0
        self._caps = {name: jt.concurrency for name, jt in self.registry.items() if jt.concurrency}
        self.processed = 0
        self._finished_since_wait = 0  # jobs finished since the claim loop began to wait for room
        self._finishes_wanted = 1  # ... and how many it waits for
        self._mean_run: float | None = None  # seconds a job ran, moving mean (prefetch "auto")
        self._builder = functools.partial(build_job, default_max_attempts=config.default_max_attempts)

    # -- notifications ------------------------------------------------------------------------------
    def _on_jobs_notice(self, queue_name: str) -> None:
        if queue_name == "*" or not self.config.queues or queue_name in self.config.queues:
            self._wake.set()

    def _on_cancel_notice(self, job_id: str) -> None:
        try:
            key = uuid.UUID(job_id)
        except ValueError:
            return
        running = self.running.get(key)
        if running is not None:
            running.ctx.log.info("cancel requested")
            running.ctx.request_stop(CANCEL)
        else:
            self._cancel_buffered(key)

    def _cancel_buffered(self, job_id: uuid.UUID) -> None:
        """Cancel a job that waits in the local buffer: it never starts, and keeps no attempt."""
        entry = self.buffered.pop(job_id, None)
        if entry is not None:
            self._context(entry[0]).log.info("cancelled before it started")
            outcome = Outcome("cancelled", error="cancelled on request before it started")
            self.acker.add(job_id, outcome, None, entry[0].job_type)

    def _settled(self, ids: list[uuid.UUID]) -> None:
        """From the acker, once outcomes are written (or refused): their leases are no longer kept, except
        for a job claimed again here since (running or buffered under a new lease). A buffered job given back
        to the queue can be claimed again by this worker before the acker resumes after writing the release:
        forgetting it then would let the new lease lapse while the job runs, and another worker reap it."""
        self.heartbeat.forget([i for i in ids if i not in self.running and i not in self.buffered])

    def _on_lease_news(self, news: LeaseNews) -> None:
        """From the heartbeat thread: jobs no longer this worker's, jobs to cancel, leases about to run out."""
        for job_id in news.cancel:
            self._on_cancel_notice(str(job_id))
        for job_id in [*news.lost, *news.expired]:
            running = self.running.get(job_id)
            if running is not None:
                running.ctx.request_stop(LEASE_LOST)
            elif (entry := self.buffered.pop(job_id, None)) is not None:
                self.heartbeat.forget([job_id])
                self._context(entry[0]).log.warning("lease lost before the job started; dropped")

    # -- lifecycle ----------------------------------------------------------------------------------
    def stop(self) -> None:
        """Stop claiming; in-flight jobs get `shutdown_grace` to finish, then are released. Called again with
        `config.shutdown_grace` set to 0 (a second signal), it ends the grace at once."""
        if not self.stopping.is_set():
            log.info("worker %s stopping: %d job(s) in flight", self.id, len(self.running))
            self.stopping.set()
            self.heartbeat.stopping = True
            self._wake.set()
            self._slot_freed.set()
        elif self.config.shutdown_grace == 0:
            self._hurry.set()

    async def _register(self, conn: Any) -> None:
        cfg = self.config
        await queue.register_worker(conn, self.id, socket.gethostname(), os.getpid(), cfg.queues, cfg.concurrency)

    async def run(self) -> None:
        """Register, then claim at once. What the first claim does not need waits until it has been sent and
        answered: the LISTEN connection (a wake-up when it connects catches up on anything announced before),
        the reaper and the periodic scheduler (after a random part of `maintenance_jitter`), and the heartbeat
        thread's connection (its first round is one renewal interval away: the claim itself set the leases)."""
        cfg = self.config
        await self._register(self.pool)
        self._threads = ThreadPoolExecutor(max(4, cfg.concurrency), thread_name_prefix="skiplock-job")
        self.heartbeat.start()
        log.info(
            "worker %s started: concurrency=%d queues=%s lease=%gs",
            self.id,
            cfg.concurrency,
            ",".join(cfg.queues) or "*",
            cfg.lease_seconds,
        )
        closing = asyncio.Event()  # progress is written through the shutdown's grace, until the very end
        background = [
            asyncio.create_task(
                self._after_first_claim(0.0, functools.partial(self.listener.run, self.stopping)), name="listener"
            ),
            asyncio.create_task(self._every(0.5, self.acker.flush, closing), name="progress"),
            asyncio.create_task(self._periodic(cfg.reaper_interval, self._reap), name="reaper"),
        ]
        if cfg.schedules and self.scheduler.has_schedules:
            check = self.scheduler.check_interval
            background.append(asyncio.create_task(self._periodic(check, self._schedule), name="scheduler"))
        try:
            await self._claim_loop()
        finally:
            self._first_claim_done.set()
            try:
                await self._shutdown()
            finally:
                closing.set()
                for task in background:
                    task.cancel()
                await asyncio.gather(*background, return_exceptions=True)
                await self.heartbeat.stop()  # only now: every job's lease was kept until here
                if self._threads is not None:
                    self._threads.shutdown(wait=False)
                await self._deregister()

    async def _periodic(self, seconds: float, action: Callable[[], Any]) -> None:
        """`action` every `seconds`, the first time after the first claim and a random part of the jitter."""
        jitter = random.uniform(0.0, min(self.config.maintenance_jitter, seconds))
        await self._after_first_claim(jitter, functools.partial(self._every, seconds, action))

    async def _after_first_claim(self, delay: float, start: Callable[[], Awaitable[None]]) -> None:
        """Run `start()` once the first claim has been answered (or the worker stops) and `delay` seconds more."""
        await self._first_claim_done.wait()
        if delay > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), delay)
        if not self.stopping.is_set():
            await start()

    async def _shutdown(self) -> None:
        """Jobs in flight get the grace to finish, then are asked to stop (their outcome: released). The
        heartbeat thread keeps their leases all along, so no other worker reaps a job still running here."""
        self.stopping.set()
        self.heartbeat.stopping = True
        for job in list(self.buffered.values()):
            self.acker.add(job[0].id, Outcome("released"), None, job[0].job_type)
        self.buffered.clear()
        try:
            await self._grace([r.task for r in self.running.values()])
        finally:
            # Also when this very shutdown is cancelled: handler threads must be told to stop, or they
            # would run on after the worker is gone.
            for r in list(self.running.values()):
                r.ctx.request_stop(SHUTDOWN)
        if self.running:
            await asyncio.wait([r.task for r in self.running.values()])
        await self.acker.drain()
        try:
            await self.acker.flush()
        except Exception as exc:  # connection trouble of any kind: the last progress is not worth a hang
            self._trouble("last progress write", exc, 0.0)

    async def _grace(self, tasks: list[asyncio.Task[Any]]) -> None:
        """Wait for `tasks` until the shutdown grace is over, or a second stop request ends it early."""
        hurry = asyncio.ensure_future(self._hurry.wait())
        pending: set[asyncio.Future[Any]] = set(tasks)
        try:
            async with asyncio.timeout(self.config.shutdown_grace):
                while pending and not hurry.done():
                    _, pending = await asyncio.wait(pending | {hurry}, return_when=asyncio.FIRST_COMPLETED)
                    pending.discard(hurry)
        except TimeoutError:
            pass
        finally:
            hurry.cancel()

    async def _deregister(self) -> None:
        try:
            left = await queue.release(self.pool, self.id)
            if left:
                log.warning("released %d job(s) left by this worker: %s", len(left), ", ".join(map(str, left)))
            await queue.deregister_worker(self.pool, self.id)
        except Exception as exc:  # connection trouble of any kind: log, back off, go on
            log.error("could not deregister (leases will expire and the reaper will recover): %s", describe(exc))
        log.info("worker %s stopped after %d job(s)", self.id, self.processed)

    # -- claiming -----------------------------------------------------------------------------------
    async def _claim_loop(self) -> None:
        cfg = self.config
        # The loop keeps one pooled connection for its claims (when the pool has another for the rest), so
        # the next claim is sent before the jobs just claimed run. Giving the connection back after each
        # claim awaited a task queued behind those jobs' first steps: claims and jobs took turns, the
        # database idle while the jobs ran and the worker idle while the next batch was claimed.
        keep = self.pool.get_max_size() > 1
        conn: asyncpg.Connection | None = None
        try:
            while not self.stopping.is_set():
                prefetch = self._prefetch()
                if self.buffered and cfg.prefetch == "auto":
                    self._release_stale(prefetch)
                capacity = cfg.concurrency + prefetch
                target = max(1, min(cfg.batch_size, capacity) // 2)
                room = self._room(capacity)
                if room <= 0:
                    # acks: no wake-up; buffered jobs under "auto": look again whether they are still wanted
                    wait = 0.005 if self.acker.backlog > capacity else None
                    if self.buffered and cfg.prefetch == "auto":
                        wait = AUTO_PREFETCH_HORIZON
                    await self._wait_slot(wait, 1 - room)
                    continue
                if room < target and self.running:
                    # Jobs finish one by one; claiming for each freed slot alone would make every claim (and
                    # every ack) a batch of one. Give other slots a moment to free up.
                    await self._wait_slot(0.005, target - room)
                    room = self._room(capacity)
                    if room <= 0:  # acknowledgements fell behind meanwhile
                        continue
                self._wake.clear()
                want = min(room, cfg.batch_size)
                give_back = not keep
                if conn is not None and _closed(conn):  # the server ended it: the pool took it back
                    await self._give_back(conn)
                    conn = None
                try:
                    if conn is None:
                        conn = await self.pool.acquire()
                    got = await self._claim(conn, want, self._take)
                except Exception as exc:  # connection trouble of any kind: log, back off, go on
                    self._trouble("claim", exc, cfg.poll_interval)
                    got = 0
                    give_back = True  # a broken connection: the pool replaces it
                else:
                    self.outage.ok()
                self._first_claim_done.set()
                if give_back:
                    await self._give_back(conn)
                    conn = None
                if got < want:
                    await self._idle_wait()
        finally:
            await self._give_back(conn)

    async def _give_back(self, conn: asyncpg.Connection | None) -> None:
        if conn is not None:
            try:
                await self.pool.release(conn)
            except Exception as exc:  # connection trouble of any kind: the pool closes and replaces it
                log.debug("could not return the claim connection to the pool: %s", describe(exc))

    def _trouble(self, what: str, exc: BaseException, retry_in: float) -> None:
        """A failed database round: one line per outage for lost connections, a warning for anything else."""
        if is_connection_trouble(exc):
            self.outage.failed(what, exc, retry_in)
        else:
            log.warning("%s failed (%s); retrying in %.1f s", what, describe(exc), retry_in)

    def _prefetch(self) -> int:
        """How many claimed jobs may wait in the local buffer now."""
        prefetch = self.config.prefetch
        if prefetch != "auto":
            return prefetch
        mean = self._mean_run
        if mean is None:  # nothing ran yet: claim for the free slots only
            return 0
        if len(self.running) >= self.config.concurrency:
            # Every slot busy: a job running longer than the mean says the jobs got slower (the mean learns
            # only as they finish). Judge by the youngest run, which bounds when the next slot frees up.
            now = time.monotonic()
            mean = max(mean, min(now - r.started for r in self.running.values()))
        cap = 2 * self.config.batch_size
        expected = AUTO_PREFETCH_HORIZON * self.config.concurrency / max(mean, 1e-6)
        return min(cap, int(expected))

    def _release_stale(self, prefetch: int) -> None:
        """Prefetch "auto": when the jobs got slower than the buffer was sized for, give the buffered jobs beyond
        the buffer's new size back to the queue (no attempt spent) once they have waited AUTO_PREFETCH_STALE
        seconds, the last claimed first, so that other workers can run them."""
        excess = len(self.buffered) - prefetch
        if excess <= 0:
            return
        # The buffer is in the order of the claims: those that waited long enough are a prefix of it.
        stale = time.monotonic() - AUTO_PREFETCH_STALE
        waited: list[uuid.UUID] = []
        for job_id, (_, claimed_at) in self.buffered.items():
            if claimed_at > stale:
                break
            waited.append(job_id)
        for job_id in waited[-excess:]:
            job, _ = self.buffered.pop(job_id)
            self.acker.add(job_id, Outcome("released"), None, job.job_type)

    def _room(self, capacity: int) -> int:
        """Free places for claimed jobs. Outcomes not yet written count beyond one capacity's worth: when
        acknowledgements fall behind, claiming slows down instead of piling finished jobs up as
        `processing` (each of them would run again if this worker died)."""
        taken = len(self.running) + len(self.buffered)
        return capacity - taken - max(0, self.acker.backlog - capacity)

    def _take(self, jobs: list[queue.ClaimedJob]) -> None:
        """Start claimed jobs while slots are free; buffer the rest (they start as slots free up)."""
        now = time.monotonic()
        free = self.config.concurrency - len(self.running)
        for job in jobs:
            # A job claimed again while an earlier execution of it still runs here (its lease was lost, and
            # the thread running it cannot be stopped) waits in the buffer until that one has ended.
            if free > 0 and not self.buffered and job.id not in self.running:
                self._start(job, 0.0)
                free -= 1
            else:
                self.buffered[job.id] = (job, now)

    async def _claim(self, conn: Any, want: int, take: Callable[[list[queue.ClaimedJob]], None]) -> int:
        """Claim up to `want` jobs on `conn` and hand each statement's jobs to `take` as soon as it returns,
        not after a later statement, which could fail and would otherwise strand the jobs already leased.
        Returns how many were claimed."""
        cfg = self.config
        capped = self._caps
        got = 0
        for name in await self._capped_waiting(conn, capped):
            if got < want:
                sent = time.monotonic()
                jobs = await queue.claim_limited(
                    conn, self.id, name, capped[name], want - got, cfg.lease_seconds, cfg.queues or None
                )
                self.heartbeat.hold([job.id for job in jobs], sent)
                take(jobs)
                got += len(jobs)
        if got < want:
            sent = time.monotonic()
            jobs = await queue.claim(conn, self.id, want - got, cfg.lease_seconds, cfg.queues or None, list(capped))
            self.heartbeat.hold([job.id for job in jobs], sent)
            take(jobs)
            got += len(jobs)
        return got

    async def _capped_waiting(self, conn: Any, capped: dict[str, int]) -> list[str]:
        """Capped job types with a job waiting, looked up at most every 0.25 s: a capped claim serialises
        workers on an advisory lock, so it only runs when there is something to claim."""
        now = time.monotonic()
        if not capped or now < self._capped_next_check:
            return []
        self._capped_next_check = now + 0.25
        return await queue.waiting_types(conn, list(capped), self.config.queues or None)

    async def _wait_slot(self, seconds: float | None, finishes: int = 1) -> None:
        """Wait until `finishes` more jobs have finished (at most `seconds`): the claim loop is not woken by
        every job that ends, only once there is room worth a claim."""
        self._slot_freed.clear()
        self._finished_since_wait = 0
        self._finishes_wanted = finishes
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._slot_freed.wait()

    async def _idle_wait(self) -> None:
        # asyncio.timeout, not wait_for: no extra task between the NOTIFY and the claim.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.config.poll_interval):
                await self._wake.wait()

    def _context(self, job: queue.ClaimedJob) -> JobContext:
        return JobContext(
            job.id,
            job.job_type,
            job.attempts,
            job.max_attempts,
            asset_id=job.asset_id,
            progress_sink=self.acker,
            resources=self.resources,
            threads=self._threads,
            builder=self._builder,
        )

    def _start(self, job: queue.ClaimedJob, waited: float) -> None:
        ctx = self._context(job)
        task = asyncio.get_running_loop().create_task(self._run_one(job, ctx))
        self.running[job.id] = _Running(job, ctx, task, waited, time.monotonic())

    def _ready(self, free: int) -> list[uuid.UUID]:
        """Up to `free` buffered jobs that can start now, in the order they were claimed. Called as each job
        finishes, with up to thousands buffered: looks only as far as it needs."""
        ready: list[uuid.UUID] = []
        for job_id in self.buffered:
            if job_id not in self.running:
                ready.append(job_id)
                if len(ready) == free:
                    break
        return ready

    def _next_here(self) -> tuple[queue.ClaimedJob, JobContext] | None:
        """The next buffered job for the slot the calling task just freed (registered as running in that
        task), or None; other free slots get tasks of their own."""
        if not self.buffered or self.stopping.is_set():
            return None
        free = self.config.concurrency - len(self.running)
        if free <= 0:
            return None
        ready = self._ready(free)
        if not ready:
            return None
        now = time.monotonic()
        job, claimed_at = self.buffered.pop(ready[0])
        ctx = self._context(job)
        task = asyncio.current_task()
        assert task is not None
        self.running[job.id] = _Running(job, ctx, task, now - claimed_at, now)
        for job_id in ready[1:]:
            other, claimed_at = self.buffered.pop(job_id)
            self._start(other, now - claimed_at)
        return job, ctx

    async def _run_one(self, job: queue.ClaimedJob, ctx: JobContext) -> None:
        # One task runs the jobs of its slot one after the other while the buffer holds more, rather than a
        # task per job: for short jobs, creating and scheduling a task per job (and a turn of the event loop
        # for every `concurrency` jobs) cost more than the jobs. Every RUN_STREAK jobs in a row the task
        # yields to the loop, so a slot of jobs that never await cannot hold it for long.
        streak = 0
        while True:
            started = time.perf_counter()
            try:
                outcome = await execute(
                    job, ctx, self.config.backoff, registry=self.registry, cancel_grace=self.config.cancel_grace
                )
            except Exception as exc:  # the executor itself must never take the worker down
                ctx.log.exception("executor error")
                outcome = Outcome(
                    "failed", error=f"internal worker error: {exc!r}", retry_in=self.config.backoff.delay(1)
                )
            self._finish(job, ctx, outcome, started)
            streak += 1
            if streak % RUN_STREAK == 0:
                await asyncio.sleep(0)
            nxt = self._next_here()
            if nxt is None:
                return
            job, ctx = nxt

    def _finish(self, job: queue.ClaimedJob, ctx: JobContext, outcome: Outcome, started: float) -> None:
        elapsed = time.perf_counter() - started
        elapsed_ms = elapsed * 1000
        # A moving mean, not the last run: on a busy host one run in many is stretched by a preemption, which
        # must not empty the buffer. Jobs that really got slower are seen by `_prefetch` while they run.
        mean = self._mean_run
        self._mean_run = elapsed if mean is None else mean + 0.1 * (elapsed - mean)
        running = self.running.pop(job.id, None)
        if outcome.kind != "lost" and self.buffered.pop(job.id, None) is not None:
            ctx.log.warning("claimed again while it ran here; this execution's outcome stands, no second run")
        self._hand_in(job, ctx, outcome, running.waited if running else 0.0, elapsed_ms)
        if outcome.kind == "failed":
            ctx.log.warning(
                "attempt %d/%d failed after %.0f ms (%s): %s",
                job.attempts,
                job.max_attempts,
                elapsed_ms,
                f"retry in {outcome.retry_in:.1f} s" if outcome.retry_in is not None else "no retry",
                (outcome.error or "").splitlines()[0],
            )
        self.processed += 1
        self._finished_since_wait += 1
        if self._finished_since_wait >= self._finishes_wanted:
            self._slot_freed.set()

    def _hand_in(self, job: queue.ClaimedJob, ctx: JobContext, outcome: Outcome, waited: float, ms: float) -> None:
        if outcome.kind == "lost":
            ctx.log.warning("lease lost after %.0f ms; the outcome is dropped (the job is no longer this worker's)", ms)
            if job.id not in self.buffered:  # else claimed again since: that lease is kept
                self.heartbeat.forget([job.id])
            self.acker.dropped(job.id, job.job_type, "lost", "lease lost")
        else:
            # Logged once written: an outcome the database refuses is a warning, never a `completed` line.
            self.acker.add(job.id, outcome, waited, job.job_type, ms, ctx.spawned)

    # -- housekeeping -------------------------------------------------------------------------------
    async def _every(self, seconds: float, action: Any, until: asyncio.Event | None = None) -> None:
        until = until or self.stopping
        while not until.is_set():
            try:
                await action()
            except Exception as exc:  # connection trouble of any kind: log, back off, go on
                self._trouble(getattr(action, "__name__", "housekeeping").lstrip("_"), exc, seconds)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(until.wait(), seconds)

    async def _schedule(self) -> None:
        await self.scheduler.enqueue_due(self.pool)

    async def _reap(self) -> None:
        async with self.pool.acquire() as conn:
            reaped = await queue.reap_expired(conn, self.id, self.heartbeat.held())
            for job_id, status in reaped:
                log.warning("reaped job %s (lease expired) -> %s", job_id, status)
            await queue.prune_workers(conn, max(60.0, self.config.lease_seconds * 4))

    # -- inline processing (development) ------------------------------------------------------------
    async def process_one(self) -> tuple[queue.ClaimedJob, Outcome, float] | None:
        """Claim and run one job in the caller's task (`POST /jobs/process`); None when nothing waits."""
        jobs: list[queue.ClaimedJob] = []
        async with self.pool.acquire() as conn:
            await self._claim(conn, 1, jobs.extend)
        if not jobs:
            return None
        job = jobs[0]
        ctx = self._context(job)
        task = asyncio.ensure_future(
            execute(job, ctx, self.config.backoff, registry=self.registry, cancel_grace=self.config.cancel_grace)
        )
        self.running[job.id] = _Running(job, ctx, task, 0.0, time.monotonic())
        self.heartbeat.row = False  # no `workers` row for a job run inline
        self.heartbeat.start()
        started = time.perf_counter()
        try:
            outcome = await task
            elapsed_ms = (time.perf_counter() - started) * 1000
            self.running.pop(job.id, None)
            self._hand_in(job, ctx, outcome, 0.0, elapsed_ms)
            await self.acker.drain()
            await self.acker.flush()
        finally:
            self.running.pop(job.id, None)
            await self.heartbeat.stop()
        return job, outcome, elapsed_ms


def _closed(conn: Any) -> bool:
    """Whether a pooled connection kept across claims was closed under us (a proxy the pool detached raises)."""
    try:
        return bool(conn.is_closed())
    except asyncpg.InterfaceError:
        return True
