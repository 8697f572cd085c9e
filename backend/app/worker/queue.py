"""The queue's SQL, in one place: enqueue, claim, complete, fail, cancel, heartbeat, release, reap.

Every function takes an asyncpg connection (or pool) so it can run inside a caller's transaction.
Batch operations are one statement per batch. JSON travels as text and is decoded here.
"""

from __future__ import annotations

import functools
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple, Protocol

JOBS_CHANNEL = "skiplock_jobs"
CANCEL_CHANNEL = "skiplock_cancel"
EVENTS_CHANNEL = "skiplock_events"  # a statement trigger on jobs ticks here while a listener holds a lease (0006, 0013)
REAPER_LOCK_KEY = 0x736B6C7265617072  # one reaper at a time across all workers


class Executor(Protocol):
    async def fetch(self, query: str, *args: Any, timeout: float | None = None) -> list[Any]: ...
    async def fetchrow(self, query: str, *args: Any, timeout: float | None = None) -> Any: ...
    async def fetchval(self, query: str, *args: Any, column: int = 0, timeout: float | None = None) -> Any: ...
    async def execute(self, query: str, *args: Any, timeout: float | None = None) -> str: ...


class ClaimedJob(NamedTuple):
    """A job this worker holds a lease on. A named tuple: made for every claimed job on the hot path."""

    id: uuid.UUID
    job_type: str
    queue: str
    priority: int
    params: dict[str, Any]
    attempts: int
    max_attempts: int
    timeout_seconds: float | None
    asset_id: uuid.UUID | None


class NewJob(NamedTuple):
    """A job to insert (a named tuple: made for every job of a batch enqueue)."""

    job_type: str
    params: dict[str, Any]
    max_attempts: int
    queue: str = "default"
    priority: int = 0
    run_at: datetime | None = None
    timeout_seconds: float | None = None
    idempotency_key: str | None = None
    asset_id: uuid.UUID | None = None


@dataclass(frozen=True)
class Failure:
    job_id: uuid.UUID
    error: str
    retry_in_seconds: float | None  # None: fail for good
    waited: float = 0.0  # seconds between the claim and the start (see complete_many)


_ENQUEUE = f"""
WITH ins AS (
    INSERT INTO jobs (job_type, params, queue, priority, run_at, max_attempts, timeout_seconds,
                      idempotency_key, asset_id)
    SELECT t.job_type, t.params, t.queue, t.priority, COALESCE(t.run_at, now()), t.max_attempts,
           t.timeout_seconds, t.idempotency_key, t.asset_id
    FROM ROWS FROM (unnest($1::text[]), jsonb_array_elements($2::jsonb), unnest($3::text[]), unnest($4::int[]),
                    unnest($5::timestamptz[]), unnest($6::int[]), unnest($7::float8[]), unnest($8::text[]),
                    unnest($9::uuid[]))
         AS t(job_type, params, queue, priority, run_at, max_attempts, timeout_seconds, idempotency_key, asset_id)
    ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
    RETURNING id, queue, run_at, idempotency_key
), woke AS (
    SELECT pg_notify('{JOBS_CHANNEL}', q) FROM (SELECT DISTINCT queue AS q FROM ins WHERE run_at <= now()) s
)
SELECT ins.id, ins.idempotency_key, (SELECT count(*) FROM woke) AS notified FROM ins
"""


def job_columns(jobs: Sequence[NewJob]) -> list[Any]:
    """New jobs as the columns a batch insert reads: type, params, queue, priority, run_at, max_attempts, timeout,
    idempotency key, asset (the order of `_ENQUEUE`'s parameters). Each an array to unnest, but the params: one
    JSON array for `jsonb_array_elements` (one `json.dumps` for the batch, as in the fast insert)."""
    return [
        [j.job_type for j in jobs],
        json.dumps([j.params for j in jobs]),
        [j.queue for j in jobs],
        [j.priority for j in jobs],
        [j.run_at for j in jobs],
        [j.max_attempts for j in jobs],
        [j.timeout_seconds for j in jobs],
        [j.idempotency_key for j in jobs],
        [j.asset_id for j in jobs],
    ]


