"""The exceptions a handler raises to decide its job's fate (anything else retries with backoff)."""

from __future__ import annotations


class PermanentJobError(Exception):
    """Raised by a handler for bad input: the job fails at once, without retry. Say what to fix."""


class JobCancelled(Exception):
    """Raised by a handler when it stops because its job was cancelled."""


class RetryLater(Exception):
    """Raised by a handler that failed and knows when to try again: the job is retried after `seconds`
    (instead of the worker's backoff) while it has attempts left, and fails with this message when it has
    none. For handlers that keep a retry schedule of their own (e.g. delivering to a remote endpoint)."""

    def __init__(self, message: str, seconds: float) -> None:
        super().__init__(message)
        self.seconds = max(0.0, float(seconds))
