"""Core schema: jobs (the queue), assets, clips, workers.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _run_all(script: str) -> None:
    # asyncpg prepares each statement: one statement per call.
    for statement in script.split(";"):
        if statement.strip():
            op.execute(statement)


def upgrade() -> None:
    _run_all(
        """
        CREATE TYPE job_status AS ENUM ('pending', 'processing', 'retry', 'completed', 'failed', 'cancelled');

        CREATE TABLE assets (
            id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            kind text NOT NULL,
            original_filename text,
            stored_path text NOT NULL,
            size_bytes bigint NOT NULL,
            sha256 text NOT NULL,
            content_type text,
            metadata jsonb NOT NULL DEFAULT '{}',
            idempotency_key text UNIQUE,
            created_at timestamptz NOT NULL DEFAULT now()
        );

        CREATE TABLE jobs (
            id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            job_type text NOT NULL,
            queue text NOT NULL DEFAULT 'default',
            priority integer NOT NULL DEFAULT 0,
            status job_status NOT NULL DEFAULT 'pending',
            params jsonb NOT NULL DEFAULT '{}',
            result jsonb,
            error text,
            attempts integer NOT NULL DEFAULT 0,
            max_attempts integer NOT NULL DEFAULT 4 CHECK (max_attempts >= 1),
            timeout_seconds double precision,
            run_at timestamptz NOT NULL DEFAULT now(),
            locked_by uuid,
            locked_until timestamptz,
            cancel_requested boolean NOT NULL DEFAULT false,
            progress double precision NOT NULL DEFAULT 0,
            progress_message text,
            idempotency_key text,
            asset_id uuid REFERENCES assets(id) ON DELETE SET NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            started_at timestamptz,
            finished_at timestamptz,
            updated_at timestamptz NOT NULL DEFAULT now()
        );
        -- The claim query: waiting jobs in (priority, run_at) order
        CREATE INDEX jobs_claim_idx ON jobs (priority, run_at, queue) WHERE status IN ('pending', 'retry');
        -- Lease expiry (reaper) and a worker's own jobs (heartbeat, release).
        -- Running jobs are few: one small index serves heartbeats, release and the reaper.
        CREATE INDEX jobs_processing_idx ON jobs (locked_by, locked_until) WHERE status = 'processing';
        -- Every index on jobs is written on each state change (no HOT updates), so keep them partial.
        CREATE UNIQUE INDEX jobs_idempotency_key_idx ON jobs (idempotency_key) WHERE idempotency_key IS NOT NULL;
        CREATE INDEX jobs_created_idx ON jobs (created_at DESC);
        CREATE INDEX jobs_status_type_idx ON jobs (status, job_type);
        CREATE INDEX jobs_finished_idx ON jobs (finished_at) WHERE finished_at IS NOT NULL;
        CREATE INDEX jobs_asset_idx ON jobs (asset_id) WHERE asset_id IS NOT NULL;

        CREATE TABLE clips (
            id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            asset_id uuid NOT NULL REFERENCES assets(id) ON DELETE CASCADE,
            job_id uuid REFERENCES jobs(id) ON DELETE SET NULL,
            rank integer NOT NULL,
            start_ms integer NOT NULL,
            end_ms integer NOT NULL CHECK (end_ms > start_ms),
            visual_score double precision NOT NULL CHECK (visual_score BETWEEN 0 AND 1),
            thumbnail_path text,
            created_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX clips_asset_idx ON clips (asset_id, rank);

        CREATE TABLE workers (
            id uuid PRIMARY KEY,
            hostname text NOT NULL,
            pid integer NOT NULL,
            queues text[] NOT NULL DEFAULT '{}',
            concurrency integer NOT NULL,
            started_at timestamptz NOT NULL DEFAULT now(),
            heartbeat_at timestamptz NOT NULL DEFAULT now(),
            stopping boolean NOT NULL DEFAULT false
        );
        """
    )


def downgrade() -> None:
    _run_all(
        """
        DROP TABLE workers;
        DROP TABLE clips;
        DROP TABLE jobs;
        DROP TABLE assets;
        DROP TYPE job_status;
        """
    )
