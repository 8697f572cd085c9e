"""Periodic jobs: every worker checks the cron schedules of the job types and enqueues due ticks.

Each tick's job carries the idempotency key `cron:<type>:<tick in UTC>`, so a tick is enqueued exactly once
however many workers run, and a worker that (re)starts within the catch-up window still enqueues a tick
that every worker missed while down.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from app.worker import queue
from app.worker.cron import CronSchedule
from app.worker.dispatcher import JobType

log = logging.getLogger(__name__)


class PeriodicScheduler:
    def __init__(self, registry: dict[str, JobType], default_max_attempts: int) -> None:
        self._types = [(jt, CronSchedule.parse(jt.schedule, jt.timezone)) for jt in registry.values() if jt.schedule]
        self._default_max_attempts = default_max_attempts
        self._last: dict[str, datetime] = {}

    @property
    def has_schedules(self) -> bool:
        return bool(self._types)

    @property
    def check_interval(self) -> float:
        return 0.5 if any(c.has_seconds for _, c in self._types) else 5.0

    @staticmethod
    def tick_key(name: str, tick: datetime) -> str:
        return f"cron:{name}:{tick.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}"

    def due(self, now: datetime) -> list[queue.NewJob]:
        jobs = []
        for jt, cron in self._types:
            window = timedelta(minutes=1) if cron.has_seconds else timedelta(hours=1)
            tick = cron.latest_tick(now, window)
            if tick is None or self._last.get(jt.name) == tick:
                continue
            jobs.append(
                queue.NewJob(
                    job_type=jt.name,
                    params=jt.validate({}).model_dump(mode="json"),
                    max_attempts=jt.max_attempts or self._default_max_attempts,
                    queue=jt.queue,
                    priority=jt.priority,
                    run_at=tick,
                    timeout_seconds=jt.timeout,
                    idempotency_key=self.tick_key(jt.name, tick),
                )
            )
        return jobs

    async def enqueue_due(self, conn: queue.Executor) -> int:
        jobs = self.due(datetime.now(UTC))
        if not jobs:
            return 0
        results = await queue.enqueue_many(conn, jobs)
        for job, (_, created) in zip(jobs, results, strict=True):
            assert job.run_at is not None
            self._last[job.job_type] = job.run_at
            if created:
                log.info("enqueued periodic %s for tick %s", job.job_type, job.run_at.isoformat())
        return sum(created for _, created in results)
