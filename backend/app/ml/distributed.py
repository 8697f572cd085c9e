"""Training in several processes at once with PyTorch's own engine (``torch.distributed`` +
DistributedDataParallel): gloo on CPUs, NCCL with one GPU per process.

The caller's process supervises: it spawns ``processes`` ranks (``torchrun``-style: rank, world size and a
TCP rendezvous on the loopback), relays rank 0's progress to ``progress``, turns ``should_stop()`` into an
event every rank polls (the ranks agree on the step to stop at, see :mod:`collective`), and re-raises a rank's
error as the same domain error. Each rank trains on its own crops with ``batch_size`` patches (the global
batch is ``processes x batch_size``); gradients are averaged, so all ranks hold the same weights. Rank 0
alone evaluates and writes ``last.pt`` and ``model.pt``, in the same format as a one-process run, so resume,
fine-tuning and serving work unchanged, and a run may resume with another number of processes. A rank
whose supervisor dies (a killed worker) stops at the next step, as if cancelled.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import queue
import socket
import time
from collections.abc import Callable
from dataclasses import asdict
from datetime import timedelta
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist

from .checkpoint import resolve_device
from .collective import Group
from .errors import MLInputError, OperationCancelled, TrainingCancelled, TrainingDiverged
from .recipe import TrainConfig
from .train import train

log = logging.getLogger(__name__)
MAX_PROCESSES = 64
_ERRORS: dict[str, type[Exception]] = {
    e.__name__: e for e in (MLInputError, OperationCancelled, TrainingCancelled, TrainingDiverged)
}
_POLL_S = 0.2
_GRACE_S = 30.0  # after one rank fails, the time the others get to notice before they are terminated


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run_rank(rank: int, world: int, port: int, backend: str, job: dict[str, Any], messages: Any, stop: Any) -> None:
    """One rank (the target of a spawned process): join the group, train, report, leave."""
    supervisor = os.getppid()
    torch.set_num_threads(job["threads"])
    config = TrainConfig(**job["config"])
    if backend == "nccl":
        config.device = f"cuda:{rank}"
        torch.cuda.set_device(rank)
    dist.init_process_group(
        backend, init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world, timeout=timedelta(minutes=10)
    )
    try:
        result = train(
            Path(job["dataset_dir"]),
            Path(job["out_dir"]),
            config,
            init_checkpoint=Path(job["init"]) if job["init"] else None,
            resume=job["resume"],
            progress=(lambda p: messages.put(("progress", p))) if rank == 0 else None,
            should_stop=lambda: stop.is_set() or os.getppid() != supervisor,
            group=Group(rank, world),
        )
        if rank == 0:
            messages.put(("result", {**result, "processes": world, "backend": backend}))
    except BaseException as exc:
        messages.put(("error", (type(exc).__name__, str(exc))))
    finally:
        dist.destroy_process_group()


def _backend(config: TrainConfig, processes: int) -> str:
    device = resolve_device(config.device)
    if device.type != "cuda":
        return "gloo"
    if torch.cuda.device_count() < processes:
        raise MLInputError(f"{processes} processes need {processes} GPUs; this host has {torch.cuda.device_count()}")
    return "nccl"


class _Supervisor:
    """Relays messages from the ranks and watches them until all have exited."""

    def __init__(self, procs: list[Any], messages: Any, stop: Any) -> None:
        self.procs, self.messages, self.stop = procs, messages, stop
        self.result: dict[str, Any] | None = None
        self.error: tuple[str, str] | None = None
        self.failed_at: float | None = None

    def handle(self, kind: str, payload: Any, progress: Callable[[dict[str, Any]], None] | None) -> None:
        if kind == "progress" and progress is not None:
            progress(payload)
        elif kind == "result":
            self.result = payload
        elif kind == "error" and self.error is None:
            self.error, self.failed_at = payload, time.monotonic()
            self.stop.set()

    def check_exits(self) -> None:
        for rank, proc in enumerate(self.procs):
            if proc.exitcode not in (None, 0) and self.error is None:
                self.error = ("RuntimeError", f"training process {rank} exited with code {proc.exitcode}")
                self.failed_at = time.monotonic()
                self.stop.set()
        if self.failed_at is not None and time.monotonic() - self.failed_at > _GRACE_S:
            for proc in self.procs:
                if proc.is_alive():
                    proc.terminate()

    def run(
        self, progress: Callable[[dict[str, Any]], None] | None, should_stop: Callable[[], bool] | None
    ) -> dict[str, Any]:
        while True:
            try:
                kind, payload = self.messages.get(timeout=_POLL_S)
                self.handle(kind, payload, progress)
            except queue.Empty:
                if not any(proc.is_alive() for proc in self.procs):
                    break  # every rank has exited and every message is read
            if should_stop is not None and should_stop():
                self.stop.set()
            self.check_exits()
        if self.error is not None:
            name, message = self.error
            raise _ERRORS.get(name, RuntimeError)(message)
        if self.result is None:
            codes = ", ".join(str(proc.exitcode) for proc in self.procs)
            raise RuntimeError(f"training processes exited without a result (exit codes {codes})")
        return self.result


def train_distributed(
    dataset_dir: Path,
    out_dir: Path,
    config: TrainConfig,
    *,
    processes: int,
    init_checkpoint: Path | None = None,
    resume: bool = True,
    progress: Callable[[dict[str, Any]], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> dict[str, Any]:
    """:func:`train.train` in ``processes`` ranks (one process: a plain call); same files, same result dict."""
    if not 1 <= processes <= MAX_PROCESSES:
        raise MLInputError(f"processes must be between 1 and {MAX_PROCESSES}, got {processes}")
    config.check()
    kwargs = {"init_checkpoint": init_checkpoint, "resume": resume, "progress": progress, "should_stop": should_stop}
    if processes == 1:
        return train(dataset_dir, out_dir, config, **kwargs)  # type: ignore[arg-type]
    backend = _backend(config, processes)
    job = {
        "dataset_dir": str(dataset_dir),
        "out_dir": str(out_dir),
        "config": asdict(config),
        "init": str(init_checkpoint) if init_checkpoint else None,
        "resume": resume,
        "threads": max(1, torch.get_num_threads() // processes),
    }
    ctx = mp.get_context("spawn")  # fork is unsafe in a threaded process (the worker's event loop, OpenMP)
    messages, stop, port = ctx.Queue(), ctx.Event(), _free_port()
    procs = [
        ctx.Process(
            target=_run_rank, args=(rank, processes, port, backend, job, messages, stop), name=f"train-rank-{rank}"
        )
        for rank in range(processes)
    ]
    for proc in procs:
        proc.start()
    log.info("training in %d processes (%s), rendezvous on port %d", processes, backend, port)
    try:
        return _Supervisor(procs, messages, stop).run(progress, should_stop)
    finally:
        stop.set()
        for proc in procs:
            proc.join(timeout=_GRACE_S)
            if proc.is_alive():
                proc.terminate()
                proc.join()
