"""`python -m app.worker`: a standalone worker process (on uvloop where installed, see app.cli)."""

from app.cli import worker_main

if __name__ == "__main__":
    raise SystemExit(worker_main())
