"""geo: country (and city) of every click, scan and landing visit, and clicks per link, day and country

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 23:30:00.000000

``clicks`` and ``landing_visits`` get ``country`` (ISO 3166-1 alpha-2, NULL when unknown) and ``city``
(only with a City database in ``geoip_database``), worked out at capture from the client address before
it is hashed (tracker/geo). ``link_country_stats`` counts clicks and scans per link, day (report time
zone), way (link or qr) and country, as ``link_daily_stats`` does per day, so the pages' country tables
outlive the raw clicks' retention. On PostgreSQL the columns are added to the partitioned parents (the
partitions follow). Existing rows keep NULL: their addresses were never stored.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = '0009'
down_revision: str | Sequence[str] | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    for table in ('clicks', 'landing_visits'):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column('country', sa.String(length=2), nullable=True))
            batch.add_column(sa.Column('city', sa.String(length=100), nullable=True))
    op.create_table(
        'link_country_stats',
        sa.Column('link_id', sa.Integer(), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('via', sa.String(length=4), nullable=False),
        sa.Column('country', sa.String(length=2), nullable=False),
        sa.Column('clicks', sa.Integer(), nullable=False),
        sa.Column('bots', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['link_id'], ['links.id'], name=op.f('fk_link_country_stats_link_id_links')),
        sa.PrimaryKeyConstraint('link_id', 'day', 'via', 'country', name=op.f('pk_link_country_stats')),
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table('link_country_stats')
    for table in ('landing_visits', 'clicks'):
        for column in ('city', 'country'):
            if op.get_bind().dialect.name == 'sqlite':
                # SQLite's own DROP COLUMN (3.35+): batch mode would copy the table, reflecting every table
                # its foreign keys reach.
                op.execute(f'ALTER TABLE {table} DROP COLUMN {column}')
            else:
                op.drop_column(table, column)
