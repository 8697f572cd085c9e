"""Webhooks: endpoints an owner registers, and one delivery per endpoint for each job that ends.

``webhooks`` holds an owner's endpoints with their signing secrets (kept as they are: they must sign; after a
rotation the previous one signs too, for a while). ``all_jobs`` endpoints hear of every job of their owner,
the others only of jobs that name them. ``jobs.webhooks`` lists the endpoints a job's end is sent to; it is
NULL for every job no endpoint applies to.

The event is written in the transaction that ends the job, whatever statement ends it (a worker's completion
or failure, the reaper, a cancel): a row trigger whose WHEN clause lets through only a job with endpoints
reaching a final state writes one ``webhook_deliveries`` row per endpoint (the event's body, fixed once, so
that every attempt sends the same bytes) and one ``webhook_delivery`` job per delivery (on the queue
``webhooks``), and wakes the workers. For every other job the clause is all it costs: no function call,
nothing queued. A delivery without a job behind it (``job_id`` NULL) is a ping.

``jobs.webhooks`` is filled at insert by a trigger that only jobs of a key owner reach (``WHEN (NEW.owner <>
'system')``): the jobs that workers, schedules and the CLI make, and the delivery jobs themselves, pay the
clause only. The API adds the endpoints a job names.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05
"""

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

# The endpoints of the new job's owner that hear of all its jobs (NULL when there are none).
_OWNED = """CREATE FUNCTION skiplock_job_webhooks() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.webhooks := (SELECT array_agg(id) FROM webhooks WHERE owner = NEW.owner AND all_jobs);
    RETURN NEW;
END $$"""

# The event's body: what the owner may see of the job (an error's last line, not the traceback; the result
# when it is small, else a mark that GET /jobs/{id} has it).
_ENDED = """CREATE FUNCTION skiplock_job_ended() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    event_id uuid := gen_random_uuid();
    kind text := 'job.' || NEW.status;
    reason text;
    body text;
    small boolean := NEW.result IS NULL OR length(NEW.result::text) <= 8192;
BEGIN
    IF NEW.error IS NOT NULL THEN
        reason := left(regexp_replace(
            substring(rtrim(NEW.error, E' \\n\\r\\t') FROM '[^\\n]*$'),
            '(?:[A-Za-z]:)?(?:[\\\\/][[:alnum:]_.@+-]+)+[\\\\/]([[:alnum:]_.@+-]+)', '\\1', 'g'), 500);
    END IF;
    body := jsonb_build_object(
        'id', event_id,
        'type', kind,
        'created_at', now(),
        'job', jsonb_build_object(
            'id', NEW.id, 'job_type', NEW.job_type, 'queue', NEW.queue, 'status', NEW.status,
            'attempts', NEW.attempts, 'max_attempts', NEW.max_attempts, 'workflow_id', NEW.workflow_id,
            'created_at', NEW.created_at, 'started_at', NEW.started_at, 'finished_at', NEW.finished_at,
            'result', CASE WHEN small THEN NEW.result END, 'result_truncated', NOT small, 'error', reason)
    )::text;
    WITH made AS (
        INSERT INTO webhook_deliveries (webhook_id, event_id, event_type, job_id, body, delivery_job_id)
        SELECT w.id, event_id, kind, NEW.id, body, gen_random_uuid()
        FROM webhooks w WHERE w.id = ANY (NEW.webhooks)
        RETURNING id, webhook_id, delivery_job_id
    )
    INSERT INTO jobs (id, job_type, params, queue, max_attempts, owner)
    SELECT made.delivery_job_id, 'webhook_delivery', jsonb_build_object('delivery_id', made.id), 'webhooks',
           w.max_attempts, 'system'
    FROM made JOIN webhooks w ON w.id = made.webhook_id;
    IF FOUND THEN
        PERFORM pg_notify('skiplock_jobs', 'webhooks');
    END IF;
    RETURN NULL;
END $$"""


def upgrade() -> None:
    op.execute(
        """CREATE TABLE webhooks (
            id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            owner text NOT NULL,
            url text NOT NULL,
            secret text NOT NULL,
            previous_secret text,
            previous_until timestamptz,
            description text,
            all_jobs boolean NOT NULL DEFAULT true,
            max_attempts integer NOT NULL CHECK (max_attempts BETWEEN 1 AND 100),
            created_at timestamptz NOT NULL DEFAULT now()
        )"""
    )
    op.execute("CREATE INDEX webhooks_owner_idx ON webhooks (owner, created_at)")
    op.execute(
        """CREATE TABLE webhook_deliveries (
            id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            webhook_id uuid NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
            event_id uuid NOT NULL,
            event_type text NOT NULL,
            job_id uuid,
            body text NOT NULL,
            delivery_job_id uuid NOT NULL,
            status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
            attempts integer NOT NULL DEFAULT 0,
            last_error text,
            created_at timestamptz NOT NULL DEFAULT now(),
            finished_at timestamptz
        )"""
    )
    op.execute("CREATE INDEX webhook_deliveries_webhook_idx ON webhook_deliveries (webhook_id, created_at DESC)")
    op.execute("CREATE INDEX webhook_deliveries_created_idx ON webhook_deliveries (created_at)")
    op.execute(
        """CREATE TABLE webhook_attempts (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            delivery_id uuid NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
            attempt integer NOT NULL,
            at timestamptz NOT NULL DEFAULT now(),
            address text,
            status_code integer,
            response_excerpt text,
            error text,
            duration_ms double precision NOT NULL
        )"""
    )
    op.execute("CREATE INDEX webhook_attempts_delivery_idx ON webhook_attempts (delivery_id, id)")
    op.execute("ALTER TABLE jobs ADD COLUMN webhooks uuid[]")
    op.execute(_OWNED)
    op.execute(
        """CREATE TRIGGER jobs_webhooks BEFORE INSERT ON jobs FOR EACH ROW
        WHEN (NEW.owner <> 'system') EXECUTE FUNCTION skiplock_job_webhooks()"""
    )
    op.execute(_ENDED)
    op.execute(
        """CREATE TRIGGER jobs_ended_webhooks AFTER UPDATE OF status ON jobs FOR EACH ROW
        WHEN (NEW.webhooks IS NOT NULL AND OLD.status IS DISTINCT FROM NEW.status
              AND NEW.status IN ('completed', 'failed', 'cancelled'))
        EXECUTE FUNCTION skiplock_job_ended()"""
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER jobs_ended_webhooks ON jobs")
    op.execute("DROP FUNCTION skiplock_job_ended()")
    op.execute("DROP TRIGGER jobs_webhooks ON jobs")
    op.execute("DROP FUNCTION skiplock_job_webhooks()")
    op.execute("ALTER TABLE jobs DROP COLUMN webhooks")
    op.execute("DROP TABLE webhook_attempts")
    op.execute("DROP TABLE webhook_deliveries")
    op.execute("DROP TABLE webhooks")
