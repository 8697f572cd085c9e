"""Batched write-back: outcomes and progress of many jobs go to the database in one statement per kind, and
every outcome the database refused (the worker no longer held the job) is said so, never reported as done."""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from typing import NamedTuple

import asyncpg

from app.worker import queue, workflows
from app.worker.executor import Outcome, OutcomeKind
from app.worker.outage import Outage, describe, is_connection_trouble

log = logging.getLogger(__name__)


class _Item(NamedTuple):
    job_id: uuid.UUID
    outcome: Outcome
    waited: float | None  # seconds between the claim and the start; None: it never started
    job_type: str
    elapsed_ms: float  # the handler's run time, for the log line once the outcome is written


class _LeaseLost(Exception):
    """The job was no longer this worker's when its completion was written: roll its children back."""


_Key = tuple[OutcomeKind, str | None]  # one statement per kind (and per reason, for cancellations)

# The state each outcome leaves its job in: an outcome whose write may have gone through before its
# connection broke, and that the retry then finds in this state with no holder, was written by that try.
_FINAL_STATUS: dict[str, tuple[str, ...]] = {
    "completed": ("completed",),
    "failed": ("retry", "failed"),
    "cancelled": ("cancelled",),
    "released": ("pending",),
}

# Why a job's row no longer matched, by its status now (the statement required `processing` under this worker).
_REASONS: dict[str, str] = {
    "processing": "taken over",
    "retry": "reaped",
    "failed": "reaped",
    "pending": "requeued",
    "cancelled": "cancelled",
    "completed": "completed elsewhere",
}
_EXPLAINED: dict[str, str] = {
    "taken over": "its lease expired and another worker took the job",
    "reaped": "its lease expired and the job was reaped",
    "requeued": "the job was given back to the queue meanwhile",
    "cancelled": "the job was cancelled meanwhile",
    "completed elsewhere": "another worker completed the job",
    "deleted": "the job no longer exists",
}


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


