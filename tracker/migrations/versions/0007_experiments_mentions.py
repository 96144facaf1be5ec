"""experiments and mentions: link variants (A/B) and imported brand mentions

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 22:30:00.000000

``links`` gets ``experiment`` (the test a link is an arm of) and ``variant`` (the arm's name), both
optional: existing links are no test's arm. ``mentions`` holds brand mentions per day and platform
(tracker/mentions), unique per (day, platform, url) so an import can be run again.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = '0007'
down_revision: str | Sequence[str] | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('links') as batch:
        batch.add_column(sa.Column('experiment', sa.String(length=100), nullable=True))
        batch.add_column(sa.Column('variant', sa.String(length=40), nullable=True))
    op.create_table(
        'mentions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('platform', sa.String(length=40), nullable=False),
        sa.Column('count', sa.Integer(), nullable=False),
        sa.Column('sentiment', sa.Float(), nullable=True),
        sa.Column('url', sa.String(length=2000), nullable=False),
        sa.Column('note', sa.String(length=500), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_mentions')),
        sa.UniqueConstraint('day', 'platform', 'url', name=op.f('uq_mentions_day')),
    )
    op.create_index(op.f('ix_mentions_day'), 'mentions', ['day'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index(op.f('ix_mentions_day'), table_name='mentions')
    op.drop_table('mentions')
    for column in ('variant', 'experiment'):
        if op.get_bind().dialect.name == 'sqlite':
            # SQLite's own DROP COLUMN (3.35+): batch mode would copy links and drop the old table, which the
            # rows referencing it forbid.
            op.execute(f'ALTER TABLE links DROP COLUMN {column}')
        else:
            op.drop_column('links', column)
