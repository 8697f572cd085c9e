"""Torch's intra-op threads follow the worker's concurrency and the host's cores, set once per process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from app.ml.threads import intra_op_threads


@pytest.mark.parametrize(
    ("cores", "concurrency", "override", "expected"),
    [(2, 1, 0, 2), (2, 4, 0, 1), (16, 4, 0, 4), (16, 3, 0, 5), (2, 4, 3, 3), (1, 1, 0, 1)],
)
def test_threads_share_the_cores_among_concurrent_jobs(
    cores: int, concurrency: int, override: int, expected: int
) -> None:
    assert intra_op_threads(cores, concurrency, override) == expected


JOB_MODULE_LOADS_ML = """
import asyncio, sys, torch
from app.core.config import Settings
from app.jobs.documents import load_ml

class Ctx:
    resources = {"settings": Settings(worker_concurrency=int(sys.argv[1]), torch_threads=int(sys.argv[2]))}
    async def load(self, name):
        import importlib
        return importlib.import_module(name)

asyncio.run(load_ml(Ctx(), "infer"))
first = torch.get_num_threads()
Ctx.resources["settings"] = Settings(worker_concurrency=1, torch_threads=7)
asyncio.run(load_ml(Ctx(), "train"))
print(first, torch.get_num_threads())
"""


@pytest.mark.parametrize(("concurrency", "override"), [(1, 0), (64, 0), (1, 3)])
def test_a_job_module_sets_threads_once_before_ml_work(concurrency: int, override: int) -> None:
    import app
    from app.ml.threads import host_cores

    backend = str(Path(app.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([backend, os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run(
        [sys.executable, "-c", JOB_MODULE_LOADS_ML, str(concurrency), str(override)],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    ).stdout.split()
    expected = intra_op_threads(host_cores(), concurrency, override)
    assert out == [str(expected), str(expected)]  # the second load, with other settings, changes nothing
