"""One worker process of one system: `python bench/queue/worker.py SYSTEM --dsn URL --out FILE [--opt k=v ...]`.

Speaks the protocol in common.py (READY, then GO, then STOP on stdin) and writes what it executed to FILE.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Recorder, protocol, worker_loop

WORKERS = {
    "skiplock": ("skiplock_sys", "worker"),
    "pgqueuer": ("peers", "pgqueuer_worker"),
    "procrastinate": ("peers", "procrastinate_worker"),
    "floor": ("floor", "worker"),
    "oban": ("oban_peer", "worker"),  # runs under oban's own interpreter (see oban_peer.py)
}


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("system", choices=sorted(WORKERS))
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--opt", action="append", default=[], help="a setting, key=value")
    args = parser.parse_args()
    opts = dict(o.split("=", 1) for o in args.opt)
    logging.basicConfig(level=logging.WARNING, format=f"[{args.system} worker] %(levelname)s %(name)s: %(message)s")
    module, func = WORKERS[args.system]
    build = getattr(__import__(module), func)
    record = Recorder()
    start, stop = await build(args.dsn, opts, record)
    await protocol(start, stop)
    record.dump(args.out)


if __name__ == "__main__":
    _, run = worker_loop()  # the same loop for every system's workers
    profile_dir = os.environ.get("BENCH_PROFILE_DIR")  # debugging aid: cProfile every worker process
    if profile_dir:
        import cProfile

        cProfile.run("run(main())", str(Path(profile_dir) / f"{sys.argv[1]}-{os.getpid()}.prof"))
    else:
        run(main())