# The common batch: no idempotency key and no run_at (due now). No speculative insertion (ON CONFLICT), the ids
# back as one array. The params travel as one JSON array (one `json.dumps` for the batch, one text parameter,
# split by `jsonb_array_elements`), and a column whose value every job of the batch shares as one scalar
# parameter, not an array of copies: the driver encodes a few values instead of an array element per job and
# column, and the database unnests one or two arrays. A column every job leaves empty (timeout, asset) is not
# sent; the queues to wake are named by the caller (every job is due).
_FAST_COLUMNS = ("job_type", "queue", "priority", "max_attempts", "timeout_seconds", "asset_id")
_FAST_TYPES = ("text", "text", "int", "int", "float8", "uuid")
_FAST_FIELDS = tuple(NewJob._fields.index(name) for name in _FAST_COLUMNS)  # their positions in a NewJob
_PARAMS, _QUEUE = NewJob._fields.index("params"), NewJob._fields.index("queue")
_SHARED, _PER_JOB, _UNSET = 0, 1, 2  # how a batch sends a column
_OPTIONAL = frozenset(("timeout_seconds", "asset_id"))  # not sent when no job of the batch sets it


@functools.cache
def _fast_enqueue(shape: tuple[int, ...]) -> str:
    """The fast batch insert for a batch whose columns (`_FAST_COLUMNS`) are each shared, per job or unset."""
    columns, values, arrays = ["params"], ["t.params"], ["jsonb_array_elements($1::jsonb)"]
    aliases = ["params"]
    n = 1
    for name, kind, how in zip(_FAST_COLUMNS, _FAST_TYPES, shape, strict=True):
        if how == _UNSET:
            continue
        n += 1
        columns.append(name)
        if how == _SHARED:
            values.append(f"${n}::{kind}")
        else:
            values.append(f"t.{name}")
            arrays.append(f"unnest(${n}::{kind}[])")
            aliases.append(name)
    source = f"ROWS FROM ({', '.join(arrays)})" if len(arrays) > 1 else arrays[0]
    return f"""
WITH ins AS (INSERT INTO jobs ({", ".join(columns)}) SELECT {", ".join(values)}
             FROM {source} AS t({", ".join(aliases)}) RETURNING id),
woke AS (SELECT pg_notify('{JOBS_CHANNEL}', q) FROM unnest(${n + 1}::text[]) AS q)
SELECT array_agg(id), (SELECT count(*) FROM woke) FROM ins
"""


async def _enqueue_fast(conn: Executor, jobs: Sequence[NewJob]) -> list[tuple[uuid.UUID, bool]]:
    columns = list(zip(*jobs, strict=True))  # the batch by column, transposed in C
    shape: list[int] = []
    args: list[Any] = [json.dumps(columns[_PARAMS])]
    for field, name in zip(_FAST_FIELDS, _FAST_COLUMNS, strict=True):
        values = columns[field]
        first = values[0]
        if values.count(first) == len(values):  # every job's value equals the first (compared in C)
            if first is None and name in _OPTIONAL:
                shape.append(_UNSET)
                continue
            shape.append(_SHARED)
            args.append(first)
        else:
            shape.append(_PER_JOB)
            args.append(values)
    args.append(list(dict.fromkeys(columns[_QUEUE])))
    row = await conn.fetchrow(_fast_enqueue(tuple(shape)), *args)
    return [(job_id, True) for job_id in row[0]]


async def enqueue_many(conn: Executor, jobs: Sequence[NewJob]) -> list[tuple[uuid.UUID, bool]]:
    """Insert jobs in one statement; returns (id, created) per job, in order.

    A job whose idempotency key exists already is not inserted: the existing job's id comes back with
    created=False. Workers listening on the job's queue are woken when the transaction commits.
    """
    if not jobs:
        return []
    if all(j.idempotency_key is None and j.run_at is None for j in jobs):
        return await _enqueue_fast(conn, jobs)
    rows = await conn.fetch(_ENQUEUE, *job_columns(jobs))
    created = {r["idempotency_key"]: r["id"] for r in rows if r["idempotency_key"] is not None}
    fresh = iter([r["id"] for r in rows if r["idempotency_key"] is None])
    missing = [j.idempotency_key for j in jobs if j.idempotency_key and j.idempotency_key not in created]
    existing: dict[str, uuid.UUID] = {}
    if missing:
        found = await conn.fetch("SELECT id, idempotency_key FROM jobs WHERE idempotency_key = ANY($1)", missing)
        existing = {r["idempotency_key"]: r["id"] for r in found}
    out: list[tuple[uuid.UUID, bool]] = []
    for j in jobs:
        if j.idempotency_key is None:
            out.append((next(fresh), True))
        elif j.idempotency_key in created:
            out.append((created[j.idempotency_key], True))
        else:
            out.append((existing[j.idempotency_key], False))
    return out


