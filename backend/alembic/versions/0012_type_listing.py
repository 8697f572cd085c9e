"""The jobs listing filtered by type: an index that the enqueue and the claim never write.

``GET /jobs?job_type=…`` walked ``jobs_created_idx`` (every job, newest first) and kept the jobs of that type:
for a type with a handful of jobs among a million, the whole index, and its total counted the whole table
(575-860 ms at 1,000,000 jobs). ``jobs_type_created_idx`` holds, per type and newest first, the jobs that
are neither pending nor running: it is written when a job finishes (or waits for its dependencies, or is
retried), never when it is enqueued or claimed, so the hot path's inserts and claims write no more index
entries than before. The listing by type reads three parts and merges them (``app.models.newest_jobs``):
these jobs from this index, the pending ones (``jobs_active_idx`` leads with status and type, or
``jobs_created_idx`` for a type with many), and the running ones (``jobs_active_idx``); its total counts the
same three.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05
"""

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "CREATE INDEX jobs_type_created_idx ON jobs (job_type, created_at DESC)"
        " WHERE status NOT IN ('pending', 'processing')"
    )


def downgrade() -> None:
    op.execute("DROP INDEX jobs_type_created_idx")
