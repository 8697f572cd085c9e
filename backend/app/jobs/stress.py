"""Load-testing a deployment from the dashboard or the command line: `stress_test` enqueues N small jobs and a
`stress_test_report` that runs after them all and computes throughput and latency from their timestamps.

Nothing here waits while holding a worker slot (with one slot, a job that waited for its own children would wait
for good): the children and the report are fan-out children of `stress_test`, written with its completion, and
the report is a fan-in that becomes runnable only when every child has finished. While they run, every
twentieth child writes the figures so far as the waiting report's progress.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from app.worker import JobContext, job_type

# Jobs per stress test. One transaction writes them with an edge each to the report, and a job's detail
# (`GET /jobs/{id}`, the dashboard) lists every child and parent: run several stress tests at once for more.
MAX_COUNT = 10_000
MILESTONES = 20  # progress updates of the report while the children run
CHILD = "stress_test_child"

# The children of one stress test: the jobs that depend on it with the child type (the report depends on it too).
_FIGURES = f"""
SELECT count(*) AS total, clock_timestamp() AS now,
       count(*) FILTER (WHERE j.status = 'completed') AS completed,
       count(*) FILTER (WHERE j.status = 'failed') AS failed,
       count(*) FILTER (WHERE j.status = 'cancelled') AS cancelled,
       min(j.created_at) AS enqueued_at,
       min(j.started_at) AS first_started_at,
       max(j.finished_at) FILTER (WHERE j.status = 'completed') AS last_finished_at,
       percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY extract(epoch FROM j.started_at - j.created_at))
           FILTER (WHERE j.status = 'completed') AS latency,
       percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY extract(epoch FROM j.finished_at - j.started_at))
           FILTER (WHERE j.status = 'completed') AS run_time
FROM job_dependencies e JOIN jobs j ON j.id = e.job_id
WHERE e.depends_on = $1 AND j.job_type = '{CHILD}'
"""
_REPORT_OF = """
SELECT j.id FROM job_dependencies e JOIN jobs j ON j.id = e.job_id
WHERE e.depends_on = $1 AND j.job_type = 'stress_test_report'
"""
_PROGRESS = """
UPDATE jobs SET progress = $2, progress_message = $3, updated_at = now() WHERE id = $1 AND status = 'waiting'
"""


class StressTestParams(BaseModel):
    count: int = Field(1000, ge=1, le=MAX_COUNT, description=f"Jobs to enqueue (at most {MAX_COUNT:,}).")
    kind: Literal["noop", "sleep", "cpu"] = Field(
        "noop", description="What each job does: nothing, sleep `seconds` (async), or burn CPU `seconds` (thread)."
    )
    seconds: float = Field(0.0, ge=0, le=60, description="Duration of each job for `sleep` and `cpu`.")
    queue: str | None = Field(None, min_length=1, max_length=100, description="Queue of the jobs (default: `default`).")

    @model_validator(mode="after")
    def _seconds_only_with_a_duration(self) -> StressTestParams:
        if self.kind == "noop" and self.seconds:
            raise ValueError("`seconds` applies to kind `sleep` or `cpu`; a `noop` job takes none")
        return self


@job_type(
    "stress_test",
    params=StressTestParams,
    max_attempts=1,
    description="Load-tests the deployment: enqueues `count` jobs of a `kind` and a stress_test_report that"
    " measures throughput and enqueue-to-start latency (p50/p95/p99) from their timestamps.",
)
async def stress_test(ctx: JobContext, params: StressTestParams) -> dict[str, Any]:
    child = {"kind": params.kind, "seconds": params.seconds}
    step = max(1, params.count // MILESTONES)
    children = [
        ctx.enqueue(
            CHILD, {**child, "report_of": str(ctx.job_id)} if (i + 1) % step == 0 else child, queue=params.queue
        )
        for i in range(params.count)
    ]
    report = ctx.enqueue(
        "stress_test_report",
        {"stress_test_id": str(ctx.job_id), "kind": params.kind, "seconds": params.seconds},
        depends_on=children,
        run_anyway=True,  # figures also for a run whose jobs failed or were cancelled
    )
    return {"count": params.count, "kind": params.kind, "seconds": params.seconds, "report_job": str(report)}


class ChildParams(BaseModel):
    kind: Literal["noop", "sleep", "cpu"] = "noop"
    seconds: float = Field(0.0, ge=0, le=60)
    report_of: uuid.UUID | None = Field(None, description="A milestone: write the figures so far to the report.")


def _burn(seconds: float, ctx: JobContext) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not ctx.should_stop():
        sum(range(1000))


@job_type(CHILD, params=ChildParams, max_attempts=1, description="One job of a stress_test.")
async def stress_test_child(ctx: JobContext, params: ChildParams) -> None:
    if params.kind == "sleep":
        await asyncio.sleep(params.seconds)
    elif params.kind == "cpu":
        await ctx.to_thread(_burn, params.seconds, ctx)
    if params.report_of is not None:
        await _report_progress(ctx.resource("pool"), params.report_of)


async def _report_progress(pool: Any, stress_test_id: uuid.UUID) -> None:
    """The figures so far, as the waiting report's progress (it shows in the dashboard and `app show`)."""
    report_id = await pool.fetchval(_REPORT_OF, stress_test_id)
    if report_id is None:
        return
    figures = summarize(await pool.fetchrow(_FIGURES, stress_test_id), running=True)
    finished = figures["completed"] + figures["failed"] + figures["cancelled"]
    message = f"{finished}/{figures['count']} done, {figures['jobs_per_second']:.0f} jobs/s"  # the CLI shows 40
    if figures["latency_ms"]["p50"] is not None:
        message += f", p50 {figures['latency_ms']['p50']:.0f} ms"
    await pool.execute(_PROGRESS, report_id, 100.0 * finished / max(1, figures["count"]), message)


