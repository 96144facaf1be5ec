"""Monthly partitions of the touch tables on PostgreSQL (``clicks`` and ``landing_visits``).

From migration 0006 on, PostgreSQL stores both tables partitioned by month on ``ts``
(``PARTITION BY RANGE (ts)``): one partition ``<table>_pYYYY_MM`` per month, holding
``[first of the month, first of the next month)`` in naive UTC like every timestamp column, plus a
``<table>_default`` partition that takes any row outside the months created, so no row is ever
refused for its time. Reports read one window of months and PostgreSQL scans only those partitions;
the retention purge drops whole expired months instead of deleting their rows one by one.

:func:`ensure_partitions` creates the current month and the next ``months_ahead`` ones. It runs at
``tracker db upgrade``, at ``tracker serve`` start-up and daily in the retention thread
(:mod:`tracker.privacy.retention`), so rows normally never reach the default partition. It is
idempotent, and several app servers may run it at once: each month is created in a transaction that
holds an advisory lock of the schema, and one that finds the month already made does nothing. When
the default partition holds rows of a month being created (a spool replayed after a long outage, a
clock far off), they are moved into the new partition in that same transaction.

On SQLite nothing is partitioned and every function here does nothing (or reports nothing).
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

__all__ = ["MONTHS_AHEAD", "PARTITIONED", "Partition", "add_months", "default_name", "drop_partition",
           "ensure_partitions", "expired_partitions", "is_partitioned", "list_partitions", "month_of",
           "partition_name"]

log = logging.getLogger(__name__)

PARTITIONED = ("clicks", "landing_visits")  # tables partitioned by month on ts (migration 0006)
MONTHS_AHEAD = 3  # months created beyond the current one: a quarter of slack if maintenance stops
MAX_MONTHS_AHEAD = 120
# A new month waits at most this long for the locks it needs (the default partition, the parent for a
# drop): a queued ACCESS EXCLUSIVE request holds up every later reader and writer of that table, so
# it gives up early and the next run (within a day; the months ahead leave a quarter of slack) retries.
LOCK_TIMEOUT_MS = 2000
# SQLSTATEs of a concurrent creator that got there first: duplicate table / object, unique violation on
# the catalog (two CREATE TABLE of one name racing), a partition that would overlap one just attached.
_ALREADY_DONE = {"42P07", "42710", "23505", "42P17"}
_BOUND = re.compile(r"FOR VALUES FROM \('([^']+)'\) TO \('([^']+)'\)")


@dataclass(frozen=True)
class Partition:
    """One partition of a partitioned table; ``lower`` and ``upper`` are None for the default one."""

    table: str
    name: str
    lower: datetime | None
    upper: datetime | None

    @property
    def is_default(self) -> bool:
        return self.lower is None


def month_of(when: datetime) -> datetime:
    """Return the first instant of ``when``'s UTC month as a naive UTC datetime (how ``ts`` is stored).

    Examples
    --------
    >>> from datetime import UTC, datetime
    >>> month_of(datetime(2026, 11, 30, 23, 59, tzinfo=UTC))
    datetime.datetime(2026, 11, 1, 0, 0)
    >>> month_of(datetime(2026, 11, 30, 23, 59))  # naive: taken as UTC, as stored
    datetime.datetime(2026, 11, 1, 0, 0)
    """
    if when.tzinfo is not None:
        when = when.astimezone(UTC).replace(tzinfo=None)
    return when.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def add_months(month: datetime, n: int) -> datetime:
    """Return the first of the month ``n`` months after ``month`` (a month start; ``n`` may be negative).

    Examples
    --------
    >>> from datetime import datetime
    >>> add_months(datetime(2026, 11, 1), 3)
    datetime.datetime(2027, 2, 1, 0, 0)
    >>> add_months(datetime(2026, 1, 1), -1)
    datetime.datetime(2025, 12, 1, 0, 0)
    """
    index = month.year * 12 + month.month - 1 + n
    return month.replace(year=index // 12, month=index % 12 + 1, day=1)


def partition_name(table: str, month: datetime) -> str:
    """Return the name of ``table``'s partition for ``month``.

    Examples
    --------
    >>> from datetime import datetime
    >>> partition_name("clicks", datetime(2026, 3, 1))
    'clicks_p2026_03'
    """
    _check_table(table)
    return f"{table}_p{month:%Y_%m}"


def default_name(table: str) -> str:
    """Return the name of ``table``'s default partition (rows outside every month created)."""
    _check_table(table)
    return f"{table}_default"


