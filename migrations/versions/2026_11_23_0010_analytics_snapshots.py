"""analytics snapshots: raw figures of the instance's report counted ahead of time

Revision ID: 20261123_0010
Revises: 20261123_0009
Create Date: 2026-11-23 23:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import server.storage.base

revision = '20261123_0010'
down_revision = '20261123_0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "analytics_snapshots",
        sa.Column("scope", sa.String(length=40), nullable=False),
        sa.Column("weeks", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("computed_at", server.storage.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("scope", "weeks", name=op.f("pk_analytics_snapshots")),
    )


def downgrade() -> None:
    op.drop_table("analytics_snapshots")
