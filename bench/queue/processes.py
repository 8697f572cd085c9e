"""The worker processes of one benchmark run: started under the system's interpreter, told GO and STOP over
stdin (the protocol in common.py), and their execution records read back."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path
from typing import Any

import oban_peer
from common import load_records

HERE = Path(__file__).resolve().parent


def interpreter(system: str) -> str:
    """The Python a system's processes run under: oban's own (≥ 3.12), else the benchmark's."""
    return oban_peer.python() if system == "oban" else sys.executable


class Workers:
    def __init__(self, system: str, dsn: str, opts: dict[str, Any], count: int, tmp: Path) -> None:
        self.system, self.dsn, self.opts, self.count, self.tmp = system, dsn, opts, count, tmp
        self.procs: list[asyncio.subprocess.Process] = []
        self.outs: list[str] = []

    async def start(self) -> None:
        for i in range(self.count):
            out = str(self.tmp / f"{self.system}-{time.monotonic_ns()}-{i}.json")
            self.outs.append(out)
            proc = await asyncio.create_subprocess_exec(
                interpreter(self.system),
                str(HERE / "worker.py"),
                self.system,
                "--dsn",
                self.dsn,
                "--out",
                out,
                *[a for k, v in self.opts.items() for a in ("--opt", f"{k}={v}")],
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
            )
            self.procs.append(proc)
        for proc in self.procs:
            await self._expect(proc, "READY", 120)

    async def _expect(self, proc: asyncio.subprocess.Process, word: str, timeout: float) -> None:
        assert proc.stdout is not None
        deadline = time.monotonic() + timeout
        while True:
            line = await asyncio.wait_for(proc.stdout.readline(), max(0.1, deadline - time.monotonic()))
            if not line:
                raise RuntimeError(f"{self.system} worker exited before {word} (rc={await proc.wait()})")
            if line.decode().strip() == word:
                return

    def send(self, word: str) -> None:
        for proc in self.procs:
            assert proc.stdin is not None
            if proc.returncode is None:
                proc.stdin.write(f"{word}\n".encode())

    def alive(self) -> bool:
        return all(p.returncode is None for p in self.procs)

    async def stop(self, timeout: float = 60) -> list[str]:
        self.send("STOP")
        problems = []
        for proc in self.procs:
            try:
                rc = await asyncio.wait_for(proc.wait(), timeout)
            except TimeoutError:
                proc.kill()
                rc = await proc.wait()
                problems.append(f"a worker did not stop within {timeout:g} s and was killed")
            if rc != 0:
                problems.append(f"a worker exited with status {rc}")
        return problems

    def records(self) -> tuple[list[int], dict[int, float]]:
        return load_records([o for o in self.outs if Path(o).exists()])

    def first_jobs(self) -> list[float]:
        """Each process's first job start (time.monotonic()), for the processes that ran any."""
        firsts = []
        for out in self.outs:
            if Path(out).exists():
                _, starts = load_records([out])
                if starts:
                    firsts.append(min(starts.values()))
        return firsts


async def wait_drained(parent: Any, workers: Workers, timeout: float) -> tuple[float, list[str]]:
    """Seconds until no job is left unfinished, polling every 20 ms."""
    t0 = time.monotonic()
    while await parent.unfinished():
        if not workers.alive():
            return time.monotonic() - t0, ["a worker died while draining"]
        if time.monotonic() - t0 > timeout:
            return time.monotonic() - t0, [f"not drained after {timeout:g} s"]
        await asyncio.sleep(0.02)
    return time.monotonic() - t0, []
