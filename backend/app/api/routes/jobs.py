"""Jobs: enqueue, read, list, cancel, retry; and inline processing in development."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status
from pydantic import ValidationError
from sqlalchemy import ColumnElement, Text, and_, cast, func, literal, or_, select, text
from sqlalchemy.orm import defer

from app.api import quotas
from app.api.access import Principal, ReadPrincipal, WritePrincipal, audit_as, require
from app.api.deps import RuntimeDep, SessionDep
from app.api.errors import REFUSED_FIELD, errors, field_error
from app.api.visibility import job_out, owner_filter, present, scoped_key, visible_job
from app.core.db import raw_connection, release
from app.core.keys import Scope
from app.core.storable import StorableText
from app.models import BY_TYPE_PARTS, Job, JobStatus, newest_jobs
from app.schemas import PREVIEW_CHARS, JobCreate, JobCreated, JobDetail, JobList, JobOut, JobSummary, ProcessOut
from app.webhooks import store as webhook_store
from app.worker import queue, stats, workflows
from app.worker.dispatcher import UnknownJobType, build_job

router = APIRouter(prefix="/jobs", tags=["jobs"])

MAX_OFFSET = 1_000_000_000
# A page's cursor: its last job's created_at (microseconds since the epoch) and id, the listing's order.
CURSOR_PATTERN = r"^[0-9]{1,20}_[0-9a-fA-F-]{36}$"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
NO_SUCH_JOB = errors(e404="No such job", e422=REFUSED_FIELD)


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
async def create_job(
    body: JobCreate,
    session: SessionDep,
    runtime: RuntimeDep,
    response: Response,
    request: Request,
    principal: WritePrincipal,
) -> JobCreated:
    """Enqueue a job of any registered type; params are validated against the type's model. The job
    belongs to the key's owner; its idempotency key is the owner's own. With `depends_on` it waits (status
    `waiting`) until those jobs complete: jobs of the key's owner (any job, for an admin)."""
    new = validated_job(
        body.job_type,
        body.params,
        default_max_attempts=runtime.settings.default_max_attempts,
        queue=body.queue,
        priority=body.priority,
        run_at=body.run_at,
        idempotency_key=scoped_key(principal, body.idempotency_key),
        max_attempts=body.max_attempts,
    )
    await quotas.check_rate(request, principal, "enqueue")
    async with session.begin():
        await set_owner(session, principal)
        conn = await raw_connection(session)
        await quotas.check_waiting(conn, runtime.settings, principal.owner)
        if body.webhooks and (unknown := await webhook_store.missing(conn, principal.owner, body.webhooks)):
            raise field_error(
                ["body", "webhooks"],
                f"unknown webhook id(s): {', '.join(map(str, unknown))} (see GET /webhooks)",
                "unknown_webhook",
            )
        if body.depends_on:
            await _refuse_invisible_dependencies(session, body.depends_on, principal)
            step = workflows.Step(new, depends_on=tuple(body.depends_on), run_anyway=body.run_anyway)
            try:
                [(job_id, created)] = await workflows.insert(conn, [step])
            except workflows.UnknownDependencies as exc:
                raise field_error(["body", "depends_on"], str(exc), "unknown_dependency") from None
        else:
            job_id, created = await queue.enqueue(conn, new)
        if not created:
            unnamed = await webhook_store.not_attached(conn, job_id, body.webhooks)
            await refuse_other_request(conn, new, also=["webhooks"] if unnamed else None)
        elif body.webhooks:
            await webhook_store.attach(conn, job_id, body.webhooks)
    if not created:
        response.status_code = status.HTTP_200_OK
    return JobCreated(job=job_out(await visible_job(session, job_id, principal), principal), created=created)


async def set_owner(session: SessionDep, principal: Principal) -> None:
    """Jobs inserted in the rest of this transaction belong to the principal's owner (the column default
    of jobs.owner reads this setting; migration 0009). Through the session, which opens its transaction on
    its first statement (statements sent on the raw connection before that would run outside it)."""
    await session.execute(text("SELECT set_config('skiplock.owner', :owner, true)"), {"owner": principal.owner})


