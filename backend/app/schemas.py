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


class JobOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    job_type: str
    owner: str = Field(description="Who enqueued it (the API key's owner; `system` for jobs the system made).")
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
