"""SQLAlchemy models. The schema itself is owned by the Alembic migrations in `backend/alembic/`."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    ColumnElement,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Integer,
    Select,
    Text,
    func,
    select,
    text,
    union_all,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class JobStatus(enum.StrEnum):
    pending = "pending"
    waiting = "waiting"  # for its dependencies (migration 0007)
    processing = "processing"
    retry = "retry"
    completed = "completed"
    failed = "failed"
    cancelled = "cancelled"


class Job(Base):
    __tablename__ = "jobs"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, server_default=func.gen_random_uuid())
    job_type: Mapped[str] = mapped_column(Text)
    queue: Mapped[str] = mapped_column(Text, server_default="default")
    priority: Mapped[int] = mapped_column(Integer, server_default="0")
    status: Mapped[JobStatus] = mapped_column(
        Enum(JobStatus, name="job_status", create_type=False), server_default="pending"
    )
    params: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    max_attempts: Mapped[int] = mapped_column(Integer, server_default="4")
    timeout_seconds: Mapped[float | None] = mapped_column(Float)
    run_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    locked_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cancel_requested: Mapped[bool] = mapped_column(Boolean, server_default="false")
    progress: Mapped[float] = mapped_column(Float, server_default="0")
    progress_message: Mapped[str | None] = mapped_column(Text)
    idempotency_key: Mapped[str | None] = mapped_column(Text, unique=True)
    asset_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), ForeignKey("assets.id"))
    reaped: Mapped[int] = mapped_column(Integer, server_default="0")
    blockers: Mapped[int] = mapped_column(Integer, server_default="0")  # unfinished dependencies
    has_dependants: Mapped[bool] = mapped_column(Boolean, server_default="false")
    workflow_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    owner: Mapped[str] = mapped_column(Text, server_default="system")  # the real default: migration 0009
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Asset(Base):
    __tablename__ = "assets"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, server_default=func.gen_random_uuid())
    kind: Mapped[str] = mapped_column(Text)
    original_filename: Mapped[str | None] = mapped_column(Text)
    stored_path: Mapped[str] = mapped_column(Text)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(Text)
    content_type: Mapped[str | None] = mapped_column(Text)
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSONB, server_default="{}")
    idempotency_key: Mapped[str | None] = mapped_column(Text, unique=True)
    owner: Mapped[str] = mapped_column(Text, server_default="system")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Clip(Base):
    __tablename__ = "clips"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, server_default=func.gen_random_uuid())
    asset_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("assets.id", ondelete="CASCADE"))
    job_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), ForeignKey("jobs.id", ondelete="SET NULL"))
    rank: Mapped[int] = mapped_column(Integer)
    start_ms: Mapped[int] = mapped_column(Integer)
    end_ms: Mapped[int] = mapped_column(Integer)
    visual_score: Mapped[float] = mapped_column(Float)
    thumbnail_path: Mapped[str | None] = mapped_column(Text)
    export_path: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Worker(Base):
    __tablename__ = "workers"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    hostname: Mapped[str] = mapped_column(Text)
    pid: Mapped[int] = mapped_column(Integer)
    queues: Mapped[list[str]] = mapped_column(ARRAY(Text))
    concurrency: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    heartbeat_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    stopping: Mapped[bool] = mapped_column(Boolean, server_default="false")


class Dataset(Base):
    __tablename__ = "datasets"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, server_default=func.gen_random_uuid())
    job_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), ForeignKey("jobs.id", ondelete="SET NULL"))
    name: Mapped[str | None] = mapped_column(Text)
    path: Mapped[str] = mapped_column(Text)
    pairs: Mapped[int] = mapped_column(Integer)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    seed: Mapped[int] = mapped_column(BigInteger)
    params: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class MLModel(Base):
    __tablename__ = "models"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, server_default=func.gen_random_uuid())
    job_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), ForeignKey("jobs.id", ondelete="SET NULL"))
    dataset_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("datasets.id", ondelete="SET NULL")
    )
    parent_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("models.id", ondelete="SET NULL")
    )
    name: Mapped[str | None] = mapped_column(Text)
    architecture: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    metrics: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    path: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


# The listing index leaves running jobs out (migration 0006): they are few, and the active index finds them.
# The conditions are written out as SQL so that the planner sees the index's own predicate.
_NOT_RUNNING = text("jobs.status <> 'processing'::job_status")
_RUNNING = text("jobs.status = 'processing'::job_status")
# Listed by type (migration 0012): the jobs neither pending nor running on the type's listing index, the pending
# ones, and the running ones. Together they are every job, each in one part.
_SETTLED = text("jobs.status NOT IN ('pending'::job_status, 'processing'::job_status)")
_PENDING = text("jobs.status = 'pending'::job_status")
BY_TYPE_PARTS = (_SETTLED, _PENDING, _RUNNING)


def newest_jobs(
    filters: list[ColumnElement[bool]], status: JobStatus | None, limit: int, offset: int = 0, *, by_type: bool = False
) -> Select[Any]:
    """Jobs matching `filters`, newest first: the newest of the jobs that are not running, walked on the
    listing index, merged with the newest of the running ones. `status`: the status `filters` require, if
    any (it decides which index serves the query). `by_type`: `filters` name one job type; the newest of
    each of `BY_TYPE_PARTS` are merged instead, the first on the type's own listing index."""
    order = (Job.created_at.desc(), Job.id)
    if status is not None:
        extra = _RUNNING if status == JobStatus.processing else _NOT_RUNNING
        return select(Job).where(*filters, extra).order_by(*order).limit(limit).offset(offset)
    branches = [
        select(Job.id, Job.created_at).where(*filters, extra).order_by(*order).limit(offset + limit)
        for extra in (BY_TYPE_PARTS if by_type else (_NOT_RUNNING, _RUNNING))
    ]
    merged = union_all(*branches).subquery()
    page = select(merged.c.id).order_by(merged.c.created_at.desc(), merged.c.id).limit(limit).offset(offset)
    return select(Job).where(Job.id.in_(page)).order_by(*order)
