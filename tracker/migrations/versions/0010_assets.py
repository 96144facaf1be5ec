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
    if sa.inspect(op.get_bind()).has_table('assets'):
        return  # SQLite, downgraded before: the table and the columns stayed (see downgrade)
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
        name = op.f(f'fk_{table}_logo_asset_id_assets')
        if op.get_bind().dialect.name == 'sqlite':
            # A plain ADD COLUMN with its named REFERENCES clause (allowed for a nullable column): batch mode
            # would copy the table and drop the old one, which the rows referencing links forbid.
            op.execute(f'ALTER TABLE {table} ADD COLUMN logo_asset_id INTEGER CONSTRAINT {name} '
                       'REFERENCES assets (id)')
        else:
            op.add_column(table, sa.Column('logo_asset_id', sa.Integer(), sa.ForeignKey('assets.id', name=name),
                                           nullable=True))


def downgrade() -> None:
    """Downgrade schema.

    SQLite cannot drop a column that a foreign key uses, and copying ``links`` would break the rows that
    reference it: there the logos are unset and the table and columns stay (older code ignores them), so
    upgrading again finds them.
    """
    if op.get_bind().dialect.name == 'sqlite':
        for table in ('campaigns', 'links'):
            op.execute(f'UPDATE {table} SET logo_asset_id = NULL')
        op.execute('DELETE FROM assets')
        return
    for table in ('campaigns', 'links'):
        op.drop_constraint(op.f(f'fk_{table}_logo_asset_id_assets'), table, type_='foreignkey')
        op.drop_column(table, 'logo_asset_id')
    op.drop_table('assets')
