"""moderation: reports and moderation decisions

Revision ID: 20261123_0007
Revises: 20261123_0006
Create Date: 2026-11-23 20:30:00
"""

from __future__ import annotations

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = '20261123_0007'
down_revision = '20261123_0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
