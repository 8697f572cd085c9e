"""Alembic owns the schema: upgrade → downgrade → upgrade on an empty database."""

from __future__ import annotations

import asyncio
import sys
import uuid
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from app.core import migrations


async def _tables(url: str) -> set[str]:
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        return {r["tablename"] for r in rows}
    finally:
        await conn.close()


async def test_upgrade_downgrade_upgrade_on_empty_database(server_url):
    name = f"skiplock_mig_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(server_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = urlunsplit(urlsplit(server_url)._replace(path=f"/{name}"))
    try:
        await asyncio.to_thread(migrations.upgrade, url)
        assert {"jobs", "assets", "clips", "workers", "alembic_version"} <= await _tables(url)
        await asyncio.to_thread(migrations.downgrade, url, "base")
        assert await _tables(url) == {"alembic_version"}
        await asyncio.to_thread(migrations.upgrade, url)
        assert {"jobs", "assets", "clips", "workers"} <= await _tables(url)
        conn = await asyncpg.connect(url)
        try:
            version = await conn.fetchval("SELECT version_num FROM alembic_version")
            indexes = {r["indexname"] for r in await conn.fetch("SELECT indexname FROM pg_indexes")}
        finally:
            await conn.close()
        assert version == migrations.head_revision()
        assert "jobs_claim_idx" in indexes
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def test_two_processes_migrating_at_once_both_succeed(server_url, subprocess_env):
    name = f"skiplock_mig_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(server_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = urlunsplit(urlsplit(server_url)._replace(path=f"/{name}"))
    try:
        env = {**subprocess_env, "DATABASE_URL": url}
        procs = [
            await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "app",
                "migrate",
                env=env,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
            )
            for _ in range(2)
        ]
        outputs = [await p.communicate() for p in procs]
        assert [p.returncode for p in procs] == [0, 0], outputs
        assert "jobs" in await _tables(url)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
