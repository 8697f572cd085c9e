"""Jobs: enqueue, read, list, cancel, retry; and inline processing in development."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Response, status
from pydantic import ValidationError
from sqlalchemy import ColumnElement, Text, cast, func, select
from sqlalchemy.orm import defer

from app.api.deps import RuntimeDep, SessionDep
from app.api.errors import REFUSED_FIELD, errors, field_error
from app.core.db import raw_connection
from app.core.storable import StorableText
from app.models import Job, JobStatus, newest_jobs
from app.schemas import PREVIEW_CHARS, JobCreate, JobCreated, JobDetail, JobList, JobOut, JobSummary, ProcessOut
from app.worker import queue, workflows
from app.worker.dispatcher import UnknownJobType, build_job

router = APIRouter(prefix="/jobs", tags=["jobs"])

MAX_OFFSET = 1_000_000_000
NO_SUCH_JOB = errors(e404="No such job", e422=REFUSED_FIELD)


async def _get_job(session: SessionDep, job_id: uuid.UUID) -> Job:
    job = await session.get(Job, job_id, populate_existing=True)
    if job is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"job {job_id} not found")
    return job


def validated_job(name: str, params: dict[str, Any] | None, **options: Any) -> queue.NewJob:
    """`build_job`, answering 422 for an unregistered type (naming it) or params that do not fit its model
    (with the field errors)."""
    try:
        return build_job(name, params, **options)
    except UnknownJobType as exc:
        raise field_error(["body", "job_type"], str(exc), "unknown_job_type") from None
    except ValidationError as exc:
        detail = [{"loc": ["body", "params", *e["loc"]], "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail) from None


async def refuse_other_request(conn: queue.Executor, new: queue.NewJob, *, also: list[str] | None = None) -> None:
    """409 when the job holding `new`'s idempotency key was made by a different request, saying what differs."""
    differences = [*(also or []), *await queue.idempotency_conflicts(conn, new)]
    if differences:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            f"idempotency key {new.idempotency_key!r} was used for a different request; "
            f"it differs in {'; '.join(differences)}",
        )


@router.post(
    "",
    response_model=JobCreated,
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"model": JobCreated, "description": "A repeat: the job made the first time with this idempotency key"},
        **errors(
            e400="The body is not JSON",
            e409="The idempotency key was used for a different request",
            e413="The body is larger than MAX_REQUEST_BYTES",
            e422=REFUSED_FIELD,
        ),
    },
)
async def create_job(body: JobCreate, session: SessionDep, runtime: RuntimeDep, response: Response) -> JobCreated:
    """Enqueue a job of any registered type; params are validated against the type's model. With
    `depends_on` it waits (status `waiting`) until those jobs complete."""
    new = validated_job(
        body.job_type,
        body.params,
        default_max_attempts=runtime.settings.default_max_attempts,
        queue=body.queue,
        priority=body.priority,
        run_at=body.run_at,
        idempotency_key=body.idempotency_key,
        max_attempts=body.max_attempts,
    )
    async with session.begin():
        conn = await raw_connection(session)
        if body.depends_on:
            step = workflows.Step(new, depends_on=tuple(body.depends_on), run_anyway=body.run_anyway)
            try:
                [(job_id, created)] = await workflows.insert(conn, [step])
            except workflows.UnknownDependencies as exc:
                raise field_error(["body", "depends_on"], str(exc), "unknown_dependency") from None
        else:
            job_id, created = await queue.enqueue(conn, new)
        if not created:
            await refuse_other_request(conn, new)
    if not created:
        response.status_code = status.HTTP_200_OK
    return JobCreated(job=JobOut.model_validate(await _get_job(session, job_id)), created=created)


