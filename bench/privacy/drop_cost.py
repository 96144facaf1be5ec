"""What erasure tombstones cost the click drain: ``drop_erased`` on one 2,000-line batch.

    .venv/bin/python bench/privacy/drop_cost.py                        # a temporary SQLite file
    .venv/bin/python bench/privacy/drop_cost.py postgresql://postgres@127.0.0.1:5432/test

Median of 20 calls, with no tombstone and then with 10,000 (2,000 distinct visitors per batch: the
worst case, real traffic repeats visitors). On PostgreSQL it works in a schema of its own, dropped
at the end. Loopback only.
"""
from __future__ import annotations

import secrets
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

import tracker.models  # noqa: F401 (every table)
from tracker.config import normalise_database_url
from tracker.db import make_engine
from tracker.migrate import upgrade
from tracker.privacy.erasure import drop_erased, tombstone
from tracker.privacy.models import ErasedId

BATCH, TOMBSTONES, RUNS = 2000, 10_000, 20


def measure(engine: sa.Engine, records: list[dict[str, object]]) -> float:
    runs = []
    for _ in range(RUNS):
        with Session(engine) as session:
            start = time.perf_counter()
            drop_erased(session, records)
            runs.append(time.perf_counter() - start)
    return statistics.median(runs) * 1000


def main(url: str | None) -> None:
    schema = None
    if url is None:
        url = f"sqlite:///{tempfile.mkdtemp()}/drop_cost.db"
    else:
        base = normalise_database_url(url, ".")
        schema = f"trk_bench_{uuid.uuid4().hex[:8]}"
        admin = make_engine(base)
        with admin.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        url = f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}"
    engine = make_engine(url)
    try:
        upgrade(engine)
        now = datetime.now(UTC)
        records = [{"tid": secrets.token_urlsafe(15), "ts": now.isoformat(), "via": "link", "link": 1,
                    "vid": secrets.token_urlsafe(16)} for _ in range(BATCH)]
        print(f"{engine.dialect.name}: no tombstones {measure(engine, records):.2f} ms per {BATCH:,} lines")
        with Session(engine) as session:
            session.execute(sa.insert(ErasedId), [
                {"hash": tombstone("visitor", secrets.token_urlsafe(16)), "erased_at": now} for _ in range(TOMBSTONES)])
            session.commit()
        print(f"{engine.dialect.name}: {TOMBSTONES:,} tombstones {measure(engine, records):.2f} ms per {BATCH:,} lines")
    finally:
        engine.dispose()
        if schema is not None:
            with admin.begin() as conn:
                conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else None)
