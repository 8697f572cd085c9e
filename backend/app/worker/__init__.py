"""The queue engine: queue SQL, dispatcher, worker loop. It knows no domain: handlers register themselves."""

from app.worker.dispatcher import DISPATCH_TABLE, JobCancelled, JobType, PermanentJobError, job_type

__all__ = ["DISPATCH_TABLE", "JobCancelled", "JobType", "PermanentJobError", "job_type"]
