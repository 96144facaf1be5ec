"""report keys: the touch tables' distinct channel keys by month, kept by triggers; offline touches by person, time

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 05:30:00.000000

- ``click_keys``, ``visit_keys`` and ``offline_keys`` (:mod:`tracker.reports.models`): one row per
  distinct report key and month, filled from the existing touches here and kept by triggers on
  ``clicks``, ``landing_visits`` and ``offline_touches`` after every insert and update (SQLite: update
  of a key column). PostgreSQL (where transition tables rule out column lists):
  statement triggers on the (partitioned) tables with a transition table, one
  ``INSERT ... SELECT DISTINCT ... ON CONFLICT DO NOTHING`` per statement, in key order (two writers adding
  the same new keys wait for each other in one order, never in a cycle). SQLite: row triggers
  (an insert where the key is not there yet).
- ``ix_offline_touches_person_ts`` on ``(person_id, ts, kind, utm_source, channel, campaign_id, id)``
  replaces ``ix_offline_touches_person_id``: the report reads a person's offline touches by time
  from the index alone, as it does clicks and landing visits (migration 0003).

The filling reads each touch table once; on a large PostgreSQL store that is one sequential scan per table.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = '0013'
down_revision: str | Sequence[str] | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# SQLite's split_part(page, '/', 1): the site of a landing page.
SITE_SQLITE = "CASE WHEN instr({r}page, '/') > 0 THEN substr({r}page, 1, instr({r}page, '/') - 1) ELSE {r}page END"
# (touch table, key table, key columns, each column's value for a touch row: {r} the row, {z} the NO_KEY text)
KEYS = (
    ('clicks', 'click_keys', ('utm_source', 'utm_medium', 'link_id'),
     ('COALESCE({r}utm_source, {z})', 'COALESCE({r}utm_medium, {z})', '{r}link_id')),
    ('landing_visits', 'visit_keys', ('utm_source', 'utm_medium', 'utm_campaign', 'referrer_host', 'site'),
     ('COALESCE({r}utm_source, {z})', 'COALESCE({r}utm_medium, {z})', 'COALESCE({r}utm_campaign, {z})',
      'COALESCE({r}referrer_host, {z})', 'COALESCE({site}, {z})')),
    ('offline_touches', 'offline_keys', ('utm_source', 'kind', 'channel', 'campaign_id'),
     ('COALESCE({r}utm_source, {z})', '{r}kind', 'COALESCE({r}channel, {z})', 'COALESCE({r}campaign_id, -1)')),
)


# The touch columns each key is made of (page gives the site).
KEY_COLUMNS = {'clicks': ('utm_source', 'utm_medium', 'link_id'),
               'landing_visits': ('utm_source', 'utm_medium', 'utm_campaign', 'referrer_host', 'page'),
               'offline_touches': ('utm_source', 'kind', 'channel', 'campaign_id')}


def _sqlite() -> bool:
    return op.get_bind().dialect.name == 'sqlite'


def _key(expressions: Sequence[str], row: str) -> list[str]:
    """The key expressions of a row (``row``: 'NEW.' or '' for the selected table's columns), month first."""
    if _sqlite():
        z, month, site = 'char(31)', f'substr({row}ts, 1, 7)', SITE_SQLITE.format(r=row)
    else:
        z, month, site = 'chr(31)', f"to_char({row}ts, 'YYYY-MM')", f"split_part({row}page, '/', 1)"
    return [month, *(e.format(r=row, z=z, site=site) for e in expressions)]


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        'click_keys',
        sa.Column('month', sa.String(length=7), nullable=False),
        sa.Column('utm_source', sa.String(length=100), nullable=False),
        sa.Column('utm_medium', sa.String(length=100), nullable=False),
        sa.Column('link_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint('month', 'utm_source', 'utm_medium', 'link_id', name=op.f('pk_click_keys')),
    )
    op.create_table(
        'visit_keys',
        sa.Column('month', sa.String(length=7), nullable=False),
        sa.Column('utm_source', sa.String(length=100), nullable=False),
        sa.Column('utm_medium', sa.String(length=100), nullable=False),
        sa.Column('utm_campaign', sa.String(length=100), nullable=False),
        sa.Column('referrer_host', sa.String(length=255), nullable=False),
        sa.Column('site', sa.String(length=500), nullable=False),
        sa.PrimaryKeyConstraint('month', 'utm_source', 'utm_medium', 'utm_campaign', 'referrer_host', 'site',
                                name=op.f('pk_visit_keys')),
    )
    op.create_table(
        'offline_keys',
        sa.Column('month', sa.String(length=7), nullable=False),
        sa.Column('utm_source', sa.String(length=100), nullable=False),
        sa.Column('kind', sa.String(length=10), nullable=False),
        sa.Column('channel', sa.String(length=40), nullable=False),
        sa.Column('campaign_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint('month', 'utm_source', 'kind', 'channel', 'campaign_id', name=op.f('pk_offline_keys')),
    )
    for table, keys, columns, expressions in KEYS:
        names = ', '.join(('month', *columns))
        selected = ', '.join(_key(expressions, ''))
        op.execute(f'INSERT INTO {keys} ({names}) SELECT DISTINCT {selected} FROM {table}')
        if _sqlite():
            # NOT EXISTS rather than INSERT OR IGNORE: a statement's own OR clause would override the trigger's.
            values = _key(expressions, 'NEW.')
            match = ' AND '.join(f'{c} = {v}' for c, v in zip(('month', *columns), values, strict=True))
            # Updates of other columns (a person stitched to a click) need no key: SQLite can say so.
            changed = 'UPDATE OF ' + ', '.join(('ts', *(c for c in KEY_COLUMNS[table])))
            for name, event in (('insert', 'INSERT'), ('update', changed)):
                op.execute(f'CREATE TRIGGER trg_{table}_keys_{name} AFTER {event} ON {table} '
                           f'BEGIN INSERT INTO {keys} ({names}) SELECT {", ".join(values)} '
                           f'WHERE NOT EXISTS (SELECT 1 FROM {keys} WHERE {match}); END')
        else:
            order = ', '.join(str(i + 1) for i in range(len(columns) + 1))
            op.execute(f'CREATE FUNCTION {keys}_add() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN '
                       f'INSERT INTO {keys} ({names}) SELECT DISTINCT {selected} FROM new_rows ORDER BY {order} '
                       'ON CONFLICT DO NOTHING; RETURN NULL; END $$')
            for event in ('INSERT', 'UPDATE'):
                op.execute(f'CREATE TRIGGER trg_{table}_keys_{event.lower()} AFTER {event} ON {table} '
                           f'REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION {keys}_add()')
    op.drop_index('ix_offline_touches_person_id', table_name='offline_touches')
    op.create_index('ix_offline_touches_person_ts', 'offline_touches',
                    ['person_id', 'ts', 'kind', 'utm_source', 'channel', 'campaign_id', 'id'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index('ix_offline_touches_person_ts', table_name='offline_touches')
    op.create_index('ix_offline_touches_person_id', 'offline_touches', ['person_id'], unique=False)
    for table, keys, _columns, _expressions in KEYS:
        for event in ('insert', 'update'):
            op.execute(f'DROP TRIGGER trg_{table}_keys_{event}' + ('' if _sqlite() else f' ON {table}'))
        if not _sqlite():
            op.execute(f'DROP FUNCTION {keys}_add()')
        op.drop_table(keys)
