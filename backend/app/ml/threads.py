"""Torch's intra-op thread count, sized to the worker process that runs ML jobs.

PyTorch defaults to one OpenMP thread per core, in every process and for every job running at once, so a
worker running several jobs oversubscribes the host: on a busy 2-core machine 2 threads ran 1.1-18 s per
megapixel across passes where 1 thread held 0.8-1.0. Each of ``concurrency`` jobs gets
``max(1, cores // concurrency)`` threads unless a setting says otherwise. The count is process-global in
torch, so it is set once, before the first ML work of the process.
"""

from __future__ import annotations

import logging
import os
import threading

import torch

log = logging.getLogger(__name__)
_lock = threading.Lock()
_configured: int | None = None


def host_cores() -> int:
    """The cores this process may run on (its CPU affinity, which containers and taskset narrow)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def intra_op_threads(cores: int, concurrency: int, override: int = 0) -> int:
    """``override`` when > 0, else ``max(1, cores // concurrency)``."""
    if override > 0:
        return override
    return max(1, cores // max(1, concurrency))


def configure_threads(threads: int) -> int:
    """Set torch's intra-op threads the first time this is called in the process; returns the count in force."""
    global _configured
    with _lock:
        if _configured is None:
            torch.set_num_threads(threads)
            _configured = threads
            log.info("torch intra-op threads: %d", threads)
        return _configured
