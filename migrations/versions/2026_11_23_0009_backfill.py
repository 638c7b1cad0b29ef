"""backfill: fetched threads, reference-only deliveries, per-peer redaction

Revision ID: 20261123_0009
Revises: 20261123_0008
Create Date: 2026-11-23 20:32:00
"""

from __future__ import annotations

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = '20261123_0009'
down_revision = '20261123_0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
