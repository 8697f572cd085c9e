"""GET /metrics: Prometheus text format, computed from the database at scrape time so that every worker
process, wherever it runs, is counted."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from app.api.access import metrics_access
from app.api.deps import RuntimeDep
from app.worker import stats

router = APIRouter(tags=["operators"])

BUCKETS = [0.005, 0.025, 0.1, 0.5, 1.0, 5.0, 30.0, 120.0, 600.0, 3600.0]
WINDOW_MINUTES = 60


class _Snapshot:
    """A collector over figures already fetched (prometheus_client collectors are synchronous)."""

    def __init__(self, families: list) -> None:  # type: ignore[type-arg]
        self._families = families

    def collect(self):  # type: ignore[no-untyped-def]
        return iter(self._families)


@router.get(
    "/metrics",
    response_class=Response,
    dependencies=[Depends(metrics_access)],
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}, "description": "Prometheus text"}},
)
async def metrics(runtime: RuntimeDep) -> Response:
    async with runtime.pool.acquire() as conn:
        estimates: dict[stats.Group, int] = {}  # a large group is sampled once for both
        counts, _ = await stats.counts_estimated(conn, estimates=estimates)
        depth = await stats.queue_depth(conn, estimates)
        workers = await stats.workers(conn, runtime.settings.lease_seconds)
        histograms = await stats.duration_histogram(conn, WINDOW_MINUTES, BUCKETS)
        totals = await stats.totals(conn)
        refused = await stats.refusals(conn)

    jobs = GaugeMetricFamily(
        "skiplock_jobs",
        f"Jobs in the table by type, queue and status (counts above {stats.EXACT_UP_TO} are estimated from a "
        "random sample of job ids)",
        labels=["job_type", "queue", "status"],
    )
    for r in counts:
        jobs.add_metric([r["job_type"], r["queue"], r["status"]], r["n"])
    depth_g = GaugeMetricFamily(
        "skiplock_queue_depth",
        f"Jobs due and waiting (above {stats.EXACT_UP_TO}, estimated from a random sample of job ids)",
        labels=["queue"],
    )
    age_g = GaugeMetricFamily("skiplock_oldest_job_age_seconds", "Age of the oldest due waiting job", labels=["queue"])
    for q in depth:
        depth_g.add_metric([q["queue"]], q["depth"])
        age_g.add_metric([q["queue"]], q["oldest_age_seconds"])
    alive = GaugeMetricFamily("skiplock_workers_alive", "Workers with a recent heartbeat")
    alive.add_metric([], sum(1 for w in workers if w["alive"]))
    retries = CounterMetricFamily("skiplock_job_retries", "Retries of retained jobs (attempts beyond the first)")
    retries.add_metric([], totals["retries"])
    reaped = CounterMetricFamily("skiplock_jobs_reaped", "Times a job was recovered from a lost worker")
    reaped.add_metric([], totals["reaped"])
    refusals = CounterMetricFamily(
        "skiplock_outcomes_refused",
        "Job outcomes the database refused because the worker no longer held the job (lease lost, reaped, "
        "cancelled), by outcome and reason",
        labels=["outcome", "reason"],
    )
    for r in refused:
        refusals.add_metric([r["outcome"], r["reason"]], r["count"])
    duration = HistogramMetricFamily(
        "skiplock_job_duration_seconds",
        f"Run time of jobs completed in the last {WINDOW_MINUTES} minutes (when more than {stats.WINDOW_EXACT_UP_TO} "
        "finished in that window, scaled from a random sample of them)",
        labels=["job_type"],
    )
    for h in histograms:
        buckets = [(str(b), c) for b, c in zip(BUCKETS, h["buckets"], strict=True)] + [("+Inf", h["total"])]
        duration.add_metric([h["job_type"]], buckets, sum_value=h["sum_seconds"] or 0.0)

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Snapshot([jobs, depth_g, age_g, alive, retries, reaped, refusals, duration]))  # type: ignore[arg-type]
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
