"""What operators watch: the task catalogue, live workers, queue statistics, and a job's live events."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from fastapi.responses import StreamingResponse

from app.api.access import ReadPrincipal, require
from app.api.deps import RuntimeDep
from app.api.errors import REFUSED_FIELD, errors
from app.api.visibility import reason, sees
from app.core.keys import Scope
from app.worker import stats
from app.worker.dispatcher import DISPATCH_TABLE

router = APIRouter(tags=["operators"])

FINISHED = {"completed", "failed", "cancelled"}


_admin = [Depends(require(Scope.admin))]


@router.get("/tasks", response_model=list[dict[str, Any]])
async def list_tasks(runtime: RuntimeDep, principal: ReadPrincipal) -> list[dict[str, Any]]:
    """Every registered job type, from the DISPATCH_TABLE, with its params JSON schema and the kinds of
    uploaded file it takes (`accepts`: POST /upload creates only job types that take the file's kind)."""
    return [
        {
            "name": jt.name,
            "description": jt.description,
            "queue": jt.queue,
            "priority": jt.priority,
            "params_schema": jt.new_params_model.model_json_schema(),
            "timeout_seconds": jt.timeout,
            "max_attempts": jt.max_attempts or runtime.settings.default_max_attempts,
            "concurrency_limit": jt.concurrency,
            "schedule": jt.schedule,
            "schedule_timezone": (jt.timezone or "UTC") if jt.schedule else None,
            "accepts": list(jt.accepts),
        }
        for jt in sorted(DISPATCH_TABLE.values(), key=lambda t: t.name)
    ]


@router.get("/workers", response_model=list[dict[str, Any]], dependencies=_admin)
async def list_workers(runtime: RuntimeDep) -> list[dict[str, Any]]:
    """Registered workers with their heartbeat age and the jobs they hold."""
    rows = await stats.workers(runtime.pool, runtime.settings.lease_seconds)
    return [
        {
            **r,
            "id": str(r["id"]),
            "started_at": r["started_at"].isoformat(),
            "heartbeat_at": r["heartbeat_at"].isoformat(),
        }
        for r in rows
    ]


@router.get("/stats", response_model=dict[str, Any], responses=errors(e422=REFUSED_FIELD), dependencies=_admin)
async def get_stats(
    runtime: RuntimeDep,
    minutes: Annotated[int, Query(ge=1, le=1440)] = 15,
    finished_hours: Annotated[int, Query(ge=1, le=24 * 90)] = 24,
) -> dict[str, Any]:
    """Counts by status, type and queue (every waiting or running job, and jobs finished in the last
    `finished_hours`); depth and oldest waiting job per queue; throughput, failure rate and p50/p95
    durations over the last `minutes`. Each figure reads a bounded number of rows: a count above
    `exact_up_to`, and the figures of a window in which more than `window_exact_up_to` jobs finished, are
    estimates from a random sample of the jobs (`estimated` says which)."""
    async with runtime.pool.acquire() as conn:
        estimates: dict[stats.Group, int] = {}  # a large group is sampled once for both
        rows, counts_estimated = await stats.counts_estimated(conn, finished_hours * 60, estimates)
        depth = await stats.queue_depth(conn, estimates)
        window = await stats.window_sample(conn, minutes)
        per_minute = await stats.throughput(conn, minutes, window)
        per_type = await stats.durations(conn, minutes, window)
    by_status: dict[str, int] = {}
    by_type: dict[str, dict[str, int]] = {}
    by_queue: dict[str, dict[str, int]] = {}
    for r in rows:
        by_status[r["status"]] = by_status.get(r["status"], 0) + r["n"]
        by_type.setdefault(r["job_type"], {})[r["status"]] = by_type.get(r["job_type"], {}).get(r["status"], 0) + r["n"]
        by_queue.setdefault(r["queue"], {})[r["status"]] = by_queue.get(r["queue"], {}).get(r["status"], 0) + r["n"]
    finished = sum(m["completed"] + m["failed"] for m in per_minute)
    failed = sum(m["failed"] for m in per_minute)
    return {
        "by_status": by_status,
        "by_type": by_type,
        "by_queue": by_queue,
        "queues": depth,
        "finished_window_hours": finished_hours,
        "window_minutes": minutes,
        "throughput_per_minute": per_minute,
        "completed_per_second": sum(m["completed"] for m in per_minute) / (minutes * 60),
        "failure_rate": failed / finished if finished else 0.0,
        "durations": per_type,
        "exact_up_to": stats.EXACT_UP_TO,
        "window_exact_up_to": stats.WINDOW_EXACT_UP_TO,
        "estimated": {
            "counts": counts_estimated,
            "queues": any(q["estimated"] for q in depth),
            "window": window.estimated,
        },
    }


def _sse(event: str, data: dict[str, Any]) -> str:
    return f"event: {event}\ndata: {json.dumps(data, default=str)}\n\n"


@router.get(
    "/jobs/{job_id}/events",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/event-stream": {}}},
        **errors(e404="No such job", e422=REFUSED_FIELD),
    },
)
async def job_events(
    job_id: uuid.UUID, request: Request, runtime: RuntimeDep, principal: ReadPrincipal
) -> StreamingResponse:
    """Server-Sent Events: `state` once with the job as it is, then a `progress` or `status` event for each
    change (changes closer together than the hub reads are folded into the latest); the stream ends when the
    job is completed, failed or cancelled."""
    hub = request.app.state.events
    query = "SELECT status::text, progress, progress_message, error, result::text, owner FROM jobs WHERE id = $1"
    found = await runtime.pool.fetchrow(query, job_id)
    if found is None or not sees(principal, found["owner"]):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"job {job_id} not found")

    def error(text: str | None) -> str | None:
        return text if principal.is_admin else reason(text)

    async def stream() -> AsyncIterator[str]:
        async with hub.subscribe(str(job_id)) as events:
            row = await runtime.pool.fetchrow(query, job_id)  # after subscribing: nothing slips between
            last = {"status": row["status"], "progress": row["progress"], "message": row["progress_message"]}
            yield _sse("state", {"id": str(job_id), **last, "error": error(row["error"])})
            while last["status"] not in FINISHED:
                try:
                    event = await asyncio.wait_for(events.get(), 15)
                except TimeoutError:
                    yield ": keep-alive\n\n"
                    continue
                now = {"status": event["status"], "progress": event["progress"], "message": event["message"]}
                if now == last:
                    continue  # a state already sent: the hub reads for each new subscription, maybe after us
                kind = "status" if now["status"] != last["status"] else "progress"
                last = now
                if kind == "status" and event["status"] in FINISHED:
                    row = await runtime.pool.fetchrow(query, job_id)
                    event = {**event, "error": error(row["error"]), "result": json.loads(row["result"] or "null")}
                yield _sse(kind, event)

    return StreamingResponse(
        stream(), media_type="text/event-stream", headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    )
