"""accounts and roles: people accounts, staff campaign assignments, API keys owned by an account

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 07:50:00.000000

Keys that exist before this migration had no owner and could do everything. They are kept working
exactly as before: when ``api_keys`` holds any row, one admin account ``legacy-keys@tracker.invalid``
(``.invalid`` is a reserved top-level domain, so the address can never belong to anyone) is created
with no password (it cannot sign in to the pages) and every existing key is attached to it. An admin
can list those keys (``tracker keys list``), hand out personal keys and revoke the old ones, or
disable that account to stop all of them at once.
"""
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = '0004'
down_revision: str | Sequence[str] | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROLES = ('admin', 'marketer', 'staff', 'analyst', 'ingest')
LEGACY_EMAIL = 'legacy-keys@tracker.invalid'


def upgrade() -> None:
    """Upgrade schema."""
    role_list = ", ".join(f"'{r}'" for r in ROLES)
    accounts = op.create_table(
        'accounts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('email', sa.String(length=254), nullable=False),
        sa.Column('password_hash', sa.String(length=255), nullable=True),
        sa.Column('role', sa.String(length=16), nullable=False),
        sa.Column('disabled', sa.Boolean(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('last_sign_in_at', sa.DateTime(), nullable=True),
        sa.CheckConstraint(f"role IN ({role_list})", name=op.f('ck_accounts_role')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_accounts')),
        sa.UniqueConstraint('email', name=op.f('uq_accounts_email')),
    )
    op.create_table(
        'account_campaigns',
        sa.Column('account_id', sa.Integer(), nullable=False),
        sa.Column('campaign_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['account_id'], ['accounts.id'],
                                name=op.f('fk_account_campaigns_account_id_accounts'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'],
                                name=op.f('fk_account_campaigns_campaign_id_campaigns'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('account_id', 'campaign_id', name=op.f('pk_account_campaigns')),
    )
    with op.batch_alter_table('account_campaigns', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_account_campaigns_campaign_id'), ['campaign_id'], unique=False)

    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.add_column(sa.Column('account_id', sa.Integer(), nullable=True))

    conn = op.get_bind()
    if conn.scalar(sa.text("SELECT count(*) FROM api_keys")):
        now = datetime.now(UTC).replace(tzinfo=None)
        account_id = conn.execute(
            accounts.insert().values(email=LEGACY_EMAIL, password_hash=None, role='admin', disabled=False,
                                     created_at=now).returning(accounts.c.id)).scalar_one()
        conn.execute(sa.text("UPDATE api_keys SET account_id = :a"), {"a": account_id})

    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.alter_column('account_id', existing_type=sa.Integer(), nullable=False)
        batch_op.create_index(batch_op.f('ix_api_keys_account_id'), ['account_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_api_keys_account_id_accounts'), 'accounts',
                                    ['account_id'], ['id'], ondelete='CASCADE')


def downgrade() -> None:
    """Downgrade schema (keys lose their owner; accounts and assignments are dropped)."""
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_api_keys_account_id_accounts'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_api_keys_account_id'))
        batch_op.drop_column('account_id')

    with op.batch_alter_table('account_campaigns', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_account_campaigns_campaign_id'))

    op.drop_table('account_campaigns')
    op.drop_table('accounts')
