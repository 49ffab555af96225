"""schedule marks: the newest cron slot handled per pipeline

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sluice_schedules",
        sa.Column("pipeline", sa.String(length=255), nullable=False),
        sa.Column("schedule", sa.String(length=255), nullable=False),
        sa.Column("last_slot", sa.DateTime(timezone=True), nullable=False),
        sa.Column("fires", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("run_id", sa.String(length=32), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("pipeline"),
    )


def downgrade() -> None:
    op.drop_table("sluice_schedules")
