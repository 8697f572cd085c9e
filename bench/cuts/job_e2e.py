"""Cut analysis as users run it: upload -> completed through the API and its embedded worker, against bare
PyAV decoding of the same files, interleaved.

Usage: DATABASE_URL=postgresql://user@host/db python bench/cuts/job_e2e.py [--set main] [--rounds 2]

Creates a scratch database on DATABASE_URL's server (dropped at the end), starts ``python -m app serve``
on it (one worker, concurrency 1), and takes each video of the set in turn, round after round: decodes
it with PyAV (``thread_type="AUTO"``, nothing else, at each of `FLOOR_THREADS` decoder threads, the
fastest kept), then uploads it (``POST /upload``, which creates the
``cut_analysis`` job with its thumbnails and clips) and polls ``GET /jobs/{id}`` every 0.2 s until the job
is completed. Per video the best round of each is kept. Prints frames/s of bare decoding, of the job end
to end (from sending the upload to seeing it completed: the upload, the claim, the analysis, the
thumbnails, the clips' rows) and of the job's own run (its ``started_at`` to ``finished_at``), and their
ratios to decoding. Needs the set's videos (``run.py`` or ``replay.py`` makes them).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import av
import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from run import ALL_SETS, FLOOR_THREADS, data_dir  # noqa: E402


def decode_seconds(path: Path) -> tuple[int, float]:
    best, frames = float("inf"), 0
    for threads in FLOOR_THREADS:
        start = time.perf_counter()
        frames = 0
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            stream.thread_count = threads
            for _ in container.decode(stream):
                frames += 1
        best = min(best, time.perf_counter() - start)
    return frames, best


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


async def admin(url: str, sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def job_seconds(client: httpx.Client, path: Path) -> tuple[float, float]:
    """(end to end, the job's own run) seconds of one upload: from sending it to the job's `finished_at`
    (the server's clock, the same host's), and from its `started_at` to its `finished_at`. Polled every
    0.2 s: the server's answers must not take the CPU the job runs on."""
    start = datetime.now(UTC)
    with path.open("rb") as fh:
        response = client.post("/upload", files={"file": (path.name, fh, "application/octet-stream")})
    response.raise_for_status()
    job_id = response.json()["job_id"]
    while True:
        job = client.get(f"/jobs/{job_id}").json()
        if job["status"] == "completed":
            finished = datetime.fromisoformat(job["finished_at"])
            run = finished - datetime.fromisoformat(job["started_at"])
            return (finished - start).total_seconds(), run.total_seconds()
        if job["status"] in ("failed", "cancelled"):
            raise RuntimeError(f"{path.name}: job {job['status']}: {job.get('error')}")
        time.sleep(0.2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--set", dest="set_name", choices=sorted(ALL_SETS), default="main")
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    base = os.environ.get("DATABASE_URL")
    if not base:
        sys.exit("set DATABASE_URL to a PostgreSQL server where a database can be created")
    folder = data_dir(args.set_name)
    videos = [p for spec in ALL_SETS[args.set_name] for p in folder.glob(f"{spec.name}.*") if p.suffix != ".json"]
    if not videos:
        sys.exit(f"no videos in {folder}: run run.py or replay.py for the set first")
    name = f"skiplock_e2e_{os.getpid()}"
    asyncio.run(admin(base, f'CREATE DATABASE "{name}"'))
    port = free_port()
    env = {**os.environ, "DATABASE_URL": with_database(base, name), "WORKER_CONCURRENCY": "1"}
    server = subprocess.Popen(
        [sys.executable, "-m", "app", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=600) as client:
            for _ in range(600):
                try:
                    if client.get("/health").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.1)
            else:
                sys.exit("the server did not become healthy")
            best: dict[Path, list[float]] = {}
            frames: dict[Path, int] = {}
            for _ in range(args.rounds):
                for path in videos:
                    n, dec = decode_seconds(path)
                    e2e, run = job_seconds(client, path)
                    frames[path] = n
                    old = best.get(path, [float("inf")] * 3)
                    best[path] = [min(a, b) for a, b in zip(old, (dec, e2e, run), strict=True)]
                    print(
                        f"  {path.name}: {n} frames  decode {dec:.3f} s  "
                        f"upload->completed {e2e:.3f} s  job run {run:.3f} s",
                        flush=True,
                    )
    finally:
        server.terminate()
        server.wait(30)
        asyncio.run(admin(base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    total = sum(frames.values())
    dec, e2e, run = (sum(b[i] for b in best.values()) for i in range(3))
    print(f"{args.set_name}: {len(videos)} videos, {total} frames (best of {args.rounds} rounds each)")
    print(f"  bare decoding      {total / dec:8.0f} frames/s  1.00x")
    print(f"  upload->completed  {total / e2e:8.0f} frames/s  {dec / e2e:.2f}x of decoding")
    print(f"  the job's own run  {total / run:8.0f} frames/s  {dec / run:.2f}x of decoding")


if __name__ == "__main__":
    main()
