"""`python -m app.worker`: a standalone worker process.

It runs on uvloop when that is installed (uvicorn[standard], a dependency, brings it on Linux and macOS),
as the API process does under uvicorn: the worker's per-job overhead is mostly event-loop work.
"""

import asyncio

from app.cli import worker_main


def _use_uvloop() -> None:
    try:
        import uvloop
    except ImportError:  # optional speedup: asyncio's own loop works the same, a little slower
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


if __name__ == "__main__":
    _use_uvloop()
    raise SystemExit(worker_main())
