"""revoked sessions: the ids of signed-out sessions of sluice serve, until they expire

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 11:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sluice_revoked_sessions",
        sa.Column("sid", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sid"),
    )
    op.create_index(
        "ix_sluice_revoked_sessions_expires_at", "sluice_revoked_sessions", ["expires_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_sluice_revoked_sessions_expires_at", "sluice_revoked_sessions")
    op.drop_table("sluice_revoked_sessions")