# One job: plain parameters instead of nine one-element arrays (the one-by-one path of the API and the CLI).
# A due job announces itself in RETURNING, which ON CONFLICT DO NOTHING leaves empty when the key is taken.
_INSERT_ONE = f"""
INSERT INTO jobs (job_type, params, queue, priority, run_at, max_attempts, timeout_seconds, asset_id,
                  idempotency_key)
VALUES ($1, $2::jsonb, $3, $4, COALESCE($5::timestamptz, now()), $6, $7, $8, $9)
{{conflict}}
RETURNING id, CASE WHEN run_at <= now() THEN pg_notify('{JOBS_CHANNEL}', queue) END
"""
# Without an idempotency key there is nothing to conflict on: no speculative insertion.
_ENQUEUE_ONE_UNKEYED = _INSERT_ONE.format(conflict="")
_ENQUEUE_ONE = _INSERT_ONE.format(conflict="ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING")
# The common job, due now without a key, timeout or asset: five parameters to encode and bind instead of nine,
# and a NOTIFY without a test.
_ENQUEUE_ONE_DUE = f"""
INSERT INTO jobs (job_type, params, queue, priority, max_attempts) VALUES ($1, $2::jsonb, $3, $4, $5)
RETURNING id, pg_notify('{JOBS_CHANNEL}', queue)
"""


async def enqueue(conn: Executor, job: NewJob) -> tuple[uuid.UUID, bool]:
    """Insert one job; (id, created) as in :func:`enqueue_many`."""
    job_type, params, max_attempts, queue, priority, run_at, timeout, key, asset = job
    if run_at is None and key is None and timeout is None and asset is None:
        return await conn.fetchval(_ENQUEUE_ONE_DUE, job_type, json.dumps(params), queue, priority, max_attempts), True
    args = [job_type, json.dumps(params), queue, priority, run_at, max_attempts, timeout, asset, key]
    if key is None:
        return await conn.fetchval(_ENQUEUE_ONE_UNKEYED, *args), True
    while True:
        job_id = await conn.fetchval(_ENQUEUE_ONE, *args)
        if job_id is not None:
            return job_id, True
        existing = await conn.fetchval("SELECT id FROM jobs WHERE idempotency_key = $1", job.idempotency_key)
        if existing is not None:  # else the holder of the key was just pruned: insert again
            return existing, False


_KEY_HOLDER = """
SELECT job_type, params::text AS params, queue, priority, max_attempts, run_at FROM jobs WHERE idempotency_key = $1
"""


async def idempotency_conflicts(conn: Executor, job: NewJob) -> list[str]:
    """How `job` differs from the job that holds its idempotency key, a phrase per field; [] when it repeats
    that job's request (or no job holds the key). `run_at` counts only when `job` names one."""
    row = await conn.fetchrow(_KEY_HOLDER, job.idempotency_key)
    if row is None:
        return []
    held = json.loads(row["params"])
    differences = [
        f"{name} (was {row[name]!r}, now {value!r})"
        for name, value in (
            ("job_type", job.job_type),
            ("queue", job.queue),
            ("priority", job.priority),
            ("max_attempts", job.max_attempts),
        )
        if row[name] != value
    ]
    if held != job.params:
        keys = sorted(k for k in held.keys() | job.params.keys() if held.get(k, ...) != job.params.get(k, ...))
        differences.append(f"params ({', '.join(keys[:10])})")
    if job.run_at is not None and row["run_at"] != job.run_at:
        differences.append(f"run_at (was {row['run_at'].isoformat()}, now {job.run_at.isoformat()})")
    return differences


