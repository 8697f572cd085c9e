"""The layering written in pyproject.toml's import-linter contracts holds: the engine imports no job type
and no domain code, domain code imports nothing of the queue, and imports point one way."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_import_contracts_are_kept():
    run = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from importlinter.cli import lint_imports;"
            " sys.exit(lint_imports(config_filename='pyproject.toml', no_cache=True, no_logo=True))",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(ROOT / "backend"), "PATH": "/usr/bin:/bin"},
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "0 broken" in run.stdout


def test_the_engine_does_not_import_job_types_or_domain_code():
    code = (
        "import sys, app.worker, app.worker.worker, app.worker.queue;"
        "bad = sorted(m for m in sys.modules if m.split('.')[:2] in (['app','jobs'],['app','video'],['app','ml']));"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT / "backend", capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr


def test_lint_and_the_engines_strict_typing_hold():
    """ruff (with the bug-finding families pyproject.toml selects) on the whole tree, mypy --strict on the engine."""
    lint = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "backend", "bench"], cwd=ROOT, capture_output=True, text=True
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr
    types = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "backend/app/worker"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT / "backend")},
    )
    assert types.returncode == 0, types.stdout + types.stderr
