"""Installed like a package: a non-editable install, started from another directory, finds its migrations,
weights and dashboard inside the package and keeps its data under the working directory."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from app.core import migrations

ROOT = Path(__file__).resolve().parents[3]


def _install(tmp_path: Path) -> Path:
    """`pip install --no-deps .` of a copy of the project (the build writes into the tree it builds from)."""
    source = tmp_path / "source"
    (source / "backend").mkdir(parents=True)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    for folder in ("app", "alembic"):
        shutil.copytree(
            ROOT / "backend" / folder, source / "backend" / folder, ignore=shutil.ignore_patterns("__pycache__")
        )
    site = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--target",
            str(site),
            str(source),
        ],
        check=True,
        capture_output=True,
    )
    return site


def test_every_package_of_the_source_is_listed_for_installation():
    import tomllib

    import setuptools

    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = set(setuptools.find_packages(str(ROOT / "backend"), include=["app", "app.*"]))
    assert found <= listed, f"add {sorted(found - listed)} to [tool.setuptools] packages in pyproject.toml"


async def _admin(server_url: str, sql: str) -> None:
    conn = await asyncpg.connect(server_url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def test_installed_copy_migrates_and_keeps_data_under_the_working_directory(tmp_path, server_url):
    site = _install(tmp_path)
    assert (site / "app" / "ml" / "weights" / "default.pt").is_file()
    assert (site / "app" / "web" / "index.html").is_file()
    assert (site / "app" / "web" / "favicon.svg").is_file()
    assert sorted(p.name for p in (site / "app" / "migrations" / "versions").glob("*.py")) == sorted(
        p.name for p in migrations.ALEMBIC_DIR.joinpath("versions").glob("*.py")
    )

    name = f"skiplock_install_{uuid.uuid4().hex[:10]}"
    await _admin(server_url, f'CREATE DATABASE "{name}"')
    try:
        workdir = tmp_path / "elsewhere"
        workdir.mkdir()
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "STORAGE_DIR", "EMBEDDED_PG_DIR")}
        env.update(PYTHONPATH=str(site), DATABASE_URL=urlunsplit(urlsplit(server_url)._replace(path=f"/{name}")))

        def run(*args: str) -> str:
            done = subprocess.run([sys.executable, *args], cwd=workdir, env=env, capture_output=True, text=True)
            assert done.returncode == 0, done.stderr
            return done.stdout

        assert Path(run("-c", "import app; print(app.__file__)").strip()).is_relative_to(site)
        assert "settings" in run("-m", "app", "--help")
        shown = set(run("-m", "app", "settings").splitlines())
        here = workdir.resolve()
        assert {f"EMBEDDED_PG_DIR={here / '.pgdata'}", f"STORAGE_DIR={here / 'storage'}"} <= shown

        assert "now at head" in run("-m", "app", "migrate")
        conn = await asyncpg.connect(env["DATABASE_URL"])
        try:
            assert await conn.fetchval("SELECT version_num FROM alembic_version") == migrations.head_revision()
        finally:
            await conn.close()

        run("-m", "app", "enqueue", "noop")  # starts the runtime, which creates the storage directory
        assert (workdir / "storage").is_dir()
        assert not any((site / d).exists() for d in ("storage", ".pgdata", "app/storage"))
    finally:
        await _admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