# Claiming: the lease, the attempt, and the columns a worker needs, shared by both claim statements.
# `= ANY(ARRAY(subquery))` rather than `IN (subquery)`: the locking subquery runs once as an init plan, instead
# of a semi-join with a hash aggregate and one index lookup per row. The subquery hands over the rows'
# physical addresses (ctid), which the update reads directly (a TID scan), without looking each job up in the
# primary key again. An address names the same row version until that version is updated or deleted, and no
# other transaction can do either while this statement holds the row lock taken by FOR UPDATE. (Were a row
# updated by another transaction after this statement's snapshot and before its lock, the lock would return
# the newer version, which the snapshot cannot see: that job is left for the next claim, still waiting.)
_TAKE = """
UPDATE jobs AS j
SET status = 'processing', attempts = j.attempts + 1, locked_by = $1,
    locked_until = now() + make_interval(secs => $2), started_at = now(), updated_at = now(),
    progress = 0, progress_message = NULL, error = NULL
WHERE j.ctid = ANY(ARRAY("""
_TAKEN = """)
RETURNING j.id, j.job_type, j.queue, j.priority, j.params::text AS params, j.attempts, j.max_attempts,
          j.timeout_seconds, j.asset_id
"""


_CLAIM = (
    _TAKE
    + """
    SELECT ctid FROM jobs
    WHERE status IN ('pending', 'retry') AND run_at <= now()
      AND ($3::text[] IS NULL OR queue = ANY($3::text[]))
      AND NOT (job_type = ANY($5::text[]))
    ORDER BY priority, run_at
    FOR UPDATE SKIP LOCKED
    LIMIT $4
)
"""
    + _TAKEN
)


def _claimed(rows: list[Any]) -> list[ClaimedJob]:
    # The params of the whole batch are decoded in one call, as one JSON array: PostgreSQL wrote each of them
    # from a jsonb value, so each is valid JSON text, and one call saves the per-call cost of json.loads.
    # Rows are unpacked by position, in the order of the claim's RETURNING list (the fields of ClaimedJob).
    params = json.loads("[" + ",".join([r[4] for r in rows]) + "]")
    jobs = [
        ClaimedJob(job_id, job_type, queue, priority, p, attempts, max_attempts, timeout, asset_id)
        for (job_id, job_type, queue, priority, _, attempts, max_attempts, timeout, asset_id), p in zip(
            rows, params, strict=True
        )
    ]
    jobs.sort(key=lambda j: j.priority)
    return jobs


async def claim(
    conn: Executor,
    worker_id: uuid.UUID,
    limit: int,
    lease_seconds: float,
    queues: Sequence[str] | None = None,
    exclude_types: Sequence[str] = (),
) -> list[ClaimedJob]:
    """Lock up to `limit` due jobs (priority, then run_at) for `worker_id`, with a lease, in one statement."""
    rows = await conn.fetch(
        _CLAIM, worker_id, lease_seconds, list(queues) if queues else None, limit, list(exclude_types)
    )
    return _claimed(rows)


_CLAIM_LIMITED = (
    _TAKE
    + """
    SELECT ctid FROM jobs
    WHERE status IN ('pending', 'retry') AND run_at <= now() AND job_type = $3
      AND ($4::text[] IS NULL OR queue = ANY($4::text[]))
    ORDER BY priority, run_at
    FOR UPDATE SKIP LOCKED
    LIMIT GREATEST(0, LEAST($5::int,
                            $6::int - (SELECT count(*) FROM jobs WHERE status = 'processing' AND job_type = $3)))
)
"""
    + _TAKEN
)


async def claim_limited(
    conn: Any,
    worker_id: uuid.UUID,
    job_type: str,
    cap: int,
    limit: int,
    lease_seconds: float,
    queues: Sequence[str] | None = None,
) -> list[ClaimedJob]:
    """Claim jobs of a type whose concurrency is capped across all workers.

    A transaction-level advisory lock per job type serialises these claims, so two workers cannot both see
    a free slot and exceed the cap.
    """
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('skiplock.type.' || $1))", job_type)
        rows = await conn.fetch(
            _CLAIM_LIMITED, worker_id, lease_seconds, job_type, list(queues) if queues else None, limit, cap
        )
    return _claimed(rows)


