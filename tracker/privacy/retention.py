"""Retention of raw clicks: ``click_retention_days``, the purge, and what reports say about it.

With ``click_retention_days = N`` (0, the default, keeps everything) the purge deletes, in batches of
:data:`BATCH` rows with one transaction each, raw rows older than N days: clicks and scans (and the
``click`` identities of clicks that carried no visitor cookie), orphan visits and landing visits, which
all hold a user agent and an IP hash (and the ``country``/``city`` of the row go with it). Kept: the daily
aggregates (``link_daily_stats`` and ``link_country_stats``, so link pages and counts do not change),
``link_visitors`` and the other identities (so a returning visitor is not counted as new again, and
stitching keeps working), conversions, self-reports and offline touches.
Erasing a person (:mod:`tracker.privacy.erasure`) removes those too, for that person.

On PostgreSQL ``clicks`` and ``landing_visits`` are partitioned by month (:mod:`tracker.partitions`):
the purge drops the monthly partitions that lie wholly before the cut-off (after deleting the ``click``
identities of their clicks), then deletes row by row only what remains before it: the month that
straddles the cut-off and the default partition. SQLite deletes row by row as always.

The service purges once a day by itself: the first drain of the click spool in a worker process starts
a daemon thread that purges and then sleeps a day (on PostgreSQL the same thread also creates the
months ahead, :func:`tracker.partitions.ensure_partitions`, retention on or off); a lock file in the
instance folder and the time of the last run (``retention_marks``) keep it to one purge a day across
processes and machines sharing the database. ``tracker retention purge`` runs it at once.

Attribution needs raw touches. A report whose touches reach before the cut-off says so:
:func:`retention_note` gives ``{"raw_clicks_since": ..., "message": ...}``, which the reports' JSON
(API, CLI) carries as ``retention`` and the report pages show.
"""
from __future__ import annotations

import fcntl
import logging
import os
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from tracker.config import Settings
from tracker.db import utcnow
from tracker.partitions import drop_partition, ensure_partitions, expired_partitions
from tracker.people.models import Identity
from tracker.privacy.models import RetentionMark
from tracker.privacy.sql import one_of
from tracker.redirects.models import Click, OrphanVisit
from tracker.touchpoints.models import LandingVisit

__all__ = ["BATCH", "RetentionScheduler", "cutoff", "purge", "raw_clicks_since", "retention_note"]

log = logging.getLogger(__name__)

BATCH = 5000  # rows per delete (and per transaction)
MARK = "raw_clicks"
DAY = 86400.0
RAN_RECENTLY = timedelta(hours=23)  # another process purged within this: skip


def cutoff(settings: Settings, now: datetime | None = None) -> datetime | None:
    """The instant before which raw rows are purged, or None when they are kept for ever."""
    if settings.click_retention_days <= 0:
        return None
    return (now or utcnow()) - timedelta(days=settings.click_retention_days)


def purge(session: Session, settings: Settings, now: datetime | None = None,
          batch: int = BATCH) -> dict[str, int]:
    """Delete raw rows older than the retention cut-off in batches (one commit each); return the counts.

    Returns an empty dict when retention is off (``click_retention_days = 0``).
    """
    now = now or utcnow()
    before = cutoff(settings, now)
    if before is None:
        return {}
    counts = {"clicks": 0, "orphan_visits": 0, "landing_visits": 0}
    if session.get_bind().dialect.name == "postgresql":
        _drop_expired_months(session, before, batch, counts)
    for name, model, key in (("clicks", Click, Click.tid), ("orphan_visits", OrphanVisit, OrphanVisit.tid),
                             ("landing_visits", LandingVisit, LandingVisit.id)):
        while True:
            ids = list(session.scalars(sa.select(key).where(model.ts < before).limit(batch)))
            if not ids:
                break
            # ts < before as well: on PostgreSQL it limits the delete to the partitions before the cut-off.
            session.execute(sa.delete(model).where(model.ts < before, one_of(session, key, ids))
                            .execution_options(synchronize_session=False))
            if model is Click:
                clicked = sa.delete(Identity).where(Identity.kind == "click", one_of(session, Identity.value, ids))
                session.execute(clicked.execution_options(synchronize_session=False))
            session.commit()
            counts[name] += len(ids)
    _mark(session, before, now)
    session.commit()
    return counts


def _drop_expired_months(session: Session, before: datetime, batch: int, counts: dict[str, int]) -> None:
    """Drop the monthly partitions of clicks and landing visits that end by ``before``; add their rows to counts.

    The ``click`` identities of a month's clicks are deleted first, in batches (one commit each), as
    the row-by-row purge does. A drop that cannot get its lock in time is left for the next run, and
    the row-by-row purge that follows deletes that month's rows meanwhile.
    """
    for table in ("clicks", "landing_visits"):
        for part in expired_partitions(session.connection(), table, before):
            rows = 0
            if table == "clicks":
                last = ""
                while True:  # keyset over the partition's (tid, ts) key: each batch is an index range
                    ids = list(session.scalars(sa.text(f'SELECT tid FROM "{part.name}" WHERE tid > :last '
                                                       "ORDER BY tid LIMIT :n"), {"last": last, "n": batch}))
                    if not ids:
                        break
                    clicked = sa.delete(Identity).where(Identity.kind == "click", one_of(session, Identity.value, ids))
                    session.execute(clicked.execution_options(synchronize_session=False))
                    session.commit()
                    rows += len(ids)
                    last = ids[-1]
            else:
                rows = session.scalar(sa.text(f'SELECT count(*) FROM "{part.name}"')) or 0
            try:
                drop_partition(session.connection(), part)
                session.commit()
            except OperationalError as exc:
                session.rollback()
                if getattr(exc.orig, "sqlstate", None) != "55P03":  # lock_not_available: busy, try next run
                    raise
                log.warning("retention: %s is busy; its rows are deleted one by one this time", part.name)
                continue
            counts[table] += rows


