"""Start and stop real worker processes (`python -m app.worker`) for tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path


def start_worker(env: dict[str, str], log_dir: Path, *args: str) -> subprocess.Popen[bytes]:
    log_dir.mkdir(parents=True, exist_ok=True)
    log = open(log_dir / f"worker-{len(list(log_dir.iterdir()))}.log", "wb")  # noqa: SIM115
    return subprocess.Popen([sys.executable, "-m", "app.worker", *args], env=env, stdout=log, stderr=subprocess.STDOUT)


def stop_all(procs: list[subprocess.Popen[bytes]], sig: int = signal.SIGTERM, timeout: float = 30) -> None:
    for proc in procs:
        if proc.poll() is None:
            os.kill(proc.pid, sig)
    for proc in procs:
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
