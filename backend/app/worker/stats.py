"""Read-only figures about the queue for operators: counts, depth, throughput, durations, workers.

Every query is served by an index (see migrations 0001 and 0003) and bounded by a time window, so the
figures stay cheap with millions of finished jobs in the table.
"""

from __future__ import annotations

from typing import Any

from app.worker.queue import Executor


async def counts(conn: Executor, finished_within_minutes: int = 1440) -> list[dict[str, Any]]:
    """Jobs by (status, job_type, queue): every waiting or running job, and the jobs that finished within
    the window (all of them would mean scanning the whole table)."""
    rows = await conn.fetch(
        """SELECT status::text AS status, job_type, queue, count(*) AS n FROM jobs
           WHERE status IN ('pending', 'processing', 'retry') GROUP BY 1, 2, 3
           UNION ALL
           SELECT status::text, job_type, queue, count(*) FROM jobs
           WHERE finished_at > now() - make_interval(mins => $1) GROUP BY 1, 2, 3
           ORDER BY 1, 2, 3""",
        finished_within_minutes,
    )
    return [dict(r) for r in rows]


async def queue_depth(conn: Executor) -> list[dict[str, Any]]:
    """Waiting jobs per queue that are due now, and the age of the oldest one (seconds)."""
    rows = await conn.fetch(
        """SELECT queue, count(*) AS depth,
                  COALESCE(EXTRACT(EPOCH FROM now() - min(run_at)), 0)::float8 AS oldest_age_seconds,
                  count(*) FILTER (WHERE status = 'retry') AS retrying
           FROM jobs WHERE status IN ('pending', 'retry') AND run_at <= now() GROUP BY queue ORDER BY queue"""
    )
    return [dict(r) for r in rows]


async def throughput(conn: Executor, minutes: int) -> list[dict[str, Any]]:
    """Finished jobs per minute over the last `minutes`, by outcome."""
    rows = await conn.fetch(
        """SELECT date_trunc('minute', finished_at) AS minute,
                  count(*) FILTER (WHERE status = 'completed') AS completed,
                  count(*) FILTER (WHERE status = 'failed') AS failed,
                  count(*) FILTER (WHERE status = 'cancelled') AS cancelled
           FROM jobs WHERE finished_at > now() - make_interval(mins => $1)
           GROUP BY 1 ORDER BY 1""",
        minutes,
    )
    return [{**dict(r), "minute": r["minute"].isoformat()} for r in rows]


async def durations(conn: Executor, minutes: int) -> list[dict[str, Any]]:
    """p50/p95 run time (started → finished) per job type over the last `minutes`, with the failure rate."""
    rows = await conn.fetch(
        """SELECT job_type, count(*) AS finished,
                  count(*) FILTER (WHERE status = 'failed') AS failed,
                  percentile_cont(0.5) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM finished_at - started_at))
                      AS p50_seconds,
                  percentile_cont(0.95) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM finished_at - started_at))
                      AS p95_seconds
           FROM jobs WHERE finished_at > now() - make_interval(mins => $1) AND started_at IS NOT NULL
           GROUP BY job_type ORDER BY job_type""",
        minutes,
    )
    return [{**dict(r), "failure_rate": r["failed"] / r["finished"] if r["finished"] else 0.0} for r in rows]


async def duration_histogram(conn: Executor, minutes: int, bounds: list[float]) -> list[dict[str, Any]]:
    """Per job type: cumulative counts of completed jobs whose run time is ≤ each bound, sum and count."""
    rows = await conn.fetch(
        """SELECT job_type, width_bucket(d, $2::float8[]) AS bucket, count(*) AS n, sum(d) AS total
           FROM (SELECT job_type, EXTRACT(EPOCH FROM finished_at - started_at)::float8 AS d FROM jobs
                 WHERE finished_at > now() - make_interval(mins => $1) AND status = 'completed'
                   AND started_at IS NOT NULL) j
           GROUP BY 1, 2""",
        minutes,
        bounds,
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
