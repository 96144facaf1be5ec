"""What the report key triggers (migration 0013) cost the click drain: ``write_batch`` with and without them.

    .venv/bin/python bench/redirect/key_triggers.py                        # a temporary SQLite file
    .venv/bin/python bench/redirect/key_triggers.py postgresql://postgres@127.0.0.1:5432/test

One store, migrated as the service migrates it, and one link. Each round writes two batches of
``BATCH`` spool lines through the drain's own writer (``tracker.redirects.capture.write_batch``, one
transaction: clicks, people, daily and country aggregates, webhook events): one with the key triggers
in place and one with them dropped (their definitions are read back from the database and created
again), the order alternating from round to round. Every line is a new click of a new visitor, with
UTM values from a small vocabulary (so most keys exist already, as in steady traffic). Prints the
median milliseconds per batch of each and their ratio. On PostgreSQL it works in a schema of its own,
dropped at the end (``bench/pg_schema.py``). Loopback only.
"""
from __future__ import annotations

import secrets
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root: bench/pg_schema.py

from bench.pg_schema import scratch_database  # noqa: E402
from tracker import create_app  # noqa: E402
from tracker.db import get_db  # noqa: E402
from tracker.links.models import Link  # noqa: E402
from tracker.migrate import upgrade  # noqa: E402
from tracker.redirects.capture import write_batch  # noqa: E402

BATCH, ROUNDS = 2000, 12
DESKTOP = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
           "Chrome/124.0.0.0 Safari/537.36")
SOURCES, MEDIUMS = ("newsletter", "linkedin", "facebook", "podcast", "google"), ("email", "social", "cpc")


def triggers(engine: sa.Engine) -> list[tuple[str, str, str]]:
    """(name, table, CREATE statement) of each key trigger, as the database holds it."""
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            rows = conn.execute(sa.text("SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'trigger' "
                                        "AND name LIKE 'trg_%_keys_%'"))
        else:
            rows = conn.execute(sa.text("SELECT t.tgname, c.relname, pg_get_triggerdef(t.oid) FROM pg_trigger t "
                                        "JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON "
                                        "n.oid = c.relnamespace WHERE t.tgname LIKE 'trg_%_keys_%' AND NOT "
                                        "t.tgisinternal AND n.nspname = current_schema()"))
        return [tuple(r) for r in rows]


def set_triggers(engine: sa.Engine, found: list[tuple[str, str, str]], on: bool) -> None:
    with engine.begin() as conn:
        for name, table, create in found:
            exists = (f"SELECT 1 FROM sqlite_master WHERE type = 'trigger' AND name = '{name}'"
                      if engine.dialect.name == "sqlite" else
                      f"SELECT 1 FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid WHERE t.tgname = '{name}' "
                      f"AND c.relname = '{table}' AND c.relnamespace = current_schema()::regnamespace")
            present = conn.execute(sa.text(exists)).first() is not None
            if on and not present:
                conn.execute(sa.text(create))
            elif not on and present:
                conn.execute(sa.text(f'DROP TRIGGER "{name}"' + ("" if engine.dialect.name == "sqlite"
                                                                 else f' ON "{table}"')))
    assert len(triggers(engine)) == (len(found) if on else 0)


def lines(link: int, n: int) -> list[dict[str, Any]]:
    now = datetime.now(UTC).isoformat()
    return [{"tid": secrets.token_urlsafe(15), "ts": now, "via": "link", "link": link, "ua": DESKTOP,
             "vid": secrets.token_urlsafe(16), "ip": secrets.token_hex(16), "us": SOURCES[i % len(SOURCES)],
             "um": MEDIUMS[i % len(MEDIUMS)], "uc": "spring"} for i in range(n)]


def main(url: str | None) -> None:
    with scratch_database(url, "key_triggers") as db_url:
        folder = tempfile.mkdtemp(prefix="bench-key-triggers-")
        app = create_app({"database_url": db_url, "instance_path": f"{folder}/instance", "secret_key": "bench",
                          "ip_hash_secret": "bench", "SPOOL_BACKGROUND": False})
        try:
            measure(app)
        finally:
            get_db(app).engine.dispose()


def measure(app: Any) -> None:
    db = get_db(app)
    upgrade(db.engine)
    with db.Session() as session:
        link = Link(code="bench", destination="https://example.com/", utm_source="newsletter",
                    utm_medium="email", utm_campaign="spring", fingerprint="bench")
        session.add(link)
        session.commit()
        link_id = link.id
    found = triggers(db.engine)
    if not found:
        raise SystemExit("no key triggers found: is the database at migration 0013 or later?")
    tz = app.config["SETTINGS"].tz
    times: dict[bool, list[float]] = {True: [], False: []}
    for round_ in range(ROUNDS):
        for on in ((True, False) if round_ % 2 == 0 else (False, True)):
            set_triggers(db.engine, found, on)
            records = lines(link_id, BATCH)
            with db.Session() as session:
                start = time.perf_counter()
                assert write_batch(session, records, tz) == BATCH
                times[on].append(time.perf_counter() - start)
    set_triggers(db.engine, found, True)
    with_keys, without = (statistics.median(times[k]) * 1000 for k in (True, False))
    print(f"{db.engine.dialect.name}: {len(found)} key triggers; write_batch of {BATCH:,} new clicks, median of "
          f"{ROUNDS}: {with_keys:.1f} ms with them, {without:.1f} ms without (x {with_keys / without:.2f})")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else None)
