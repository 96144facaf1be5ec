"""A bounded in-process cache of links for the redirect path, which keeps answering when the database does not.

- **Fresh**: an entry is trusted for ``link_cache_seconds`` (default 5 s), so an edit reaches every
  worker within that time. Unknown codes are cached too (they answer 404).
- **Bounded**: at most ``link_cache_max_entries`` codes (default 50,000) per worker; the least
  recently used code goes first.
- **Bounded wait**: a lookup runs on one of a few daemon lookup threads of the worker, through an
  engine of its own with short timeouts (SQLite busy timeout; PostgreSQL connect, statement and lock
  timeouts). The request thread waits at most ``lookup_timeout_seconds`` (default 1 s) for it, so a
  stalled or locked database costs a redirect at most that wait, even when the database stops
  answering on an open connection (which no driver timeout catches).
- **Stale if error**: when a lookup fails or times out, the cached entry is served past its
  freshness, for up to ``link_cache_stale_seconds`` (default 1 day) after it was last read from the
  database. After a failure the database is not asked again by this worker for
  :data:`RETRY_SECONDS`, so during an outage requests do not each pay the wait.
- **Last known links on disk**: every link read from the database is also written (at most once a
  minute per code and worker unless it changed) to ``<instance>/last-known-links.sqlite``, shared by
  the workers of the instance. When the database fails and this worker has no usable entry of its
  own (a worker started or respawned during an outage, or a code only other workers served), the
  file's copy is served under the same stale bound. Writing it never holds up a lookup: errors are
  logged and skipped. It holds destinations and tags only, nothing about visitors.
- **Never seen**: a code with no usable entry, in memory or on disk, while the database is
  unavailable raises :class:`LinkUnavailable`; the redirect answers 503 with a retry page and
  ``Retry-After``.
- **Per domain**: a code is unique per short-link domain, so entries are keyed by :func:`link_key`:
  ``"<code>"`` on the default domain, ``"<domain id>/<code>"`` on another (codes never hold ``/``).
- **The domain map**: host -> :class:`DomainRoute` of every registered short-link domain
  (:meth:`LinkCache.domains`), which the redirect routes the request's ``Host`` with. It is read through
  the same lookup threads, trusted for ``link_cache_seconds`` like a link, served stale under the same
  bound when the database fails, and kept in the last-known-links file (key :data:`DOMAINS_KEY`), so a
  worker started during an outage still routes the hosts it knew.
"""
from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import logging
import os
import queue
import sqlite3
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Iterator
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import sessionmaker
from werkzeug.urls import iri_to_uri

from tracker.domains.models import Domain
from tracker.links.models import Campaign, Link
from tracker.links.service import tracked_url
from tracker.links.urls import merge_query
from tracker.redirects.rules import CompiledRule, compile_rule

log = logging.getLogger(__name__)

TID_MARK = "TIDMARK7"  # survives merge_query and iri_to_uri unchanged
RETRY_SECONDS = 1.0  # after a failed lookup, the database is asked again no sooner than this
PERSIST_SECONDS = 60.0  # an unchanged link is written to the last-known-links file at most this often
LAST_KNOWN_FILE = "last-known-links.sqlite"
LOOKUP_THREADS = 2  # per worker; when all are stuck on a stalled database, lookups fail at once
DOMAINS_KEY = "/domains"  # the domain map's key in the lookup queue and the last-known-links file (no link's)


def link_key(domain_id: int | None, code: str) -> str:
    """The cache key of ``code`` on a domain: the code itself on the default domain (``domain_id`` None).

    >>> link_key(None, "expo"), link_key(3, "expo")
    ('expo', '3/expo')
    """
    return code if domain_id is None else f"{domain_id}/{code}"


class LinkUnavailable(Exception):
    """The database did not answer in time and no usable cached entry exists for the code."""