class Acker:
    """Collects job outcomes on the event loop and writes them in batches.

    A flush starts as soon as the first outcome arrives (on the next loop turn), so every outcome that
    lands while one flush is in flight is written by the next one: batches grow with the load, and an idle
    worker acknowledges a lone job at once. A failed write is retried; nothing is dropped. Each statement
    returns the jobs it matched: an outcome that matched none is a WARNING naming the job and why, and is
    counted (`refused`, and the `outcome_refusals` table behind /metrics).
    """

    def __init__(
        self,
        pool: asyncpg.Pool,
        worker_id: uuid.UUID,
        *,
        on_settled: Callable[[list[uuid.UUID]], None] | None = None,
        outage: Outage | None = None,
    ) -> None:
        self._pool = pool
        self._worker_id = worker_id
        self._on_settled = on_settled
        self._outage = outage or Outage()
        self._pending: list[_Item] = []
        self._children: dict[uuid.UUID, list[workflows.Step]] = {}  # completed jobs' child jobs, unwritten
        self._writing = 0  # outcomes in the batch being written now
        self._flusher: asyncio.Task[None] | None = None
        self._progress: dict[uuid.UUID, tuple[float, str | None]] = {}
        self._progress_lock = threading.Lock()
        self._uncertain: set[uuid.UUID] = set()  # in a statement when its connection broke
        self._unrecorded: dict[tuple[str, str], tuple[int, uuid.UUID]] = {}  # refusals not yet in the table
        self.written: dict[str, int] = defaultdict(int)
        self.refused: Counter[tuple[str, str]] = Counter()  # (outcome, reason) -> count, this process

    # -- outcomes -----------------------------------------------------------------------------------
    def add(
        self,
        job_id: uuid.UUID,
        outcome: Outcome,
        waited: float | None = 0.0,
        job_type: str = "",
        elapsed_ms: float = 0.0,
        children: list[workflows.Step] | None = None,
    ) -> None:
        """Queue an outcome; `waited`: seconds between the claim and the start, None if it never started;
        `children`: jobs the handler enqueued, written with a completion (and dropped with any other outcome)."""
        if children and outcome.kind == "completed":
            self._children[job_id] = children
        self._pending.append(_Item(job_id, outcome, waited, job_type, elapsed_ms))
        if self._progress:  # a progress report still unwritten would be dropped by the final state anyway
            with self._progress_lock:
                self._progress.pop(job_id, None)
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_loop())

    def dropped(self, job_id: uuid.UUID, job_type: str, kind: str, reason: str) -> None:
        """Count an outcome the worker dropped without writing it (its lease was lost)."""
        self._count(job_id, kind, reason)

    @property
    def backlog(self) -> int:
        """Outcomes handed in and not yet written (their jobs are still `processing` in the database)."""
        return len(self._pending) + self._writing

    async def _flush_loop(self) -> None:
        delay = 0.05
        while self._pending:
            batch, self._pending = self._pending, []
            self._writing = len(batch)
            groups = _grouped(batch)
            try:
                await self._write_batch(groups)
                self._outage.ok()
                delay = 0.05
            except Exception as exc:  # connection trouble of any kind: log, back off, go on
                left = [item for items in groups.values() for item in items]
                if is_connection_trouble(exc):
                    self._outage.failed(f"writing {len(left)} job outcome(s)", exc, delay)
                else:
                    log.warning("writing %d job outcomes failed (%s); retrying in %.2f s", len(left), exc, delay)
                self._pending[:0] = left
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
            finally:
                self._writing = 0

    async def _write_batch(self, groups: dict[_Key, list[_Item]]) -> None:
        """One statement per kind; if the database refuses a value in it, job by job instead. Groups are
        removed from `groups` as their statements return: what is left after an error is still to write."""
        try:
            async with self._pool.acquire() as conn:
                for key in list(groups):
                    await self._write(conn, key, groups[key])
                    del groups[key]
        except asyncpg.DataError as exc:
            left = [item for items in groups.values() for item in items]
            log.warning("writing %d job outcomes failed (%s); writing them one by one", len(left), exc)
            await self._write_each(left)
            groups.clear()

    async def _write(self, conn: asyncpg.Connection, key: _Key, items: list[_Item]) -> None:
        if key[0] == "completed" and self._children:
            spawning = [i for i in items if i.job_id in self._children]
            items = [i for i in items if i.job_id not in self._children]  # before _complete_spawning forgets them
            for item in spawning:
                await self._complete_spawning(conn, item)
            if not items:
                return
        try:
            matched = await _statement(conn, self._worker_id, key, items)
        except asyncpg.DataError:
            raise  # refused as a whole before it changed anything
        except Exception:
            self._uncertain.update(item.job_id for item in items)
            raise
        await self._settle(conn, items, matched)

    async def _complete_spawning(self, conn: asyncpg.Connection, item: _Item) -> None:
        """A completion and the child jobs its handler enqueued, in one transaction: the children exist if and
        only if the completion is written (not when the lease was lost). Children naming jobs that do not
        exist fail the parent for good, saying which."""
        children = self._children[item.job_id]
        matched: set[uuid.UUID] = set()
        try:
            async with conn.transaction():
                await workflows.insert(conn, children)
                matched = await queue.complete_many(
                    conn, self._worker_id, [(item.job_id, item.outcome.result_json, item.waited or 0.0)]
                )
                if not matched:
                    raise _LeaseLost
        except _LeaseLost:
            log.warning("job %s: its %d child job(s) dropped with its refused completion", item.job_id, len(children))
        except (workflows.UnknownDependencies, workflows.ForwardDependency) as exc:
            reason = f"the job's child jobs could not be enqueued: {exc}"
            failure = queue.Failure(item.job_id, reason, None, item.waited or 0.0)
            matched = await queue.fail_many(conn, self._worker_id, [failure])
            item = item._replace(outcome=Outcome("failed", error=reason))
        except asyncpg.DataError:
            raise  # refused as a whole before it changed anything
        except Exception:
            self._uncertain.add(item.job_id)
            raise
        del self._children[item.job_id]
        await self._settle(conn, [item], matched)

    async def _write_each(self, batch: list[_Item]) -> None:
        """Write outcomes one at a time; one the database refuses (a value it cannot store) is written as a
        failure that says why, without retry, so that it neither blocks the others nor stays `processing`."""
        async with self._pool.acquire() as conn:
            for item in batch:
                key: _Key = (item.outcome.kind, item.outcome.error if item.outcome.kind == "cancelled" else None)
                try:
                    await self._write(conn, key, [item])
                except asyncpg.DataError as exc:
                    log.error("job %s: its outcome could not be stored (%s); marking it failed", item.job_id, exc)
                    reason = f"the job's outcome could not be stored: {exc}"
                    failure = queue.Failure(item.job_id, reason, None, item.waited or 0.0)
                    matched = await queue.fail_many(conn, self._worker_id, [failure])
                    failed = item._replace(outcome=Outcome("failed", error=reason))
                    await self._settle(conn, [failed], matched)

    async def _settle(self, conn: asyncpg.Connection, items: list[_Item], matched: set[uuid.UUID]) -> None:
        """The statement for `items` returned: log and count what was written and what was refused."""
        if len(matched) < len(items):
            await self._refused(conn, [item for item in items if item.job_id not in matched])
        kind = items[0].outcome.kind
        self.written[kind] += len(matched)
        verbose = kind == "released" or log.isEnabledFor(logging.DEBUG)
        for item in items:
            if (verbose or item.elapsed_ms > 1000) and item.job_id in matched:
                _log_written(item)
        if self._uncertain:
            self._uncertain.difference_update(item.job_id for item in items)
        if self._on_settled is not None:
            self._on_settled([item.job_id for item in items])

    async def _refused(self, conn: asyncpg.Connection, refused: list[_Item]) -> None:
        try:
            states = await queue.job_states(conn, [item.job_id for item in refused])
        except Exception as exc:  # connection trouble: the refusal stands, its reason is unknown
            log.debug("could not read refused jobs back: %s", describe(exc))
            states = None
        for item in refused:
            kind = item.outcome.kind
            state = states.get(item.job_id) if states is not None else None
            if state is not None and item.job_id in self._uncertain:
                status, holder = state
                if holder is None and status in _FINAL_STATUS.get(kind, ()):
                    self.written[kind] += 1  # this worker's own write, before its connection broke
                    if kind == "released" or item.elapsed_ms > 1000:
                        _log_written(item)
                    continue
            if states is None:
                reason, why = "unknown", "the job could not be read back"
            elif state is None:
                reason, why = "deleted", _EXPLAINED["deleted"]
            else:
                reason = _REASONS.get(state[0], "unknown")
                why = f"{_EXPLAINED.get(reason, 'unexpected state')} (now {state[0]})"
            _job_log(item.job_type).warning(
                "%s outcome refused by the database: %s; this worker no longer held the job, nothing was recorded",
                kind,
                why,
                extra={"job_id": str(item.job_id), "job_type": item.job_type},
            )
            self._count(item.job_id, kind, reason)

    def _count(self, job_id: uuid.UUID, kind: str, reason: str) -> None:
        self.refused[(kind, reason)] += 1
        count, _ = self._unrecorded.get((kind, reason), (0, job_id))
        self._unrecorded[(kind, reason)] = (count + 1, job_id)

    async def drain(self) -> None:
        """Wait until every outcome handed in so far is written."""
        while self._flusher is not None and not self._flusher.done():
            await asyncio.shield(self._flusher)

    # -- progress and refusal counts ------------------------------------------------------------------
    def report(self, job_id: uuid.UUID, percent: float, message: str | None) -> None:
        """Thread-safe: the latest value per job wins; `flush` writes them."""
        with self._progress_lock:
            self._progress[job_id] = (percent, message)

    async def flush(self) -> None:
        """Write the latest progress reports and the refusal counts not yet recorded."""
        with self._progress_lock:
            updates, self._progress = self._progress, {}
        if updates:
            await queue.write_progress(self._pool, self._worker_id, [(k, p, m) for k, (p, m) in updates.items()])
        if self._unrecorded:
            counts, self._unrecorded = self._unrecorded, {}
            try:
                await queue.record_refusals(self._pool, [(k, r, n, j) for (k, r), (n, j) in counts.items()])
            except Exception:
                for key, (count, job_id) in counts.items():  # kept for the next flush
                    before, _ = self._unrecorded.get(key, (0, job_id))
                    self._unrecorded[key] = (before + count, job_id)
                raise


