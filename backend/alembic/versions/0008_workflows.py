"""Workflows: jobs that wait for other jobs (dependencies, fan-out, fan-in).

A job with unfinished dependencies is ``waiting``, a status the claim never selects: the claim's partial
index (``status IN ('pending', 'retry')``) holds no entry for it, so waiting jobs cost the claim nothing.
``job_dependencies`` holds the edges (a job, a job it depends on); ``jobs.blockers`` counts a waiting
job's dependencies that have not finished yet; ``jobs.has_dependants`` marks a job some other job waits
for; ``jobs.workflow_id`` names the graph a job belongs to (its root job's id).

Promotion runs in the transaction that settles the dependency, whatever statement settles it (a worker's
completion or failure, the reaper, a cancel): a row trigger whose WHEN clause lets through only a job with
dependants reaching a final state. For every other job the clause is all the trigger costs (no function
call, nothing queued). The function takes one from the counter of each waiting dependant under the
dependant's row lock, so two dependencies settling at the same moment on two workers are counted one after
the other, and exactly one of them makes the dependant ``pending`` (and wakes the workers of its queue).
A dependency that fails for good or is cancelled cancels its waiting dependants, and theirs, with a reason
naming it, except those marked ``run_anyway`` on that edge: for them it counts as finished.

Dependencies can only name jobs that exist already (or come earlier in the same batch), so a cycle cannot be
built. The downgrade leaves the enum value ``waiting`` in place (PostgreSQL cannot drop an enum value); waiting
jobs are cancelled first.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_SETTLED = """CREATE FUNCTION skiplock_job_settled() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    woken bigint;
BEGIN
    IF NEW.status <> 'completed' THEN
        -- Cancel what can no longer run: the waiting dependants (and theirs) that did not ask to run anyway.
        WITH RECURSIVE doomed(id) AS (
            SELECT e.job_id FROM job_dependencies e JOIN jobs d ON d.id = e.job_id
            WHERE e.depends_on = NEW.id AND NOT e.run_anyway AND d.status = 'waiting'
            UNION
            SELECT e.job_id FROM doomed JOIN job_dependencies e ON e.depends_on = doomed.id
                 JOIN jobs d ON d.id = e.job_id
            WHERE NOT e.run_anyway AND d.status = 'waiting'
        )
        UPDATE jobs SET status = 'cancelled', finished_at = now(), updated_at = now(),
                        error = 'cancelled: job ' || NEW.id || ' (' || NEW.job_type || '), which it depends on, '
                                || CASE WHEN NEW.status = 'failed' THEN 'failed' ELSE 'was cancelled' END
        WHERE id IN (SELECT id FROM doomed) AND status = 'waiting';
    END IF;
    -- One unfinished dependency fewer; the last one makes the dependant runnable.
    WITH promoted AS (
        UPDATE jobs d
        SET blockers = d.blockers - 1,
            status = CASE WHEN d.blockers <= 1 THEN 'pending'::job_status ELSE d.status END,
            updated_at = now()
        FROM job_dependencies e
        WHERE e.depends_on = NEW.id AND d.id = e.job_id AND d.status = 'waiting'
          AND (NEW.status = 'completed' OR e.run_anyway)
        RETURNING d.queue, d.status, d.run_at
    )
    SELECT count(pg_notify('skiplock_jobs', q)) INTO woken
    FROM (SELECT DISTINCT queue AS q FROM promoted WHERE status = 'pending' AND run_at <= now()) due;
    RETURN NULL;
END $$"""


def upgrade() -> None:
    with op.get_context().autocommit_block():
        op.execute("ALTER TYPE job_status ADD VALUE IF NOT EXISTS 'waiting'")
    op.execute("ALTER TABLE jobs ADD COLUMN blockers integer NOT NULL DEFAULT 0")
    op.execute("ALTER TABLE jobs ADD COLUMN has_dependants boolean NOT NULL DEFAULT false")
    op.execute("ALTER TABLE jobs ADD COLUMN workflow_id uuid")
    op.execute("CREATE INDEX jobs_workflow_idx ON jobs (workflow_id) WHERE workflow_id IS NOT NULL")
    op.execute(
        """CREATE TABLE job_dependencies (
            depends_on uuid NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
            job_id uuid NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
            run_anyway boolean NOT NULL DEFAULT false,
            PRIMARY KEY (depends_on, job_id)
        )"""
    )
    op.execute("CREATE INDEX job_dependencies_job_idx ON job_dependencies (job_id)")
    op.execute(_SETTLED)
    op.execute(
        """CREATE TRIGGER jobs_settled AFTER UPDATE OF status ON jobs FOR EACH ROW
        WHEN (NEW.has_dependants AND OLD.status IS DISTINCT FROM NEW.status
              AND NEW.status IN ('completed', 'failed', 'cancelled'))
        EXECUTE FUNCTION skiplock_job_settled()"""
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER jobs_settled ON jobs")
    op.execute("DROP FUNCTION skiplock_job_settled()")
    op.execute(
        """UPDATE jobs SET status = 'cancelled', finished_at = now(), updated_at = now(),
                          error = 'cancelled: dependencies were removed from the schema'
           WHERE status = 'waiting'"""
    )
    op.execute("DROP TABLE job_dependencies")
    op.execute("DROP INDEX jobs_workflow_idx")
    op.execute("ALTER TABLE jobs DROP COLUMN workflow_id")
    op.execute("ALTER TABLE jobs DROP COLUMN has_dependants")
    op.execute("ALTER TABLE jobs DROP COLUMN blockers")
