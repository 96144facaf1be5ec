"""report indexes: touches by person and time, covering what the attribution report reads

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 05:00:00.000000

The person_id indexes of clicks and landing_visits become (person_id, ts, ...) indexes that also hold
every column the attribution report reads (tracker/reports/loading.py), so the report's touches of
its people come from the index alone, without a random table read per touch. Every query the
person_id indexes served (stitching merges, a person's journey) is served by the new ones.
"""
from typing import Sequence, Union

from alembic import op


# revision identifiers, used by Alembic.
revision: str = '0003'
down_revision: Union[str, Sequence[str], None] = '0002'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

CLICKS = ['person_id', 'ts', 'link_id', 'is_bot', 'via', 'utm_source', 'utm_medium', 'tid']
VISITS = ['person_id', 'ts', 'is_touch', 'is_bot', 'utm_source', 'utm_medium', 'utm_campaign', 'referrer_host',
          'page', 'id']


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('clicks', schema=None) as batch_op:
        batch_op.drop_index('ix_clicks_person_id')
        batch_op.create_index('ix_clicks_person_ts', CLICKS, unique=False)

    with op.batch_alter_table('landing_visits', schema=None) as batch_op:
        batch_op.drop_index('ix_landing_visits_person_id')
        batch_op.create_index('ix_landing_visits_person_ts', VISITS, unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('landing_visits', schema=None) as batch_op:
        batch_op.drop_index('ix_landing_visits_person_ts')
        batch_op.create_index('ix_landing_visits_person_id', ['person_id'], unique=False)

    with op.batch_alter_table('clicks', schema=None) as batch_op:
        batch_op.drop_index('ix_clicks_person_ts')
        batch_op.create_index('ix_clicks_person_id', ['person_id'], unique=False)
