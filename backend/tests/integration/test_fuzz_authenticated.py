"""The API fuzzed from its own OpenAPI schema, as a production server with keys required: an admin key and a
read key, through real HTTP. No answer may be a 5xx, whatever the input or the scope."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support.auth import create_key

BACKEND = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def production_server(subprocess_env, tmp_path):
    port = _free_port()
    env = {**subprocess_env, "ENVIRONMENT": "production", "WORKER_ENABLED": "false", "LOG_LEVEL": "WARNING"}
    log = open(tmp_path / "server.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen([sys.executable, "-m", "tests.e2e.serve", str(port)], env=env, stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    try:
        while True:  # wait on progress: the process is alive until it answers
            assert proc.poll() is None, (tmp_path / "server.log").read_text()[-3000:]
            try:
                if httpx.get(f"{base}/health", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        yield base
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
        log.close()


async def test_fuzzing_with_keys_finds_no_server_error(production_server, pool, tmp_path):
    schemathesis = shutil.which("schemathesis", path=str(Path(sys.executable).parent))
    if schemathesis is None:
        pytest.skip("schemathesis is not installed")
    for scope in ("admin", "read"):
        token = await create_key(pool, f"fuzz-{scope}", scope)
        args = [
            schemathesis, "run", f"{production_server}/openapi.json",
            "--header", f"Authorization: Bearer {token}",
            "--checks", "not_a_server_error",
            "--max-examples", "8", "--seed", "15", "--request-timeout", "60",
            "--exclude-path", "/jobs/{job_id}/events",
        ]  # fmt: skip
        proc = await asyncio.create_subprocess_exec(
            *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, cwd=tmp_path, env=os.environ
        )
        out, _ = await proc.communicate()
        assert proc.returncode == 0, out.decode()[-6000:]