def _mark(session: Session, before: datetime, now: datetime) -> None:
    """Record the cut-off (it only moves forward: a longer retention set later cannot bring rows back)."""
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    stmt = insert(RetentionMark).values(name=MARK, purged_before=before, ran_at=now)
    stmt = stmt.on_conflict_do_update(index_elements=["name"], set_={
        "purged_before": sa.case(
            (RetentionMark.purged_before > stmt.excluded.purged_before, RetentionMark.purged_before),
            else_=stmt.excluded.purged_before),
        "ran_at": stmt.excluded.ran_at})
    session.execute(stmt)


def raw_clicks_since(session: Session, settings: Settings, now: datetime | None = None) -> datetime | None:
    """The earliest instant raw clicks and visits are kept from, or None when nothing was or will be purged.

    The later of the last purge's cut-off and the configured one (rows past the configured cut-off
    may still be there until the day's purge runs, but will not be for long).
    """
    marked = session.scalar(sa.select(RetentionMark.purged_before).where(RetentionMark.name == MARK))
    configured = cutoff(settings, now)
    candidates = [t for t in (marked, configured) if t is not None]
    return max(candidates) if candidates else None


def retention_note(session: Session, settings: Settings, earliest: datetime) -> dict[str, Any] | None:
    """The note of a report whose touches are read from ``earliest``: None when none were purged."""
    since = raw_clicks_since(session, settings)
    if since is None or earliest >= since:
        return None
    day = since.astimezone(settings.tz).date().isoformat()
    kept = (f"raw rows are kept {settings.click_retention_days} days" if settings.click_retention_days
            else "purged under an earlier retention setting")
    return {"raw_clicks_since": since.isoformat(), "raw_clicks_since_day": day,
            "message": f"Clicks, scans and landing visits before {day} are not available ({kept}): touches "
                       "before that date are missing from this report. Daily link counts are kept."}


class RetentionScheduler:
    """Run :func:`purge` once a day in a daemon thread of this process (started by :meth:`ensure`)."""

    def __init__(self, session_factory: Callable[[], Session], settings: Settings, lock_path: Path) -> None:
        self.session_factory = session_factory
        self.settings = settings
        self.lock_path = Path(lock_path)
        self._thread: threading.Thread | None = None
        self._pid: int | None = None
        self._stop = threading.Event()

    def _partitioned(self) -> bool:
        with self.session_factory() as session:  # no connection is made: the bind's dialect is enough
            return session.get_bind().dialect.name == "postgresql"

    def ensure(self) -> None:
        """Start the daily thread of this process if it has work (retention on, or PostgreSQL's months
        ahead) and is not running."""
        if self.settings.click_retention_days <= 0 and not self._partitioned():
            return
        if self._pid == os.getpid() and self._thread is not None and self._thread.is_alive():
            return
        self._pid = os.getpid()
        self._thread = threading.Thread(target=self._run, name="tracker-retention", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the thread (after the purge it may be running)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            failed = False
            # Each step on its own: months ahead still get made while purging fails, and the reverse.
            if self._partitioned():
                try:
                    self.maintain_partitions()
                except Exception:  # the database may be down or the tables busy: try again in an hour
                    log.exception("creating the months ahead failed; retrying in an hour")
                    failed = True
            if self.settings.click_retention_days > 0:
                try:
                    self.run_once()
                except Exception:  # the database may be down: try again in an hour
                    log.exception("retention purge failed; retrying in an hour")
                    failed = True
            self._stop.wait(3600 if failed else DAY)

    def maintain_partitions(self, now: datetime | None = None) -> list[str]:
        """Create the monthly partitions ahead (PostgreSQL; idempotent, any number of processes at once)."""
        with self.session_factory() as session:
            engine = session.get_bind()
        if not isinstance(engine, sa.Engine):
            raise TypeError("the retention thread's sessions must be bound to an engine, not a connection")
        return ensure_partitions(engine, now or utcnow())

    def run_once(self, now: datetime | None = None) -> dict[str, int] | None:
        """Purge unless another process holds the lock or purged within the last 23 hours."""
        now = now or utcnow()
        self.lock_path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.lock_path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return None
            with self.session_factory() as session:
                ran = session.scalar(sa.select(RetentionMark.ran_at).where(RetentionMark.name == MARK))
                if ran is not None and now - ran < RAN_RECENTLY:
                    return None
                counts = purge(session, self.settings, now)
            log.info("retention purge: %s", counts)
            return counts
        finally:
            os.close(fd)
