"""run leases and staged loads: a run's heartbeat; a unit's counts staged before its commit

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 09:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sluice_runs") as batch:
        batch.add_column(sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("sluice_files") as batch:
        batch.add_column(sa.Column("counts", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sluice_files") as batch:
        batch.drop_column("counts")
    with op.batch_alter_table("sluice_runs") as batch:
        batch.drop_column("heartbeat_at")
