"""Show that a one-month read of the touch tables scans only that month's partition (README "PostgreSQL partitions").

Usage::

    .venv/bin/python tools/explain_partitions.py postgresql://postgres@127.0.0.1:5432/test [--rows 3000000]

In a throwaway schema of the given database (dropped at the end, whatever happens) it migrates to the
newest revision, makes the partitions of twelve months, fills ``clicks`` and ``landing_visits`` with
``--rows`` rows each spread evenly over those months (``generate_series``), runs ANALYZE, and prints
``EXPLAIN (ANALYZE, BUFFERS)`` of the attribution report's read of one month of each table.
"""
from __future__ import annotations

import argparse
import sys
import time
import uuid
from datetime import UTC, datetime

import sqlalchemy as sa

from tracker.config import normalise_database_url
from tracker.db import make_engine
from tracker.migrate import upgrade
from tracker.partitions import ensure_partitions

FIRST, MONTHS = datetime(2026, 1, 1), 12
READS = {
    "clicks": "SELECT person_id, ts, tid, utm_source, utm_medium, link_id, via FROM clicks "
              "WHERE ts >= '2026-06-01' AND ts < '2026-07-01' AND NOT is_bot",
    "landing_visits": "SELECT person_id, ts, id, utm_source, utm_medium, utm_campaign, referrer_host, page "
                      "FROM landing_visits WHERE ts >= '2026-06-01' AND ts < '2026-07-01' AND is_touch AND NOT is_bot",
}


def fill(conn: sa.Connection, rows: int) -> None:
    """Insert ``rows`` clicks and landing visits spread evenly over the twelve months (a year has 8,760 hours)."""
    spread = f"timestamp '{FIRST:%Y-%m-%d}' + (g * (365 * 86400.0 / {rows})) * interval '1 second'"
    conn.execute(sa.text(
        "INSERT INTO links (id, code, destination, utm_source, utm_medium, utm_campaign, extra_params, kind, label, "
        "disabled, fingerprint, created_at, updated_at) SELECT n, 'l' || n, 'https://example.com/', 'news', "
        "'email', 'spring', '{}', 'link', '', false, 'f', now(), now() FROM generate_series(1, 50) n"))
    conn.execute(sa.text(
        "INSERT INTO clicks (tid, ts, link_id, via, outcome, visitor_id, person_id, is_bot, utm_source, utm_medium) "
        f"SELECT md5(g::text), {spread}, 1 + g % 50, CASE WHEN g % 5 = 0 THEN 'qr' ELSE 'link' END, 'redirect', "
        "'v' || (g % 400000), 'p' || (g % 400000), g % 20 = 0, 'news', 'email' "
        f"FROM generate_series(0, {rows - 1}) g"))
    conn.execute(sa.text(
        "INSERT INTO landing_visits (ts, person_id, site_visitor_id, is_touch, page, referrer_host, utm_source, "
        f"utm_medium, utm_campaign, is_bot) SELECT {spread}, 'p' || (g % 400000), 's' || (g % 400000), g % 3 <> 0, "
        "'example.com/p' || (g % 40), 'www.google.com', 'news', 'email', 'spring', g % 20 = 0 "
        f"FROM generate_series(0, {rows - 1}) g"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", help="a PostgreSQL URL (a throwaway schema is made in it and dropped)")
    parser.add_argument("--rows", type=int, default=3_000_000, help="rows per table (default 3,000,000)")
    args = parser.parse_args(argv)
    if not args.url.startswith("postgresql"):
        parser.error("the URL must be a postgresql:// URL: partitions exist only on PostgreSQL")
    if args.rows < 12:
        parser.error("--rows must be at least 12 (one per month)")
    schema = f"trk_explain_{uuid.uuid4().hex[:10]}"
    admin = make_engine(normalise_database_url(args.url, "."))
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in args.url else "?"
    engine = make_engine(normalise_database_url(f"{args.url}{sep}options=-csearch_path%3D{schema}", "."))
    try:
        upgrade(engine)
        ensure_partitions(engine, datetime(FIRST.year, FIRST.month, 1, tzinfo=UTC), months_ahead=MONTHS - 1)
        started = time.monotonic()
        with engine.begin() as conn:
            fill(conn, args.rows)
        with engine.begin() as conn:
            conn.execute(sa.text("ANALYZE clicks"))
            conn.execute(sa.text("ANALYZE landing_visits"))
            version = conn.execute(sa.text("SHOW server_version")).scalar()
        print(f"PostgreSQL {version}; {args.rows:,} rows per table over {MONTHS} months, "
              f"filled and analysed in {time.monotonic() - started:.0f} s\n")
        with engine.connect() as conn:
            for table, sql in READS.items():
                print(f"-- {table}: one month\n{sql};")
                for line in conn.execute(sa.text("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + sql)).scalars():
                    print(line)
                print()
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
