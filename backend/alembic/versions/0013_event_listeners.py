"""Job event ticks only while someone listens: a registry of the events channel's listeners.

Every UPDATE statement on ``jobs`` sent an empty notification on the events channel (migration 0006), whether
or not anyone listened. A notification is not free where no one listens for it: PostgreSQL wakes every
backend of the database that listens on any channel (each worker's LISTEN connection for new jobs among
them; about 9 µs of the database's CPU per listening backend and notification, measured with 8), and a
transaction that notifies holds one lock, shared by every database of the server, from the moment it queues
its notifications until its commit has been flushed, so the commits of claims and acknowledgements that
notify take turns. With 8 worker processes draining 20,000 no-op jobs on 2 cores, disabling the trigger
raised the drain by about 13% (bench/queue/FINDINGS.md).

Those who listen on the events channel (the API's event hub while someone follows a job, ``client.wait``)
now register in ``event_listeners`` for as long as they listen, renewing a lease, and the trigger sends its
tick only while a lease is current: one small table read per statement instead of a notification. A
listener registers before its first read, so a statement whose trigger runs after that sends its tick; one
whose trigger ran before and which commits after the first read is seen by the read that follows a second
later (``app.worker.ticks``). An expired lease (a process that died while listening) only costs ticks until
it ends.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06
"""

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def _events_function(body: str) -> str:
    return f"""CREATE OR REPLACE FUNCTION skiplock_job_events() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            {body}
            RETURN NULL;
        END $$"""


def upgrade() -> None:
    op.execute("CREATE TABLE event_listeners (id uuid PRIMARY KEY, expires_at timestamptz NOT NULL)")
    op.execute(
        _events_function(
            """IF EXISTS (SELECT 1 FROM event_listeners WHERE expires_at > now()) THEN
                PERFORM pg_notify('skiplock_events', '');
            END IF;"""
        )
    )


def downgrade() -> None:
    op.execute(_events_function("PERFORM pg_notify('skiplock_events', '');"))
    op.execute("DROP TABLE event_listeners")
