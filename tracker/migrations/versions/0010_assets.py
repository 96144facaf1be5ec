"""assets: uploaded logos for branded QR codes, per link or as a campaign's default

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 23:31:00.000000

``assets`` holds images uploaded once (``POST /api/v1/assets``), decoded and re-encoded as PNG by the
service (tracker/qr); ``links.logo_asset_id`` and ``campaigns.logo_asset_id`` name the logo drawn in
their QR codes (a link's own first, else its campaign's).
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = '0010'
down_revision: str | Sequence[str] | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        'assets',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('media_type', sa.String(length=40), nullable=False),
        sa.Column('width', sa.Integer(), nullable=False),
        sa.Column('height', sa.Integer(), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('data', sa.LargeBinary(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_assets')),
        sa.UniqueConstraint('sha256', name=op.f('uq_assets_sha256')),
    )
    for table in ('links', 'campaigns'):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column('logo_asset_id', sa.Integer(), nullable=True))
            batch.create_foreign_key(op.f(f'fk_{table}_logo_asset_id_assets'), 'assets', ['logo_asset_id'], ['id'])


def downgrade() -> None:
    """Downgrade schema."""
    for table in ('campaigns', 'links'):
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(op.f(f'fk_{table}_logo_asset_id_assets'), type_='foreignkey')
            batch.drop_column('logo_asset_id')
    op.drop_table('assets')
