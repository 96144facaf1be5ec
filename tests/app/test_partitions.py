"""Monthly partitions of clicks and landing_visits on PostgreSQL (migration 0006, tracker/partitions.py).

Each test runs in a PostgreSQL schema of its own (dropped afterwards) on the server named by
TRACKER_TEST_POSTGRES_URL; without it they skip. The migration's no-op on SQLite is checked there too.
"""
from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from pg_support import postgres_schema
from sqlalchemy.orm import Session

from tracker.config import load_settings
from tracker.db import make_engine
from tracker.migrate import current_revision, downgrade, upgrade
from tracker.partitions import (
    add_months,
    default_name,
    drop_partition,
    ensure_partitions,
    expired_partitions,
    list_partitions,
    month_of,
    partition_name,
)
from tracker.privacy.retention import purge
from tracker.redirects.capture import write_batch

CHROME = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"
# A row's whole text, in the columns' order, hashed over the table: equal before and after means every
# value of every row survived (the migration keeps the column order: CREATE TABLE ... LIKE).
CHECKSUM = {"clicks": "SELECT count(*), md5(string_agg(t::text, '|' ORDER BY t.tid)) FROM clicks t",
            "landing_visits": "SELECT count(*), md5(string_agg(t::text, '|' ORDER BY t.id)) FROM landing_visits t"}

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_url() -> Iterator[str]:
    """An empty PostgreSQL schema of its own (no migration run yet)."""
    with postgres_schema("trk_part") as url:
        yield url


@pytest.fixture
def engine(pg_url: str) -> Iterator[sa.Engine]:
    eng = make_engine(pg_url)
    yield eng
    eng.dispose()


@pytest.fixture
def migrated(engine: sa.Engine) -> sa.Engine:
    """The schema at the newest revision, with one link (clicks reference links)."""
    upgrade(engine)
    _add_link(engine)
    return engine


def _add_link(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO links (id, code, destination, utm_source, utm_medium, utm_campaign, extra_params, kind, "
            "label, disabled, fingerprint, created_at, updated_at) VALUES (1, 'abc', 'https://example.com/', "
            "'news', 'email', 'spring', '{}', 'link', '', false, 'f', now(), now())"))


def _add_clicks(conn: sa.Connection, times: list[datetime], prefix: str = "c") -> list[str]:
    tids = [f"{prefix}{n:019d}" for n in range(len(times))]
    conn.execute(sa.text(
        "INSERT INTO clicks (tid, ts, link_id, via, outcome, visitor_id, person_id, user_agent, is_bot, utm_source) "
        "VALUES (:tid, :ts, 1, 'link', 'redirect', :vid, :person, :ua, false, 'news')"),
        [{"tid": tid, "ts": ts, "vid": f"v{n % 7}", "person": f"p{n % 11}", "ua": CHROME}
         for n, (tid, ts) in enumerate(zip(tids, times, strict=True))])
    return tids


def _add_visits(conn: sa.Connection, times: list[datetime]) -> None:
    conn.execute(sa.text(
        "INSERT INTO landing_visits (ts, person_id, site_visitor_id, is_touch, page, utm_source, is_bot) "
        "VALUES (:ts, :person, :site, true, 'example.com/x', 'news', false)"),
        [{"ts": ts, "person": f"p{n % 11}", "site": f"s{n}"} for n, ts in enumerate(times)])


def _spread(first: datetime, months: int, per_month: int) -> list[datetime]:
    """``per_month`` naive UTC times in each of ``months`` months from ``first``, first and last instants included."""
    times = []
    for m in range(months):
        lo, hi = add_months(first, m), add_months(first, m + 1)
        step = (hi - lo) / per_month
        times += [lo + step * k for k in range(per_month)] + [hi - timedelta(microseconds=1)]
    return times


def _where(conn: sa.Connection, table: str) -> dict[str, int]:
    """Rows per partition of ``table``."""
    rows = conn.execute(sa.text(f"SELECT tableoid::regclass::text, count(*) FROM {table} GROUP BY 1")).all()
    return {name.split(".")[-1].strip('"'): n for name, n in rows}


