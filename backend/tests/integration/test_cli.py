"""The command line against a real database, as an operator runs it."""

from __future__ import annotations

import asyncio
import sys
import uuid


async def cli(env, *args: str, timeout: float = 60) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "app", *args, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout)
    return proc.returncode or 0, out.decode(), err.decode()


async def test_enqueue_show_list_cancel_retry_stats(subprocess_env):
    code, out, _ = await cli(subprocess_env, "enqueue", "sleep", '{"seconds": 30}', "--priority", "5")
    assert code == 0
    job_id = out.strip()
    uuid.UUID(job_id)
    code, out, _ = await cli(subprocess_env, "show", job_id)
    assert code == 0
    assert '"status": "pending"' in out
    assert '"seconds": 30' in out
    code, out, _ = await cli(subprocess_env, "list", "--status", "pending")
    assert code == 0
    assert job_id in out
    code, out, _ = await cli(subprocess_env, "cancel", job_id)
    assert code == 0
    assert "cancelled" in out
    code, _, err = await cli(subprocess_env, "cancel", job_id)
    assert code == 4
    assert "already cancelled" in err
    code, out, _ = await cli(subprocess_env, "retry", job_id)
    assert code == 0
    assert "re-queued" in out
    code, out, _ = await cli(subprocess_env, "list", "--job-type", "sleep")  # by type: every status, merged
    assert code == 0
    assert job_id in out
    code, out, _ = await cli(subprocess_env, "list", "--job-type", "noop")
    assert code == 0
    assert job_id not in out
    code, out, _ = await cli(subprocess_env, "stats")
    assert code == 0
    assert "pending=1" in out
    code, _, err = await cli(subprocess_env, "show", str(uuid.uuid4()))
    assert code == 3
    assert "not found" in err


async def test_enqueue_follow_shows_progress_and_exit_code(subprocess_env, tmp_path):
    from tests.support.processes import start_worker, stop_all

    worker = start_worker(subprocess_env, tmp_path / "logs", "--concurrency", "2")
    try:
        code, _, err = await cli(subprocess_env, "enqueue", "sleep", '{"seconds": 1}', "--follow")
        assert code == 0
        assert "100.0%" in err
        assert "completed" in err
        # The job's last progress message ("k/10") is not left on the final line once it has ended.
        assert err.splitlines()[-1].split("\r")[-1].rstrip() == "[####################] 100.0% completed"
        code, _, err = await cli(subprocess_env, "enqueue", "fail", '{"permanent": true, "message": "nope"}', "-f")
        assert code == 1
        assert "nope" in err
    finally:
        stop_all([worker])


async def test_bad_usage_exits_2_with_a_message(subprocess_env):
    code, _, err = await cli(subprocess_env, "enqueue", "no_such_type")
    assert code == 2
    assert "no_such_type" in err
    code, _, err = await cli(subprocess_env, "enqueue", "sleep", "{not json")
    assert code == 2
    code, _, err = await cli(subprocess_env, "show", "not-a-uuid")
    assert code == 2
    assert "not a job id" in err
