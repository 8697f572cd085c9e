"""Queue hot path, continued: job events as ticks, and no listing-index entry for running jobs.

Events: the trigger of 0004/0005 captured every UPDATE's old and new rows in transition tables, joined them
and built a JSON event for each row whose status or progress changed: about 3 µs of the database's CPU per
job, its claim and its completion together (a seventh of its work per job on the hot path), spent whether or
not any API process was listening. Now each UPDATE statement on ``jobs`` sends one empty notification on the events
channel (identical notifications of one transaction are folded into one), with no transition tables and no
per-row work. The API's event hub, while it has subscribers, answers a tick by reading the state of the
jobs it watches and pushes the changes it sees (``app/api/events.py``).

Index: ``jobs_created_idx`` (the listing, newest first) got an entry for every version of a job, the
``processing`` one included: one index insertion per claim. Running jobs are few (the workers' concurrency
and local buffers) and ``jobs_active_idx`` finds them, so the listing index now leaves them out and the
listing adds them from the active index (``app/api/routes/jobs.py``, ``cli.py``).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27
"""

import importlib.util
from pathlib import Path

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("DROP TRIGGER jobs_events ON jobs")
    op.execute("DROP FUNCTION skiplock_job_events()")
    op.execute(
        """CREATE FUNCTION skiplock_job_events() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('skiplock_events', '');
            RETURN NULL;
        END $$"""
    )
    op.execute(
        "CREATE TRIGGER jobs_events AFTER UPDATE ON jobs FOR EACH STATEMENT EXECUTE FUNCTION skiplock_job_events()"
    )
    op.execute("DROP INDEX jobs_created_idx")
    op.execute("CREATE INDEX jobs_created_idx ON jobs (created_at DESC) WHERE status <> 'processing'")


def downgrade() -> None:
    op.execute("DROP INDEX jobs_created_idx")
    op.execute("CREATE INDEX jobs_created_idx ON jobs (created_at DESC)")
    op.execute("DROP TRIGGER jobs_events ON jobs")
    op.execute("DROP FUNCTION skiplock_job_events()")
    spec = importlib.util.spec_from_file_location("skiplock_0005", Path(__file__).with_name("0005_lean_events.py"))
    assert spec is not None
    assert spec.loader is not None
    previous = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(previous)
    previous._create_trigger(previous._PAYLOADS)
