"""delivery ledger of http destinations

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 04:20:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sluice_deliveries",
        sa.Column("pipeline", sa.String(length=255), nullable=False),
        sa.Column("target", sa.String(length=255), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("sends", sa.Integer(), nullable=False),
        sa.Column("acks", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("pipeline", "target", "key"),
    )
    op.create_index("ix_sluice_deliveries_run_id", "sluice_deliveries", ["run_id"])
    op.create_table(
        "sluice_run_keys",
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("pipeline", sa.String(length=255), nullable=False),
        sa.Column("target", sa.String(length=255), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("run_id", "key"),
    )


def downgrade() -> None:
    op.drop_table("sluice_run_keys")
    op.drop_index("ix_sluice_deliveries_run_id", table_name="sluice_deliveries")
    op.drop_table("sluice_deliveries")
