"""backfill: fetched threads, reference-only deliveries, per-peer redaction

Revision ID: 20261123_0009
Revises: 20261123_0008
Create Date: 2026-11-23 20:32:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import server.storage.base

revision = '20261123_0009'
down_revision = '20261123_0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "backfills",
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("stored", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=300), nullable=False),
        sa.Column("requested_at", server.storage.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("leased_until", server.storage.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", server.storage.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["communities.id"],
            name=op.f("fk_backfills_community_id_communities"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("community_id", name=op.f("pk_backfills")),
    )
    with op.batch_alter_table("backfills", schema=None) as batch_op:
        batch_op.create_index("ix_backfills_state", ["state", "requested_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("backfills", schema=None) as batch_op:
        batch_op.drop_index("ix_backfills_state")
    op.drop_table("backfills")
