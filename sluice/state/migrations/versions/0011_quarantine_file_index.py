"""quarantine entries indexed by their ledger entry

Every committed unit opens its pending rows (``file_id = ?``) and supersedes the
entries of earlier copies of its content (``file_id IN (...)``). Without an index both
scanned every entry of the table: a Celery run of 120 files spent 33 ms a part, and
more each part, superseding.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 06:30:00
"""

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_sluice_quarantine_file_id", "sluice_quarantine", ["file_id"])


def downgrade() -> None:
    op.drop_index("ix_sluice_quarantine_file_id", table_name="sluice_quarantine")
