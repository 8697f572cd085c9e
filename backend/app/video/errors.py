"""Exceptions raised by the video domain module.

`VideoError` is raised for bad *input* (not a video, truncated, empty, audio-only): the message is meant to
be shown to the uploader as is. `AnalysisCancelled` is raised when the caller's `should_stop()` returns True.
"""

from __future__ import annotations


class VideoError(ValueError):
    """The file cannot be used as a video. The message says why, in words a user can act on."""


class AnalysisCancelled(Exception):
    """Analysis was stopped because the caller's `should_stop()` callback returned True."""
