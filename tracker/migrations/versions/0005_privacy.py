"""privacy: tombstones of erased people's ids, and the retention purge's mark

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 08:00:00.000000

``erased_ids`` keeps SHA-256 hashes of the ids of erased people (tracker/privacy/erasure.py) so that
spooled lines drained after an erasure bring nobody back; ``retention_marks`` records the cut-off of
the last purge of raw clicks (tracker/privacy/retention.py), which reports quote.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = '0005'
down_revision: str | Sequence[str] | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        'erased_ids',
        sa.Column('hash', sa.String(length=64), nullable=False),
        sa.Column('erased_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('hash', name=op.f('pk_erased_ids')),
    )
    op.create_table(
        'retention_marks',
        sa.Column('name', sa.String(length=20), nullable=False),
        sa.Column('purged_before', sa.DateTime(), nullable=False),
        sa.Column('ran_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('name', name=op.f('pk_retention_marks')),
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table('retention_marks')
    op.drop_table('erased_ids')