def _relkind(conn: sa.Connection, table: str) -> str:
    return conn.execute(sa.text("SELECT relkind FROM pg_class WHERE oid = to_regclass(:t)"), {"t": table}).scalar()


def _pk(conn: sa.Connection, table: str) -> list[str]:
    return list(conn.execute(sa.text(
        "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) "
        "WHERE i.indrelid = to_regclass(:t) AND i.indisprimary ORDER BY array_position(i.indkey, a.attnum)"),
        {"t": table}).scalars())


# ---- (1) the migration keeps every row ------------------------------------------------------------

def test_migration_0006_keeps_every_row_and_the_keys_hold_ts(engine: sa.Engine) -> None:
    upgrade(engine, "0005")
    _add_link(engine)
    now = month_of(datetime.now(UTC))
    times = _spread(add_months(now, -14), 15, 40)
    # A clock far off both ways: the one far back lies beyond the ten years of partitions, the one
    # ahead beyond the months ahead; both must survive (in the default partition).
    odd = [datetime(1999, 12, 31, 23, 59, 59), datetime(2099, 1, 2, 3, 4, 5)]
    # A lone month nine years back gets a partition of its own; the years between get none.
    lone = add_months(now, -108) + timedelta(days=5)
    with engine.begin() as conn:
        _add_clicks(conn, times + odd + [lone])
        _add_visits(conn, times + odd + [lone])
        conn.execute(sa.text("UPDATE clicks SET utm_campaign = NULL, referrer_host = 'x.example' WHERE ts < :t"),
                     {"t": add_months(now, -7)})
        before = {t: tuple(conn.execute(sa.text(q)).one()) for t, q in CHECKSUM.items()}
        last_id = conn.execute(sa.text("SELECT max(id) FROM landing_visits")).scalar()
    assert before["clicks"][0] == len(times) + 3

    upgrade(engine, "0006")

    assert current_revision(engine) == "0006"
    with engine.begin() as conn:
        assert {t: tuple(conn.execute(sa.text(q)).one()) for t, q in CHECKSUM.items()} == before
        for table in ("clicks", "landing_visits"):
            assert _relkind(conn, table) == "p"
            assert _relkind(conn, f"{table}_old") is None
            names = [p.name for p in list_partitions(conn, table)]
            months = [partition_name(table, add_months(now, n)) for n in (-108, *range(-14, 4))]
            assert names == [*months, default_name(table)]
            where = _where(conn, table)
            assert where[default_name(table)] == 2  # the two odd rows, kept
            assert where[partition_name(table, month_of(lone))] == 1
            assert sum(where.values()) == len(times) + 3
        assert _pk(conn, "clicks") == ["tid", "ts"]
        assert _pk(conn, "landing_visits") == ["id", "ts"]
        indexes = set(conn.execute(sa.text(
            "SELECT indexrelid::regclass::text FROM pg_index WHERE indrelid IN ('clicks'::regclass, "
            "'landing_visits'::regclass)")).scalars())
        assert indexes == {"pk_clicks", "ix_clicks_ts", "ix_clicks_link_ts", "ix_clicks_visitor_id",
                           "ix_clicks_person_ts", "pk_landing_visits", "ix_landing_visits_ts",
                           "ix_landing_visits_tid", "ix_landing_visits_person_ts"}
        # The id sequence went on where it stood, and still belongs to the table.
        new_id = conn.execute(sa.text(
            "INSERT INTO landing_visits (ts, person_id, site_visitor_id, is_touch, is_bot) "
            "VALUES (now(), 'p', 's', true, false) RETURNING id")).scalar()
        assert new_id == last_id + 1
        assert conn.execute(sa.text("SELECT pg_get_serial_sequence('landing_visits', 'id')")).scalar()
        # The foreign key to links came along.
        with pytest.raises(sa.exc.IntegrityError):
            with conn.begin_nested():
                conn.execute(sa.text("INSERT INTO clicks (tid, ts, link_id, via, outcome, is_bot) "
                                     "VALUES ('nolink', now(), 999, 'link', 'redirect', false)"))


