"""Queue hot path: job events from one statement-level trigger, and one index fewer on jobs.

Events: the per-row trigger of 0003 ran a plpgsql function and a pg_notify for every claimed and every
finished job, a large share of the database's work on the queue's hot path. This trigger sees the
whole statement through its transition tables, keeps the rows whose status or progress changed and
sends them as JSON arrays, split so that no payload nears NOTIFY's 8000-byte limit (an event is at
most about 1.3 kB: the message is cut to 200 characters).

Index: every claim wrote a ``jobs_processing_idx`` entry beside its ``jobs_active_idx`` entry; the
active index leads with the status, and running jobs are few (the workers' total concurrency), so it
serves heartbeats, release and the reaper as well.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("DROP INDEX jobs_processing_idx")
    op.execute("DROP TRIGGER jobs_events ON jobs")
    # enable_nestloop = off: plpgsql keeps the plan made for the first statement's transition tables (often
    # one row: a nested-loop join), and a later batch of thousands of rows would join quadratically (10,000
    # rows: seconds). Without nested loops the join is hashed whatever the sizes. (Planning the query anew
    # each time with EXECUTE is linear too, but costs more than a one-row claim itself.)
    op.execute(
        """CREATE FUNCTION skiplock_job_events() RETURNS trigger LANGUAGE plpgsql SET enable_nestloop = off AS $$
        DECLARE
            payload text;
        BEGIN
            FOR payload IN
                SELECT '[' || string_agg(ev, ',' ORDER BY ord) || ']'
                FROM (
                    SELECT ev, ord, (sum(octet_length(ev) + 1) OVER (ORDER BY ord) - 1) / 6000 AS chunk
                    FROM (
                        SELECT json_build_object(
                                   'id', n.id, 'status', n.status, 'progress', n.progress,
                                   'message', left(n.progress_message, 200))::text AS ev,
                               row_number() OVER () AS ord
                        FROM new_rows n JOIN old_rows o ON o.id = n.id
                        WHERE o.status IS DISTINCT FROM n.status OR o.progress IS DISTINCT FROM n.progress
                           OR o.progress_message IS DISTINCT FROM n.progress_message
                    ) events
                ) chunks
                GROUP BY chunk
                ORDER BY chunk
            LOOP
                PERFORM pg_notify('skiplock_events', payload);
            END LOOP;
            RETURN NULL;
        END $$"""
    )
    op.execute(
        """CREATE TRIGGER jobs_events AFTER UPDATE ON jobs
        REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
        FOR EACH STATEMENT EXECUTE FUNCTION skiplock_job_events()"""
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER jobs_events ON jobs")
    op.execute("DROP FUNCTION skiplock_job_events()")
    op.execute(
        """CREATE TRIGGER jobs_events AFTER UPDATE ON jobs FOR EACH ROW
        WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.progress IS DISTINCT FROM NEW.progress
              OR OLD.progress_message IS DISTINCT FROM NEW.progress_message)
        EXECUTE FUNCTION skiplock_job_event()"""
    )
    op.execute("CREATE INDEX jobs_processing_idx ON jobs (locked_by, locked_until) WHERE status = 'processing'")
