"""Pydantic models of the API's requests and answers."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from app.models import JobStatus


class JobCreate(BaseModel):
    job_type: str = Field(description="A registered job type (see GET /tasks).")
    params: dict[str, Any] = Field(default_factory=dict)
    priority: int | None = Field(None, description="Lower runs first; default from the job type.")
    queue: str | None = Field(None, min_length=1, max_length=100)
    run_at: datetime | None = Field(None, description="Not before this time (timezone-aware).")
    idempotency_key: str | None = Field(None, min_length=1, max_length=200)
    max_attempts: int | None = Field(None, ge=1, le=100)
    depends_on: list[uuid.UUID] = Field(
        default_factory=list,
        max_length=1000,
        description="Existing jobs this one waits for: it runs once all completed, and is cancelled if one "
        "fails for good or is cancelled (unless run_anyway).",
    )
    run_anyway: bool = Field(False, description="Run even if a dependency fails or is cancelled.")


class JobOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    job_type: str
    queue: str
    priority: int
    status: JobStatus
    params: dict[str, Any]
    result: dict[str, Any] | None
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


class JobRef(BaseModel):
    id: uuid.UUID
    job_type: str
    status: JobStatus


class JobDetail(JobOut):
    parents: list[JobRef] = Field(default_factory=list, description="Jobs this one depends on.")
    children: list[JobRef] = Field(
        default_factory=list, description="Jobs that depend on this one (those its handler enqueued included)."
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


class JobList(BaseModel):
    items: list[JobOut]
    total: int


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
