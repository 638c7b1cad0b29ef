"""moderation: reports and moderation decisions

`reports`: the moderation queue of each community (reports by local people, and `Flag`s received
from other instances). `group_moderators`: who moderates a Group hosted elsewhere, as its `Add` and
`Remove` activities said.

Revision ID: 20261123_0007
Revises: 20261123_0006
Create Date: 2026-11-23 20:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import server.storage.base


revision = '20261123_0007'
down_revision = '20261123_0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('reports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uri', sa.String(length=2048), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('post_id', sa.Integer(), nullable=False),
    sa.Column('reporter_id', sa.Integer(), nullable=True),
    sa.Column('category', sa.String(length=20), nullable=False),
    sa.Column('comment', sa.Text(), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('origin_domain', sa.String(length=255), nullable=True),
    sa.Column('created_at', server.storage.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('resolved_at', server.storage.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('resolved_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_reports_community_id_communities'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['post_id'], ['posts.id'], name=op.f('fk_reports_post_id_posts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['reporter_id'], ['actors.id'], name=op.f('fk_reports_reporter_id_actors'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['resolved_by_id'], ['actors.id'], name=op.f('fk_reports_resolved_by_id_actors'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reports')),
    sa.UniqueConstraint('uri', name=op.f('uq_reports_uri'))
    )
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.create_index('ix_reports_queue', ['community_id', 'state', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_reports_post_id'), ['post_id'], unique=False)

    op.create_table('group_moderators',
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=False),
    sa.Column('activity_uri', sa.String(length=2048), nullable=False),
    sa.Column('added_at', server.storage.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['actors.id'], name=op.f('fk_group_moderators_actor_id_actors'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_group_moderators_community_id_communities'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('community_id', 'actor_id', name=op.f('pk_group_moderators'))
    )


def downgrade() -> None:
    op.drop_table('group_moderators')
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reports_post_id'))
        batch_op.drop_index('ix_reports_queue')

    op.drop_table('reports')
