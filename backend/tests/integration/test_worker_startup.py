"""A worker's start-up: its first claim goes out before the work that can wait (the reaper's first round, the
LISTEN connection, the heartbeat's first renewal), the jobs it claims stay leased all along, and workers
started together do not reap at the same moment."""

from __future__ import annotations

import asyncio
import time

from app.core import db
from app.worker import queue
from app.worker.listener import Listener
from app.worker.worker import Worker

from tests.integration.test_worker import running_worker, submit
from tests.support.waiting import job_row, wait_status, wait_until


async def test_first_claim_goes_before_the_reaper_listener_and_heartbeat_and_its_jobs_stay_leased(
    runtime, pool, monkeypatch
):
    job_id = await submit(pool, "sleep", {"seconds": 3.2})
    seen: dict[str, list[float]] = {"claimed": [], "reap": [], "listen": [], "heartbeat": []}
    real_claim, real_reap, real_heartbeat, real_connect = (
        queue.claim,
        queue.reap_expired,
        queue.worker_heartbeat,
        Listener._connect,
    )

    async def slow_first_claim(*args, **kwargs):
        if not seen["claimed"]:
            await asyncio.sleep(0.2)  # a slow first claim: whatever does not wait for it starts meanwhile
        try:
            return await real_claim(*args, **kwargs)
        finally:
            seen["claimed"].append(time.monotonic())

    async def reap(*args, **kwargs):
        seen["reap"].append(time.monotonic())
        return await real_reap(*args, **kwargs)

    async def heartbeat(*args, **kwargs):  # called from the heartbeat thread
        seen["heartbeat"].append(time.monotonic())
        return await real_heartbeat(*args, **kwargs)

    async def connect(self):
        seen["listen"].append(time.monotonic())
        await real_connect(self)

    monkeypatch.setattr(queue, "claim", slow_first_claim)
    monkeypatch.setattr(queue, "reap_expired", reap)
    monkeypatch.setattr(queue, "worker_heartbeat", heartbeat)
    monkeypatch.setattr(Listener, "_connect", connect)
    started = time.monotonic()
    async with running_worker(runtime, lease_seconds=1.5, reaper_interval=0.2, concurrency=1):
        await wait_status(pool, job_id, "processing")
        # The job, claimed before the heartbeat's first round, is never seen with an expired lease by a
        # reaper that spares nobody's jobs, while it runs for more than two lease periods.
        while (await job_row(pool, job_id))["status"] == "processing":
            async with pool.acquire() as conn:
                assert await real_reap(conn) == []
            await asyncio.sleep(0.1)
        await wait_until(lambda: asyncio.sleep(0, len(seen["reap"]) > 1))
    row = await job_row(pool, job_id)
    assert (row["status"], row["attempts"], row["reaped"]) == ("completed", 1, 0)
    # The reaper and the LISTEN connection ran only after the first claim was answered; the heartbeat's first
    # renewal one renewal interval (a third of the lease) after the start, whatever the claim took.
    first_claim = seen["claimed"][0]
    assert {what: min(seen[what], default=0.0) > first_claim for what in ("reap", "listen")} == {
        "reap": True,
        "listen": True,
    }
    assert seen["heartbeat"]
    assert min(seen["heartbeat"]) >= started + 1.5 / 3


async def test_workers_started_together_do_not_reap_at_the_same_moment(runtime, monkeypatch):
    first_reap: dict[object, float] = {}
    real_reap = queue.reap_expired

    async def reap(conn, worker_id=None, held=()):
        first_reap.setdefault(worker_id, time.monotonic())
        return await real_reap(conn, worker_id, held)

    monkeypatch.setattr(queue, "reap_expired", reap)
    big_pool = await db.create_pool(runtime.url, max_size=40)  # room for every worker's claims and reaps
    workers = [
        Worker(big_pool, runtime.direct_url, runtime.worker_config(reaper_interval=30.0), resources=runtime.resources())
        for _ in range(8)
    ]
    for w in workers:
        w.config.maintenance_jitter = 3.0
    tasks = [asyncio.create_task(w.run()) for w in workers]
    try:
        await wait_until(lambda: asyncio.sleep(0, len(first_reap) == len(workers)), timeout=30)
    finally:
        for w in workers:
            w.stop()
        await asyncio.wait_for(asyncio.gather(*tasks), 30)
        await big_pool.close()
    spread = max(first_reap.values()) - min(first_reap.values())
    # Each first round at a random moment within 3 s of the worker's first claim: eight of them all within
    # 0.5 s of each other happens about once in 40,000 runs.
    assert spread > 0.5, f"the first reaps of 8 workers came within {spread * 1000:.0f} ms"