def _check_table(table: str) -> None:
    # Table names are spliced into DDL (identifiers cannot be bound parameters): only ours pass.
    if table not in PARTITIONED:
        raise ValueError(f"{table!r} is not a partitioned table; expected one of {', '.join(PARTITIONED)}")


def is_partitioned(conn: sa.Connection, table: str) -> bool:
    """Whether ``table`` (in the connection's schema) is a partitioned table; False on SQLite."""
    _check_table(table)
    if conn.dialect.name != "postgresql":
        return False
    kind = conn.execute(sa.text("SELECT relkind FROM pg_class WHERE oid = to_regclass(:t)"), {"t": table}).scalar()
    return kind == "p"


def list_partitions(conn: sa.Connection, table: str) -> list[Partition]:
    """Return ``table``'s partitions, months in order and the default one last ([] when not partitioned)."""
    if not is_partitioned(conn, table):
        return []
    rows = conn.execute(sa.text(
        "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
        "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = to_regclass(:t)"), {"t": table}).all()
    parts = []
    for name, bound in rows:
        if bound == "DEFAULT":
            parts.append(Partition(table, name, None, None))
            continue
        found = _BOUND.fullmatch(bound)
        if found is None:  # someone attached a partition of another shape: leave it alone, say so
            log.warning("partition %s of %s has an unexpected bound %r; ignored", name, table, bound)
            continue
        parts.append(Partition(table, name, datetime.fromisoformat(found[1]), datetime.fromisoformat(found[2])))
    return sorted(parts, key=lambda p: (p.is_default, p.lower or datetime.min))