@router.get("", response_model=JobList, responses=errors(e422=REFUSED_FIELD))
async def list_jobs(
    session: SessionDep,
    status_: Annotated[JobStatus | None, Query(alias="status")] = None,
    job_type: Annotated[StorableText | None, Query(max_length=200)] = None,
    queue_name: Annotated[StorableText | None, Query(alias="queue", max_length=100)] = None,
    id_prefix: Annotated[
        str | None, Query(pattern=r"^[0-9a-fA-F-]{1,36}$", description="Leading hex digits of the job id.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> JobList:
    """Jobs, newest first, with the total that matches the filters. Items carry a preview of their params and
    result, not the whole: GET /jobs/{id} has them."""
    filters: list[ColumnElement[bool]] = []
    if id_prefix:
        low, high = _id_range(id_prefix)
        filters.append(Job.id.between(low, high))
    if status_ is not None:
        filters.append(Job.status == status_)
    if job_type:
        filters.append(Job.job_type == job_type)
    if queue_name:
        filters.append(Job.queue == queue_name)
    total = await session.scalar(select(func.count()).select_from(Job).where(*filters))
    page = newest_jobs(filters, status_, limit, offset).options(defer(Job.params, raiseload=True))
    page = page.options(defer(Job.result, raiseload=True)).add_columns(_preview(Job.params), _preview(Job.result))
    items = [
        JobSummary.model_validate({**_columns(job), "params_preview": params, "result_preview": result})
        for job, params, result in (await session.execute(page)).all()
    ]
    return JobList(items=items, total=total or 0)


def _preview(column: Any) -> Any:
    return func.left(cast(column, Text), PREVIEW_CHARS)


def _columns(job: Job) -> dict[str, Any]:
    return {name: getattr(job, name) for name in JobSummary.model_fields if not name.endswith("_preview")}


def _id_range(prefix: str) -> tuple[uuid.UUID, uuid.UUID]:
    """The smallest and largest ids that start with ``prefix`` (uuid order is byte order: an index range)."""
    digits = prefix.replace("-", "").lower()[:32]
    return uuid.UUID(digits.ljust(32, "0")), uuid.UUID(digits.ljust(32, "f"))


@router.get("/{job_id}", response_model=JobDetail, responses=NO_SUCH_JOB)
async def get_job(job_id: uuid.UUID, session: SessionDep, runtime: RuntimeDep) -> JobDetail:
    """A job, with the jobs it depends on (parents) and those that depend on it (children)."""
    job = await _get_job(session, job_id)
    async with runtime.pool.acquire() as conn:
        family = await workflows.relatives(conn, job_id)
    return JobDetail.model_validate(JobOut.model_validate(job).model_dump() | family)


@router.post(
    "/{job_id}/cancel",
    response_model=JobOut,
    responses={**NO_SUCH_JOB, **errors(e409="Already finished")},
)
async def cancel_job(job_id: uuid.UUID, session: SessionDep, runtime: RuntimeDep) -> Job:
    """Waiting jobs are cancelled at once; a running job is asked to stop and ends `cancelled` shortly."""
    async with runtime.pool.acquire() as conn:
        before = await queue.request_cancel(conn, job_id)
    if before is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"job {job_id} not found")
    if before in ("completed", "failed", "cancelled"):
        raise HTTPException(status.HTTP_409_CONFLICT, f"job {job_id} is already {before}; nothing to cancel")
    return await _get_job(session, job_id)


@router.post(
    "/{job_id}/retry",
    response_model=JobOut,
    responses={**NO_SUCH_JOB, **errors(e409="Not failed or cancelled")},
)
async def retry_job(job_id: uuid.UUID, session: SessionDep, runtime: RuntimeDep) -> Job:
    """Re-queue a failed or cancelled job with fresh attempts."""
    async with runtime.pool.acquire() as conn:
        if not await queue.requeue(conn, job_id):
            current = await conn.fetchval("SELECT status::text FROM jobs WHERE id = $1", job_id)
            if current is None:
                raise HTTPException(status.HTTP_404_NOT_FOUND, f"job {job_id} not found")
            raise HTTPException(
                status.HTTP_409_CONFLICT, f"job {job_id} is {current}; only failed or cancelled jobs can be retried"
            )
    return await _get_job(session, job_id)


process_router = APIRouter(prefix="/jobs", tags=["development"])


@process_router.post("/process", response_model=ProcessOut)
async def process_one(runtime: RuntimeDep) -> ProcessOut:
    """Development only: claim and run exactly one waiting job in this request."""
    worker = runtime.worker(concurrency=1)
    ran = await worker.process_one()
    if ran is None:
        message = "no job is waiting"
        if runtime.settings.worker_enabled:
            message += (
                " (the embedded worker claims jobs as they arrive; start with `serve --no-worker`"
                " to process jobs by hand)"
            )
        return ProcessOut(processed=False, message=message)
    job, outcome, elapsed_ms = ran
    async with runtime.pool.acquire() as conn:
        row = await conn.fetchrow("SELECT status::text, error FROM jobs WHERE id = $1", job.id)
    return ProcessOut(
        processed=True,
        job_id=job.id,
        job_type=job.job_type,
        status=row["status"],
        result=outcome.result,
        error=row["error"],
        processing_time_ms=round(elapsed_ms, 2),
    )
