"""page sessions: signed-in page sessions held server-side, so signing out ends them everywhere

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 23:00:00.000000

``page_sessions`` holds the SHA-256 of each signed-in page session's id (tracker/auth/service.py).
Sessions signed in before this revision carry no id and are refused: their holders sign in again.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = '0008'
down_revision: str | Sequence[str] | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        'page_sessions',
        sa.Column('id_hash', sa.String(length=64), nullable=False),
        sa.Column('account_id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_page_sessions_account_id_accounts'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id_hash', name=op.f('pk_page_sessions')),
    )
    op.create_index(op.f('ix_page_sessions_account_id'), 'page_sessions', ['account_id'], unique=False)
    op.create_index(op.f('ix_page_sessions_created_at'), 'page_sessions', ['created_at'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index(op.f('ix_page_sessions_created_at'), table_name='page_sessions')
    op.drop_index(op.f('ix_page_sessions_account_id'), table_name='page_sessions')
    op.drop_table('page_sessions')
