"""Batched write-back: outcomes and progress of many jobs go to the database in one statement per kind."""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from collections import defaultdict

import asyncpg

from app.worker import queue, workflows
from app.worker.executor import Outcome

log = logging.getLogger(__name__)


# (job id, outcome, seconds between the claim and the start, or None if it never started)
_Item = tuple[uuid.UUID, Outcome, float | None]


def _text(message: str) -> str:
    """An error message as PostgreSQL text accepts it: no NUL characters, no lone surrogates (an exception's
    message may carry any bytes a handler read)."""
    if "\x00" in message:
        message = message.replace("\x00", "\\x00")
    try:
        message.encode("utf-8")
    except UnicodeEncodeError:
        message = message.encode("utf-8", "backslashreplace").decode("utf-8")
    return message


class _LeaseLost(Exception):
    """The job was no longer this worker's when its completion was written: roll its children back."""


class Acker:
    """Collects job outcomes on the event loop and writes them in batches.

    A flush starts as soon as the first outcome arrives (on the next loop turn), so every outcome that
    lands while one flush is in flight is written by the next one: batches grow with the load, and an idle
    worker acknowledges a lone job at once. A failed write is retried; nothing is dropped.
    """

    def __init__(self, pool: asyncpg.Pool, worker_id: uuid.UUID) -> None:
        self._pool = pool
        self._worker_id = worker_id
        self._pending: list[_Item] = []
        self._writing = 0  # outcomes in the batch being written now
        self._flusher: asyncio.Task[None] | None = None
        self._progress: dict[uuid.UUID, tuple[float, str | None]] = {}
        self._progress_lock = threading.Lock()
        self._children: dict[uuid.UUID, list[workflows.Step]] = {}  # completed jobs' child jobs, unwritten
        self.written: dict[str, int] = defaultdict(int)

    # -- outcomes -----------------------------------------------------------------------------------
    def add(
        self,
        job_id: uuid.UUID,
        outcome: Outcome,
        waited: float | None = 0.0,
        children: list[workflows.Step] | None = None,
    ) -> None:
        """Queue an outcome; `waited`: seconds between the claim and the start, None if it never started;
        `children`: jobs the handler enqueued, written with a completion (and dropped with any other outcome)."""
        if children and outcome.kind == "completed":
            self._children[job_id] = children
        self._pending.append((job_id, outcome, waited))
        if self._progress:  # a progress report still unwritten would be dropped by the final state anyway
            with self._progress_lock:
                self._progress.pop(job_id, None)
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_loop())

    @property
    def backlog(self) -> int:
        """Outcomes handed in and not yet written (their jobs are still `processing` in the database)."""
        return len(self._pending) + self._writing

    async def _flush_loop(self) -> None:
        delay = 0.05
        while self._pending:
            batch, self._pending = self._pending, []
            self._writing = len(batch)
            try:
                await self._write_batch(batch)
                delay = 0.05
            except Exception as exc:  # connection trouble of any kind: log, back off, go on
                log.warning("writing %d job outcomes failed (%s); retrying in %.2f s", len(batch), exc, delay)
                self._pending[:0] = batch
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
            finally:
                self._writing = 0

    async def _write(self, batch: list[_Item]) -> None:
        by_kind: dict[str, list[_Item]] = defaultdict(list)
        for item in batch:
            by_kind[item[1].kind].append(item)
        wid = self._worker_id
        async with self._pool.acquire() as conn:
            if self._children and (items := by_kind.get("completed")):
                by_kind["completed"] = [i for i in items if i[0] not in self._children]
                for job_id, outcome, waited in [i for i in items if i[0] in self._children]:
                    await self._complete_spawning(conn, job_id, outcome, waited or 0.0)
            if items := by_kind.get("completed"):
                await queue.complete_many(conn, wid, [(i, o.result_json, w or 0.0) for i, o, w in items])
            if items := by_kind.get("failed"):
                failures = [queue.Failure(i, _text(o.error or "failed"), o.retry_in, w or 0.0) for i, o, w in items]
                await queue.fail_many(conn, wid, failures)
            if items := by_kind.get("cancelled"):
                for reason in {o.error for _, o, _ in items}:
                    same = [(i, w) for i, o, w in items if o.error == reason]
                    await queue.mark_cancelled(
                        conn, wid, [i for i, _ in same], _text(reason or "cancelled on request"), [w for _, w in same]
                    )
            if items := by_kind.get("released"):
                await queue.release(conn, wid, [i for i, _, _ in items])
        for kind, items in by_kind.items():
            self.written[kind] += len(items)

    async def _complete_spawning(
        self, conn: asyncpg.Connection, job_id: uuid.UUID, outcome: Outcome, waited: float
    ) -> None:
        """A completion and the child jobs its handler enqueued, in one transaction: the children exist if and
        only if the completion is written (not when the lease was lost). Children naming jobs that do not
        exist fail the parent for good, saying which."""
        children = self._children[job_id]
        try:
            async with conn.transaction():
                await workflows.insert(conn, children)
                if not await queue.complete_many(conn, self._worker_id, [(job_id, outcome.result_json, waited)]):
                    raise _LeaseLost
        except _LeaseLost:
            log.warning(
                "job %s: lease lost before its completion was written; its %d child job(s) dropped",
                job_id,
                len(children),
            )
        except (workflows.UnknownDependencies, workflows.ForwardDependency) as exc:
            reason = f"the job's child jobs could not be enqueued: {exc}"
            await queue.fail_many(conn, self._worker_id, [queue.Failure(job_id, reason, None, waited)])
        del self._children[job_id]

    async def _write_batch(self, batch: list[_Item]) -> None:
        """One statement per kind; if the database refuses a value in it, job by job instead."""
        try:
            await self._write(batch)
        except asyncpg.DataError as exc:
            log.warning("writing %d job outcomes failed (%s); writing them one by one", len(batch), exc)
            await self._write_each(batch)

    async def _write_each(self, batch: list[_Item]) -> None:
        """Write outcomes one at a time; one the database refuses (a value it cannot store) is written as a
        failure that says why, without retry, so that it neither blocks the others nor stays `processing`.
        An item written before a connection error is written again on the retry, which finds it done and
        leaves it alone (every write requires the job to be still `processing` under this worker)."""
        for item in batch:
            try:
                await self._write([item])
            except asyncpg.DataError as exc:
                job_id, _outcome, waited = item
                log.error("job %s: its outcome could not be stored (%s); marking it failed", job_id, exc)
                reason = f"the job's outcome could not be stored: {exc}"
                async with self._pool.acquire() as conn:
                    await queue.fail_many(conn, self._worker_id, [queue.Failure(job_id, reason, None, waited or 0.0)])
                self.written["failed"] += 1

    async def drain(self) -> None:
        """Wait until every outcome handed in so far is written."""
        while self._flusher is not None and not self._flusher.done():
            await asyncio.shield(self._flusher)

    # -- progress -----------------------------------------------------------------------------------
    def report(self, job_id: uuid.UUID, percent: float, message: str | None) -> None:
        """Thread-safe: the latest value per job wins; `flush_progress` writes them."""
        with self._progress_lock:
            self._progress[job_id] = (percent, message)

    async def flush_progress(self) -> None:
        with self._progress_lock:
            updates, self._progress = self._progress, {}
        if updates:
            await queue.write_progress(self._pool, self._worker_id, [(k, p, m) for k, (p, m) in updates.items()])
