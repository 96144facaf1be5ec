"""A throwaway database for a benchmark script: a SQLite file, or a PostgreSQL schema dropped afterwards.

Used by ``bench/privacy/drop_cost.py`` and ``bench/redirect/key_triggers.py`` (they put the repository
root on ``sys.path`` to import it). Loopback servers only, as every benchmark.
"""
from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from tracker.config import normalise_database_url
from tracker.db import make_engine


@contextmanager
def scratch_schema(url: str, prefix: str = "trk_bench") -> Iterator[str]:
    """Create a schema ``<prefix>_<random>`` on the server of ``url``; yield a URL that works in it; drop it."""
    base = normalise_database_url(url, ".")
    schema = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = make_engine(base)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@contextmanager
def scratch_database(url: str | None, name: str) -> Iterator[str]:
    """A new SQLite file ``<name>.db`` in a temporary folder when ``url`` is None, else :func:`scratch_schema`."""
    if url is None:
        yield f"sqlite:///{tempfile.mkdtemp(prefix=f'bench-{name}-')}/{name}.db"
        return
    with scratch_schema(url) as scratch:
        yield scratch
