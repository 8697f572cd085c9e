"""Pydantic models of the API's requests and answers."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from app.core.storable import INT4_MAX, INT4_MIN, StorableJson, StorableText
from app.models import JobStatus

PREVIEW_CHARS = 200  # of params and result in a listing


def _in_utc_range(value: datetime | None) -> datetime | None:
    """A time PostgreSQL's timestamptz takes: one that has a UTC equivalent (naive times are read as UTC)."""
    if value is None or value.tzinfo is None:
        return value
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("is out of range once converted to UTC") from None


class JobCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt field is refused by name, not silently dropped

    job_type: StorableText = Field(min_length=1, max_length=200, description="A registered job type (see GET /tasks).")
    params: StorableJson = Field(
        default_factory=dict, description="The job type's params: a JSON object, nested at most 32 levels deep."
    )
    priority: int | None = Field(
        None, ge=INT4_MIN, le=INT4_MAX, description="Lower runs first; default from the job type."
    )
    queue: StorableText | None = Field(None, min_length=1, max_length=100)
    run_at: Annotated[datetime | None, AfterValidator(_in_utc_range)] = Field(
        None, description="Not before this time (timezone-aware; a time without a zone is read as UTC)."
    )
    idempotency_key: StorableText | None = Field(
        None,
        min_length=1,
        max_length=200,
        description="A repeat with the same key and the same request answers the first job (200); "
        "the same key with a different request is a 409.",
    )
    max_attempts: int | None = Field(None, ge=1, le=100)
    depends_on: list[uuid.UUID] = Field(
        default_factory=list,
        max_length=1000,
        description="Existing jobs this one waits for: it runs once all completed, and is cancelled if one "
        "fails for good or is cancelled (unless run_anyway).",
    )
    run_anyway: bool = Field(False, description="Run even if a dependency fails or is cancelled.")
    webhooks: list[uuid.UUID] = Field(
        default_factory=list,
        max_length=10,
        description="Webhooks of the key's owner (POST /webhooks) told when this job ends, beside those that hear"
        " of every job.",
    )


class FieldError(BaseModel):
    loc: list[str | int] = Field(description="Where: ['body', 'params', ...], ['query', 'offset'], ...")
    msg: str
    type: str


class ErrorOut(BaseModel):
    """Every error answer: a message, or (422) the fields that were refused and why."""

    detail: str | list[FieldError]


class _JobFields(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    job_type: str
    owner: str = Field(description="Who enqueued it (the API key's owner; `system` for jobs the system made).")
    queue: str
    priority: int
    status: JobStatus
    error: str | None
    attempts: int
    max_attempts: int
    progress: float
    progress_message: str | None
    cancel_requested: bool
    idempotency_key: str | None
    asset_id: uuid.UUID | None
    run_at: datetime
    locked_by: uuid.UUID | None
    locked_until: datetime | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    updated_at: datetime
    workflow_id: uuid.UUID | None = None
    blockers: int = Field(0, description="Dependencies not finished yet (status waiting).")


class JobOut(_JobFields):
    """A job in full."""

    params: dict[str, Any]
    result: dict[str, Any] | None


class JobRef(BaseModel):
    id: uuid.UUID
    job_type: str
    status: JobStatus


class JobDetail(JobOut):
    parents: list[JobRef] = Field(default_factory=list, description="Jobs this one depends on.")
    children: list[JobRef] = Field(
        default_factory=list, description="Jobs that depend on this one (those its handler enqueued included)."
    )
    webhooks: list[uuid.UUID] = Field(
        default_factory=list, description="Webhooks told when this job ends (see GET /webhooks/{id}/deliveries)."
    )


class WorkflowNode(JobRef):
    blockers: int
    attempts: int
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class WorkflowOut(BaseModel):
    id: uuid.UUID
    status: str = Field(
        description="running while a job has not finished, else completed if all completed, else failed "
        "(if one failed) or cancelled"
    )
    counts: dict[str, int]
    nodes: list[WorkflowNode]
    edges: list[tuple[uuid.UUID, uuid.UUID]] = Field(description="(dependency, dependant) pairs")


class WorkflowCancelled(BaseModel):
    id: uuid.UUID
    cancelled: int = Field(description="Jobs cancelled before they ran")
    stopping: int = Field(description="Running jobs asked to stop")


class JobSummary(_JobFields):
    """A job in a listing: its params and result only as a bounded preview (the full job is GET /jobs/{id})."""

    params_preview: str = Field(description=f"The params as JSON, cut at {PREVIEW_CHARS} characters.")
    result_preview: str | None = Field(description=f"The result as JSON, cut at {PREVIEW_CHARS} characters.")


class JobList(BaseModel):
    items: list[JobSummary]
    total: int
    total_estimated: bool = Field(
        False, description="The total is above 10,000 and estimated from a random sample of the jobs."
    )
    next_cursor: str | None = Field(None, description="Pass as `cursor` for the next page; null on the last page.")


class JobCreated(BaseModel):
    job: JobOut
    created: bool = Field(description="False when the idempotency key matched an existing job.")


class UploadOut(BaseModel):
    asset_id: uuid.UUID
    job_id: uuid.UUID
    job_type: str
    kind: str
    size_bytes: int
    sha256: str
    created: bool


class ProcessOut(BaseModel):
    processed: bool
    message: str | None = None
    job_id: uuid.UUID | None = None
    job_type: str | None = None
    status: JobStatus | None = None
    result: dict[str, Any] | None = None
    error: str | None = None
    processing_time_ms: float | None = None


class HealthOut(BaseModel):
    status: str = Field(description="'ok' or 'degraded'")
    database: bool
    migrations: dict[str, str | None]
    migrations_at_head: bool
    workers_alive: int
    embedded_worker: bool
    environment: str
