"""Workflows in one process: children enqueued by handlers, fan-in, and the API's view of the graph."""

from __future__ import annotations

import asyncio
import uuid

from app.worker import enqueue, queue

from tests.integration.test_worker import running_worker, submit
from tests.support.waiting import job_row, wait_status


async def test_children_are_written_with_the_parents_completion_and_the_fan_in_runs_once(runtime, pool, client):
    parent = await submit(pool, "test_fan_out", {"children": 20})
    async with running_worker(runtime):
        done = await wait_status(pool, parent, "completed", timeout=30)
        fan_in = uuid.UUID(done["result"]["fan_in"])
        await wait_status(pool, fan_in, "completed", timeout=30)
    runs = await pool.fetch("SELECT job_id, runs FROM exec_log")
    assert len(runs) == 21
    assert all(r["runs"] == 1 for r in runs)
    body = (await client.get(f"/jobs/{parent}")).json()
    assert len(body["children"]) == 21
    assert {c["status"] for c in body["children"]} == {"completed"}
    assert body["parents"] == []
    assert body["workflow_id"] == str(parent)
    fan_in_body = (await client.get(f"/jobs/{fan_in}")).json()
    assert len(fan_in_body["parents"]) == 21
    assert fan_in_body["workflow_id"] == str(parent)
    graph = (await client.get(f"/workflows/{parent}")).json()
    assert graph["status"] == "completed"
    assert graph["counts"] == {"completed": 22}
    assert len(graph["nodes"]) == 22
    assert len(graph["edges"]) == 20 + 21
    assert (await client.get(f"/workflows/{fan_in}")).json()["id"] == str(parent)  # found from any of its jobs


async def test_a_handler_that_fails_leaves_no_children(runtime, pool):
    parent = await submit(pool, "test_spawn_then_fail")
    async with running_worker(runtime):
        await wait_status(pool, parent, "failed", timeout=30)
    assert await pool.fetchval("SELECT count(*) FROM jobs WHERE job_type = 'test_record'") == 0  # no child


async def test_a_failing_child_cancels_the_fan_in_naming_it(runtime, pool, client):
    parent = await submit(pool, "test_fan_out", {"children": 5, "fail_child": 2})
    async with running_worker(runtime):
        done = await wait_status(pool, parent, "completed", timeout=30)
        fan_in = await wait_status(pool, done["result"]["fan_in"], "cancelled", timeout=30)
    failed = await pool.fetchval("SELECT id FROM jobs WHERE job_type = 'test_fail'")
    assert str(failed) in fan_in["error"]
    assert "failed" in fan_in["error"]
    assert (await client.get(f"/workflows/{parent}")).json()["status"] == "failed"


async def test_api_enqueues_with_dependencies_and_refuses_unknown_ones(client, pool):
    first = (await client.post("/jobs", json={"job_type": "test_record", "queue": "idle"})).json()["job"]
    made = await client.post("/jobs", json={"job_type": "test_record", "depends_on": [first["id"]]})
    assert made.status_code == 201
    job = made.json()["job"]
    assert job["status"] == "waiting"
    assert job["blockers"] == 1
    assert job["workflow_id"] == first["id"]
    missing = str(uuid.uuid4())
    refused = await client.post("/jobs", json={"job_type": "test_record", "depends_on": [missing]})
    assert refused.status_code == 422
    assert missing in refused.text
    assert await pool.fetchval("SELECT count(*) FROM jobs") == 2


async def test_cancelling_a_workflow_cancels_what_has_not_run(client, pool):
    async with pool.acquire() as conn, conn.transaction():
        root = await enqueue(conn, "test_record", {}, queue="idle")
        a = await enqueue(conn, "test_record", {}, depends_on=[root])
        b = await enqueue(conn, "test_record", {}, depends_on=[a])
    await pool.execute("UPDATE jobs SET status = 'completed', finished_at = now() WHERE id = $1", root)
    assert (await job_row(pool, a))["status"] == "pending"  # promoted by the root's completion
    response = await client.post(f"/workflows/{root}/cancel")
    assert response.status_code == 200
    assert response.json()["cancelled"] == 2
    graph = (await client.get(f"/workflows/{root}")).json()
    assert {n["id"]: n["status"] for n in graph["nodes"]} == {
        str(root): "completed",
        str(a): "cancelled",
        str(b): "cancelled",
    }
    assert (await client.post(f"/workflows/{uuid.uuid4()}/cancel")).status_code == 404
    assert (await client.get(f"/workflows/{uuid.uuid4()}")).status_code == 404


async def _claimed_by(pool, job_id: uuid.UUID) -> uuid.UUID:
    worker = uuid.uuid4()
    await pool.execute(
        "UPDATE jobs SET status = 'processing', locked_by = $2, locked_until = now() + interval '1 minute'"
        " WHERE id = $1",
        job_id,
        worker,
    )
    return worker


async def test_last_two_dependencies_settling_at_once_on_two_workers_promote_the_fan_in_once(pool):
    async with pool.acquire() as conn, conn.transaction():
        a = await enqueue(conn, "test_record", {})
        b = await enqueue(conn, "test_record", {})
        fan_in = await enqueue(conn, "test_record", {}, depends_on=[a, b])
    workers = [await _claimed_by(pool, a), await _claimed_by(pool, b)]
    first, second = await pool.acquire(), await pool.acquire()
    woken: list[str] = []

    def on_notice(*args: object) -> None:
        woken.append(str(args[-1]))

    listener = await pool.acquire()
    await listener.add_listener("skiplock_jobs", on_notice)
    try:
        one, two = first.transaction(), second.transaction()
        await one.start()
        await two.start()
        assert await queue.complete_many(first, workers[0], [(a, None, 0.0)]) == {a}
        # The second completion waits for the fan-in's row lock, held by the first until it commits.
        late = asyncio.create_task(queue.complete_many(second, workers[1], [(b, None, 0.0)]))
        await asyncio.sleep(0.2)
        assert not late.done()
        await one.commit()
        assert await late == {b}
        assert (await job_row(pool, fan_in))["status"] == "waiting"  # not before the second commit
        await two.commit()
    finally:
        for conn in (first, second):
            await pool.release(conn)
    row = await job_row(pool, fan_in)
    assert row["status"] == "pending"
    assert row["blockers"] == 0
    await asyncio.sleep(0.2)
    await listener.remove_listener("skiplock_jobs", on_notice)
    await pool.release(listener)
    assert woken == ["default"]  # one wake-up, from the one promotion


async def test_a_dependency_settling_while_its_dependant_is_enqueued_is_counted_once(pool):
    async with pool.acquire() as conn, conn.transaction():
        parent = await enqueue(conn, "test_record", {})
    worker = await _claimed_by(pool, parent)
    async with pool.acquire() as host, pool.acquire() as acker:
        tx = host.transaction()
        await tx.start()
        child = await enqueue(host, "test_record", {}, depends_on=[parent])  # locks the parent's row
        completing = asyncio.create_task(queue.complete_many(acker, worker, [(parent, None, 0.0)]))
        await asyncio.sleep(0.2)
        assert not completing.done()  # the completion waits for the enqueueing transaction
        await tx.commit()
        assert await completing == {parent}
    row = await job_row(pool, child)
    assert row["status"] == "pending"
    assert row["blockers"] == 0
