"""A million jobs and weeks of churn: an index for waiting-for-dependencies jobs, and autovacuum for a queue table.

Index: ``jobs_waiting_idx`` finds the jobs waiting for their dependencies (status ``waiting``) by type and
queue, so that the operators' counts never scan the table for them (``jobs_active_idx`` holds only pending,
running and retrying jobs). A job inserted ``pending`` writes no entry in it; a workflow step writes one when it
is inserted waiting.

Autovacuum: every job leaves dead row versions behind it (its claim and its completion each write a new one,
and pruning deletes it), so the table's dead tuples grow with its throughput while its live rows stay what the
retention keeps. PostgreSQL's defaults vacuum a table once a fifth of it is dead and throttle the vacuum
(2 ms pauses per 200 cost units): with a long retention that is millions of dead entries at the head of the
claim index before a vacuum starts, and a vacuum that lags behind the churn. The table's own settings vacuum it
after 1% of it (+1,000 rows) is dead, without throttling, analyse it after 2% changed, and vacuum after 1% new
inserts (which sets the visibility map for index-only scans). bench/queue/soak.py measured both (its README).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05
"""

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

AUTOVACUUM = {
    "autovacuum_vacuum_scale_factor": "0.01",
    "autovacuum_vacuum_threshold": "1000",
    "autovacuum_vacuum_cost_delay": "0",
    "autovacuum_vacuum_insert_scale_factor": "0.01",
    "autovacuum_analyze_scale_factor": "0.02",
}


def upgrade() -> None:
    op.execute("CREATE INDEX jobs_waiting_idx ON jobs (job_type, queue) WHERE status = 'waiting'")
    op.execute(f"ALTER TABLE jobs SET ({', '.join(f'{k} = {v}' for k, v in AUTOVACUUM.items())})")


def downgrade() -> None:
    op.execute(f"ALTER TABLE jobs RESET ({', '.join(AUTOVACUUM)})")
    op.execute("DROP INDEX jobs_waiting_idx")
