"""What erasure tombstones cost the click drain: ``drop_erased`` on one 2,000-line batch.

    .venv/bin/python bench/privacy/drop_cost.py                        # a temporary SQLite file
    .venv/bin/python bench/privacy/drop_cost.py postgresql://postgres@127.0.0.1:5432/test

Median of 20 calls, with no tombstone and then with 10,000 (2,000 distinct visitors per batch: the
worst case, real traffic repeats visitors). On PostgreSQL it works in a schema of its own, dropped
at the end (``bench/pg_schema.py``). Loopback only.
"""
from __future__ import annotations

import secrets
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root: bench/pg_schema.py

import tracker.models  # noqa: E402, F401 (every table)
from bench.pg_schema import scratch_database  # noqa: E402
from tracker.db import make_engine  # noqa: E402
from tracker.migrate import upgrade  # noqa: E402
from tracker.privacy.erasure import drop_erased, tombstone  # noqa: E402
from tracker.privacy.models import ErasedId  # noqa: E402

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
    with scratch_database(url, "drop_cost") as db_url:
        engine = make_engine(db_url)
        try:
            upgrade(engine)
            now = datetime.now(UTC)
            records = [{"tid": secrets.token_urlsafe(15), "ts": now.isoformat(), "via": "link", "link": 1,
                        "vid": secrets.token_urlsafe(16)} for _ in range(BATCH)]
            print(f"{engine.dialect.name}: no tombstones {measure(engine, records):.2f} ms per {BATCH:,} lines")
            with Session(engine) as session:
                session.execute(sa.insert(ErasedId), [{"hash": tombstone("visitor", secrets.token_urlsafe(16)),
                                                       "erased_at": now} for _ in range(TOMBSTONES)])
                session.commit()
            print(f"{engine.dialect.name}: {TOMBSTONES:,} tombstones {measure(engine, records):.2f} ms "
                  f"per {BATCH:,} lines")
        finally:
            engine.dispose()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else None)
