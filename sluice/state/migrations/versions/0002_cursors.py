"""cursors of incremental sources

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 04:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sluice_cursors",
        sa.Column("pipeline", sa.String(length=255), nullable=False),
        sa.Column("source", sa.String(length=255), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("pipeline", "source"),
    )


def downgrade() -> None:
    op.drop_table("sluice_cursors")
