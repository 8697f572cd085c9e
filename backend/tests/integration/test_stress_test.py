"""The stress_test job type on a real worker process: its jobs run, and its report's figures are those of the
jobs' timestamps in the database; bad params are refused naming the field."""

from __future__ import annotations

import uuid

import pytest
from app.jobs.stress import MAX_COUNT

from tests.support.processes import start_worker, stop_all
from tests.support.waiting import job_row, wait_progressing


def _percentile(values: list[float], q: float) -> float:
    """PostgreSQL's percentile_cont: linear interpolation between the closest ranks."""
    ordered = sorted(values)
    rank = q * (len(ordered) - 1)
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


async def test_a_stress_test_on_a_one_slot_worker_reports_the_figures_of_its_jobs(
    client, pool, subprocess_env, tmp_path
):
    answer = await client.post(
        "/jobs", json={"job_type": "stress_test", "params": {"count": 200, "kind": "sleep", "seconds": 0.01}}
    )
    assert answer.status_code == 201, answer.text
    stress_id = uuid.UUID(answer.json()["job"]["id"])
    # One slot: a stress test that waited for its own jobs in that slot would never end.
    proc = start_worker(subprocess_env, tmp_path / "logs", "--concurrency", "1")
    seen: set[str] = set()  # the report's progress messages while its jobs run
    try:

        async def report_done() -> dict | None:
            stress = await job_row(pool, stress_id)
            if stress["status"] != "completed":
                return None
            report = await job_row(pool, stress["result"]["report_job"])
            if report["progress_message"]:
                seen.add(report["progress_message"])
            return report if report["status"] == "completed" else None

        async def finished_children() -> int:
            return await pool.fetchval(
                "SELECT count(*) FROM jobs WHERE job_type = 'stress_test_child' AND status = 'completed'"
            )

        report = await wait_progressing(report_done, finished_children, interval=0.05)
    finally:
        stop_all([proc])
    result = report["result"]
    assert result["stress_test_job"] == str(stress_id)
    assert (result["count"], result["completed"], result["failed"], result["cancelled"]) == (200, 200, 0, 0)

    rows = await pool.fetch(
        """SELECT extract(epoch FROM started_at - created_at)::float8 AS latency,
                  extract(epoch FROM finished_at - started_at)::float8 AS run,
                  created_at, finished_at
           FROM jobs WHERE job_type = 'stress_test_child'"""
    )
    assert len(rows) == 200
    for name, column in (("latency_ms", "latency"), ("run_time_ms", "run")):
        values = [r[column] for r in rows]
        for label, q in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99)):
            assert result[name][label] == pytest.approx(1000 * _percentile(values, q), abs=0.002)
        assert result[name]["p50"] <= result[name]["p95"] <= result[name]["p99"]
    elapsed = (max(r["finished_at"] for r in rows) - min(r["created_at"] for r in rows)).total_seconds()
    assert result["seconds_elapsed"] == pytest.approx(elapsed, abs=0.001)
    assert result["jobs_per_second"] == pytest.approx(200 / elapsed, abs=0.1)
    assert result["run_time_ms"]["p50"] >= 10  # each job slept 10 ms
    # While the jobs ran, every tenth of them wrote the figures so far as the report's progress.
    assert any("/200 done" in message and "jobs/s" in message for message in seen), seen


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"count": 0}, "count"),
        ({"count": MAX_COUNT + 1}, "count"),
        ({"kind": "fork_bomb"}, "kind"),
        ({"kind": "sleep", "seconds": 61}, "seconds"),
        ({"kind": "noop", "seconds": 1}, "seconds"),
    ],
)
async def test_stress_test_params_out_of_bounds_are_refused_naming_the_field(client, pool, params, field):
    answer = await client.post("/jobs", json={"job_type": "stress_test", "params": params})
    assert answer.status_code == 422, answer.text
    assert field in answer.text
    assert await pool.fetchval("SELECT count(*) FROM jobs") == 0
