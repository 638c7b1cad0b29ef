"""identity

Revision ID: 20261123_0005
Revises: 20261123_0004
Create Date: 2026-11-23 17:37:19.913808

Single sign-on and provisioning: external identities (OIDC subjects, SCIM external ids),
the directory's extra facts about an account, and SCIM groups.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import server.storage.base


revision = "20261123_0005"
down_revision = "20261123_0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('directory_groups',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('display_name', sa.String(length=255), nullable=False),
    sa.Column('external_id', sa.String(length=255), nullable=True),
    sa.Column('created_at', server.storage.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', server.storage.base.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_directory_groups')),
    sa.UniqueConstraint('display_name', name=op.f('uq_directory_groups_display_name')),
    sa.UniqueConstraint('external_id', name=op.f('uq_directory_groups_external_id'))
    )
    op.create_table('directory_entries',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('user_name', sa.String(length=320), nullable=False),
    sa.Column('manager_id', sa.Integer(), nullable=True),
    sa.Column('employee_number', sa.String(length=100), nullable=False),
    sa.Column('created_at', server.storage.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', server.storage.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['manager_id'], ['users.id'], name=op.f('fk_directory_entries_manager_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_directory_entries_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_directory_entries')),
    sa.UniqueConstraint('user_name', name=op.f('uq_directory_entries_user_name'))
    )
    op.create_table('directory_group_members',
    sa.Column('group_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['group_id'], ['directory_groups.id'], name=op.f('fk_directory_group_members_group_id_directory_groups'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_directory_group_members_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('group_id', 'user_id', name=op.f('pk_directory_group_members'))
    )
    with op.batch_alter_table('directory_group_members', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_directory_group_members_user_id'), ['user_id'], unique=False)

    op.create_table('external_identities',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('provider', sa.String(length=32), nullable=False),
    sa.Column('subject', sa.String(length=255), nullable=False),
    sa.Column('created_at', server.storage.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', server.storage.base.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_external_identities_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_external_identities')),
    sa.UniqueConstraint('provider', 'subject', name=op.f('uq_external_identities_provider_subject'))
    )
    with op.batch_alter_table('external_identities', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_external_identities_user_id'), ['user_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('external_identities', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_external_identities_user_id'))

    op.drop_table('external_identities')
    with op.batch_alter_table('directory_group_members', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_directory_group_members_user_id'))

    op.drop_table('directory_group_members')
    op.drop_table('directory_entries')
    op.drop_table('directory_groups')
