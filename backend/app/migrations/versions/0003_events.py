"""Job events for live progress (NOTIFY on state and progress changes), reap counter, operator indexes.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE jobs ADD COLUMN reaped integer NOT NULL DEFAULT 0")
    op.execute(
        """CREATE FUNCTION skiplock_job_event() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('skiplock_events', json_build_object(
                'id', NEW.id, 'status', NEW.status, 'progress', NEW.progress,
                'message', left(NEW.progress_message, 200))::text);
            RETURN NULL;
        END $$"""
    )
    op.execute(
        """CREATE TRIGGER jobs_events AFTER UPDATE ON jobs FOR EACH ROW
        WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.progress IS DISTINCT FROM NEW.progress
              OR OLD.progress_message IS DISTINCT FROM NEW.progress_message)
        EXECUTE FUNCTION skiplock_job_event()"""
    )
    # Operator figures stay cheap with millions of jobs: active jobs are few (partial index), finished ones
    # are counted over a time window (covering index), retried ones are rare (partial index).
    op.execute("DROP INDEX jobs_status_type_idx")
    op.execute("DROP INDEX jobs_finished_idx")
    op.execute(
        "CREATE INDEX jobs_active_idx ON jobs (status, job_type, queue) "
        "WHERE status IN ('pending', 'processing', 'retry')"
    )
    op.execute(
        "CREATE INDEX jobs_finished_idx ON jobs (finished_at) INCLUDE (status, job_type, queue, started_at) "
        "WHERE finished_at IS NOT NULL"
    )
    op.execute(
        "CREATE INDEX jobs_retried_idx ON jobs (job_type) INCLUDE (attempts, reaped) WHERE attempts > 1 OR reaped > 0"
    )
    op.execute("CREATE INDEX jobs_type_created_idx ON jobs (job_type, created_at DESC)")


def downgrade() -> None:
    op.execute("DROP INDEX jobs_type_created_idx")
    op.execute("DROP INDEX jobs_retried_idx")
    op.execute("DROP INDEX jobs_finished_idx")
    op.execute("DROP INDEX jobs_active_idx")
    op.execute("CREATE INDEX jobs_finished_idx ON jobs (finished_at) WHERE finished_at IS NOT NULL")
    op.execute("CREATE INDEX jobs_status_type_idx ON jobs (status, job_type)")
    op.execute("DROP TRIGGER jobs_events ON jobs")
    op.execute("DROP FUNCTION skiplock_job_event()")
    op.execute("ALTER TABLE jobs DROP COLUMN reaped")
