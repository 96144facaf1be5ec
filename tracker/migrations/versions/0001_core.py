"""core: campaigns, links, clicks, aggregates, api keys

Revision ID: 0001
Revises: 
Create Date: 2026-11-23 01:11:36.099732

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = '0001'
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('api_keys',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('prefix', sa.String(length=16), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('last_used_at', sa.DateTime(), nullable=True),
    sa.Column('revoked_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_keys')),
    sa.UniqueConstraint('prefix', name=op.f('uq_api_keys_prefix'))
    )
    op.create_table('campaigns',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('slug', sa.String(length=100), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('start_date', sa.Date(), nullable=True),
    sa.Column('end_date', sa.Date(), nullable=True),
    sa.Column('fallback_url', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_campaigns')),
    sa.UniqueConstraint('slug', name=op.f('uq_campaigns_slug'))
    )
    op.create_table('orphan_visits',
    sa.Column('tid', sa.String(length=32), nullable=False),
    sa.Column('ts', sa.DateTime(), nullable=False),
    sa.Column('code', sa.String(length=200), nullable=False),
    sa.Column('via', sa.String(length=4), nullable=False),
    sa.Column('referrer_host', sa.String(length=255), nullable=True),
    sa.Column('user_agent', sa.Text(), nullable=True),
    sa.Column('ip_hash', sa.String(length=64), nullable=True),
    sa.Column('is_bot', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('tid', name=op.f('pk_orphan_visits'))
    )
    with op.batch_alter_table('orphan_visits', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_orphan_visits_ts'), ['ts'], unique=False)

    op.create_table('campaign_costs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('date', sa.Date(), nullable=False),
    sa.Column('amount', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('channel', sa.String(length=40), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_campaign_costs_campaign_id_campaigns'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_campaign_costs'))
    )
    with op.batch_alter_table('campaign_costs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_campaign_costs_campaign_id'), ['campaign_id'], unique=False)

    op.create_table('links',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=True),
    sa.Column('destination', sa.Text(), nullable=False),
    sa.Column('utm_source', sa.String(length=100), nullable=False),
    sa.Column('utm_medium', sa.String(length=100), nullable=False),
    sa.Column('utm_campaign', sa.String(length=100), nullable=False),
    sa.Column('utm_term', sa.String(length=100), nullable=True),
    sa.Column('utm_content', sa.String(length=100), nullable=True),
    sa.Column('extra_params', sa.JSON(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('label', sa.String(length=200), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=True),
    sa.Column('disabled', sa.Boolean(), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_links_campaign_id_campaigns')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_links')),
    sa.UniqueConstraint('code', name=op.f('uq_links_code'))
    )
    with op.batch_alter_table('links', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_links_campaign_id'), ['campaign_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_links_fingerprint'), ['fingerprint'], unique=False)

    op.create_table('clicks',
    sa.Column('tid', sa.String(length=32), nullable=False),
    sa.Column('ts', sa.DateTime(), nullable=False),
    sa.Column('link_id', sa.Integer(), nullable=False),
    sa.Column('via', sa.String(length=4), nullable=False),
    sa.Column('outcome', sa.String(length=12), nullable=False),
    sa.Column('visitor_id', sa.String(length=40), nullable=True),
    sa.Column('referrer_host', sa.String(length=255), nullable=True),
    sa.Column('user_agent', sa.Text(), nullable=True),
    sa.Column('ip_hash', sa.String(length=64), nullable=True),
    sa.Column('browser', sa.String(length=60), nullable=True),
    sa.Column('os', sa.String(length=60), nullable=True),
    sa.Column('device_type', sa.String(length=10), nullable=True),
    sa.Column('is_bot', sa.Boolean(), nullable=False),
    sa.Column('utm_source', sa.String(length=100), nullable=True),
    sa.Column('utm_medium', sa.String(length=100), nullable=True),
    sa.Column('utm_campaign', sa.String(length=100), nullable=True),
    sa.Column('utm_term', sa.String(length=100), nullable=True),
    sa.Column('utm_content', sa.String(length=100), nullable=True),
    sa.ForeignKeyConstraint(['link_id'], ['links.id'], name=op.f('fk_clicks_link_id_links')),
    sa.PrimaryKeyConstraint('tid', name=op.f('pk_clicks'))
    )
    with op.batch_alter_table('clicks', schema=None) as batch_op:
        batch_op.create_index('ix_clicks_link_ts', ['link_id', 'ts'], unique=False)
        batch_op.create_index('ix_clicks_ts', ['ts'], unique=False)
        batch_op.create_index(batch_op.f('ix_clicks_visitor_id'), ['visitor_id'], unique=False)

    op.create_table('link_daily_stats',
    sa.Column('link_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('via', sa.String(length=4), nullable=False),
    sa.Column('clicks', sa.Integer(), nullable=False),
    sa.Column('uniques', sa.Integer(), nullable=False),
    sa.Column('bots', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['link_id'], ['links.id'], name=op.f('fk_link_daily_stats_link_id_links')),
    sa.PrimaryKeyConstraint('link_id', 'day', 'via', name=op.f('pk_link_daily_stats'))
    )
    op.create_table('link_destination_changes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('link_id', sa.Integer(), nullable=False),
    sa.Column('destination', sa.Text(), nullable=False),
    sa.Column('changed_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['link_id'], ['links.id'], name=op.f('fk_link_destination_changes_link_id_links'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_link_destination_changes'))
    )
    with op.batch_alter_table('link_destination_changes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_link_destination_changes_link_id'), ['link_id'], unique=False)

    op.create_table('link_visitors',
    sa.Column('link_id', sa.Integer(), nullable=False),
    sa.Column('via', sa.String(length=4), nullable=False),
    sa.Column('visitor_id', sa.String(length=40), nullable=False),
    sa.ForeignKeyConstraint(['link_id'], ['links.id'], name=op.f('fk_link_visitors_link_id_links')),
    sa.PrimaryKeyConstraint('link_id', 'via', 'visitor_id', name=op.f('pk_link_visitors'))
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table('link_visitors')
    with op.batch_alter_table('link_destination_changes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_link_destination_changes_link_id'))

    op.drop_table('link_destination_changes')
    op.drop_table('link_daily_stats')
    with op.batch_alter_table('clicks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_clicks_visitor_id'))
        batch_op.drop_index('ix_clicks_ts')
        batch_op.drop_index('ix_clicks_link_ts')

    op.drop_table('clicks')
    with op.batch_alter_table('links', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_links_fingerprint'))
        batch_op.drop_index(batch_op.f('ix_links_campaign_id'))

    op.drop_table('links')
    with op.batch_alter_table('campaign_costs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_campaign_costs_campaign_id'))

    op.drop_table('campaign_costs')
    with op.batch_alter_table('orphan_visits', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_orphan_visits_ts'))

    op.drop_table('orphan_visits')
    op.drop_table('campaigns')
    op.drop_table('api_keys')
