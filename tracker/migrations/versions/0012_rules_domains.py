"""rules and domains: redirect rules per link, and short-link domains beside public_base_url's host

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 01:50:00.000000

- ``links.rules`` (JSON list, ``[]`` for existing links) and ``links.rules_changed_at``; ``clicks.rule``
  (the index of the rule that sent the click, NULL: the link's own destination); ``link_rule_stats``
  counts human clicks per link, day and rule (``-1``: the default), kept past the clicks' retention.
- ``domains`` (host, scheme, not-found URL); ``links.domain_id`` (NULL: the default domain) and
  ``orphan_visits.domain_id``. A code is unique per domain: ``uq_links_code`` becomes the unique index
  ``uq_links_domain_code`` on ``(coalesce(domain_id, 0), code)``, and ``ix_links_code`` serves lookups.

On SQLite a table constraint can only go by copying the table: ``links`` is copied with foreign keys off,
as SQLite's documentation prescribes (:func:`tracker.migrate.upgrade` turns them off around every migration
and runs ``PRAGMA foreign_key_check`` before committing).
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = '0012'
down_revision: str | Sequence[str] | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _sqlite() -> bool:
    return op.get_bind().dialect.name == 'sqlite'


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        'domains',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('host', sa.String(length=253), nullable=False),
        sa.Column('scheme', sa.String(length=5), nullable=False),
        sa.Column('not_found_url', sa.Text(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_domains')),
        sa.UniqueConstraint('host', name=op.f('uq_domains_host')),
    )
    with op.batch_alter_table('links', recreate='always' if _sqlite() else 'auto') as batch:
        batch.add_column(sa.Column('domain_id', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('rules', sa.JSON(), nullable=False, server_default='[]'))
        batch.add_column(sa.Column('rules_changed_at', sa.DateTime(), nullable=True))
        batch.create_foreign_key(op.f('fk_links_domain_id_domains'), 'domains', ['domain_id'], ['id'])
        batch.drop_constraint('uq_links_code', type_='unique')
        batch.create_index(op.f('ix_links_code'), ['code'], unique=False)
    op.create_index('uq_links_domain_code', 'links', [sa.text('coalesce(domain_id, 0)'), 'code'], unique=True)
    for table, column in (('clicks', sa.Column('rule', sa.SmallInteger(), nullable=True)),
                          ('orphan_visits', sa.Column('domain_id', sa.Integer(), nullable=True))):
        if _sqlite():
            op.execute(f'ALTER TABLE {table} ADD COLUMN {column.name} {column.type.compile(op.get_bind().dialect)}')
        else:
            op.add_column(table, column)  # on PostgreSQL the partitions of clicks follow their parent
    op.create_table(
        'link_rule_stats',
        sa.Column('link_id', sa.Integer(), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('rule', sa.SmallInteger(), nullable=False),
        sa.Column('clicks', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['link_id'], ['links.id'], name=op.f('fk_link_rule_stats_link_id_links')),
        sa.PrimaryKeyConstraint('link_id', 'day', 'rule', name=op.f('pk_link_rule_stats')),
    )


def downgrade() -> None:
    """Downgrade schema: refused while a code is used on two domains (it could not be unique again)."""
    bind = op.get_bind()
    shared = bind.execute(sa.text('SELECT code FROM links GROUP BY code HAVING count(*) > 1 LIMIT 1')).scalar()
    if shared is not None:
        raise RuntimeError(f'cannot downgrade below 0012: code {shared!r} is used on more than one domain; '
                           'delete or recode those links first')
    op.drop_table('link_rule_stats')
    for table, column in (('orphan_visits', 'domain_id'), ('clicks', 'rule')):
        if _sqlite():
            op.execute(f'ALTER TABLE {table} DROP COLUMN {column}')
        else:
            op.drop_column(table, column)
    op.drop_index('uq_links_domain_code', table_name='links')
    with op.batch_alter_table('links', recreate='always' if _sqlite() else 'auto') as batch:
        batch.drop_index(op.f('ix_links_code'))
        batch.create_unique_constraint('uq_links_code', ['code'])
        batch.drop_constraint(op.f('fk_links_domain_id_domains'), type_='foreignkey')
        batch.drop_column('rules_changed_at')
        batch.drop_column('rules')
        batch.drop_column('domain_id')
    op.drop_table('domains')