def test_downgrade_from_0006_converts_back_with_every_row(engine: sa.Engine) -> None:
    upgrade(engine, "0005")
    _add_link(engine)
    now = month_of(datetime.now(UTC))
    with engine.begin() as conn:
        _add_clicks(conn, _spread(add_months(now, -3), 4, 25) + [datetime(2099, 5, 5)])
        _add_visits(conn, _spread(add_months(now, -3), 4, 25))
        before = {t: tuple(conn.execute(sa.text(q)).one()) for t, q in CHECKSUM.items()}
    upgrade(engine, "0006")
    downgrade(engine, "0005")
    with engine.begin() as conn:
        assert {t: tuple(conn.execute(sa.text(q)).one()) for t, q in CHECKSUM.items()} == before
        assert _relkind(conn, "clicks") == _relkind(conn, "landing_visits") == "r"
        assert _pk(conn, "clicks") == ["tid"] and _pk(conn, "landing_visits") == ["id"]
        assert conn.execute(sa.text("SELECT to_regclass('clicks_default')")).scalar() is None


def test_the_drain_stays_idempotent_on_partitioned_clicks(migrated: sa.Engine) -> None:
    """A spooled line written twice (a replay) is stored once: the (tid, ts) key still catches it."""
    now = datetime.now(UTC)
    lines = [{"tid": f"drain{n:015d}", "ts": (now - timedelta(minutes=n)).isoformat(), "via": "link", "link": 1,
              "vid": f"v{n}", "ua": CHROME, "ip": "0" * 32} for n in range(5)]
    with Session(migrated) as s:
        assert write_batch(s, lines, ZoneInfo("UTC")) == 5
    with Session(migrated) as s:
        assert write_batch(s, lines[2:] + [{**lines[0], "tid": "drain-new0000000001"}], ZoneInfo("UTC")) == 1
    with migrated.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*), count(DISTINCT tid) FROM clicks")).one() == (6, 6)
        assert conn.execute(sa.text("SELECT sum(clicks) FROM link_daily_stats")).scalar() == 6
        # Even a straight insert of a stored (tid, ts) is refused by the key.
        with pytest.raises(sa.exc.IntegrityError):
            conn.execute(sa.text("INSERT INTO clicks (tid, ts, link_id, via, outcome, is_bot) "
                                 "SELECT tid, ts, link_id, via, outcome, is_bot FROM clicks LIMIT 1"))


def test_migration_0006_changes_nothing_on_sqlite(tmp_path: Any) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'p.db'}")
    try:
        upgrade(engine, "0006")
        assert current_revision(engine) == "0006"
        with engine.connect() as conn:
            assert ensure_partitions(engine, datetime.now(UTC)) == []
            assert list_partitions(conn, "clicks") == []
            assert sa.inspect(conn).get_pk_constraint("clicks")["constrained_columns"] == ["tid"]
    finally:
        engine.dispose()


# ---- (2) months ahead: created, idempotent, concurrent-safe ----------------------------------------

def test_ensure_partitions_creates_the_months_ahead_once(migrated: sa.Engine) -> None:
    now = datetime(2040, 1, 31, 23, 30, tzinfo=UTC)
    expected = [partition_name(t, datetime(2040, m, 1)) for t in ("clicks", "landing_visits") for m in (1, 2, 3, 4)]
    assert ensure_partitions(migrated, now) == expected
    assert ensure_partitions(migrated, now) == []
    assert ensure_partitions(migrated, now, months_ahead=4) == [partition_name("clicks", datetime(2040, 5, 1)),
                                                                partition_name("landing_visits", datetime(2040, 5, 1))]
    with migrated.connect() as conn:
        bounds = {(p.lower, p.upper) for p in list_partitions(conn, "clicks") if p.name.startswith("clicks_p2040")}
    assert bounds == {(datetime(2040, m, 1), datetime(2040, m + 1, 1)) for m in range(1, 6)}