@dataclass(frozen=True)
class LinkSnapshot:
    """What the redirect needs of a link, computed once per cache fill.

    Locations are ready for the ``Location`` header (IRIs encoded to ASCII URIs). The tracked URL is
    kept split around the click id, so a redirect only has to join three strings. ``rules``: the link's
    redirect rules compiled (:mod:`tracker.redirects.rules`), each with its locations made the same way;
    empty for most links, which then cost the redirect one attribute check.
    """

    id: int
    location_before_tid: str  # tracked URL (destination + UTMs) up to and including "tid="
    location_after_tid: str   # the rest (its #fragment, if any)
    fallback_location: str | None  # campaign fallback, for disabled or expired links
    disabled: bool
    expires_at: datetime | None
    utm_source: str
    utm_medium: str
    utm_campaign: str
    utm_term: str | None
    utm_content: str | None
    rules: tuple[CompiledRule, ...] = ()

    @classmethod
    def build(cls, link: Link, fallback_url: str | None) -> LinkSnapshot:
        before, after = _split_at_tid(tracked_url(link))
        rules = []
        for rule in link.rules or ():  # destinations tagged like the link's own (tracker.links.service)
            rule_before, rule_after = _split_at_tid(tracked_url(link, rule["destination"]))
            rules.append(compile_rule(rule["conditions"], rule_before, rule_after,
                                      merge_query(rule_before + rule_after, {"tid": ""})))
        return cls(
            id=link.id, location_before_tid=before, location_after_tid=after,
            fallback_location=iri_to_uri(fallback_url) if fallback_url else None, disabled=link.disabled,
            expires_at=link.expires_at, utm_source=link.utm_source, utm_medium=link.utm_medium,
            utm_campaign=link.utm_campaign, utm_term=link.utm_term, utm_content=link.utm_content,
            rules=tuple(rules))

    def live(self, now: datetime) -> bool:
        """False when the link is disabled or expired (it goes to the fallback, or answers 410)."""
        return not self.disabled and (self.expires_at is None or self.expires_at > now)

    @functools.cached_property
    def tracked_location(self) -> str:
        """The tracked URL without a click id (HEAD requests, and clicks sent with DNT or GPC).

        Worked out once per cache fill, like the other locations, not on every such request.
        """
        return merge_query(self.location_before_tid + self.location_after_tid, {"tid": ""})

    def to_json(self) -> str:
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        fields["expires_at"] = self.expires_at.isoformat() if self.expires_at else None
        fields["rules"] = [rule.to_dict() for rule in self.rules]
        return json.dumps(fields, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> LinkSnapshot:
        fields = json.loads(text)
        fields["expires_at"] = datetime.fromisoformat(fields["expires_at"]) if fields["expires_at"] else None
        # A file written before rules existed has no "rules": no rules.
        fields["rules"] = tuple(CompiledRule.from_dict(rule) for rule in fields.get("rules", ()))
        return cls(**fields)


def _split_at_tid(url: str) -> tuple[str, str]:
    """``url`` with ``tid=`` added, as an ASCII URI split where the click id goes."""
    before, _, after = iri_to_uri(merge_query(url, {"tid": TID_MARK})).rpartition(TID_MARK)
    return before, after


@dataclass(frozen=True)
class DomainRoute:
    """What the redirect needs of a registered short-link domain."""

    id: int  # links.domain_id: the key of its links (:func:`link_key`) and of its orphan visits
    not_found_location: str | None  # where unknown codes on it go (302), ready for ``Location``; None: 404


@dataclass(frozen=True)
class DomainMap:
    """host (lower-case ASCII, no port) -> :class:`DomainRoute` of every registered short-link domain."""

    hosts: dict[str, DomainRoute]

    def to_json(self) -> str:
        return json.dumps({host: dataclasses.asdict(route) for host, route in self.hosts.items()},
                          separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> DomainMap:
        return cls({host: DomainRoute(**route) for host, route in json.loads(text).items()})


@dataclass
class _Entry:
    fresh_until: float  # monotonic
    loaded_at: float  # monotonic time of the database read
    snapshot: LinkSnapshot | None
    persisted_at: float = 0.0  # monotonic time this worker last wrote it to the last-known-links file


class LastKnownLinks:
    """The instance's file of links last read from the database: code -> (snapshot or None, wall time).

    A SQLite file of its own (WAL, short busy timeout), written by the lookup threads of every worker
    and read only when the database fails. Failures to read or write it are logged, never raised.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)

    @contextlib.contextmanager
    def _conn(self) -> Iterator[sqlite3.Connection]:
        # A connection per use: writes are rare (see PERSIST_SECONDS) and reads happen only while the
        # database fails, so nothing is kept open across forks, threads or the cache's lifetime.
        conn = sqlite3.connect(self.path, timeout=0.2, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("CREATE TABLE IF NOT EXISTS links (code TEXT PRIMARY KEY, link TEXT, read_at REAL NOT NULL)")
            yield conn
        finally:
            conn.close()

    def save(self, code: str, snapshot: LinkSnapshot | None, read_at: float) -> bool:
        """Record that ``code`` (a :func:`link_key`) was ``snapshot`` at wall time ``read_at``; False when it
        could not be written."""
        return self._save(code, snapshot.to_json() if snapshot is not None else None, read_at)

    def save_domains(self, domains: DomainMap, read_at: float) -> bool:
        """Record the domain map read at wall time ``read_at`` (key :data:`DOMAINS_KEY`)."""
        return self._save(DOMAINS_KEY, domains.to_json(), read_at)

    def _save(self, key: str, text: str | None, read_at: float) -> bool:
        try:
            with self._conn() as conn:
                conn.execute(
                    "INSERT INTO links (code, link, read_at) VALUES (?, ?, ?) ON CONFLICT (code) DO UPDATE "
                    "SET link = excluded.link, read_at = excluded.read_at WHERE excluded.read_at > links.read_at",
                    (key, text, read_at))
            return True
        except (sqlite3.Error, OSError) as exc:
            log.warning("could not write %s to %s: %s", key, self.path, exc)
            return False

    def load(self, code: str) -> tuple[LinkSnapshot | None, float] | None:
        """``(snapshot or None, wall time read)`` of ``code``, or None when the file does not know it."""
        try:
            with self._conn() as conn:
                row = conn.execute("SELECT link, read_at FROM links WHERE code = ?", (code,)).fetchone()
            if row is None:
                return None
            return (LinkSnapshot.from_json(row[0]) if row[0] is not None else None), float(row[1])
        except (sqlite3.Error, OSError, ValueError, TypeError, KeyError) as exc:
            log.warning("could not read %s from %s: %s", code, self.path, exc)
            return None

    def load_domains(self) -> tuple[DomainMap, float] | None:
        """``(domain map, wall time read)``, or None when the file holds none (or cannot be read)."""
        try:
            with self._conn() as conn:
                row = conn.execute("SELECT link, read_at FROM links WHERE code = ?", (DOMAINS_KEY,)).fetchone()
            if row is None or row[0] is None:
                return None
            return DomainMap.from_json(row[0]), float(row[1])
        except (sqlite3.Error, OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
            log.warning("could not read the domain map from %s: %s", self.path, exc)
            return None


class LinkCache:
    """code -> LinkSnapshot (or None for unknown codes): fresh for ``ttl``, stale-if-error up to ``stale_seconds``.

    Parameters
    ----------
    session_factory:
        Sessions for the lookups (see :func:`lookup_sessions`: an engine with short timeouts).
    ttl:
        Seconds an entry is trusted without asking the database.
    max_entries:
        Most codes kept (least recently used evicted first).
    stale_seconds:
        Longest time after its last database read that an entry is served when the database fails.
    lookup_timeout:
        Longest time a request waits for a lookup.
    last_known:
        The instance's :class:`LastKnownLinks` (None: memory only).
    """

    def __init__(self, session_factory: sessionmaker, ttl: float, max_entries: int = 50_000,
                 stale_seconds: float = 86_400.0, lookup_timeout: float = 1.0,
                 last_known: LastKnownLinks | None = None) -> None:
        if max_entries < 1:
            raise ValueError("link_cache_max_entries must be at least 1")
        self.session_factory = session_factory
        self.ttl = ttl
        self.max_entries = max_entries
        self.stale_seconds = stale_seconds
        self.lookup_timeout = lookup_timeout
        self.last_known = last_known
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._lock = threading.Lock()
        self._pending: dict[str, Future[Any]] = {}  # LinkSnapshot | None, or the DomainMap (DOMAINS_KEY)
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._threads_pid: int | None = None
        self._down_until = 0.0  # monotonic: no lookups before this after a failure
        self.failures = 0  # lookups that failed or timed out (for tests and logs)
        # The domain map (see the module docstring): None until first read, from the database or the file.
        self._domains: DomainMap | None = None
        self._domains_fresh_until = 0.0  # monotonic
        self._domains_loaded_at = 0.0  # monotonic time of the database read it came from
        self._domains_persisted_at = 0.0  # monotonic time this worker last wrote it to the file

    @classmethod
    def from_settings(cls, settings: Any) -> LinkCache:
        """Build the cache of a service from its settings (own lookup engine with short timeouts)."""
        return cls(lookup_sessions(settings.database_url, settings.lookup_timeout_seconds),
                   settings.link_cache_seconds, max_entries=settings.link_cache_max_entries,
                   stale_seconds=settings.link_cache_stale_seconds, lookup_timeout=settings.lookup_timeout_seconds,
                   last_known=LastKnownLinks(Path(settings.instance_path) / LAST_KNOWN_FILE))

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, code: str) -> LinkSnapshot | None:
        """Return the link of ``code`` (None: no such link); raise :class:`LinkUnavailable` (see module)."""
        now = time.monotonic()
        entry = self._entries.get(code)
        if entry is not None and entry.fresh_until > now:
            self._touch(code)
            return entry.snapshot
        try:
            return self._lookup(code, now)
        except LinkUnavailable:
            if entry is not None and now - entry.loaded_at <= self.stale_seconds:
                self._touch(code)
                return entry.snapshot
            known = self.last_known.load(code) if self.last_known is not None else None
            if known is not None:
                snapshot, read_at = known
                age = time.time() - read_at
                if entry is None or age < now - entry.loaded_at:  # the file's copy is newer than ours
                    if 0 <= age <= self.stale_seconds:
                        self._store(code, snapshot, now - age, fresh=False, persisted=True)
                        return snapshot
            raise

    def domains(self) -> DomainMap:
        """The registered short-link domains by host; raise :class:`LinkUnavailable` (see the module)."""
        now = time.monotonic()
        current = self._domains
        if current is not None and self._domains_fresh_until > now:
            return current
        try:
            return self._lookup(DOMAINS_KEY, now)  # type: ignore[return-value]
        except LinkUnavailable:
            if current is not None and now - self._domains_loaded_at <= self.stale_seconds:
                return current
            known = self.last_known.load_domains() if self.last_known is not None else None
            if known is not None:
                domains, read_at = known
                age = time.time() - read_at
                if (current is None or age < now - self._domains_loaded_at) and 0 <= age <= self.stale_seconds:
                    self._domains, self._domains_loaded_at, self._domains_fresh_until = domains, now - age, 0.0
                    self._domains_persisted_at = now - age
                    return domains
            raise

    def clear(self) -> None:
        """Forget every link, and read the domain map again on next use (an edit made by this worker)."""
        with self._lock:
            self._entries.clear()
            self._domains_fresh_until = 0.0

    def _touch(self, code: str) -> None:
        try:
            self._entries.move_to_end(code)
        except KeyError:  # evicted by another thread meanwhile
            pass

    def _store(self, code: str, snapshot: LinkSnapshot | None, loaded_at: float, *, fresh: bool = True,
               persisted: bool = False) -> None:
        """Keep ``snapshot`` (read from the database at monotonic ``loaded_at``); write it to the file."""
        previous = self._entries.get(code)
        persisted_at = loaded_at if persisted else 0.0
        if not persisted and self.last_known is not None:
            if previous is not None and previous.snapshot == snapshot \
                    and loaded_at - previous.persisted_at < PERSIST_SECONDS:
                persisted_at = previous.persisted_at
            elif self.last_known.save(code, snapshot, time.time() - (time.monotonic() - loaded_at)):
                persisted_at = loaded_at
        with self._lock:
            self._entries[code] = _Entry(loaded_at + self.ttl if fresh else 0.0, loaded_at, snapshot, persisted_at)
            self._entries.move_to_end(code)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    # ---- lookups on daemon threads, waited for with a timeout -----------------------------------
    def _store_domains(self, domains: DomainMap, loaded_at: float) -> None:
        """Keep the domain map read at monotonic ``loaded_at``; write it to the file when it changed (or once
        a minute)."""
        if self.last_known is not None and (
                domains != self._domains or loaded_at - self._domains_persisted_at >= PERSIST_SECONDS):
            if self.last_known.save_domains(domains, time.time() - (time.monotonic() - loaded_at)):
                self._domains_persisted_at = loaded_at
        self._domains, self._domains_loaded_at, self._domains_fresh_until = domains, loaded_at, loaded_at + self.ttl

    def _lookup(self, code: str, now: float) -> LinkSnapshot | DomainMap | None:
        if now < self._down_until:
            raise LinkUnavailable(code)
        with self._lock:
            self._ensure_threads()
            future = self._pending.get(code)
            if future is None:
                future = self._pending[code] = Future()
                self._queue.put((code, future))
        try:
            return future.result(timeout=self.lookup_timeout)
        except FutureTimeout:
            self._failed(f"no answer within {self.lookup_timeout:g} s")
        except (SQLAlchemyError, OSError) as exc:
            self._failed(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        raise LinkUnavailable(code)

    def _failed(self, why: str) -> None:
        self.failures += 1
        self._down_until = time.monotonic() + RETRY_SECONDS
        log.warning("link lookup failed (%s): serving cached links, 503 for others, for %g s", why, RETRY_SECONDS)

    def _ensure_threads(self) -> None:
        if self._threads_pid == os.getpid():
            return
        self._threads_pid = os.getpid()  # after a fork the parent's threads are not ours
        self._pending = {}
        self._queue = jobs = queue.SimpleQueue()
        ref = weakref.ref(self)
        for i in range(LOOKUP_THREADS):
            # Daemon threads: one stuck on a stalled database must not keep the process from exiting.
            # They hold the cache only weakly and stop when it is garbage collected.
            threading.Thread(target=_serve_lookups, args=(ref, jobs), name=f"tracker-link-lookup-{i}",
                             daemon=True).start()
        weakref.finalize(self, _stop_lookups, jobs, LOOKUP_THREADS)

    def _run_lookup(self, code: str, future: Future[Any]) -> None:
        try:
            value = self._load_domains() if code == DOMAINS_KEY else self._load(code)
        except BaseException as exc:  # handed to the waiting request, which decides
            with self._lock:
                self._pending.pop(code, None)
            future.set_exception(exc)
            return
        if code == DOMAINS_KEY:
            self._store_domains(value, time.monotonic())
        else:
            self._store(code, value, time.monotonic())
        with self._lock:
            self._pending.pop(code, None)
        future.set_result(value)

    def _load(self, key: str) -> LinkSnapshot | None:
        """The link of a :func:`link_key` (``"<domain id>/<code>"``, or the code on the default domain)."""
        domain_id, _, code = key.rpartition("/")
        on_domain = Link.domain_id == int(domain_id) if domain_id else Link.domain_id.is_(None)
        with self.session_factory() as session:
            row = session.execute(
                sa.select(Link, Campaign.fallback_url).outerjoin(Campaign, Link.campaign_id == Campaign.id)
                .where(Link.code == code, on_domain)).first()
            if row is None:
                return None
            link, fallback = row
            return LinkSnapshot.build(link, fallback)

    def _load_domains(self) -> DomainMap:
        with self.session_factory() as session:
            rows = session.execute(sa.select(Domain.host, Domain.id, Domain.not_found_url))
            return DomainMap({host: DomainRoute(id=domain_id, not_found_location=iri_to_uri(url) if url else None)
                              for host, domain_id, url in rows})


def _serve_lookups(ref: weakref.ref[LinkCache],
                   jobs: queue.SimpleQueue[tuple[str, Future[Any]] | None]) -> None:
    while (job := jobs.get()) is not None:
        cache = ref()
        if cache is None:
            return
        cache._run_lookup(*job)
        del cache


def _stop_lookups(jobs: queue.SimpleQueue[Any], threads: int) -> None:
    for _ in range(threads):
        jobs.put(None)


def lookup_sessions(url: str, timeout: float) -> sessionmaker:
    """Sessions on an engine of the redirect's own, whose waits on the database are short.

    SQLite: busy timeout ``timeout`` (read-only connections). PostgreSQL: connect timeout
    (libpq's minimum is 2 s), and statement, lock and idle-in-transaction timeouts of ``timeout``,
    a pool of :data:`LOOKUP_THREADS` connections and pre-ping (so a restarted server is
    reconnected to). The engine is disposed when the sessionmaker is garbage collected.
    """
    # imported here: tracker.db is light, but keep start-up order simple
    from tracker.db import make_engine, sqlite_module

    ms = max(1, int(timeout * 1000))
    if url.startswith("sqlite"):
        if ":memory:" in url or url in ("sqlite://", "sqlite:///"):
            engine = make_engine(url)  # a private in-memory database could not be shared anyway
        else:
            engine = sa.create_engine(url, module=sqlite_module(),
                                      connect_args={"timeout": timeout, "check_same_thread": False})

            @event.listens_for(engine, "connect")
            def _sqlite_lookup(dbapi_conn: Any, _record: Any) -> None:
                cur = dbapi_conn.cursor()
                cur.execute(f"PRAGMA busy_timeout={ms}")
                cur.execute("PRAGMA query_only=ON")
                cur.close()
    else:
        engine = make_engine(url, wait_seconds=timeout, pool_size=LOOKUP_THREADS, max_overflow=0,
                             pool_timeout=timeout)

        @event.listens_for(engine, "connect")
        def _pg_lookup(dbapi_conn: Any, _record: Any) -> None:
            with dbapi_conn.cursor() as cur:
                for name in ("statement_timeout", "lock_timeout", "idle_in_transaction_session_timeout"):
                    cur.execute(f"SET {name} = {ms}")
            dbapi_conn.commit()

    factory = sessionmaker(engine, expire_on_commit=False)
    weakref.finalize(factory, engine.dispose)
    return factory
