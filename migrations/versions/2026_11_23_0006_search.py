"""search: the full-text index (SQLite FTS5 / PostgreSQL tsvector + GIN)

One row per searchable thing in `fts_documents` (a post, a comment, an attachment's text, a
community, a person). The index itself is dialect-specific:

- SQLite: an external-content FTS5 table `fts_index` over the stemmed copies `title_terms` and
  `body_terms` (the application stems; FTS5's `unicode61 remove_diacritics 2` folds case and
  accents), kept in sync by three triggers, so deleting a row (or a cascade from posts,
  communities, actors, attachments) also leaves the index.
- PostgreSQL: a generated `tsv` column built with the row's text search configuration
  (french, german, english or simple), with a GIN index.

These tables are not SQLAlchemy models (they differ by dialect); `server.storage.search.include_name`
keeps them out of autogenerate comparisons.

Revision ID: 20261123_0006
Revises: 20261123_0005
Create Date: 2026-11-23 18:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import server.storage.base


revision = '20261123_0006'
down_revision = '20261123_0005'
branch_labels = None
depends_on = None

TRIGGERS = {
    "fts_documents_ai": (
        "AFTER INSERT ON fts_documents BEGIN "
        "INSERT INTO fts_index(rowid, title_terms, body_terms) "
        "VALUES (new.id, new.title_terms, new.body_terms); END"
    ),
    "fts_documents_ad": (
        "AFTER DELETE ON fts_documents BEGIN "
        "INSERT INTO fts_index(fts_index, rowid, title_terms, body_terms) "
        "VALUES ('delete', old.id, old.title_terms, old.body_terms); END"
    ),
    "fts_documents_au": (
        "AFTER UPDATE OF title_terms, body_terms ON fts_documents BEGIN "
        "INSERT INTO fts_index(fts_index, rowid, title_terms, body_terms) "
        "VALUES ('delete', old.id, old.title_terms, old.body_terms); "
        "INSERT INTO fts_index(rowid, title_terms, body_terms) "
        "VALUES (new.id, new.title_terms, new.body_terms); END"
    ),
}


def _columns(dialect: str) -> list[sa.Column]:
    columns: list[sa.Column] = [
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('ref', sa.String(length=40), nullable=False, unique=True),
        sa.Column('kind', sa.String(length=10), nullable=False),
        sa.Column('post_id', sa.Integer(), sa.ForeignKey('posts.id', ondelete='CASCADE'), nullable=True),
        sa.Column('root_id', sa.Integer(), nullable=True),
        sa.Column(
            'community_id', sa.Integer(), sa.ForeignKey('communities.id', ondelete='CASCADE'), nullable=True
        ),
        sa.Column('actor_id', sa.Integer(), sa.ForeignKey('actors.id', ondelete='CASCADE'), nullable=True),
        sa.Column(
            'attachment_id', sa.Integer(), sa.ForeignKey('attachments.id', ondelete='CASCADE'), nullable=True
        ),
        sa.Column('has_attachment', sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column('created_at', server.storage.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column('title', sa.Text(), nullable=False, server_default=''),
        sa.Column('body', sa.Text(), nullable=False, server_default=''),
    ]
    if dialect == 'postgresql':
        columns.append(sa.Column('config', postgresql.REGCONFIG(), nullable=False))
        columns.append(
            sa.Column(
                'tsv',
                postgresql.TSVECTOR(),
                sa.Computed(
                    "setweight(to_tsvector(config, title), 'A') || setweight(to_tsvector(config, body), 'B')",
                    persisted=True,
                ),
            )
        )
    else:
        columns.append(sa.Column('config', sa.String(length=10), nullable=False))
        columns.append(sa.Column('title_terms', sa.Text(), nullable=False, server_default=''))
        columns.append(sa.Column('body_terms', sa.Text(), nullable=False, server_default=''))
    return columns


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.create_table('fts_documents', *_columns(dialect))
    for column in ('post_id', 'root_id', 'community_id', 'actor_id', 'attachment_id'):
        op.create_index(f'ix_fts_documents_{column}', 'fts_documents', [column])
    if dialect == 'postgresql':
        op.create_index('ix_fts_documents_tsv', 'fts_documents', ['tsv'], postgresql_using='gin')
        return
    op.execute(
        "CREATE VIRTUAL TABLE fts_index USING fts5(title_terms, body_terms, content='fts_documents', "
        "content_rowid='id', tokenize='unicode61 remove_diacritics 2')"
    )
    for name, body in TRIGGERS.items():
        op.execute(f"CREATE TRIGGER {name} {body}")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect != 'postgresql':
        for name in TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS fts_index")
    else:
        op.drop_index('ix_fts_documents_tsv', table_name='fts_documents')
    for column in ('post_id', 'root_id', 'community_id', 'actor_id', 'attachment_id'):
        op.drop_index(f'ix_fts_documents_{column}', table_name='fts_documents')
    op.drop_table('fts_documents')
