"""run part progress: rows and bytes a running part read so far, and its size

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sluice_run_tasks") as batch:
        batch.add_column(sa.Column("rows", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("bytes_read", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("size", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sluice_run_tasks") as batch:
        batch.drop_column("size")
        batch.drop_column("bytes_read")
        batch.drop_column("rows")