def test_ensure_partitions_from_several_servers_at_once(pg_url: str, migrated: sa.Engine) -> None:
    now = datetime(2041, 6, 15, tzinfo=UTC)
    engines = [make_engine(pg_url) for _ in range(6)]
    start = threading.Barrier(len(engines))
    results: list[list[str]] = []
    errors: list[BaseException] = []

    def server(eng: sa.Engine) -> None:
        try:
            start.wait(10)
            results.append(ensure_partitions(eng, now, months_ahead=5))
        except BaseException as exc:  # reported below: a thread's exception would vanish otherwise
            errors.append(exc)

    threads = [threading.Thread(target=server, args=(e,)) for e in engines]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for e in engines:
        e.dispose()
    assert errors == [] and len(results) == len(engines)
    made = sorted(name for result in results for name in result)
    expected = sorted(partition_name(t, add_months(datetime(2041, 6, 1), n))
                      for t in ("clicks", "landing_visits") for n in range(6))
    assert made == expected  # each created exactly once, by one of them


def test_ensure_partitions_refuses_bad_arguments(migrated: sa.Engine) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        ensure_partitions(migrated, datetime(2040, 1, 1))
    for bad in (-1, 121, 1.5, True):
        with pytest.raises(ValueError, match="months_ahead must be a whole number from 0 to 120"):
            ensure_partitions(migrated, datetime(2040, 1, 1, tzinfo=UTC), months_ahead=bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not a partitioned table"):
        partition_name("conversions", datetime(2040, 1, 1))


# ---- (3) the default partition -----------------------------------------------------------------------

def test_rows_outside_the_months_wait_in_the_default_partition_and_move_in(migrated: sa.Engine) -> None:
    ahead, back = datetime(2045, 3, 10, 12), datetime(1990, 7, 1)
    with migrated.begin() as conn:
        _add_clicks(conn, [ahead, ahead + timedelta(days=25), back, datetime(2045, 5, 1)], prefix="d")
        _add_visits(conn, [ahead, back])
        before = {t: tuple(conn.execute(sa.text(q)).one()) for t, q in CHECKSUM.items()}
        assert _where(conn, "clicks") == {"clicks_default": 4}
        assert _where(conn, "landing_visits") == {"landing_visits_default": 2}

    created = ensure_partitions(migrated, datetime(2045, 2, 1, tzinfo=UTC), months_ahead=2)

    assert "clicks_p2045_03" in created and "landing_visits_p2045_03" in created
    with migrated.begin() as conn:
        assert {t: tuple(conn.execute(sa.text(q)).one()) for t, q in CHECKSUM.items()} == before
        # 2045-03 and 2045-04 moved in; 1990 stays in the default (nobody creates that month), and so does
        # 2045-05, beyond the months asked for.
        assert _where(conn, "clicks") == {"clicks_p2045_03": 1, "clicks_p2045_04": 1, "clicks_default": 2}
        assert _where(conn, "landing_visits") == {"landing_visits_p2045_03": 1, "landing_visits_default": 1}
        # The moved-in partition has every index of the table, and no left-over check constraint.
        indexes = conn.execute(sa.text("SELECT count(*) FROM pg_index WHERE indrelid = 'clicks_p2045_03'::regclass"))
        assert indexes.scalar() == 5
        assert conn.execute(sa.text("SELECT count(*) FROM pg_constraint WHERE conrelid = 'clicks_p2045_03'::regclass "
                                    "AND contype = 'c'")).scalar() == 0
        # New rows of the month go straight to its partition now.
        _add_clicks(conn, [datetime(2045, 3, 11)], prefix="e")
        assert _where(conn, "clicks")["clicks_p2045_03"] == 2


# ---- (4) the retention purge drops whole expired months -------------------------------------------------

def test_retention_drops_expired_months_and_deletes_only_the_straddling_rows(pg_url: str, migrated: sa.Engine) -> None:
    now = datetime(2042, 6, 10, 12, tzinfo=UTC)
    ensure_partitions(migrated, datetime(2042, 1, 1, tzinfo=UTC), months_ahead=6)  # 2042-01 .. 2042-07
    times = _spread(datetime(2042, 1, 1), 6, 10)  # 11 per month, 2042-01 .. 2042-06
    with migrated.begin() as conn:
        tids = _add_clicks(conn, times + [datetime(1995, 1, 1)], prefix="r")
        _add_visits(conn, times)
        # The click identities of cookie-less clicks (the purge removes them with their clicks).
        conn.execute(sa.text("INSERT INTO identities (kind, value, person_id, first_seen) "
                             "VALUES ('click', :v, 'pc', now())"), [{"v": t} for t in tids])
    settings = load_settings({"secret_key": "s", "ip_hash_secret": "i", "database_url": pg_url,
                              "click_retention_days": 100})
    cut = (now - timedelta(days=100)).replace(tzinfo=None)  # 2042-03-02 12:00: March straddles it
    kept = [t for t in times if t >= cut]
    with Session(migrated) as s:
        counts = purge(s, settings, now=now, batch=7)
    assert counts == {"clicks": len(times) + 1 - len(kept), "orphan_visits": 0,
                      "landing_visits": len(times) - len(kept)}
    with migrated.connect() as conn:
        for table in ("clicks", "landing_visits"):
            names = [p.name for p in list_partitions(conn, table)]
            assert names == [partition_name(table, datetime(2042, m, 1)) for m in range(3, 8)] + [default_name(table)]
            assert conn.execute(sa.text(f"SELECT count(*), min(ts) FROM {table}")).one() == (len(kept), min(kept))
        left = set(conn.execute(sa.text("SELECT value FROM identities WHERE kind = 'click'")).scalars())
        assert left == set(conn.execute(sa.text("SELECT tid FROM clicks")).scalars())
        assert expired_partitions(conn, "clicks", now - timedelta(days=100)) == []
    with Session(migrated) as s:
        assert purge(s, settings, now=now) == {"clicks": 0, "orphan_visits": 0, "landing_visits": 0}


def test_a_busy_month_is_purged_row_by_row_and_dropped_next_time(pg_url: str, migrated: sa.Engine) -> None:
    ensure_partitions(migrated, datetime(2043, 1, 1, tzinfo=UTC), months_ahead=2)
    with migrated.begin() as conn:
        _add_clicks(conn, [datetime(2043, 1, 5), datetime(2043, 3, 5)], prefix="b")
    settings = load_settings({"secret_key": "s", "ip_hash_secret": "i", "database_url": pg_url,
                              "click_retention_days": 30})
    now = datetime(2043, 3, 20, tzinfo=UTC)
    reader = make_engine(pg_url)
    try:
        with reader.connect() as held:  # a long report reading January holds a lock the drop needs
            held.execute(sa.text("SELECT count(*) FROM clicks_p2043_01"))
            with Session(migrated) as s:
                assert purge(s, settings, now=now)["clicks"] == 1  # deleted row by row instead
            held.rollback()
    finally:
        reader.dispose()
    with migrated.connect() as conn:
        assert "clicks_p2043_01" in {p.name for p in list_partitions(conn, "clicks")}
    with Session(migrated) as s:
        assert purge(s, settings, now=now)["clicks"] == 0
    with migrated.connect() as conn:
        assert "clicks_p2043_01" not in {p.name for p in list_partitions(conn, "clicks")}
        assert conn.execute(sa.text("SELECT count(*) FROM clicks")).scalar() == 1


def test_the_default_partition_is_never_dropped(migrated: sa.Engine) -> None:
    with migrated.begin() as conn:
        default = next(p for p in list_partitions(conn, "clicks") if p.is_default)
        with pytest.raises(ValueError, match="never dropped"):
            drop_partition(conn, default)


# ---- (5) partition pruning ----------------------------------------------------------------------------

def _scanned(plan: dict[str, Any]) -> list[tuple[str, str]]:
    """(node type, relation) of every scan in an EXPLAIN (FORMAT JSON) plan tree."""
    found = [(plan["Node Type"], plan["Relation Name"])] if "Relation Name" in plan else []
    for child in plan.get("Plans", []):
        found += _scanned(child)
    return found


REPORT_READS = {
    # What the attribution report reads of each touch table over its window (tracker/reports/loading.py).
    "clicks": "SELECT c.person_id, c.ts, c.tid, c.utm_source, c.utm_medium, c.link_id, c.via FROM clicks c "
              "WHERE c.ts >= :lo AND c.ts < :hi AND NOT c.is_bot",
    "landing_visits": "SELECT v.person_id, v.ts, v.id, v.utm_source, v.utm_medium, v.utm_campaign, v.referrer_host, "
                      "v.page FROM landing_visits v WHERE v.ts >= :lo AND v.ts < :hi AND v.is_touch AND NOT v.is_bot",
}


@pytest.mark.parametrize("table", ["clicks", "landing_visits"])
@pytest.mark.parametrize("with_conversions", [False, True])
def test_a_one_month_read_scans_only_that_months_partition(migrated: sa.Engine, table: str,
                                                           with_conversions: bool) -> None:
    ensure_partitions(migrated, datetime(2044, 1, 1, tzinfo=UTC), months_ahead=5)
    times = _spread(datetime(2044, 1, 1), 6, 200)
    with migrated.begin() as conn:
        _add_clicks(conn, times, prefix="x")
        _add_visits(conn, times)
        conn.execute(sa.text(f"ANALYZE {table}"))
    sql = REPORT_READS[table]
    if with_conversions:  # the touches of the people who converted, as the report joins them
        alias = sql.split(" FROM ")[1].split()[1]
        sql = sql.replace(f" WHERE {alias}.ts", f" JOIN conversions k ON k.person_id = {alias}.person_id "
                                                 f"WHERE {alias}.ts")
    with migrated.connect() as conn:
        for lo, hi, months in ((datetime(2044, 3, 1), datetime(2044, 4, 1), [3]),
                               (datetime(2044, 3, 20), datetime(2044, 5, 2), [3, 4, 5])):
            plan = conn.execute(sa.text("EXPLAIN (FORMAT JSON) " + sql), {"lo": lo, "hi": hi}).scalar()
            scans = [(node, rel) for node, rel in _scanned(plan[0]["Plan"]) if rel.startswith(table)]
            assert sorted({rel for _, rel in scans}) == [partition_name(table, datetime(2044, m, 1)) for m in months]
            assert not any(node == "Seq Scan" and rel not in {partition_name(table, datetime(2044, m, 1))
                                                                for m in months} for node, rel in scans)


def test_the_retention_thread_makes_the_months_ahead_even_with_retention_off(pg_url: str, migrated: sa.Engine,
                                                                             tmp_path: Any) -> None:
    from sqlalchemy.orm import sessionmaker

    from tracker.privacy.retention import RetentionScheduler
    settings = load_settings({"secret_key": "s", "ip_hash_secret": "i", "database_url": pg_url})
    assert settings.click_retention_days == 0
    scheduler = RetentionScheduler(sessionmaker(migrated), settings, tmp_path / "retention.lock")
    assert scheduler.maintain_partitions(datetime(2046, 2, 3, tzinfo=UTC)) == [
        partition_name(t, datetime(2046, m, 1)) for t in ("clicks", "landing_visits") for m in (2, 3, 4, 5)]
    scheduler.ensure()  # PostgreSQL: the thread starts (on SQLite it stays off while retention is off)
    try:
        assert scheduler._thread is not None and scheduler._thread.is_alive()
    finally:
        scheduler.stop()
    assert not scheduler._thread.is_alive()
