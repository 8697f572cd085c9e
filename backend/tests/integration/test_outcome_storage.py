"""Outcomes PostgreSQL cannot store (NaN or infinite floats, NUL characters, lone surrogates) end their own job
as `failed` with the reason, and never hold up the other jobs written in the same batch."""

from __future__ import annotations

import dataclasses
import uuid

from app.worker import queue
from app.worker.acks import Acker
from app.worker.dispatcher import DISPATCH_TABLE, NoParams, build_job
from app.worker.executor import Outcome

from tests.integration.test_worker import running_worker
from tests.support.waiting import job_row, wait_status

BAD_RESULTS = {
    "nan_result": {"psnr": float("nan")},
    "inf_result": {"psnr": float("inf")},
    "nul_result": {"text": "a\x00b"},
    "surrogate_result": {"text": "\ud800"},
}


def _registry() -> dict:
    registry = dict(DISPATCH_TABLE)
    noop = DISPATCH_TABLE["noop"]

    def returning(value):
        async def handler(ctx, params):
            return value

        return handler

    for name, value in BAD_RESULTS.items():
        registry[name] = dataclasses.replace(noop, name=name, handler=returning(value), params_model=NoParams)

    async def raises(ctx, params):
        raise ValueError("could not parse b'\x00\xff' in \udcff")

    registry["nul_error"] = dataclasses.replace(noop, name="nul_error", handler=raises, params_model=NoParams)
    return registry


async def test_results_jsonb_cannot_hold_fail_their_job_and_the_rest_complete(runtime, pool):
    names = [*BAD_RESULTS, "nul_error"]
    ids = {
        name: await pool.fetchval("INSERT INTO jobs (job_type, max_attempts) VALUES ($1, 1) RETURNING id", name)
        for name in names
    }
    good = [(await queue.enqueue(pool, build_job("noop", {"k": i}, default_max_attempts=1)))[0] for i in range(20)]
    async with running_worker(runtime, _registry(), batch_size=50):
        for job_id in good:
            await wait_status(pool, job_id, "completed", timeout=20)
        rows = {name: await wait_status(pool, ids[name], "failed", timeout=20) for name in names}
    assert "Out of range float values" in rows["nan_result"]["error"]
    assert "Out of range float values" in rows["inf_result"]["error"]
    assert "NUL character" in rows["nul_result"]["error"]
    assert "not valid Unicode" in rows["surrogate_result"]["error"]
    assert all(rows[n]["error"].startswith("handler result cannot be stored as JSON") for n in BAD_RESULTS)
    assert "could not parse b'\\x00\\xff' in \\udcff" in rows["nul_error"]["error"]
    assert all(rows[n]["attempts"] == 1 and rows[n]["finished_at"] is not None for n in names)


async def test_acker_writes_a_batch_with_an_unstorable_outcome_job_by_job(pool):
    """Below the executor's checks: if the database still refuses an outcome, that job fails with the
    database's reason and the rest of the batch is written."""
    for i in range(3):
        await queue.enqueue(pool, build_job("noop", {"k": i}, default_max_attempts=3))
    worker_id = uuid.uuid4()
    claimed = await queue.claim(pool, worker_id, 10, 60.0)
    assert len(claimed) == 3
    acker = Acker(pool, worker_id)
    acker.add(claimed[0].id, Outcome("completed", result_json='{"ok": true}'))
    acker.add(claimed[1].id, Outcome("completed", result_json="NaN"))  # not JSON: jsonb refuses it
    acker.add(claimed[2].id, Outcome("failed", error="boom", retry_in=None))
    await acker.drain()
    first, second, third = [await job_row(pool, j.id) for j in claimed]
    assert first["status"] == "completed"
    assert first["result"] == {"ok": True}
    assert second["status"] == "failed"
    assert second["error"].startswith("the job's outcome could not be stored:")
    assert "json" in second["error"].lower()
    assert second["locked_by"] is None
    assert third["status"] == "failed"
    assert third["error"] == "boom"
    assert acker.written == {"completed": 1, "failed": 2}