# An outcome moves started_at, set by the claim, by the seconds the job waited in the worker's local
# buffer before it started (`waited`), so that started_at is when the handler started.
_COMPLETE = """
UPDATE jobs AS j
SET status = 'completed', result = v.result::jsonb, finished_at = now(), updated_at = now(),
    started_at = j.started_at + make_interval(secs => v.waited),
    locked_by = NULL, locked_until = NULL, progress = 100, error = NULL
FROM unnest($1::uuid[], $2::text[], $3::float8[]) AS v(id, result, waited)
WHERE j.id = v.id AND j.locked_by = $4 AND j.status = 'processing'
RETURNING j.id
"""


async def complete_many(
    conn: Executor, worker_id: uuid.UUID, results: Sequence[tuple[uuid.UUID, str | None, float]]
) -> set[uuid.UUID]:
    """Mark jobs completed with their results (JSON text) and the seconds each waited before it started;
    returns the ids it matched (a job whose lease was lost is left alone, and missing from the answer)."""
    if not results:
        return set()
    rows = await conn.fetch(
        _COMPLETE, [r[0] for r in results], [r[1] for r in results], [r[2] for r in results], worker_id
    )
    return {r[0] for r in rows}


_FAIL = """
UPDATE jobs AS j
SET status = CASE WHEN v.retry_in IS NULL THEN 'failed'::job_status ELSE 'retry'::job_status END,
    run_at = CASE WHEN v.retry_in IS NULL THEN j.run_at ELSE now() + make_interval(secs => v.retry_in) END,
    finished_at = CASE WHEN v.retry_in IS NULL THEN now() END,
    started_at = j.started_at + make_interval(secs => v.waited),
    error = v.error, updated_at = now(), locked_by = NULL, locked_until = NULL
FROM unnest($1::uuid[], $2::text[], $3::float8[], $4::float8[]) AS v(id, error, retry_in, waited)
WHERE j.id = v.id AND j.locked_by = $5 AND j.status = 'processing'
RETURNING j.id
"""


async def fail_many(conn: Executor, worker_id: uuid.UUID, failures: Sequence[Failure]) -> set[uuid.UUID]:
    """Record failures: `retry` with run_at pushed by `retry_in_seconds`, or `failed` for good; returns the
    ids it matched (those still held by `worker_id`)."""
    if not failures:
        return set()
    rows = await conn.fetch(
        _FAIL,
        [f.job_id for f in failures],
        [f.error for f in failures],
        [f.retry_in_seconds for f in failures],
        [f.waited for f in failures],
        worker_id,
    )
    return {r[0] for r in rows}


async def mark_cancelled(
    conn: Executor, worker_id: uuid.UUID, ids: Sequence[uuid.UUID], reason: str, waited: Sequence[float | None] = ()
) -> set[uuid.UUID]:
    """Cancel held jobs. `waited` per job as in complete_many; None for a job cancelled before it started
    (still in the worker's buffer): its attempt is given back and it keeps no started_at. Returns the ids it
    matched."""
    rows = await conn.fetch(
        """UPDATE jobs AS j SET status = 'cancelled', finished_at = now(), updated_at = now(), error = $3,
                  locked_by = NULL, locked_until = NULL,
                  started_at = j.started_at + make_interval(secs => v.waited),
                  attempts = CASE WHEN v.waited IS NULL THEN GREATEST(j.attempts - 1, 0) ELSE j.attempts END
           FROM unnest($1::uuid[], $4::float8[]) AS v(id, waited)
           WHERE j.id = v.id AND j.locked_by = $2 AND j.status = 'processing' RETURNING j.id""",
        list(ids),
        worker_id,
        reason,
        list(waited) if waited else [0.0] * len(ids),
    )
    return {r[0] for r in rows}


async def release(conn: Executor, worker_id: uuid.UUID, ids: Sequence[uuid.UUID] | None = None) -> set[uuid.UUID]:
    """Give a worker's unfinished jobs (`ids`, or all it holds) back to the queue without spending an attempt
    (a clean shutdown, or an "auto" prefetch buffer giving back jobs it will not start soon); returns the ids it
    matched."""
    rows = await conn.fetch(
        """UPDATE jobs SET status = 'pending', attempts = GREATEST(attempts - 1, 0), locked_by = NULL,
                          locked_until = NULL, started_at = NULL, updated_at = now(),
                          progress_message = 'released by its worker, to run again'
           WHERE locked_by = $1 AND status = 'processing' AND ($2::uuid[] IS NULL OR id = ANY($2::uuid[]))
           RETURNING id""",
        worker_id,
        list(ids) if ids is not None else None,
    )
    return {r[0] for r in rows}


