"""The Worker: claims jobs in batches, runs up to `concurrency` at once, heartbeats their leases, reaps
expired ones, listens for wake-ups and cancels, and stops cleanly."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import socket
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from app.worker import queue
from app.worker.acks import Acker
from app.worker.context import JobContext
from app.worker.dispatcher import DISPATCH_TABLE, JobType, build_job
from app.worker.executor import CANCEL, LEASE_LOST, SHUTDOWN, Backoff, Outcome, execute
from app.worker.listener import Listener
from app.worker.scheduler import PeriodicScheduler

log = logging.getLogger(__name__)


@dataclass
class WorkerConfig:
    concurrency: int = 4
    queues: list[str] = field(default_factory=list)  # empty: every queue
    poll_interval: float = 1.0
    batch_size: int = 100
    # Jobs claimed ahead of free slots into a local buffer, so the next claim's round trip overlaps running
    # jobs. Buffered jobs are `processing` with a lease (heartbeated) that other workers cannot take: keep
    # it small, or 0, when jobs are long.
    prefetch: int = 0
    lease_seconds: float = 30.0
    shutdown_grace: float = 30.0
    reaper_interval: float = 10.0
    cancel_grace: float = 5.0
    backoff: Backoff = field(default_factory=Backoff)
    default_max_attempts: int = 4


@dataclass(slots=True)
class _Running:
    job: queue.ClaimedJob
    ctx: JobContext
    task: asyncio.Task[Any]
    waited: float  # seconds between the claim and the start


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
        self.acker = Acker(pool, self.id)
        self.listener = Listener(dsn, self._on_jobs_notice, self._on_cancel_notice, config.poll_interval)
        self.running: dict[uuid.UUID, _Running] = {}
        self.buffered: OrderedDict[uuid.UUID, tuple[queue.ClaimedJob, float]] = OrderedDict()  # job, claimed at
        self.stopping = asyncio.Event()
        self._wake = asyncio.Event()
        self._slot_freed = asyncio.Event()
        self.scheduler = PeriodicScheduler(self.registry, config.default_max_attempts)
        self._capped_next_check = 0.0
        self._caps = {name: jt.concurrency for name, jt in self.registry.items() if jt.concurrency}
        self.processed = 0
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
            self.acker.add(job_id, Outcome("cancelled", error="cancelled on request before it started"), None)

    # -- lifecycle ----------------------------------------------------------------------------------
    def stop(self) -> None:
        """Stop claiming; in-flight jobs get `shutdown_grace` to finish, then are released."""
        if not self.stopping.is_set():
            log.info("worker %s stopping: %d job(s) in flight", self.id, len(self.running))
            self.stopping.set()
            self._wake.set()
            self._slot_freed.set()

    async def run(self) -> None:
        cfg = self.config
        await queue.register_worker(self.pool, self.id, socket.gethostname(), os.getpid(), cfg.queues, cfg.concurrency)
        log.info(
            "worker %s started: concurrency=%d queues=%s lease=%gs",
            self.id,
            cfg.concurrency,
            ",".join(cfg.queues) or "*",
            cfg.lease_seconds,
        )
        background = [
            asyncio.create_task(self.listener.run(self.stopping), name="listener"),
            asyncio.create_task(self._every(cfg.lease_seconds / 3, self._heartbeat), name="heartbeat"),
            asyncio.create_task(self._every(0.5, self.acker.flush_progress), name="progress"),
            asyncio.create_task(self._every(cfg.reaper_interval, self._reap), name="reaper"),
        ]
        if self.scheduler.has_schedules:
            background.append(
                asyncio.create_task(self._every(self.scheduler.check_interval, self._schedule), name="scheduler")
            )
        try:
            await self._claim_loop()
        finally:
            await self._shutdown(background)

    async def _shutdown(self, background: list[asyncio.Task[None]]) -> None:
        self.stopping.set()
        await self._release_buffered()
        tasks = [r.task for r in self.running.values()]
        try:
            if tasks:
                await asyncio.wait(tasks, timeout=self.config.shutdown_grace)
        finally:
            # Also when this very shutdown is cancelled: handler threads must be told to stop, or they
            # would run on after the worker is gone.
            for r in list(self.running.values()):
                r.ctx.request_stop(SHUTDOWN)
        if self.running:
            await asyncio.wait([r.task for r in self.running.values()])
        await self.acker.drain()
        await self.acker.flush_progress()
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        try:
            released = await queue.release(self.pool, self.id)
            if released:
                log.warning("released %d job(s) left by this worker", released)
            await queue.deregister_worker(self.pool, self.id)
        except Exception as exc:  # connection trouble of any kind: log, back off, go on
            log.error("could not deregister (leases will expire and the reaper will recover): %s", exc)
        log.info("worker %s stopped after %d job(s)", self.id, self.processed)

    async def _release_buffered(self) -> None:
        """Give the jobs that never started back to the queue at once, without spending an attempt."""
        ids = list(self.buffered)
        self.buffered.clear()
        if ids:
            try:
                await queue.release(self.pool, self.id, ids)
            except Exception as exc:  # connection trouble of any kind: the final release retries
                log.warning("could not release %d buffered job(s) yet: %s", len(ids), exc)

    # -- claiming -----------------------------------------------------------------------------------
    async def _claim_loop(self) -> None:
        cfg = self.config
        capacity = cfg.concurrency + cfg.prefetch
        target = max(1, min(cfg.batch_size, capacity) // 2)
        # The loop keeps one pooled connection for its claims (when the pool has another for the rest), so
        # the next claim is sent before the jobs just claimed run. Giving the connection back after each
        # claim awaited a task queued behind those jobs' first steps: claims and jobs took turns, the
        # database idle while the jobs ran and the worker idle while the next batch was claimed.
        keep = self.pool.get_max_size() > 1
        conn: asyncpg.Connection | None = None
        try:
            while not self.stopping.is_set():
                room = self._room(capacity)
                if room <= 0:
                    await self._wait_slot(0.005 if self.acker.backlog > capacity else None)  # acks: no wake-up
                    continue
                if room < target and self.running:
                    # Jobs finish one by one; claiming for each freed slot alone would make every claim (and
                    # every ack) a batch of one. Give other slots a moment to free up.
                    await self._wait_slot(0.005)
                    room = self._room(capacity)
                self._wake.clear()
                want = min(room, cfg.batch_size)
                give_back = not keep
                try:
                    if conn is None:
                        conn = await self.pool.acquire()
                    got = await self._claim(conn, want, self._take)
                except Exception as exc:  # connection trouble of any kind: log, back off, go on
                    log.warning("claim failed (%s); retrying", exc)
                    got = 0
                    give_back = True  # a broken connection: the pool replaces it
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
                log.warning("could not return the claim connection to the pool: %s", exc)

    def _room(self, capacity: int) -> int:
        """Free places for claimed jobs. Outcomes not yet written count beyond one capacity's worth: when
        acknowledgements fall behind, claiming slows down instead of piling finished jobs up as
        `processing` (each of them would run again if this worker died)."""
        return capacity - len(self.running) - len(self.buffered) - max(0, self.acker.backlog - capacity)

    def _take(self, jobs: list[queue.ClaimedJob]) -> None:
        """Start claimed jobs while slots are free; buffer the rest (they start as slots free up)."""
        now = time.monotonic()
        free = self.config.concurrency - len(self.running)
        for job in jobs:
            if free > 0 and not self.buffered:
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
                jobs = await queue.claim_limited(
                    conn, self.id, name, capped[name], want - got, cfg.lease_seconds, cfg.queues or None
                )
                take(jobs)
                got += len(jobs)
        if got < want:
            jobs = await queue.claim(conn, self.id, want - got, cfg.lease_seconds, cfg.queues or None, list(capped))
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

    async def _wait_slot(self, seconds: float | None) -> None:
        self._slot_freed.clear()
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
            builder=self._builder,
        )

    def _start(self, job: queue.ClaimedJob, waited: float) -> None:
        ctx = self._context(job)
        task = asyncio.get_running_loop().create_task(self._run_one(job, ctx))
        self.running[job.id] = _Running(job, ctx, task, waited)

    def _start_buffered(self) -> None:
        now = time.monotonic()
        while self.buffered and len(self.running) < self.config.concurrency:
            _, (job, claimed_at) = self.buffered.popitem(last=False)
            self._start(job, now - claimed_at)

    async def _run_one(self, job: queue.ClaimedJob, ctx: JobContext) -> None:
        started = time.perf_counter()
        try:
            outcome = await execute(
                job, ctx, self.config.backoff, registry=self.registry, cancel_grace=self.config.cancel_grace
            )
        except Exception as exc:  # the executor itself must never take the worker down
            ctx.log.exception("executor error")
            outcome = Outcome("failed", error=f"internal worker error: {exc!r}", retry_in=self.config.backoff.delay(1))
        self._finish(job, ctx, outcome, started)

    def _finish(self, job: queue.ClaimedJob, ctx: JobContext, outcome: Outcome, started: float) -> None:
        elapsed_ms = (time.perf_counter() - started) * 1000
        running = self.running.pop(job.id, None)
        if outcome.kind == "lost":
            ctx.log.warning(
                "lease lost after %.0f ms; the outcome is dropped (another worker owns the job)", elapsed_ms
            )
        else:
            self.acker.add(job.id, outcome, running.waited if running else 0.0, ctx.spawned)
        if outcome.kind == "failed":
            ctx.log.warning(
                "attempt %d/%d failed after %.0f ms (%s): %s",
                job.attempts,
                job.max_attempts,
                elapsed_ms,
                f"retry in {outcome.retry_in:.1f} s" if outcome.retry_in is not None else "no retry",
                (outcome.error or "").splitlines()[0],
            )
        elif elapsed_ms > 1000 or log.isEnabledFor(logging.DEBUG):
            ctx.log.info("%s in %.0f ms", outcome.kind, elapsed_ms)
        self.processed += 1
        if self.buffered and not self.stopping.is_set():
            self._start_buffered()
        self._slot_freed.set()

    # -- housekeeping -------------------------------------------------------------------------------
    async def _every(self, seconds: float, action: Any, until: asyncio.Event | None = None) -> None:
        until = until or self.stopping
        while not until.is_set():
            try:
                await action()
            except Exception as exc:  # connection trouble of any kind: log, back off, go on
                log.warning("%s failed: %s", getattr(action, "__name__", action), exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(until.wait(), seconds)

    async def _heartbeat(self) -> None:
        cfg = self.config
        if not await queue.worker_heartbeat(self.pool, self.id, self.stopping.is_set()):
            await queue.register_worker(
                self.pool, self.id, socket.gethostname(), os.getpid(), cfg.queues, cfg.concurrency
            )
        await self._extend_leases()

    async def _extend_leases(self) -> None:
        """Push the leases of held jobs, buffered ones included; stop the ones this worker no longer owns
        or that were cancelled."""
        held = [*self.running, *self.buffered]
        if not held:
            return
        alive = await queue.extend_leases(self.pool, self.id, held, self.config.lease_seconds)
        for job_id in held:
            running = self.running.get(job_id)
            if running is None:
                if job_id not in alive:
                    entry = self.buffered.pop(job_id, None)
                    if entry is not None:
                        self._context(entry[0]).log.warning("lease lost before the job started; dropped")
                elif alive[job_id]:
                    self._cancel_buffered(job_id)
                continue
            if job_id not in alive:
                running.ctx.request_stop(LEASE_LOST)
            elif alive[job_id]:
                running.ctx.request_stop(CANCEL)

    async def _schedule(self) -> None:
        await self.scheduler.enqueue_due(self.pool)

    async def _reap(self) -> None:
        async with self.pool.acquire() as conn:
            reaped = await queue.reap_expired(conn)
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
        self.running[job.id] = _Running(job, ctx, task, 0.0)
        done = asyncio.Event()
        beat = asyncio.create_task(self._every(self.config.lease_seconds / 3, self._extend_leases, done))
        started = time.perf_counter()
        try:
            outcome = await task
        finally:
            done.set()
            await beat
            self.running.pop(job.id, None)
            await self.acker.flush_progress()
        self.acker.add(job.id, outcome, 0.0, ctx.spawned)
        await self.acker.drain()
        return job, outcome, (time.perf_counter() - started) * 1000
