"""Read-only figures about the queue for operators: counts, depth, throughput, durations, workers.

Every query is served by an index (see migrations 0001, 0003 and 0011) and bounded by what it reads, so the
figures stay cheap with millions of jobs in the table, waiting or finished:

- a count reads at most `EXACT_UP_TO` + 1 rows: below that it is exact; above it, it is an estimate from a
  `Sample` (and says so), never a scan of a million rows;
- the figures over a time window (finished counts, throughput, durations) are exact while the window holds at
  most `WINDOW_EXACT_UP_TO` jobs (read from jobs_finished_idx alone, which includes the columns they need),
  else computed over a sample and scaled: then a group of the window much smaller than the table's 1/k is
  seen coarsely (a few sampled jobs, or none).

A `Sample` is the jobs whose id falls in the first 1/k of the uuid space: ids are random (version 4), so that
is a uniform random sample of every group, read on the primary key's range (about `SAMPLE_ROWS` rows).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from app.worker.queue import Executor

EXACT_UP_TO = 10_000
WINDOW_EXACT_UP_TO = 50_000
SAMPLE_ROWS = 2_000
_ALL_IDS = uuid.UUID(int=2**128 - 1)


@dataclass(frozen=True)
class Sample:
    """Jobs with id <= `below` are about 1/`k` of all jobs (k = 1: all of them, exact figures)."""

    k: int
    below: uuid.UUID

    @property
    def estimated(self) -> bool:
        return self.k > 1

    @property
    def sql(self) -> str:
        """The sample's condition on jobs, with its bound written out: given as a parameter, the bound would
        let PostgreSQL settle on a generic plan after a few runs, one that cannot tell a small sample from the
        whole table and reads the whole group instead of the primary key's short range. The bound is made
        here from a power of two, never from input."""
        return "TRUE" if self.k == 1 else f"id <= '{self.below}'::uuid"


EXACT = Sample(1, _ALL_IDS)


async def sample(conn: Executor) -> Sample:
    """A sample of about `SAMPLE_ROWS` jobs (at least half the table's jobs left out)."""
    rows = await conn.fetchval(
        """SELECT GREATEST(c.reltuples, s.n_live_tup, 1)::float8 FROM pg_class c
           LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid WHERE c.oid = 'jobs'::regclass"""
    )
    k = 2
    while k < 2**20 and rows / k > SAMPLE_ROWS:
        k *= 2
    return Sample(k, uuid.UUID(int=2**128 // k - 1))


async def window_sample(conn: Executor, minutes: int) -> Sample:
    """EXACT when at most `WINDOW_EXACT_UP_TO` jobs finished in the last `minutes`, else a `sample`."""
    n = await conn.fetchval(
        """SELECT count(*) FROM (SELECT 1 FROM jobs WHERE finished_at > now() - make_interval(mins => $1)
           LIMIT $2) w""",
        minutes,
        WINDOW_EXACT_UP_TO + 1,
    )
    return EXACT if n <= WINDOW_EXACT_UP_TO else await sample(conn)


# The groups of waiting and running jobs, found by skipping through jobs_active_idx (one probe per group,
# however many jobs each holds), and the waiting-for-dependencies ones through jobs_waiting_idx; each group
# counted up to EXACT_UP_TO + 1. The counts repeat the partial index's condition: `j.status = g.status`
# alone (a value known only at run time) would not let the planner use it.
_GROUPS = """
WITH RECURSIVE g AS (
    (SELECT status, job_type, queue FROM jobs WHERE status IN ('pending', 'processing', 'retry')
     ORDER BY status, job_type, queue LIMIT 1)
    UNION ALL
    SELECT n.status, n.job_type, n.queue FROM g CROSS JOIN LATERAL (
        SELECT status, job_type, queue FROM jobs
        WHERE status IN ('pending', 'processing', 'retry')
          AND (status, job_type, queue) > (g.status, g.job_type, g.queue)
        ORDER BY status, job_type, queue LIMIT 1) n
), w AS (
    (SELECT job_type, queue FROM jobs WHERE status = 'waiting' ORDER BY job_type, queue LIMIT 1)
    UNION ALL
    SELECT n.job_type, n.queue FROM w CROSS JOIN LATERAL (
        SELECT job_type, queue FROM jobs WHERE status = 'waiting' AND (job_type, queue) > (w.job_type, w.queue)
        ORDER BY job_type, queue LIMIT 1) n
)
"""
_ACTIVE_GROUPS = (
    _GROUPS
    + """
SELECT g.status::text AS status, g.job_type, g.queue,
       (SELECT count(*) FROM (SELECT 1 FROM jobs j WHERE j.status IN ('pending', 'processing', 'retry')
                              AND j.status = g.status AND j.job_type = g.job_type
                              AND j.queue = g.queue LIMIT $1) c) AS n
FROM g
UNION ALL
SELECT 'waiting', w.job_type, w.queue,
       (SELECT count(*) FROM (SELECT 1 FROM jobs j WHERE j.status = 'waiting' AND j.job_type = w.job_type
                              AND j.queue = w.queue LIMIT $1) c)
FROM w
"""
)


Group = tuple[str, str, str]  # status, job_type, queue


async def _estimate_group(conn: Executor, group: Group, smp: Sample) -> int:
    """A large group's jobs, from the sample (at least EXACT_UP_TO + 1)."""
    n = await conn.fetchval(
        f"""SELECT count(*) FROM jobs
            WHERE {smp.sql} AND status = $1::job_status AND job_type = $2 AND queue = $3""",
        *group,
    )
    return max(EXACT_UP_TO + 1, int(n) * smp.k)


async def active_counts(conn: Executor, estimates: dict[Group, int] | None = None) -> tuple[list[dict[str, Any]], bool]:
    """Waiting and running jobs by (status, job_type, queue), and whether any count is an estimate: every
    group is listed; one of more than `EXACT_UP_TO` jobs is estimated from a sample (never below that bound).
    The estimates are also left in `estimates`, for `queue_depth` to reuse."""
    rows = [dict(r) for r in await conn.fetch(_ACTIVE_GROUPS, EXACT_UP_TO + 1)]
    big = [r for r in rows if r["n"] > EXACT_UP_TO]
    if big:
        smp = await sample(conn)
        for r in big:
            group = (r["status"], r["job_type"], r["queue"])
            if estimates is None or group not in estimates:
                found = await _estimate_group(conn, group, smp)
                if estimates is not None:
                    estimates[group] = found
            else:
                found = estimates[group]
            r["n"] = found
    return rows, bool(big)


async def finished_counts(conn: Executor, finished_within_minutes: int) -> tuple[list[dict[str, Any]], bool]:
    """Jobs that finished within the window by (status, job_type, queue), and whether they are estimates."""
    smp = await window_sample(conn, finished_within_minutes)
    rows = await conn.fetch(
        f"""SELECT status::text, job_type, queue, count(*) * $2 AS n FROM jobs
            WHERE finished_at > now() - make_interval(mins => $1) AND {smp.sql} GROUP BY 1, 2, 3""",
        finished_within_minutes,
        smp.k,
    )
    return [dict(r) for r in rows], smp.estimated


async def counts(conn: Executor, finished_within_minutes: int = 1440) -> list[dict[str, Any]]:
    """Jobs by (status, job_type, queue): every waiting or running job, and the jobs that finished within
    the window (all of them would mean scanning the whole table). Large groups are estimates (see
    `counts_estimated`)."""
    return (await counts_estimated(conn, finished_within_minutes))[0]


async def counts_estimated(
    conn: Executor, finished_within_minutes: int = 1440, estimates: dict[Group, int] | None = None
) -> tuple[list[dict[str, Any]], bool]:
    active, a = await active_counts(conn, estimates)
    finished, f = await finished_counts(conn, finished_within_minutes)
    rows = sorted(active + finished, key=lambda r: (r["status"], r["job_type"], r["queue"]))
    return rows, a or f


async def queue_depth(conn: Executor, estimates: dict[Group, int] | None = None) -> list[dict[str, Any]]:
    """Waiting jobs per queue that are due now (`depth`), those of them waiting to be retried (`retrying`,
    due or backing off), and the age of the oldest due one (seconds). The waiting jobs are the groups of
    `active_counts` (estimated past `EXACT_UP_TO`, then `estimated`: true), less the queue's jobs scheduled
    for later, counted on jobs_claim_idx."""
    rows, _ = await active_counts(conn, estimates)
    per_queue: dict[str, dict[str, Any]] = {}
    for r in rows:
        if r["status"] not in ("pending", "retry"):
            continue
        q = per_queue.setdefault(r["queue"], {"queue": r["queue"], "depth": 0, "retrying": 0, "estimated": False})
        q["depth"] += r["n"]
        q["estimated"] = q["estimated"] or r["n"] > EXACT_UP_TO
        if r["status"] == "retry":
            q["retrying"] += r["n"]
    for q in per_queue.values():
        q["depth"] = max(0, q["depth"] - await _not_due(conn, q["queue"]))
        q["oldest_age_seconds"] = await _oldest_age(conn, q["queue"])
    return [q for _, q in sorted(per_queue.items()) if q["depth"]]


# The priorities of the waiting jobs, skipping through jobs_claim_idx (which leads with the priority).
_PRIORITIES = """
WITH RECURSIVE p AS (
    (SELECT priority FROM jobs WHERE status IN ('pending', 'retry') ORDER BY priority LIMIT 1)
    UNION ALL
    SELECT n.priority FROM p CROSS JOIN LATERAL (
        SELECT priority FROM jobs WHERE status IN ('pending', 'retry') AND priority > p.priority
        ORDER BY priority LIMIT 1) n
)
"""


async def _not_due(conn: Executor, queue_name: str) -> int:
    """A queue's waiting jobs scheduled for later (up to EXACT_UP_TO + 1 per priority), from jobs_claim_idx."""
    n = await conn.fetchval(
        _PRIORITIES
        + """SELECT count(*) FROM p CROSS JOIN LATERAL (
                 SELECT 1 FROM jobs j WHERE j.status IN ('pending', 'retry') AND j.priority = p.priority
                   AND j.run_at > now() AND j.queue = $1 LIMIT $2) f""",
        queue_name,
        EXACT_UP_TO + 1,
    )
    return int(n)


async def _oldest_age(conn: Executor, queue_name: str) -> float:
    """Seconds since the oldest due waiting job of a queue was due: the first entry of jobs_claim_idx for the
    queue under each priority (the index leads with the priority; priorities are few)."""
    age = await conn.fetchval(
        _PRIORITIES
        + """SELECT EXTRACT(EPOCH FROM now() - min((
                 SELECT j.run_at FROM jobs j WHERE j.status IN ('pending', 'retry') AND j.priority = p.priority
                   AND j.queue = $1 AND j.run_at <= now() ORDER BY j.run_at LIMIT 1)))::float8 FROM p""",
        queue_name,
    )
    return float(age or 0.0)


async def throughput(conn: Executor, minutes: int, smp: Sample | None = None) -> list[dict[str, Any]]:
    """Finished jobs per minute over the last `minutes`, by outcome (scaled from a sample over a busy window)."""
    smp = smp or await window_sample(conn, minutes)
    rows = await conn.fetch(
        f"""SELECT date_trunc('minute', finished_at) AS minute,
                   count(*) FILTER (WHERE status = 'completed') * $2 AS completed,
                   count(*) FILTER (WHERE status = 'failed') * $2 AS failed,
                   count(*) FILTER (WHERE status = 'cancelled') * $2 AS cancelled
            FROM jobs WHERE finished_at > now() - make_interval(mins => $1) AND {smp.sql}
            GROUP BY 1 ORDER BY 1""",
        minutes,
        smp.k,
    )
    return [{**dict(r), "minute": r["minute"].isoformat()} for r in rows]


async def durations(conn: Executor, minutes: int, smp: Sample | None = None) -> list[dict[str, Any]]:
    """p50/p95 run time (started → finished) per job type over the last `minutes`, with the failure rate
    (over a sample of a busy window: counts scaled, percentiles those of the sample)."""
    smp = smp or await window_sample(conn, minutes)
    rows = await conn.fetch(
        f"""SELECT job_type, count(*) * $2 AS finished,
                  count(*) FILTER (WHERE status = 'failed') * $2 AS failed,
                  percentile_cont(0.5) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM finished_at - started_at))
                      AS p50_seconds,
                  percentile_cont(0.95) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM finished_at - started_at))
                      AS p95_seconds
           FROM jobs WHERE finished_at > now() - make_interval(mins => $1) AND started_at IS NOT NULL
                AND {smp.sql}
           GROUP BY job_type ORDER BY job_type""",
        minutes,
        smp.k,
    )
    return [{**dict(r), "failure_rate": r["failed"] / r["finished"] if r["finished"] else 0.0} for r in rows]


async def duration_histogram(
    conn: Executor, minutes: int, bounds: list[float], smp: Sample | None = None
) -> list[dict[str, Any]]:
    """Per job type: cumulative counts of completed jobs whose run time is ≤ each bound, sum and count
    (scaled from a sample over a busy window)."""
    smp = smp or await window_sample(conn, minutes)
    rows = await conn.fetch(
        f"""SELECT job_type, width_bucket(d, $2::float8[]) AS bucket, count(*) * $3 AS n, sum(d) * $3 AS total
            FROM (SELECT job_type, EXTRACT(EPOCH FROM finished_at - started_at)::float8 AS d FROM jobs
                  WHERE finished_at > now() - make_interval(mins => $1) AND status = 'completed'
                    AND started_at IS NOT NULL AND {smp.sql}) j
            GROUP BY 1, 2""",
        minutes,
        bounds,
        smp.k,
    )
    per_type: dict[str, dict[str, Any]] = {}
    for r in rows:
        entry = per_type.setdefault(
            r["job_type"],
            {"job_type": r["job_type"], "counts": [0] * (len(bounds) + 1), "total": 0, "sum_seconds": 0.0},
        )
        # width_bucket: 0 below the first bound, i for [bound i-1, bound i), len(bounds) at or above the last
        entry["counts"][r["bucket"]] += r["n"]
        entry["total"] += r["n"]
        entry["sum_seconds"] += r["total"] or 0.0
    for entry in per_type.values():
        # Prometheus buckets are "≤ bound": cumulative over width_bucket's half-open ranges (a run time equal
        # to a bound lands one bucket up; at millisecond resolution the difference does not matter).
        running, cumulative = 0, []
        for count in entry.pop("counts")[:-1]:
            running += count
            cumulative.append(running)
        entry["buckets"] = cumulative
    return list(per_type.values())


async def workers(conn: Executor, alive_within_seconds: float) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        """SELECT w.id, w.hostname, w.pid, w.queues, w.concurrency, w.started_at, w.heartbeat_at, w.stopping,
                  EXTRACT(EPOCH FROM now() - w.heartbeat_at)::float8 AS heartbeat_age_seconds,
                  (w.heartbeat_at > now() - make_interval(secs => $1)) AS alive,
                  (SELECT count(*) FROM jobs j WHERE j.locked_by = w.id AND j.status = 'processing') AS jobs_in_hand
           FROM workers w ORDER BY w.started_at""",
        alive_within_seconds,
    )
    return [dict(r) for r in rows]


async def totals(conn: Executor) -> dict[str, int]:
    """Retries performed and jobs reaped from lost workers, over the jobs still retained."""
    row = await conn.fetchrow(
        """SELECT COALESCE(sum(attempts - 1), 0)::bigint AS retries, COALESCE(sum(reaped), 0)::bigint AS reaped
           FROM jobs WHERE attempts > 1 OR reaped > 0"""
    )
    return {"retries": int(row["retries"]), "reaped": int(row["reaped"])}


async def refusals(conn: Executor) -> list[dict[str, Any]]:
    """Outcomes the database refused (the worker no longer held the job), by outcome and reason, counted by
    every worker process since the table was created (migration 0007)."""
    rows = await conn.fetch("SELECT outcome, reason, count, last_job_id, last_at FROM outcome_refusals ORDER BY 1, 2")
    return [dict(r) for r in rows]