async def job_states(conn: Executor, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, tuple[str, uuid.UUID | None]]:
    """(status, locked_by) of jobs, to say why an outcome was refused (rare: not on the hot path)."""
    rows = await conn.fetch("SELECT id, status::text, locked_by FROM jobs WHERE id = ANY($1::uuid[])", list(ids))
    return {r[0]: (r[1], r[2]) for r in rows}


async def record_refusals(conn: Executor, counts: Sequence[tuple[str, str, int, uuid.UUID]]) -> None:
    """Add to the counts of refused outcomes, by (outcome, reason), with the last job refused (for /metrics:
    the counts of every worker process, standalone or embedded, in one place)."""
    if not counts:
        return
    await conn.execute(
        """INSERT INTO outcome_refusals AS r (outcome, reason, count, last_job_id)
           SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::uuid[])
           ON CONFLICT (outcome, reason) DO UPDATE
           SET count = r.count + EXCLUDED.count, last_job_id = EXCLUDED.last_job_id, last_at = now()""",
        [c[0] for c in counts],
        [c[1] for c in counts],
        [c[2] for c in counts],
        [c[3] for c in counts],
    )


async def extend_leases(
    conn: Executor, worker_id: uuid.UUID, ids: Sequence[uuid.UUID], lease_seconds: float
) -> dict[uuid.UUID, bool]:
    """Push the lease of the jobs a worker holds; returns {job id: cancel requested} for those still its own."""
    rows = await conn.fetch(
        """UPDATE jobs SET locked_until = now() + make_interval(secs => $3)
           WHERE id = ANY($2::uuid[]) AND locked_by = $1 AND status = 'processing'
           RETURNING id, cancel_requested""",
        worker_id,
        list(ids),
        lease_seconds,
    )
    return {r["id"]: r["cancel_requested"] for r in rows}


async def write_progress(
    conn: Executor, worker_id: uuid.UUID, updates: Sequence[tuple[uuid.UUID, float, str | None]]
) -> None:
    if not updates:
        return
    await conn.execute(
        """UPDATE jobs AS j SET progress = v.progress, progress_message = COALESCE(v.message, j.progress_message),
                               updated_at = now()
           FROM unnest($1::uuid[], $2::float8[], $3::text[]) AS v(id, progress, message)
           WHERE j.id = v.id AND j.locked_by = $4 AND j.status = 'processing'""",
        [u[0] for u in updates],
        [u[1] for u in updates],
        [u[2] for u in updates],
        worker_id,
    )


async def waiting_types(conn: Executor, job_types: Sequence[str], queues: Sequence[str] | None) -> list[str]:
    """Which of `job_types` have a job due and waiting (cheap: the partial index of active jobs)."""
    rows = await conn.fetch(
        """SELECT DISTINCT job_type FROM jobs
           WHERE status IN ('pending', 'retry') AND job_type = ANY($1::text[]) AND run_at <= now()
             AND ($2::text[] IS NULL OR queue = ANY($2::text[]))""",
        list(job_types),
        list(queues) if queues else None,
    )
    return [r["job_type"] for r in rows]


async def reap_expired(
    conn: Any, worker_id: uuid.UUID | None = None, held: Sequence[uuid.UUID] = ()
) -> list[tuple[uuid.UUID, str]]:
    """Requeue (or fail) jobs whose lease expired: their worker died, froze or lost its connection.

    Depends on nothing but `locked_until`, so a pruned or re-registered worker row cannot hide a stalled
    job. Only one reaper runs at a time (advisory lock); returns (id, new status). A worker never reaps the
    jobs it still `held` (its own lease clock may lag, say after its event loop was blocked).
    """
    async with conn.transaction():
        if not await conn.fetchval("SELECT pg_try_advisory_xact_lock($1)", REAPER_LOCK_KEY):
            return []
        rows = await conn.fetch(
            """UPDATE jobs SET
                 status = CASE WHEN attempts < max_attempts THEN 'retry'::job_status ELSE 'failed'::job_status END,
                 finished_at = CASE WHEN attempts < max_attempts THEN NULL ELSE now() END,
                 error = 'worker lost: its lease expired at ' || locked_until || ' (killed, frozen or disconnected)'
                         || CASE WHEN attempts < max_attempts THEN '; retrying' ELSE '; no attempts left' END,
                 run_at = now(), locked_by = NULL, locked_until = NULL, updated_at = now(), reaped = reaped + 1
               WHERE status = 'processing' AND locked_until < now()
                 AND ($1::uuid IS NULL OR NOT (locked_by = $1 AND id = ANY($2::uuid[])))
               RETURNING id, status::text""",
            worker_id,
            list(held),
        )
    return [(r["id"], r["status"]) for r in rows]