def ensure_partitions(engine: sa.Engine, now: datetime, months_ahead: int = MONTHS_AHEAD) -> list[str]:
    """Create the monthly partitions of ``now``'s month and the next ``months_ahead`` months.

    Idempotent and safe to run from several servers at once. Rows of a month being created that
    wait in the default partition are moved into it in the same transaction. Does nothing on SQLite
    or while the tables are not partitioned yet (a database before migration 0006).

    Parameters
    ----------
    engine
        The service's engine.
    now
        The current time, timezone-aware.
    months_ahead
        How many months after the current one to create, 0 to 120.

    Returns
    -------
    list of str
        The partitions created by this call (empty when all existed).

    Raises
    ------
    ValueError
        ``now`` is naive or ``months_ahead`` is out of range.
    sqlalchemy.exc.OperationalError
        A lock was not granted within :data:`LOCK_TIMEOUT_MS` (busy tables): run it again later.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware (use tracker.db.utcnow())")
    if isinstance(months_ahead, bool) or not isinstance(months_ahead, int) or not 0 <= months_ahead <= MAX_MONTHS_AHEAD:
        raise ValueError(f"months_ahead must be a whole number from 0 to {MAX_MONTHS_AHEAD}, got {months_ahead!r}")
    if engine.dialect.name != "postgresql":
        return []
    first = month_of(now)
    created = []
    for table in PARTITIONED:
        with engine.connect() as conn:
            if not is_partitioned(conn, table):
                continue
            existing = {p.name for p in list_partitions(conn, table)}
        if default_name(table) not in existing and _create(engine, table, None):
            created.append(default_name(table))
        for n in range(months_ahead + 1):
            month = add_months(first, n)
            if partition_name(table, month) not in existing and _create(engine, table, month):
                created.append(partition_name(table, month))
    if created:
        log.info("partitions created: %s", ", ".join(created))
    return created


def _create(engine: sa.Engine, table: str, month: datetime | None) -> bool:
    """Create one partition (``month`` None: the default one) in a transaction; False if it existed."""
    try:
        with engine.begin() as conn:
            lock_partitions(conn)
            return create_partition(conn, table, month)
    except DBAPIError as exc:
        if getattr(exc.orig, "sqlstate", None) in _ALREADY_DONE:  # a concurrent creator got there first
            return False
        raise


def lock_partitions(conn: sa.Connection) -> None:
    """Serialise partition changes of this schema across servers for the rest of the transaction."""
    conn.execute(sa.text(f"SET LOCAL lock_timeout = {LOCK_TIMEOUT_MS}"))
    conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext('tracker.partitions:' || current_schema()))"))


def create_partition(conn: sa.Connection, table: str, month: datetime | None) -> bool:
    """Create ``table``'s partition of ``month`` (None: the default one) in the caller's transaction.

    Rows of that month in the default partition move into the new one. Returns False when it exists.
    The migration calls this on a table no one else can see yet; the service through :func:`_create`.
    """
    name = default_name(table) if month is None else partition_name(table, month)
    if conn.execute(sa.text("SELECT to_regclass(:n)"), {"n": name}).scalar() is not None:
        return False
    if month is None:
        conn.execute(sa.text(f'CREATE TABLE "{name}" PARTITION OF "{table}" DEFAULT'))
        return True
    lower, upper = month, add_months(month, 1)
    bound = f"FOR VALUES FROM ('{lower.isoformat(' ')}') TO ('{upper.isoformat(' ')}')"
    default = default_name(table)
    if conn.execute(sa.text("SELECT to_regclass(:n)"), {"n": default}).scalar() is None:
        conn.execute(sa.text(f'CREATE TABLE "{name}" PARTITION OF "{table}" {bound}'))
        return True
    # Made apart and then attached, not CREATE ... PARTITION OF: attaching needs only SHARE UPDATE
    # EXCLUSIVE on the parent, so redirects' inserts and reports' reads go on meanwhile; only the
    # default partition is locked (ACCESS EXCLUSIVE: its rows of the month move, then PostgreSQL checks
    # it holds none), and it is empty or nearly so. The ts CHECK lets ATTACH skip scanning the new table.
    conn.execute(sa.text(f'LOCK TABLE "{default}" IN ACCESS EXCLUSIVE MODE'))
    conn.execute(sa.text(f'CREATE TABLE "{name}" (LIKE "{table}")'))
    conn.execute(sa.text(f'ALTER TABLE "{name}" ADD CONSTRAINT "{name}_ts" '
                         f"CHECK (ts >= '{lower.isoformat(' ')}' AND ts < '{upper.isoformat(' ')}')"))
    columns = ", ".join(f'"{c}"' for c in conn.execute(sa.text(
        "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(:t) AND attnum > 0 AND NOT attisdropped "
        "ORDER BY attnum"), {"t": table}).scalars())
    moved = conn.execute(sa.text(
        f'WITH moved AS (DELETE FROM "{default}" WHERE ts >= :lo AND ts < :hi RETURNING {columns}) '
        f'INSERT INTO "{name}" ({columns}) SELECT {columns} FROM moved'), {"lo": lower, "hi": upper}).rowcount
    conn.execute(sa.text(f'ALTER TABLE "{table}" ATTACH PARTITION "{name}" {bound}'))
    conn.execute(sa.text(f'ALTER TABLE "{name}" DROP CONSTRAINT "{name}_ts"'))  # the bound says it now
    if moved:
        log.info("moved %d rows of %s from %s into %s", moved, f"{lower:%Y-%m}", default, name)
    return True


def expired_partitions(conn: sa.Connection, table: str, before: datetime) -> list[Partition]:
    """Return ``table``'s monthly partitions that hold only rows older than ``before`` (upper bound <= it).

    ``before`` may be aware (converted to naive UTC) or naive UTC. The default partition is never
    returned: its rows are purged one by one like those of the month that straddles the cut-off.
    """
    if before.tzinfo is not None:
        before = before.astimezone(UTC).replace(tzinfo=None)
    return [p for p in list_partitions(conn, table) if p.upper is not None and p.upper <= before]


def drop_partition(conn: sa.Connection, partition: Partition) -> None:
    """Drop a monthly partition and its rows in the caller's transaction (under the schema's lock)."""
    if partition.is_default:
        raise ValueError(f"{partition.name} is the default partition of {partition.table}: it is never dropped")
    _check_table(partition.table)
    lock_partitions(conn)
    if conn.execute(sa.text("SELECT to_regclass(:n)"), {"n": partition.name}).scalar() is not None:
        conn.execute(sa.text(f'DROP TABLE "{partition.name}"'))