class ReportParams(BaseModel):
    stress_test_id: uuid.UUID
    kind: str = "noop"
    seconds: float = 0.0


@job_type(
    "stress_test_report",
    params=ReportParams,
    max_attempts=3,
    description="The figures of a stress_test, once all its jobs have finished: jobs/s and p50/p95/p99 of"
    " enqueue-to-start latency and of run time, from the jobs' timestamps.",
)
async def stress_test_report(ctx: JobContext, params: ReportParams) -> dict[str, Any]:
    figures = summarize(await ctx.resource("pool").fetchrow(_FIGURES, params.stress_test_id), running=False)
    return {"stress_test_job": str(params.stress_test_id), "kind": params.kind, "seconds": params.seconds, **figures}


def summarize(row: Any, *, running: bool) -> dict[str, Any]:
    """Counts, jobs/s (completed jobs over the time from their enqueue to the last completion, or to the
    database's clock while they run) and percentiles in milliseconds, from the aggregate row of `_FIGURES`."""
    start = row["enqueued_at"]
    end = row["now"] if running else row["last_finished_at"]
    elapsed = (end - start).total_seconds() if start is not None and end is not None else None
    rate = row["completed"] / elapsed if elapsed and elapsed > 0 else 0.0
    return {
        "count": row["total"],
        "completed": row["completed"],
        "failed": row["failed"],
        "cancelled": row["cancelled"],
        "seconds_elapsed": round(elapsed, 3) if elapsed is not None else None,
        "jobs_per_second": round(rate, 1),
        "latency_ms": _percentiles(row["latency"]),
        "run_time_ms": _percentiles(row["run_time"]),
    }


def _percentiles(values: list[float] | None) -> dict[str, float | None]:
    names = ("p50", "p95", "p99")
    if values is None:
        return dict.fromkeys(names)
    return {name: round(1000 * v, 3) for name, v in zip(names, values, strict=True)}
