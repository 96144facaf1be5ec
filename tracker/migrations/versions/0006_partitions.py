"""partitions: clicks and landing_visits partitioned by month on ts (PostgreSQL only)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 09:00:00.000000

On PostgreSQL each of ``clicks`` and ``landing_visits`` is rebuilt as a table partitioned by range of
``ts`` (tracker/partitions.py): the old table is renamed aside, the partitioned one is made with the
same columns, defaults and NOT NULLs (``LIKE``), monthly partitions cover every month that holds
rows (up to ten years back) and the current month and the three after it, plus a DEFAULT partition
for anything outside them (a clock far off), every row is copied with ``INSERT ... SELECT``, the
counts are compared (a difference aborts the migration, and PostgreSQL's transactional DDL rolls all
of it back), then the keys and indexes are built on the filled partitions and the old table dropped.

Keys on a partitioned table must hold the partition column, so the primary keys become
``clicks (tid, ts)`` and ``landing_visits (id, ts)``. Nothing references either table by foreign key.
``tid`` stays unique in practice: it is 120 random bits, the click drain skips tids already stored and
inserts with ``ON CONFLICT DO NOTHING`` (no target: any key), which a replayed spool line, having the
same ``ts``, still hits. ``landing_visits.id`` keeps its sequence (ownership moves to the new column,
so dropping the old table keeps it and its position).

The tables are locked (ACCESS EXCLUSIVE) for the duration: redirects keep answering into the spool and
the drain catches up afterwards; the lock waits at most the engine's ``lock_timeout``, after which the
migration fails without changing anything and can be run again.

SQLite: nothing changes. Downgrade converts back to plain tables the same way (rows kept).
"""
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from tracker.partitions import MONTHS_AHEAD, add_months, create_partition, month_of

# revision identifiers, used by Alembic.
revision: str = '0006'
down_revision: str | Sequence[str] | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MAX_MONTHS_BACK = 120  # rows older than ten years go to the default partition

# Per table: the old and the new primary key, foreign keys, and indexes (names as in 0001-0003 and the
# models; the person_id indexes hold what the attribution report reads, migration 0003).
TABLES = {
    'clicks': {
        'pk': (['tid'], ['tid', 'ts']),
        'fks': {'fk_clicks_link_id_links': '(link_id) REFERENCES links (id)'},
        'indexes': {
            'ix_clicks_link_ts': ['link_id', 'ts'],
            'ix_clicks_ts': ['ts'],
            'ix_clicks_visitor_id': ['visitor_id'],
            'ix_clicks_person_ts': ['person_id', 'ts', 'link_id', 'is_bot', 'via', 'utm_source', 'utm_medium', 'tid'],
        },
    },
    'landing_visits': {
        'pk': (['id'], ['id', 'ts']),
        'fks': {},
        'indexes': {
            'ix_landing_visits_ts': ['ts'],
            'ix_landing_visits_tid': ['tid'],
            'ix_landing_visits_person_ts': ['person_id', 'ts', 'is_touch', 'is_bot', 'utm_source', 'utm_medium',
                                            'utm_campaign', 'referrer_host', 'page', 'id'],
        },
    },
}


def upgrade() -> None:
    """Upgrade schema."""
    if op.get_bind().dialect.name != 'postgresql':
        return
    for table in TABLES:
        _rebuild(table, partitioned=True)


def downgrade() -> None:
    """Downgrade schema."""
    if op.get_bind().dialect.name != 'postgresql':
        return
    for table in TABLES:
        _rebuild(table, partitioned=False)


def _rebuild(table: str, partitioned: bool) -> None:
    """Copy ``table`` into a new partitioned (or plain) table of the same name; drop the old one."""
    conn = op.get_bind()
    spec = TABLES[table]
    old = f'{table}_old'
    conn.execute(sa.text(f'LOCK TABLE "{table}" IN ACCESS EXCLUSIVE MODE'))
    sequence = conn.execute(sa.text("SELECT pg_get_serial_sequence(:t, 'id')"), {'t': table}).scalar() \
        if 'id' in spec['pk'][0] else None
    conn.execute(sa.text(f'ALTER TABLE "{table}" RENAME TO "{old}"'))
    # Free the key and index names for the new table (the old one is dropped at the end anyway).
    conn.execute(sa.text(f'ALTER TABLE "{old}" DROP CONSTRAINT "pk_{table}"'))
    for fk in spec['fks']:
        conn.execute(sa.text(f'ALTER TABLE "{old}" DROP CONSTRAINT "{fk}"'))
    for index in spec['indexes']:
        conn.execute(sa.text(f'DROP INDEX "{index}"'))
    # LIKE: the same columns in the same order, NOT NULLs and defaults (landing_visits.id's nextval).
    by = ' PARTITION BY RANGE (ts)' if partitioned else ''
    conn.execute(sa.text(f'CREATE TABLE "{table}" (LIKE "{old}" INCLUDING DEFAULTS){by}'))
    if partitioned:
        current = month_of(datetime.now(UTC))
        first, last = add_months(current, -MAX_MONTHS_BACK), add_months(current, MONTHS_AHEAD)
        # The months that hold rows (not every month from the oldest row on: one row with a clock far
        # off would make years of empty partitions), and this month and the next ones.
        held = conn.execute(sa.text(f'SELECT DISTINCT date_trunc(\'month\', ts) FROM "{old}" '
                                    'WHERE ts >= :first AND ts < :after'),
                            {'first': first, 'after': add_months(last, 1)}).scalars()
        for month in sorted(set(held) | {add_months(current, n) for n in range(MONTHS_AHEAD + 1)}):
            create_partition(conn, table, month)
        create_partition(conn, table, None)  # rows of any other month (far back, far ahead) wait here
    columns = ', '.join(f'"{c}"' for c in conn.execute(sa.text(
        "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(:t) AND attnum > 0 AND NOT attisdropped "
        "ORDER BY attnum"), {'t': table}).scalars())
    copied = conn.execute(sa.text(f'INSERT INTO "{table}" ({columns}) SELECT {columns} FROM "{old}"')).rowcount
    before = conn.execute(sa.text(f'SELECT count(*) FROM "{old}"')).scalar()
    after = conn.execute(sa.text(f'SELECT count(*) FROM "{table}"')).scalar()
    if not copied == before == after:
        raise RuntimeError(f'{table}: {before} rows before, {copied} copied, {after} after; nothing was changed')
    # Keys and indexes built once on the filled table (faster than maintaining them row by row);
    # on the partitioned parent they are partitioned indexes, made on every partition and on new ones.
    pk = spec['pk'][1] if partitioned else spec['pk'][0]
    conn.execute(sa.text(f'ALTER TABLE "{table}" ADD CONSTRAINT "pk_{table}" PRIMARY KEY ({", ".join(pk)})'))
    for fk, definition in spec['fks'].items():
        conn.execute(sa.text(f'ALTER TABLE "{table}" ADD CONSTRAINT "{fk}" FOREIGN KEY {definition}'))
    for index, cols in spec['indexes'].items():
        conn.execute(sa.text(f'CREATE INDEX "{index}" ON "{table}" ({", ".join(cols)})'))
    if sequence is not None:
        # Owned by the new column, so dropping the old table keeps the sequence and where it stands.
        conn.execute(sa.text(f'ALTER SEQUENCE {sequence} OWNED BY "{table}".id'))
    conn.execute(sa.text(f'DROP TABLE "{old}"'))
    conn.execute(sa.text(f'ANALYZE "{table}"'))
