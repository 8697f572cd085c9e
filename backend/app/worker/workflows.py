"""Jobs that wait for jobs: the SQL of dependencies, workflow graphs and their cancellation.

A job naming dependencies is inserted ``waiting`` (a status the claim never selects) with a counter of the
dependencies not finished yet; the trigger of migration 0007 counts each one down in the transaction that
settles it and makes the job ``pending`` at zero, or cancels it when a dependency fails or is cancelled.
Dependencies must exist already, or come earlier in the same batch: a cycle cannot be built.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from app.worker.queue import JOBS_CHANNEL, Executor, NewJob, job_columns

FINAL = ("completed", "failed", "cancelled")


@dataclass(frozen=True)
class Step:
    """A job to insert with its own id (known before the insert, so later steps can depend on it) and the
    jobs it waits for. `run_anyway`: a dependency that fails or is cancelled counts as finished for it."""

    job: NewJob
    id: uuid.UUID = field(default_factory=uuid.uuid4)
    depends_on: tuple[uuid.UUID, ...] = ()
    run_anyway: bool = False


class UnknownDependencies(LookupError):
    def __init__(self, ids: Sequence[uuid.UUID]) -> None:
        shown = ", ".join(str(i) for i in ids)
        super().__init__(f"depends_on names jobs that do not exist: {shown}")
        self.ids = list(ids)


class ForwardDependency(ValueError):
    """A step names itself or a later step of its batch: only earlier steps or existing jobs may be named."""


# Existing dependencies, locked (in id order: no deadlock between two inserts naming the same jobs) so that
# none of them settles between this read and the commit of the edges: its trigger would not see them yet.
# FOR NO KEY UPDATE: the status is read as committed now, after waiting for a settling transaction.
_LOCK_PARENTS = """
SELECT id, status::text AS status, workflow_id, has_dependants
FROM jobs WHERE id = ANY($1::uuid[]) ORDER BY id FOR NO KEY UPDATE
"""
# A dependency in no workflow yet joins the new job's.
_MARK_PARENTS = """
UPDATE jobs SET has_dependants = true, workflow_id = COALESCE(workflow_id, $2)
WHERE id = ANY($1::uuid[]) AND (NOT has_dependants OR workflow_id IS NULL)
"""
_INSERT = f"""
WITH ins AS (
    INSERT INTO jobs (id, job_type, params, queue, priority, run_at, max_attempts, timeout_seconds,
                      idempotency_key, asset_id, status, blockers, has_dependants, workflow_id, error, finished_at)
    SELECT t.id, t.job_type, t.params, t.queue, t.priority, COALESCE(t.run_at, now()), t.max_attempts,
           t.timeout_seconds, t.idempotency_key, t.asset_id, t.status::job_status, t.blockers, t.has_dependants,
           $15::uuid, t.error, CASE WHEN t.status = 'cancelled' THEN now() END
    FROM ROWS FROM (unnest($1::uuid[]), unnest($2::text[]), jsonb_array_elements($3::jsonb), unnest($4::text[]),
                    unnest($5::int[]), unnest($6::timestamptz[]), unnest($7::int[]), unnest($8::float8[]),
                    unnest($9::text[]), unnest($10::uuid[]), unnest($11::text[]), unnest($12::int[]),
                    unnest($13::bool[]), unnest($14::text[]))
         AS t(id, job_type, params, queue, priority, run_at, max_attempts, timeout_seconds, idempotency_key,
              asset_id, status, blockers, has_dependants, error)
    RETURNING queue, status, run_at
)
SELECT count(pg_notify('{JOBS_CHANNEL}', q))
FROM (SELECT DISTINCT queue AS q FROM ins WHERE status = 'pending' AND run_at <= now()) due
"""
_EDGES = """
INSERT INTO job_dependencies (job_id, depends_on, run_anyway)
SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::bool[])
"""


@dataclass
class _Row:
    step: Step
    status: str = "pending"
    blockers: int = 0
    error: str | None = None
    has_dependants: bool = False


async def insert(
    conn: Executor, steps: Sequence[Step], workflow_id: uuid.UUID | None = None
) -> list[tuple[uuid.UUID, bool]]:
    """Insert steps and their edges in the caller's transaction; (id, created) per step, in order.

    A step whose idempotency key exists already is not inserted: the existing job's id comes back with
    created=False, and later steps naming the step wait for that job. Raises UnknownDependencies or
    ForwardDependency; workers are woken at commit for the steps that can run at once.
    """
    alias = await _existing_keys(conn, steps)
    fresh = [s for s in steps if s.id not in alias]
    _check_order(fresh)
    external = sorted({alias.get(d, d) for s in fresh for d in s.depends_on} - {s.id for s in fresh})
    parents = await _lock_parents(conn, external)
    if workflow_id is None and fresh and (parents or any(s.depends_on for s in fresh)):
        # The workflow of the first dependency named that is in one, else that of the first dependency named
        # (its id), else the batch's first job's id.
        named = [alias.get(d, d) for s in fresh for d in s.depends_on]
        joined = (parents[d][1] for d in named if d in parents and parents[d][1] is not None)
        workflow_id = next(joined, next((d for d in named if d in parents), fresh[0].id))
    if parents and any(wf is None or not marked for _, wf, marked in parents.values()):
        await conn.execute(_MARK_PARENTS, list(parents), workflow_id)
    rows = _plan(fresh, alias, {k: v[0] for k, v in parents.items()})
    if rows:
        await _insert_rows(conn, rows, workflow_id)
    edges = [(s.id, alias.get(d, d), s.run_anyway) for s in fresh for d in dict.fromkeys(s.depends_on)]
    if edges:
        await conn.execute(_EDGES, [e[0] for e in edges], [e[1] for e in edges], [e[2] for e in edges])
    return [(alias[s.id], False) if s.id in alias else (s.id, True) for s in steps]


async def _existing_keys(conn: Executor, steps: Sequence[Step]) -> dict[uuid.UUID, uuid.UUID]:
    """Step id → id of the job that holds its idempotency key already."""
    keys = {s.job.idempotency_key: s.id for s in steps if s.job.idempotency_key}
    if not keys:
        return {}
    found = await conn.fetch("SELECT id, idempotency_key FROM jobs WHERE idempotency_key = ANY($1)", list(keys))
    return {keys[r["idempotency_key"]]: r["id"] for r in found}


def _check_order(steps: Sequence[Step]) -> None:
    later = {s.id for s in steps}
    for s in steps:
        later.discard(s.id)
        for dep in s.depends_on:
            if dep == s.id or dep in later:
                raise ForwardDependency(
                    f"job {s.id} depends on {dep}, which is {'itself' if dep == s.id else 'later in the batch'}: "
                    "a job may only depend on existing jobs or on jobs earlier in the same batch"
                )


async def _lock_parents(conn: Executor, ids: list[uuid.UUID]) -> dict[uuid.UUID, tuple[str, uuid.UUID | None, bool]]:
    """Existing dependencies, locked: id → (status, workflow id, has dependants)."""
    if not ids:
        return {}
    rows = await conn.fetch(_LOCK_PARENTS, ids)
    found = {r["id"]: (r["status"], r["workflow_id"], r["has_dependants"]) for r in rows}
    missing = [i for i in ids if i not in found]
    if missing:
        raise UnknownDependencies(missing)
    return found


def _plan(steps: Sequence[Step], alias: dict[uuid.UUID, uuid.UUID], parents: dict[uuid.UUID, str]) -> list[_Row]:
    """Each new job's starting state: cancelled if a dependency already failed or was cancelled (unless it
    runs anyway), else waiting with the count of its unfinished dependencies, else pending."""
    rows = {s.id: _Row(s) for s in steps}
    for s in steps:
        row = rows[s.id]
        for dep in dict.fromkeys(alias.get(d, d) for d in s.depends_on):
            status = rows[dep].status if dep in rows else parents[dep]
            if dep in rows:
                rows[dep].has_dependants = True
            if status == "completed" or (status in FINAL and s.run_anyway):
                continue
            if status in FINAL:
                what = "failed" if status == "failed" else "was cancelled"
                row.status, row.error = "cancelled", f"cancelled: job {dep}, which it depends on, {what}"
                break
            row.blockers += 1
        if row.status != "cancelled" and row.blockers:
            row.status = "waiting"
    return list(rows.values())


async def _insert_rows(conn: Executor, rows: list[_Row], workflow_id: uuid.UUID | None) -> None:
    jobs = [r.step.job for r in rows]
    await conn.fetchval(
        _INSERT,
        [r.step.id for r in rows],
        *job_columns(jobs),
        [r.status for r in rows],
        [r.blockers for r in rows],
        [r.has_dependants for r in rows],
        [r.error for r in rows],
        workflow_id,
    )


# -- reading and cancelling graphs ----------------------------------------------------------------------
async def relatives(conn: Executor, job_id: uuid.UUID) -> dict[str, list[dict[str, Any]]]:
    """The jobs `job_id` depends on (parents) and those that depend on it (children), with their states."""
    rows = await conn.fetch(
        """SELECT 'parents' AS side, j.id, j.job_type, j.status::text AS status
           FROM job_dependencies e JOIN jobs j ON j.id = e.depends_on WHERE e.job_id = $1
           UNION ALL
           SELECT 'children', j.id, j.job_type, j.status::text
           FROM job_dependencies e JOIN jobs j ON j.id = e.job_id WHERE e.depends_on = $1
           ORDER BY 1, 2""",
        job_id,
    )
    out: dict[str, list[dict[str, Any]]] = {"parents": [], "children": []}
    for r in rows:
        out[r["side"]].append({"id": r["id"], "job_type": r["job_type"], "status": r["status"]})
    return out


async def dependency_results(conn: Executor, job_id: uuid.UUID) -> list[dict[str, Any]]:
    """The jobs `job_id` depends on, oldest first, with their status, result (decoded) and error."""
    rows = await conn.fetch(
        """SELECT j.id, j.job_type, j.status::text AS status, j.result::text AS result, j.error
           FROM job_dependencies e JOIN jobs j ON j.id = e.depends_on WHERE e.job_id = $1
           ORDER BY j.created_at, j.id""",
        job_id,
    )
    return [{**dict(r), "result": json.loads(r["result"]) if r["result"] is not None else None} for r in rows]


async def graph(conn: Executor, workflow_id: uuid.UUID) -> tuple[list[Any], list[tuple[uuid.UUID, uuid.UUID]]]:
    """The jobs of a workflow (oldest first) and its edges (dependency, dependant); no jobs: no workflow."""
    nodes = await conn.fetch(
        """SELECT id, job_type, status::text AS status, blockers, attempts, error, created_at, started_at,
                  finished_at
           FROM jobs WHERE workflow_id = $1 ORDER BY created_at, id""",
        workflow_id,
    )
    edges = await conn.fetch(
        """SELECT e.depends_on, e.job_id FROM job_dependencies e JOIN jobs j ON j.id = e.job_id
           WHERE j.workflow_id = $1""",
        workflow_id,
    )
    return list(nodes), [(e["depends_on"], e["job_id"]) for e in edges]


async def workflow_of(conn: Executor, job_id: uuid.UUID) -> uuid.UUID | None:
    value: uuid.UUID | None = await conn.fetchval("SELECT workflow_id FROM jobs WHERE id = $1", job_id)
    return value


async def exists(conn: Executor, workflow_id: uuid.UUID) -> bool:
    return bool(await conn.fetchval("SELECT EXISTS (SELECT 1 FROM jobs WHERE workflow_id = $1)", workflow_id))


async def cancel_workflow(conn: Any, workflow_id: uuid.UUID, reason: str) -> dict[str, int]:
    """Cancel what has not run: waiting and queued jobs at once, running ones asked to stop (as a cancel of
    each would). Returns how many were cancelled and how many were asked to stop."""
    async with conn.transaction():
        cancelled = await conn.fetchval(
            """WITH c AS (
                   UPDATE jobs SET status = 'cancelled', finished_at = now(), updated_at = now(), error = $2
                   WHERE workflow_id = $1 AND status IN ('waiting', 'pending', 'retry') RETURNING 1)
               SELECT count(*) FROM c""",
            workflow_id,
            reason,
        )
        asked = await conn.fetchval(
            """WITH r AS (
                   UPDATE jobs SET cancel_requested = true, updated_at = now()
                   WHERE workflow_id = $1 AND status = 'processing' RETURNING pg_notify('skiplock_cancel', id::text))
               SELECT count(*) FROM r""",
            workflow_id,
        )
    return {"cancelled": int(cancelled), "stopping": int(asked)}
