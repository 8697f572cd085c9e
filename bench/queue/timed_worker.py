"""`python -m app.worker`, unchanged but for a stopwatch around its claim statement.

The worker calls `queue.claim` through the module, so wrapping that one function times every claim the real
worker makes (client side: the statement's round trip, as the worker waits for it). The times are written to
$BENCH_CLAIM_TIMES as [end (time.monotonic()), seconds, rows] when the process exits.
"""

from __future__ import annotations

import atexit
import json
import os
import time
from pathlib import Path
from typing import Any

from app.cli import worker_main
from app.worker import queue

TIMES: list[tuple[float, float, int]] = []
_claim = queue.claim


async def _timed_claim(*args: Any, **kwargs: Any) -> list[queue.ClaimedJob]:
    started = time.monotonic()
    jobs = await _claim(*args, **kwargs)
    ended = time.monotonic()
    TIMES.append((ended, ended - started, len(jobs)))
    return jobs


def _dump() -> None:
    Path(os.environ["BENCH_CLAIM_TIMES"]).write_text(json.dumps(TIMES))


queue.claim = _timed_claim  # type: ignore[assignment]
atexit.register(_dump)

if __name__ == "__main__":
    raise SystemExit(worker_main())
