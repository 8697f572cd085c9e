"""Refused outcomes: how often a worker's outcome matched no row, by outcome and reason.

A worker writes a job's outcome (completed, failed, cancelled, released) only while it still holds the job;
when its lease was lost meanwhile (the job was reaped, taken by another worker or cancelled), the database
refuses the write. Each worker process adds what it saw here, so that ``GET /metrics`` counts the refusals of
every worker, standalone or embedded, and they outlive the processes that saw them.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """CREATE TABLE outcome_refusals (
               outcome text NOT NULL,
               reason text NOT NULL,
               count bigint NOT NULL DEFAULT 0,
               last_job_id uuid,
               last_at timestamptz NOT NULL DEFAULT now(),
               PRIMARY KEY (outcome, reason)
           )"""
    )


def downgrade() -> None:
    op.execute("DROP TABLE outcome_refusals")