def _grouped(batch: Iterable[_Item]) -> dict[_Key, list[_Item]]:
    groups: dict[_Key, list[_Item]] = defaultdict(list)
    for item in batch:
        kind = item.outcome.kind
        groups[(kind, item.outcome.error if kind == "cancelled" else None)].append(item)
    return groups


async def _statement(conn: asyncpg.Connection, wid: uuid.UUID, key: _Key, items: list[_Item]) -> set[uuid.UUID]:
    """Write one kind of outcome for `items`; returns the ids of the jobs it matched."""
    kind, reason = key
    if kind == "completed":
        return await queue.complete_many(conn, wid, [(i.job_id, i.outcome.result_json, i.waited or 0.0) for i in items])
    if kind == "failed":
        failures = [
            queue.Failure(i.job_id, _text(i.outcome.error or "failed"), i.outcome.retry_in, i.waited or 0.0)
            for i in items
        ]
        return await queue.fail_many(conn, wid, failures)
    if kind == "cancelled":
        ids, waited = [i.job_id for i in items], [i.waited for i in items]
        return await queue.mark_cancelled(conn, wid, ids, _text(reason or "cancelled on request"), waited)
    if kind == "released":
        return await queue.release(conn, wid, [i.job_id for i in items])
    raise ValueError(f"no statement writes a {kind!r} outcome")


def _job_log(job_type: str) -> logging.Logger:
    return logging.getLogger(f"app.jobs.{job_type or 'unknown'}")


def _log_written(item: _Item) -> None:
    """The line a written outcome earns (a release always: the job will run elsewhere; others when slow)."""
    kind = item.outcome.kind
    if kind == "released":
        message = "released after %.0f ms: back in the queue, no attempt spent"
    elif kind != "failed":
        message = f"{kind} in %.0f ms"
    else:
        return
    _job_log(item.job_type).info(
        message, item.elapsed_ms, extra={"job_id": str(item.job_id), "job_type": item.job_type}
    )