@router.get("", response_model=JobList, responses=errors(e422=REFUSED_FIELD))
async def list_jobs(
    session: SessionDep,
    principal: ReadPrincipal,
    status_: Annotated[JobStatus | None, Query(alias="status")] = None,
    job_type: Annotated[StorableText | None, Query(max_length=200)] = None,
    queue_name: Annotated[StorableText | None, Query(alias="queue", max_length=100)] = None,
    id_prefix: Annotated[
        str | None, Query(pattern=r"^[0-9a-fA-F-]{1,36}$", description="Leading hex digits of the job id.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    cursor: Annotated[
        str | None,
        Query(
            pattern=CURSOR_PATTERN,
            description="The `next_cursor` of the previous page: the page after it, as fast at any depth "
            "(an `offset` reads every job it skips).",
        ),
    ] = None,
) -> JobList:
    """Jobs, newest first, with the total that matches the filters: the key owner's jobs (every owner's for
    an admin key). Items carry a preview of their params and result, not the whole: GET /jobs/{id} has them.
    A total above 10,000 is an estimate from a random sample of the jobs (`total_estimated`)."""
    if cursor is not None and offset:
        raise field_error(["query", "offset"], "give either offset or cursor, not both", "value_error")
    filters: list[ColumnElement[bool]] = owner_filter(principal)
    if id_prefix:
        low, high = _id_range(id_prefix)
        filters.append(Job.id.between(low, high))
    if status_ is not None:
        filters.append(Job.status == status_)
    if job_type:
        filters.append(Job.job_type == job_type)
    if queue_name:
        filters.append(Job.queue == queue_name)
    by_type = bool(job_type) and status_ is None
    total, estimated = await _total(session, filters, BY_TYPE_PARTS if by_type else ())
    after = [_after(cursor)] if cursor is not None else []
    page = newest_jobs(filters + after, status_, limit, offset, by_type=by_type)
    page = page.options(defer(Job.params, raiseload=True))
    page = page.options(defer(Job.result, raiseload=True)).add_columns(_preview(Job.params), _preview(Job.result))
    items = [
        present(
            JobSummary.model_validate({**_columns(job), "params_preview": params, "result_preview": result}), principal
        )
        for job, params, result in (await session.execute(page)).all()
    ]
    next_cursor = _cursor_of(items[-1]) if len(items) == limit else None
    return JobList(items=items, total=total, total_estimated=estimated, next_cursor=next_cursor)


def _cursor_of(job: JobSummary) -> str:
    delta = job.created_at - _EPOCH
    return f"{(delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds}_{job.id}"


def _after(cursor: str) -> ColumnElement[bool]:
    """Jobs after the cursor's job in the listing's order (created_at descending, then id): on the listing
    index, a range that starts at the cursor, however deep."""
    micros, job_id = cursor.split("_")
    try:
        last_id = uuid.UUID(job_id)
        at = _EPOCH + timedelta(microseconds=int(micros))
    except (ValueError, OverflowError):
        raise field_error(["query", "cursor"], "not a cursor from a previous page", "value_error") from None
    return and_(Job.created_at <= at, or_(Job.created_at < at, Job.id > last_id))


async def _total(
    session: SessionDep, filters: list[ColumnElement[bool]], parts: tuple[ColumnElement[bool], ...] = ()
) -> tuple[int, bool]:
    """The jobs that match, counted up to stats.EXACT_UP_TO + 1; past that, estimated from a sample. `parts`:
    conditions that split the jobs in disjoint parts, each counted on its own index (the listing by type)."""
    total = 0
    for part in parts or (None,):
        where = [*filters, part] if part is not None else filters
        capped = select(literal(1)).select_from(Job).where(*where).limit(stats.EXACT_UP_TO + 1).subquery()
        total += await session.scalar(select(func.count()).select_from(capped)) or 0
    if total <= stats.EXACT_UP_TO:
        return total, False
    smp = await stats.sample(await raw_connection(session))
    sampled = await session.scalar(select(func.count()).select_from(Job).where(*filters, text(smp.sql)))
    return max(stats.EXACT_UP_TO + 1, (sampled or 0) * smp.k), True


def _preview(column: Any) -> Any:
    return func.left(cast(column, Text), PREVIEW_CHARS)


def _columns(job: Job) -> dict[str, Any]:
    return {name: getattr(job, name) for name in JobSummary.model_fields if not name.endswith("_preview")}


async def _refuse_invisible_dependencies(
    session: SessionDep, depends_on: list[uuid.UUID], principal: Principal
) -> None:
    """A key may make its jobs wait only for jobs it can see: another owner's id is as unknown as a missing one."""
    seen = set(await session.scalars(select(Job.id).where(Job.id.in_(depends_on), *owner_filter(principal))))
    if missing := [str(d) for d in depends_on if d not in seen]:
        raise field_error(
            ["body", "depends_on"], f"unknown job id(s) in depends_on: {', '.join(missing)}", "unknown_dependency"
        )


def _id_range(prefix: str) -> tuple[uuid.UUID, uuid.UUID]:
    """The smallest and largest ids that start with ``prefix`` (uuid order is byte order: an index range)."""
    digits = prefix.replace("-", "").lower()[:32]
    return uuid.UUID(digits.ljust(32, "0")), uuid.UUID(digits.ljust(32, "f"))


@router.get("/{job_id}", response_model=JobDetail, responses=NO_SUCH_JOB)
async def get_job(job_id: uuid.UUID, session: SessionDep, principal: ReadPrincipal) -> JobDetail:
    """A job, with the jobs it depends on (parents), those that depend on it (children) and the webhooks told
    when it ends."""
    job = job_out(await visible_job(session, job_id, principal), principal)
    # On the session's own connection and transaction: a request never waits for a second connection while its
    # first holds a transaction open (see `release`)
    conn = await raw_connection(session)
    family = await workflows.relatives(conn, job_id)
    hooks = await webhook_store.of_job(conn, job_id)
    return JobDetail.model_validate(job.model_dump() | family | {"webhooks": hooks})


@router.post(
    "/{job_id}/cancel",
    response_model=JobOut,
    responses={**NO_SUCH_JOB, **errors(e409="Already finished")},
)
async def cancel_job(job_id: uuid.UUID, session: SessionDep, runtime: RuntimeDep, principal: WritePrincipal) -> JobOut:
    """Waiting jobs are cancelled at once; a running job is asked to stop and ends `cancelled` shortly."""
    await visible_job(session, job_id, principal)
    await release(session)
    async with runtime.pool.acquire() as conn:
        before = await queue.request_cancel(conn, job_id)
        if before in ("pending", "retry", "processing"):
            await audit_as(conn, principal, "job.cancel", f"job:{job_id}", {"status_before": before})
    if before is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"job {job_id} not found")
    if before in ("completed", "failed", "cancelled"):
        raise HTTPException(status.HTTP_409_CONFLICT, f"job {job_id} is already {before}; nothing to cancel")
    return job_out(await visible_job(session, job_id, principal), principal)


@router.post(
    "/{job_id}/retry",
    response_model=JobOut,
    responses={**NO_SUCH_JOB, **errors(e409="Not failed or cancelled")},
)
async def retry_job(job_id: uuid.UUID, session: SessionDep, runtime: RuntimeDep, principal: WritePrincipal) -> JobOut:
    """Re-queue a failed or cancelled job with fresh attempts."""
    await visible_job(session, job_id, principal)
    await release(session)
    async with runtime.pool.acquire() as conn:
        if await queue.requeue(conn, job_id):
            await audit_as(conn, principal, "job.retry", f"job:{job_id}", {})
        else:
            current = await conn.fetchval("SELECT status::text FROM jobs WHERE id = $1", job_id)
            if current is None:
                raise HTTPException(status.HTTP_404_NOT_FOUND, f"job {job_id} not found")
            raise HTTPException(
                status.HTTP_409_CONFLICT, f"job {job_id} is {current}; only failed or cancelled jobs can be retried"
            )
    return job_out(await visible_job(session, job_id, principal), principal)


process_router = APIRouter(prefix="/jobs", tags=["development"], dependencies=[Depends(require(Scope.admin))])


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
