"""Document-restoration tables: datasets and models; clip exports.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """CREATE TABLE datasets (
            id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            job_id uuid REFERENCES jobs(id) ON DELETE SET NULL,
            name text,
            path text NOT NULL,
            pairs integer NOT NULL,
            size_bytes bigint NOT NULL,
            seed bigint NOT NULL,
            params jsonb NOT NULL DEFAULT '{}',
            created_at timestamptz NOT NULL DEFAULT now())"""
    )
    op.execute(
        """CREATE TABLE models (
            id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            job_id uuid REFERENCES jobs(id) ON DELETE SET NULL,
            dataset_id uuid REFERENCES datasets(id) ON DELETE SET NULL,
            parent_id uuid REFERENCES models(id) ON DELETE SET NULL,
            name text,
            architecture jsonb NOT NULL DEFAULT '{}',
            metrics jsonb NOT NULL DEFAULT '{}',
            path text NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now())"""
    )
    op.execute("CREATE INDEX models_created_idx ON models (created_at DESC)")
    op.execute("ALTER TABLE clips ADD COLUMN export_path text")


def downgrade() -> None:
    op.execute("ALTER TABLE clips DROP COLUMN export_path")
    op.execute("DROP TABLE models")
    op.execute("DROP TABLE datasets")
