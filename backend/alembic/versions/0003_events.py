"""Job events for live progress (NOTIFY on state and progress changes), reap counter, stats index.

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
    op.execute("DROP INDEX jobs_status_type_idx")
    op.execute("CREATE INDEX jobs_status_type_queue_idx ON jobs (status, job_type, queue)")


def downgrade() -> None:
    op.execute("DROP INDEX jobs_status_type_queue_idx")
    op.execute("CREATE INDEX jobs_status_type_idx ON jobs (status, job_type)")
    op.execute("DROP TRIGGER jobs_events ON jobs")
    op.execute("DROP FUNCTION skiplock_job_event()")
    op.execute("ALTER TABLE jobs DROP COLUMN reaped")
