"""Starting the embedded PostgreSQL (development, no DATABASE_URL) says one line, not the server's chatter."""

from __future__ import annotations

import asyncio
import os
import sys

from tests.conftest import BACKEND


async def test_embedded_database_start_says_one_line(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(
        EMBEDDED_PG_DIR=str(tmp_path / "pg"),
        STORAGE_DIR=str(tmp_path / "storage"),
        PYTHONPATH=str(BACKEND) + os.pathsep + env.get("PYTHONPATH", ""),
        PYTHONWARNINGS="default",  # warnings shown as a user's shell shows them
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "app", "migrate", env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    _out, err = await proc.communicate()  # initdb and migrations: no limit but the test run's own
    text = err.decode()
    assert proc.returncode == 0, text
    assert "RuntimeDirWarning" not in text
    assert "pgserver" not in text
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) <= 2, text
    assert "starting embedded PostgreSQL" in text, text