async def request_cancel(conn: Any, job_id: uuid.UUID) -> str | None:
    """Cancel a job: queued or waiting for its dependencies → `cancelled` at once (and its dependants with it,
    migration 0007); processing → flagged, and its worker told by NOTIFY.

    Returns the status the job had before (finished jobs are left as they are), or None if no such job.
    """
    async with conn.transaction():
        before = await conn.fetchval("SELECT status::text FROM jobs WHERE id = $1 FOR UPDATE", job_id)
        if before in ("pending", "retry", "waiting"):
            await conn.execute(
                """UPDATE jobs SET status = 'cancelled', finished_at = now(), updated_at = now(),
                                  error = 'cancelled before it started' WHERE id = $1""",
                job_id,
            )
        elif before == "processing":
            await conn.execute("UPDATE jobs SET cancel_requested = true, updated_at = now() WHERE id = $1", job_id)
            await conn.execute("SELECT pg_notify($1, $2)", CANCEL_CHANNEL, str(job_id))
    return str(before) if before is not None else None


async def requeue(conn: Executor, job_id: uuid.UUID) -> bool:
    """Put a failed or cancelled job back to `pending` with fresh attempts; False if it was in another state."""
    row = await conn.fetchrow(
        """UPDATE jobs SET status = 'pending', attempts = 0, run_at = now(), error = NULL, result = NULL,
                          finished_at = NULL, started_at = NULL, cancel_requested = false, progress = 0,
                          progress_message = NULL, updated_at = now()
           WHERE id = $1 AND status IN ('failed', 'cancelled')
           RETURNING pg_notify($2, queue)""",
        job_id,
        JOBS_CHANNEL,
    )
    return row is not None


async def register_worker(
    conn: Executor, worker_id: uuid.UUID, hostname: str, pid: int, queues: Sequence[str], concurrency: int
) -> None:
    await conn.execute(
        "INSERT INTO workers (id, hostname, pid, queues, concurrency) VALUES ($1, $2, $3, $4, $5)",
        worker_id,
        hostname,
        pid,
        list(queues),
        concurrency,
    )


async def worker_heartbeat(conn: Executor, worker_id: uuid.UUID, stopping: bool = False) -> bool:
    """Refresh the worker's row; False if the row is gone (pruned while this worker was frozen)."""
    status = await conn.execute(
        "UPDATE workers SET heartbeat_at = now(), stopping = stopping OR $2 WHERE id = $1", worker_id, stopping
    )
    return status != "UPDATE 0"


async def deregister_worker(conn: Executor, worker_id: uuid.UUID) -> None:
    await conn.execute("DELETE FROM workers WHERE id = $1", worker_id)


async def prune_workers(conn: Executor, older_than_seconds: float) -> int:
    status = await conn.execute(
        "DELETE FROM workers WHERE heartbeat_at < now() - make_interval(secs => $1)", older_than_seconds
    )
    return int(status.split()[-1])


async def prune_finished(conn: Executor, older_than_seconds: float, batch_size: int) -> int:
    """Delete up to `batch_size` finished jobs older than the retention age; returns how many."""
    status = await conn.execute(
        """DELETE FROM jobs WHERE id IN (
               SELECT id FROM jobs
               WHERE status IN ('completed', 'failed', 'cancelled')
                 AND finished_at < now() - make_interval(secs => $1)
               ORDER BY finished_at LIMIT $2 FOR UPDATE SKIP LOCKED)""",
        older_than_seconds,
        batch_size,
    )
    return int(status.split()[-1])
