"""Database engine and session set-up, bound to an app in the factory."""
from __future__ import annotations

import math
from datetime import UTC, datetime
from functools import cache
from types import ModuleType
from typing import Any

import sqlalchemy as sa
from flask import Flask, current_app, g
from sqlalchemy import event
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING)


def utcnow() -> datetime:
    """Return the current time as a timezone-aware UTC datetime."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Store timestamps as naive UTC, hand them back timezone-aware (same on SQLite and PostgreSQL)."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column; use tracker.db.utcnow()")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


@cache
def sqlite_module() -> ModuleType:
    """The DB-API module the service opens SQLite databases with.

    ``pysqlite3`` (the ``pysqlite3-binary`` wheel, a recent SQLite: 3.51 where Debian 12's Python links
    3.40) where it is installed, which ``setup.cfg`` does on Linux x86_64, the only platform it has wheels
    for; else the standard library's ``sqlite3``. The report's statements run in markedly fewer
    instructions on the recent SQLite (docs/operations/reports-at-scale.md). Anything that opens the
    service's database file in the same process must use this module too: two copies of SQLite in one
    process do not see each other's POSIX locks (sqlite.org/howtocorrupt.html, 2.2.1).
    """
    try:
        from pysqlite3 import dbapi2
    except ImportError:
        import sqlite3

        return sqlite3
    return dbapi2


def make_engine(url: str, wait_seconds: float = 30.0, **kwargs: Any) -> sa.Engine:
    """Create an engine; SQLite gets WAL, a busy timeout and foreign keys, PostgreSQL small insert pages.

    ``wait_seconds`` bounds how long a statement waits for the database before failing with
    ``OperationalError``: SQLite's busy timeout (another writer holds the lock); on PostgreSQL the
    connect timeout, ``lock_timeout`` (a table or row locked by another session) and, against a network
    that swallows packets, ``tcp_user_timeout`` and TCP keepalives. The service passes its
    ``db_wait_seconds`` setting (docs/operations/durability.md); it does not limit how long a query may run.
    """
    millis = max(1, int(wait_seconds * 1000))
    if url.startswith("sqlite"):
        kwargs.setdefault("module", sqlite_module())
        engine = sa.create_engine(url, connect_args={"timeout": wait_seconds, "check_same_thread": False}, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA busy_timeout={millis}")
            cur.close()

        return engine
    # Bulk inserts (the click drain's 2,000-row batches) go out as multi-row INSERTs of 100 rows: psycopg
    # adapts a statement's parameters holding the GIL, and 1,000 rows (the default) stalled the
    # worker's request threads for 20-40 ms at a time.
    kwargs.setdefault("insertmanyvalues_page_size", 100)
    connect_args = {"connect_timeout": max(2, math.ceil(wait_seconds)), "keepalives": 1,
                    "keepalives_idle": max(1, math.ceil(wait_seconds)), "keepalives_interval": 1,
                    "keepalives_count": 3, "tcp_user_timeout": millis, **kwargs.pop("connect_args", {})}
    engine = sa.create_engine(url, pool_pre_ping=True, connect_args=connect_args, **kwargs)

    @event.listens_for(engine, "connect")
    def _pg_lock_timeout(dbapi_conn: Any, _record: Any) -> None:
        # A session setting, not a connect option: the URL's own ``options`` (a search_path) stay.
        with dbapi_conn.cursor() as cur:
            cur.execute(f"SET lock_timeout = {millis}")
        dbapi_conn.commit()

    return engine


class Database:
    """The engine and session factory of one app (kept in ``app.extensions['tracker.db']``)."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.Session = sessionmaker(engine, expire_on_commit=False)

    def init_app(self, app: Flask) -> None:
        app.extensions["tracker.db"] = self
        app.teardown_appcontext(_close_session)


def get_db(app: Flask | None = None) -> Database:
    return (app or current_app).extensions["tracker.db"]


def db_session() -> Session:
    """Return the session of the current app context (created on first use, closed at teardown)."""
    if "db_session" not in g:
        g.db_session = get_db().Session()
    return g.db_session


def _close_session(_exc: BaseException | None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()


def begin_write(session: Session) -> None:
    """Open the session's write transaction now.

    pysqlite (Python < 3.12) opens transactions lazily and lets an outermost ``SAVEPOINT`` start, and
    its ``RELEASE`` commit, a transaction of its own; ``BEGIN IMMEDIATE`` first makes savepoints nest
    inside one real transaction (and takes SQLite's write lock up front). No-op elsewhere.
    """
    conn = session.connection()
    if conn.dialect.name == "sqlite":
        dbapi = conn.connection.dbapi_connection
        if dbapi is not None and not dbapi.in_transaction:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
