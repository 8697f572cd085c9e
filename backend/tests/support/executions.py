"""The executions side table: every start and finish of a chaos handler, and the checks made on it.

The chaos tests assert on what the handlers actually did, not on what the queue says: no two executions of
one job overlap in time, and every job's work is completed once. Each test prints its table (executions per
job, overlaps, attempts) so that a run shows what happened.
"""

from __future__ import annotations

import math
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

SIDE_TABLES = """
CREATE TABLE IF NOT EXISTS exec_log (job_id uuid PRIMARY KEY, attempt int, runs int NOT NULL DEFAULT 1,
                                     at timestamptz DEFAULT now());
CREATE TABLE IF NOT EXISTS executions (id bigserial PRIMARY KEY, job_id uuid NOT NULL, pid int NOT NULL,
                                       attempt int NOT NULL, started float8 NOT NULL, finished float8,
                                       outcome text)
"""


async def create_side_tables(conn: Any) -> None:
    for statement in SIDE_TABLES.split(";"):
        if statement.strip():
            await conn.execute(statement)


@dataclass
class JobRuns:
    job_id: uuid.UUID
    status: str
    attempts: int
    reaped: int
    runs: list[dict[str, Any]] = field(default_factory=list)
    overlaps: int = 0

    @property
    def returned(self) -> int:
        """Executions whose handler ran to its end (the job's work was done by each of them)."""
        return sum(1 for r in self.runs if r["outcome"] == "returned")


async def job_runs(pool: Any, killed: dict[int, float] | None = None) -> list[JobRuns]:
    """Every job with its executions. An execution ends at its recorded finish, or when its worker process
    was killed (`killed`: pid -> time.time() just after its death), or never (open: it overlaps anything
    after its start)."""
    killed = killed or {}
    jobs = {
        r["id"]: JobRuns(r["id"], r["status"], r["attempts"], r["reaped"])
        for r in await pool.fetch(
            "SELECT id, status::text AS status, attempts, reaped FROM jobs WHERE job_type = 'test_chaos'"
        )
    }
    by_job: dict[uuid.UUID, list[dict[str, Any]]] = defaultdict(list)
    for r in await pool.fetch("SELECT * FROM executions ORDER BY started"):
        run = dict(r)
        end = run["finished"] if run["finished"] is not None else killed.get(run["pid"], math.inf)
        run["end"] = end
        by_job[run["job_id"]].append(run)
    for job_id, runs in by_job.items():
        entry = jobs.setdefault(job_id, JobRuns(job_id, "missing", 0, 0))
        entry.runs = runs
        entry.overlaps = sum(
            1 for i, a in enumerate(runs) for b in runs[i + 1 :] if a["started"] < b["end"] and b["started"] < a["end"]
        )
    return sorted(jobs.values(), key=lambda j: min((r["started"] for r in j.runs), default=math.inf))


def table(title: str, jobs: list[JobRuns], lines_for: int | None = None) -> str:
    """A plain-text table: one line per job (the first `lines_for` jobs that ran other than once, when many
    jobs ran), then the totals over all of them."""
    lines = [
        title,
        f"{'job':<10} {'status':<10} {'attempts':>8} {'reaped':>6} {'executions':>10} "
        f"{'returned':>8} {'overlaps':>8}  workers (pid: seconds)",
    ]
    origin = min((r["started"] for j in jobs for r in j.runs), default=0.0)
    shown = jobs
    if lines_for is not None:
        shown = [j for j in jobs if len(j.runs) != 1][:lines_for] or jobs[:3]
    for j in shown:
        spans = ", ".join(f"{r['pid']}: {r['started'] - origin:.1f}-{_end(r['end'], origin)}" for r in j.runs)
        lines.append(
            f"{str(j.job_id)[:8]:<10} {j.status:<10} {j.attempts:>8} {j.reaped:>6} {len(j.runs):>10} "
            f"{j.returned:>8} {j.overlaps:>8}  {spans}"
        )
    lines.append(
        f"total: {len(jobs)} jobs, {sum(len(j.runs) for j in jobs)} executions, "
        f"{sum(j.overlaps for j in jobs)} overlapping pairs, {sum(1 for j in jobs if j.attempts > 1)} jobs with "
        f"attempts > 1, {sum(1 for j in jobs if j.status != 'completed')} not completed"
    )
    return "\n".join(lines)


def _end(end: float, origin: float) -> str:
    return "open" if math.isinf(end) else f"{end - origin:.1f}"
