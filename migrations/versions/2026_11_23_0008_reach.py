"""reach: invitations, follows and votes across instances

`posts.poll_tallies`: the counts of a poll hosted elsewhere, as its host last announced them (`Update`
of the `Question`). `ix_deliveries_activity_uri`: activities we sent are served again by their id
(a third instance checks a relayed activity at its origin).

Revision ID: 20261123_0008
Revises: 20261123_0007
Create Date: 2026-11-23 20:31:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '20261123_0008'
down_revision = '20261123_0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('posts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('poll_tallies', sa.JSON(), nullable=True))
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.create_index('ix_deliveries_activity_uri', ['activity_uri'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.drop_index('ix_deliveries_activity_uri')
    with op.batch_alter_table('posts', schema=None) as batch_op:
        batch_op.drop_column('poll_tallies')
