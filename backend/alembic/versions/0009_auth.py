"""Access control: API keys, dashboard sessions, owners of jobs and assets, the audit log, rate counters.

Owners: ``jobs.owner`` and ``assets.owner`` name who created a row. A job's owner comes from its column
default, which reads the transaction-local setting ``skiplock.owner`` that the API sets before it enqueues
(``set_config(..., true)``); the queue's INSERT is unchanged, and jobs enqueued anywhere else (the CLI, a
handler's child jobs, periodic jobs) belong to ``system``. Existing rows become ``system``'s.

Indexes: ``jobs_owner_created_idx`` is the owner-filtered listing (newest first), partial like
``jobs_created_idx`` so that a claim writes no entry in it (a job's insert and its completion each write one);
running jobs come from ``jobs_active_idx`` as before. ``jobs_owner_waiting_idx`` counts an owner's waiting
jobs for the quota; claims and completions write nothing in it. Both leave ``system``'s jobs out (no key acts
as ``system``; admins list every owner through ``jobs_created_idx``), so the jobs that workers, schedules and
the CLI make write no entry in either: the queue's own traffic pays only the column default, which costs no
measurable enqueue time. A key owner's job pays three index entries (two at enqueue, one at completion),
what its owner's listing and quota need. ``assets_owner_idx`` sums an owner's stored bytes from the index.

Keys are stored as the SHA-256 of the token (the token is 256 random bits, so a plain hash is enough),
found by their public prefix. Sessions likewise store only the hash of the cookie's token.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_OWNER_DEFAULT = "COALESCE(NULLIF(current_setting('skiplock.owner', true), ''), 'system')"


def upgrade() -> None:
    op.execute(f"ALTER TABLE jobs ADD COLUMN owner text NOT NULL DEFAULT {_OWNER_DEFAULT}")
    op.execute("ALTER TABLE assets ADD COLUMN owner text NOT NULL DEFAULT 'system'")
    op.execute(
        "CREATE INDEX jobs_owner_created_idx ON jobs (owner, created_at DESC)"
        " WHERE status <> 'processing' AND owner <> 'system'"
    )
    op.execute(
        "CREATE INDEX jobs_owner_waiting_idx ON jobs (owner) WHERE status IN ('pending', 'retry') AND owner <> 'system'"
    )
    op.execute("CREATE INDEX assets_owner_idx ON assets (owner) INCLUDE (size_bytes)")
    op.execute(
        """CREATE TABLE api_keys (
            id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            prefix text NOT NULL UNIQUE,
            token_sha256 text NOT NULL,
            name text NOT NULL,
            owner text NOT NULL,
            scope text NOT NULL CHECK (scope IN ('read', 'write', 'admin')),
            created_at timestamptz NOT NULL DEFAULT now(),
            revoked_at timestamptz
        )"""
    )
    op.execute(
        """CREATE TABLE api_sessions (
            token_sha256 text PRIMARY KEY,
            key_id uuid NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
            csrf_token text NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            expires_at timestamptz NOT NULL
        )"""
    )
    op.execute("CREATE INDEX api_sessions_expires_idx ON api_sessions (expires_at)")
    op.execute(
        """CREATE TABLE audit_log (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            at timestamptz NOT NULL DEFAULT now(),
            actor text NOT NULL,
            key_prefix text,
            action text NOT NULL,
            target text,
            detail jsonb NOT NULL DEFAULT '{}',
            request_id text
        )"""
    )
    op.execute("CREATE INDEX audit_log_at_idx ON audit_log (at DESC)")
    op.execute(
        """CREATE TABLE rate_counters (
            key text PRIMARY KEY,
            count bigint NOT NULL,
            expires_at timestamptz NOT NULL
        )"""
    )


def downgrade() -> None:
    op.execute("DROP TABLE rate_counters")
    op.execute("DROP TABLE audit_log")
    op.execute("DROP TABLE api_sessions")
    op.execute("DROP TABLE api_keys")
    op.execute("DROP INDEX assets_owner_idx")
    op.execute("DROP INDEX jobs_owner_waiting_idx")
    op.execute("DROP INDEX jobs_owner_created_idx")
    op.execute("ALTER TABLE assets DROP COLUMN owner")
    op.execute("ALTER TABLE jobs DROP COLUMN owner")
