"""The exceptions a handler raises to decide its job's fate (anything else retries with backoff)."""

from __future__ import annotations


class PermanentJobError(Exception):
    """Raised by a handler for bad input: the job fails at once, without retry. Say what to fix."""


class JobCancelled(Exception):
    """Raised by a handler when it stops because its job was cancelled."""
