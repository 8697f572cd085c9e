"""The queue engine: queue SQL, dispatcher, worker loop. It knows no domain: job types register themselves
with `@job_type` from their own package (`app.jobs`), and the engine never imports them."""

from app.worker.context import JobContext
from app.worker.dispatcher import DISPATCH_TABLE, InvalidSchedule, JobType, NoParams, UnknownJobType, job_type
from app.worker.errors import JobCancelled, PermanentJobError

__all__ = [
    "DISPATCH_TABLE",
    "InvalidSchedule",
    "JobCancelled",
    "JobContext",
    "JobType",
    "NoParams",
    "PermanentJobError",
    "UnknownJobType",
    "job_type",
]
