"""The queue engine: queue SQL, dispatcher, worker loop. It knows no domain: job types register themselves
with `@job_type` from their own package (`app.jobs`), and the engine never imports them.

Host code enqueues in its own transaction with `enqueue` / `enqueue_many` and awaits outcomes with `wait`
(`app.worker.client`)."""

from app.worker.client import JobOutcome, JobRequest, enqueue, enqueue_many, wait
from app.worker.context import JobContext
from app.worker.dispatcher import DISPATCH_TABLE, InvalidSchedule, JobType, NoParams, UnknownJobType, job_type
from app.worker.errors import JobCancelled, PermanentJobError, RetryLater
from app.worker.workflows import ForwardDependency, UnknownDependencies

__all__ = [
    "DISPATCH_TABLE",
    "ForwardDependency",
    "InvalidSchedule",
    "JobCancelled",
    "JobContext",
    "JobOutcome",
    "JobRequest",
    "JobType",
    "NoParams",
    "PermanentJobError",
    "RetryLater",
    "UnknownDependencies",
    "UnknownJobType",
    "enqueue",
    "enqueue_many",
    "job_type",
    "wait",
]
