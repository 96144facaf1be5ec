"""Capture under faults: redirects and conversions while the database is down, stalled or locked.

Real faults only: a throwaway PostgreSQL cluster (tests/pg_support.py) that is stopped and started
mid-load, a TCP proxy in front of it that stalls, and a second SQLite connection holding a lock.
"""
from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pg_support
import psycopg
import pytest
import sqlalchemy as sa
from accounts_support import make_key

from tracker import create_app
from tracker.config import load_settings, normalise_database_url
from tracker.conversions.models import Conversion
from tracker.db import get_db, make_engine, sqlite_module
from tracker.links.service import create_link
from tracker.migrate import upgrade
from tracker.redirects.cache import (
    LAST_KNOWN_FILE,
    RETRY_SECONDS,
    LastKnownLinks,
    LinkCache,
    LinkUnavailable,
    lookup_sessions,
)
from tracker.redirects.models import Click, LinkDailyStat

LOOKUP_TIMEOUT = 0.4
BOUND = LOOKUP_TIMEOUT + 0.6  # what a redirect may cost at most while the database misbehaves (with slack)
LINK = {"destination": "https://example.com/landing", "utm_source": "newsletter", "utm_medium": "email",
        "utm_campaign": "faults"}


# ---- helpers -------------------------------------------------------------------------------------
def api_key(session: Any) -> str:
    """A key allowed to send conversions (an ``ingest`` account's)."""
    return make_key(session, "ingest")


def admin_auth(app: Any) -> dict[str, str]:
    with get_db(app).Session() as session:
        return {"Authorization": f"Bearer {make_key(session, 'admin')}"}


def new_links(app: Any, n: int) -> list[str]:
    with get_db(app).Session() as session:
        return [create_link(session, app.config["SETTINGS"], {**LINK, "label": f"link {i}"}).code for i in range(n)]


def tid_of(location: str) -> str:
    return parse_qs(urlsplit(location).query)["tid"][0]


def timed_get(client: Any, path: str) -> tuple[Any, float]:
    start = time.monotonic()
    resp = client.get(path)
    return resp, time.monotonic() - start


def stored(app: Any) -> tuple[set[str], int]:
    """(click ids stored, clicks counted by the daily aggregates)."""
    with get_db(app).engine.connect() as conn:
        tids = set(conn.scalars(sa.select(Click.tid)))
        total = conn.scalar(sa.select(sa.func.coalesce(sa.func.sum(LinkDailyStat.clicks + LinkDailyStat.bots), 0)))
    return tids, int(total or 0)


class Load:
    """Threads sending redirects through their own test clients until stopped; answers are kept."""

    def __init__(self, app: Any, paths: list[str], threads: int = 6) -> None:
        self.app = app
        self.paths = paths
        self.stop = threading.Event()
        self.tids: list[str] = []
        self.statuses: Counter[int] = Counter()
        self.slowest = 0.0
        self._lock = threading.Lock()
        self.threads = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(threads)]

    def __enter__(self) -> Load:
        # Fill the worker's link cache first (HEAD: not a click). A cold cache on a busy machine can
        # miss the lookup bound, and a code the worker has no copy of answers 503 by design.
        if self.app is not None:  # (HttpLoad's server was probed the same way when it started)
            client = self.app.test_client()
            for path in self.paths:
                assert wait_for(lambda path=path: client.head(path).status_code == 302, 30), path
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(30)

    def _run(self, index: int) -> None:
        client = self.app.test_client()
        i = index
        while not self.stop.is_set():
            resp, took = timed_get(client, self.paths[i % len(self.paths)])
            i += 1
            with self._lock:
                self.statuses[resp.status_code] += 1
                self.slowest = max(self.slowest, took)
                if resp.status_code == 302:
                    self.tids.append(tid_of(resp.headers["Location"]))


def wait_for(check: Callable[[], bool], seconds: float = 30) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return check()


# ---- the cache on its own ------------------------------------------------------------------------
def test_cache_keeps_the_most_recently_used_codes(make_app: Callable[..., Any]) -> None:
    app = make_app(link_cache_max_entries=2)
    a, b, c = new_links(app, 3)
    cache: LinkCache = app.extensions["tracker.redirects"]["cache"]
    client = app.test_client()
    for code in (a, b, a, c):  # b is the least recently used when c comes in
        assert client.get(f"/r/{code}").status_code == 302
    assert len(cache) == 2
    assert cache.get(a) is not None and cache.get(c) is not None
    assert b not in cache._entries


def test_an_unreachable_database_gives_503_for_new_codes_and_stale_links_up_to_the_bound(tmp_path: Path) -> None:
    """Real fault: the lookup engine points at a port where nothing listens (connection refused)."""
    port = pg_support.free_port()
    sessions = lookup_sessions(normalise_database_url(f"postgresql://postgres@127.0.0.1:{port}/none", "."), 0.3)
    cache = LinkCache(sessions, ttl=0.0, stale_seconds=1.5, lookup_timeout=0.3)
    with pytest.raises(LinkUnavailable):
        cache.get("abc234")
    assert cache.failures == 1
    # A previous good read is served past its freshness, until the stale bound.
    cache._store("abc234", None, time.monotonic())
    time.sleep(RETRY_SECONDS + 0.05)
    assert cache.get("abc234") is None  # cached "no such link": still a 404, not a 503
    time.sleep(0.6)
    with pytest.raises(LinkUnavailable):
        cache.get("abc234")


def unreachable_sessions() -> Any:
    port = pg_support.free_port()
    return lookup_sessions(normalise_database_url(f"postgresql://postgres@127.0.0.1:{port}/none", "."), 0.3)


def test_a_worker_started_during_an_outage_serves_the_links_read_before_it(make_app: Callable[..., Any]) -> None:
    app = make_app()
    (code,) = new_links(app, 1)
    client = app.test_client()
    assert client.get(f"/r/{code}").status_code == 302
    assert client.get("/r/zzzz99").status_code == 404
    served = app.extensions["tracker.redirects"]["cache"]._entries[code].snapshot
    path = Path(app.config["SETTINGS"].instance_path) / LAST_KNOWN_FILE

    # Another worker, started while the database is unreachable: nothing in its memory.
    fresh = LinkCache(unreachable_sessions(), ttl=5.0, stale_seconds=60.0, lookup_timeout=0.3,
                      last_known=LastKnownLinks(path))
    assert fresh.get(code) == served
    assert fresh.get("zzzz99") is None  # a code known not to exist is still a 404
    with pytest.raises(LinkUnavailable):
        fresh.get("nevers")  # never read by anyone: 503
    assert fresh.failures == 1  # one failed lookup, then RETRY_SECONDS without asking

    # The file's copy obeys the stale bound like a cached entry does.
    time.sleep(0.05)
    strict = LinkCache(unreachable_sessions(), ttl=5.0, stale_seconds=0.01, lookup_timeout=0.3,
                       last_known=LastKnownLinks(path))
    with pytest.raises(LinkUnavailable):
        strict.get(code)


def test_the_last_known_links_file_is_written_once_a_minute_unless_the_link_changes(
        make_app: Callable[..., Any]) -> None:
    app = make_app(link_cache_seconds=0.0)
    (code,) = new_links(app, 1)
    client = app.test_client()
    path = Path(app.config["SETTINGS"].instance_path) / LAST_KNOWN_FILE

    def read_at() -> float:
        with sqlite3.connect(path) as conn:  # the file tracker.redirects.cache writes with the standard library
            value = conn.execute("SELECT read_at FROM links WHERE code = ?", (code,)).fetchone()[0]
        conn.close()
        return float(value)

    client.get(f"/r/{code}")
    first = read_at()
    for _ in range(3):  # every request reads the database (ttl 0), but the file is not rewritten
        client.get(f"/r/{code}")
    assert read_at() == first
    client.patch(f"/api/v1/links/{code}", json={"destination": "https://example.org/changed"},
                 headers=admin_auth(app))
    assert "example.org/changed" in client.get(f"/r/{code}").headers["Location"]
    assert read_at() > first
    assert "example.org/changed" in LastKnownLinks(path).load(code)[0].location_before_tid  # type: ignore[index]


# ---- SQLite locked -------------------------------------------------------------------------------
@pytest.fixture
def sqlite_app(tmp_path: Path, cluster_app: Callable[..., Any]) -> tuple[Any, str]:
    """An app on a SQLite file of its own (so that no other test's connection is open on it)."""
    path = tmp_path / "locked.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return cluster_app(f"sqlite:///{path}", link_cache_seconds=0.05), str(path)


def test_sqlite_locked_exclusively_redirects_answer_within_the_bound(sqlite_app: tuple[Any, str]) -> None:
    app, path = sqlite_app
    cached, never_seen = new_links(app, 2)
    client = app.test_client()
    first = client.get(f"/r/{cached}")
    assert first.status_code == 302
    answered = [tid_of(first.headers["Location"])]

    # Exclusive locking needs every other connection closed first; the app's reconnect then waits.
    get_db(app).engine.dispose()
    app.extensions["tracker.redirects"]["cache"].session_factory.kw["bind"].dispose()
    holder = sqlite_module().connect(path, isolation_level=None, timeout=5)
    holder.execute("PRAGMA locking_mode=EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")  # nobody else may even read now
    holder.execute("CREATE TABLE lock_holder (x)")
    try:
        time.sleep(0.1)  # the cached entry is no longer fresh
        for _ in range(20):
            resp, took = timed_get(client, f"/r/{cached}")
            assert resp.status_code == 302 and took < BOUND  # stale-if-error
            answered.append(tid_of(resp.headers["Location"]))
        resp, took = timed_get(client, f"/r/{never_seen}")
        assert resp.status_code == 503 and took < BOUND
        assert resp.headers["Retry-After"] == "30"
        assert b"try again" in resp.data.lower()
        head = client.head(f"/r/{never_seen}")
        assert head.status_code == 503 and head.data == b""
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    time.sleep(RETRY_SECONDS)
    resp = client.get(f"/r/{never_seen}")
    assert resp.status_code == 302
    answered.append(tid_of(resp.headers["Location"]))
    app.extensions["tracker.redirects"]["spool"].drain()
    tids, total = stored(app)
    assert tids == set(answered) and total == len(answered) == 22


def test_sqlite_write_locked_redirects_keep_answering(sqlite_app: tuple[Any, str]) -> None:
    """Another connection holds the write lock: lookups still read (WAL); clicks wait in the spool."""
    app, path = sqlite_app
    codes = new_links(app, 3)
    client = app.test_client()
    holder = sqlite_module().connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    answered = []
    try:
        for i in range(30):
            resp, took = timed_get(client, f"/r/{codes[i % 3]}")
            assert resp.status_code == 302 and took < BOUND
            answered.append(tid_of(resp.headers["Location"]))
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    app.extensions["tracker.redirects"]["spool"].drain()
    tids, total = stored(app)
    assert tids == set(answered) and total == 30


# ---- concurrency (SQLite and PostgreSQL) ---------------------------------------------------------
THREADS = 32


def test_many_threads_every_answered_redirect_is_stored_once(make_app: Callable[..., Any]) -> None:
    app = make_app(SPOOL_BACKGROUND=True)
    codes = new_links(app, 3)
    with Load(app, [f"/r/{c}" for c in codes] + [f"/q/{codes[0]}"], threads=THREADS) as load:
        time.sleep(2.0)
    spool = app.extensions["tracker.redirects"]["spool"]
    spool.stop()
    spool.drain()
    tids, total = stored(app)
    assert load.statuses.keys() == {302} and len(load.tids) > 100
    assert tids == set(load.tids) and len(tids) == len(load.tids) and total == len(load.tids)
    with get_db(app).engine.connect() as conn:
        by_link = dict(conn.execute(sa.select(Click.link_id, sa.func.count()).group_by(Click.link_id)).all())
        counted = sa.func.sum(LinkDailyStat.clicks + LinkDailyStat.bots)
        daily = dict(conn.execute(sa.select(LinkDailyStat.link_id, counted).group_by(LinkDailyStat.link_id)).all())
        visitors = conn.scalar(sa.select(sa.func.count(sa.distinct(Click.visitor_id))))
        uniques = conn.scalar(sa.select(sa.func.sum(LinkDailyStat.uniques)))
    assert {k: int(v) for k, v in daily.items()} == by_link
    # Each thread's client kept its cookie: one visitor per thread, counted once per link and via.
    assert visitors == THREADS
    assert THREADS <= int(uniques or 0) <= THREADS * 4


# ---- a throwaway PostgreSQL cluster: stopped, and stalled behind a proxy -------------------------
@pytest.fixture(scope="module")
def cluster() -> Iterator[pg_support.ThrowawayPostgres]:
    reason = pg_support.missing_reason()
    if reason:
        pytest.skip(reason)
    pg = pg_support.ThrowawayPostgres()
    try:
        yield pg
    finally:
        pg.remove()


@pytest.fixture
def cluster_db(cluster: pg_support.ThrowawayPostgres) -> Iterator[str]:
    """A fresh migrated database on the throwaway cluster; yields its name."""
    name = f"faults_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(cluster.url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    engine = make_engine(normalise_database_url(f"{cluster.url.rsplit('/', 1)[0]}/{name}", "."))
    upgrade(engine)
    engine.dispose()
    yield name


@pytest.fixture
def cluster_app(tmp_path: Path) -> Iterator[Callable[..., Any]]:
    apps: list[Any] = []

    def make(url: str, **overrides: Any) -> Any:
        app = create_app({"database_url": url, "instance_path": str(tmp_path / "instance"),
                          "secret_key": "s", "ip_hash_secret": "i", "lookup_timeout_seconds": LOOKUP_TIMEOUT,
                          "TESTING": True, "SPOOL_BACKGROUND": False, **overrides})
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.extensions["tracker.redirects"]["spool"].stop()
        app.extensions["tracker.redirects"]["conversions"].spool.stop()
        get_db(app).engine.dispose()


def conversions(app: Any) -> list[tuple[str, str]]:
    with get_db(app).engine.connect() as conn:
        return sorted(tuple(r) for r in conn.execute(sa.select(Conversion.external_id, Conversion.type)))


@pytest.mark.slow
def test_database_stops_mid_load_and_comes_back(cluster: pg_support.ThrowawayPostgres, cluster_db: str,
                                               cluster_app: Callable[..., Any]) -> None:
    app = cluster_app(f"{cluster.url.rsplit('/', 1)[0]}/{cluster_db}", link_cache_seconds=0.5,
                      SPOOL_BACKGROUND=True)
    cached, never_seen = new_links(app, 2)
    with get_db(app).Session() as session:
        key, other_key = api_key(session), api_key(session)
    auth = {"Authorization": f"Bearer {key}"}
    client = app.test_client()
    assert client.post("/api/v1/conversions", json={"external_id": "d-0", "type": "lead"},
                       headers=auth).status_code == 201

    with Load(app, [f"/r/{cached}", f"/q/{cached}"]) as load:
        time.sleep(1.0)
        cluster.stop()  # fast shutdown: every connection is closed, new ones are refused
        try:
            time.sleep(1.0)  # past link_cache_seconds: only stale entries are left
            resp, took = timed_get(client, f"/r/{never_seen}")
            assert resp.status_code == 503 and took < BOUND and resp.headers["Retry-After"] == "30"
            single = client.post("/api/v1/conversions", headers=auth,
                                 json={"external_id": "d-1", "type": "purchase", "value": "990"})
            assert single.status_code == 202 and single.json["status"] == "queued", single.json
            batch = client.post("/api/v1/conversions?atomic=false", headers=auth, json={"conversions": [
                {"external_id": "d-2", "type": "lead"}, {"external_id": "d-3", "type": "nope"},
                {"external_id": "d-0", "type": "lead"}]})  # d-0/lead is stored already: a duplicate
            assert batch.status_code == 202 and batch.json["queued"] == 2
            assert [r["field"] for r in batch.json["rejected"]] == ["type"]
            invalid = client.post("/api/v1/conversions", headers=auth, json={"external_id": "d-4", "type": "x"})
            assert invalid.status_code == 422 and invalid.json["error"]["field"] == "type"
            unknown = client.post("/api/v1/conversions", json={"external_id": "d-5", "type": "lead"},
                                  headers={"Authorization": f"Bearer {other_key}"})
            assert unknown.status_code == 503 and unknown.json["error"]["code"] == "unavailable"
            report = client.get("/api/v1/reports/attribution", headers=auth)  # reports say why, never a 500
            assert report.status_code == 503 and report.json["error"]["code"] == "unavailable"
            assert "database is unavailable" in report.json["error"]["message"]
            time.sleep(1.0)
        finally:
            cluster.start()
        time.sleep(1.0)
    assert load.statuses.keys() == {302}, load.statuses  # every cached redirect was answered
    assert load.slowest < BOUND

    spool = app.extensions["tracker.redirects"]["spool"]
    queue = app.extensions["tracker.redirects"]["conversions"]
    assert wait_for(lambda: len(stored(app)[0]) >= len(load.tids), 30)
    assert wait_for(lambda: len(conversions(app)) == 3, 30), conversions(app)
    spool.stop()
    queue.spool.stop()
    tids, total = stored(app)
    assert tids == set(load.tids) and total == len(load.tids)
    assert conversions(app) == [("d-0", "lead"), ("d-1", "purchase"), ("d-2", "lead")]
    # The queued lines written a second time (a crash before the spool's bookkeeping) change nothing.
    lines = [line for p in Path(queue.spool.directory).glob("conversions-*.jsonl")
             for line in p.read_text().splitlines()]
    assert len(lines) == 2
    queue.write([json.loads(line) for line in lines])
    assert conversions(app) == [("d-0", "lead"), ("d-1", "purchase"), ("d-2", "lead")]
    assert queue.dead_letters() == []


@pytest.mark.slow
def test_stalled_database_does_not_make_redirects_hang(cluster: pg_support.ThrowawayPostgres, cluster_db: str,
                                                      cluster_app: Callable[..., Any]) -> None:
    proxy = pg_support.TcpProxy(cluster.port)
    try:
        app = cluster_app(f"{cluster.url_via(proxy.port).rsplit('/', 1)[0]}/{cluster_db}", link_cache_seconds=0.2)
        cached, never_seen = new_links(app, 2)
        client = app.test_client()
        answered = [tid_of(client.get(f"/r/{cached}").headers["Location"])]
        proxy.stall()  # connections stay open, nothing comes back: only client-side timeouts notice
        time.sleep(0.3)
        start = time.monotonic()
        for _ in range(30):
            resp, took = timed_get(client, f"/r/{cached}")
            assert resp.status_code == 302 and took < BOUND
            answered.append(tid_of(resp.headers["Location"]))
        assert time.monotonic() - start < 2 * BOUND  # one request pays the wait, the rest do not
        resp, took = timed_get(client, f"/r/{never_seen}")
        assert resp.status_code == 503 and took < BOUND
        proxy.resume()
        time.sleep(RETRY_SECONDS)
        assert wait_for(lambda: client.get(f"/r/{never_seen}").status_code == 302, 15)
        app.extensions["tracker.redirects"]["spool"].drain()
        tids, _ = stored(app)
        assert set(answered) <= tids and len(tids) - len(answered) >= 1  # plus the retried never-seen link
    finally:
        proxy.close()


def test_dead_letters_keep_conversions_the_database_refuses(make_app: Callable[..., Any]) -> None:
    """A queued conversion that is invalid by the time it is written (its currency lost its rate)."""
    app = make_app(currency_rates="EUR=11.60")
    queue = app.extensions["tracker.redirects"]["conversions"]
    sid, queued, _ = queue.accept([{"external_id": "e-1", "type": "lead", "value": "10", "currency": "EUR"},
                                   {"external_id": "e-2", "type": "lead"}], atomic=False)
    assert queued == 2
    records = [json.loads(line) for p in queue.spool.directory.glob("conversions-*.jsonl")
               for line in p.read_text().splitlines()]
    # After a restart without the EUR rate, the replay writes what is still valid and keeps the rest.
    later = make_app(currency_rates="")
    later_queue = later.extensions["tracker.redirects"]["conversions"]
    assert later_queue.write(records) == 1
    assert later_queue.write(records) == 0  # written twice: nothing new, the dead letter counted once
    dead = later_queue.dead_letters()
    assert [d["sid"] for d in dead] == [sid] and dead[0]["rejected"][0]["field"] == "currency"
    assert [i["external_id"] for i in dead[0]["items"]] == ["e-1"]
    assert conversions(app) == [("e-2", "lead")]
    status = json.loads(later.test_cli_runner().invoke(args=["spool", "status"]).output)
    assert status["conversions"]["dead_letters"] == 1 and status["conversions"]["dead_conversions"] == 1
    replay = later.test_cli_runner().invoke(args=["spool", "replay"])
    assert replay.exit_code == 0 and "1 queued conversions were refused" in replay.output
    assert later_queue.status()["dead_conversions"] == 1  # still there: a dead letter is no segment


def test_a_queued_conversion_of_a_person_erased_meanwhile_is_not_stored(make_app: Callable[..., Any]) -> None:
    from tracker.conversions.service import create_conversions
    from tracker.privacy.erasure import erase_person

    app = make_app()
    queue = app.extensions["tracker.redirects"]["conversions"]
    with get_db(app).Session() as session:
        first = create_conversions(session, app.config["SETTINGS"], queue.secret,
                                   [{"external_id": "p-1", "type": "lead", "customer_key": "kari@example.com"}])
        person = first.outcomes[0].conversion.person_id
    queue.accept([{"external_id": "p-1", "type": "purchase", "customer_key": "kari@example.com"},
                  {"external_id": "p-2", "type": "lead", "customer_key": "ola@example.com"}], atomic=False)
    with get_db(app).Session() as session:
        erase_person(session, person)  # the person asked to be forgotten while the purchase was queued
    assert queue.spool.drain() == 1
    assert conversions(app) == [("p-2", "lead")]


def test_conversions_are_queued_when_the_database_stays_locked(make_app: Callable[..., Any]) -> None:
    """Another session holds the conversions (PostgreSQL: a table lock; SQLite: the write lock)."""
    app = make_app(db_wait_seconds=0.5)
    client = app.test_client()
    with get_db(app).Session() as session:
        auth = {"Authorization": f"Bearer {api_key(session)}"}
    first = client.post("/api/v1/conversions", json={"external_id": "l-1", "type": "lead"}, headers=auth)
    assert first.status_code == 201  # the key is now known to this worker

    holder = get_db(app).engine.connect()
    if holder.dialect.name == "postgresql":
        holder.begin()
        holder.execute(sa.text("LOCK TABLE conversions IN ACCESS EXCLUSIVE MODE"))
    else:
        holder.exec_driver_sql("BEGIN IMMEDIATE")
    try:
        start = time.monotonic()
        queued = client.post("/api/v1/conversions", json={"external_id": "l-2", "type": "lead"}, headers=auth)
        took = time.monotonic() - start
    finally:
        holder.rollback()
        holder.close()
    assert queued.status_code == 202 and queued.json["status"] == "queued", queued.json
    assert took < BOUND + 0.5  # db_wait_seconds, not the 30 s a lock used to cost
    queue = app.extensions["tracker.redirects"]["conversions"]
    assert queue.spool.drain() == 1
    assert queue.spool.drain() == 0
    assert conversions(app) == [("l-1", "lead"), ("l-2", "lead")]


def test_settings_of_the_fault_paths_are_validated(tmp_path: Path) -> None:
    from tracker.config import ConfigError
    with pytest.raises(ConfigError, match="lookup_timeout_seconds"):
        load_settings({"lookup_timeout_seconds": 0, "instance_path": str(tmp_path), "secret_key": "s",
                       "ip_hash_secret": "i"})


# ---- a real server's worker killed with SIGKILL mid-load -----------------------------------------
def _children(pid: int) -> list[int]:
    """The server's worker processes (its direct children)."""
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False).stdout
    return [int(line) for line in found.split()]


class HttpLoad(Load):
    """Like :class:`Load`, over real HTTP connections (one per thread, reopened after a failure)."""

    def __init__(self, port: int, paths: list[str], threads: int = 6) -> None:
        super().__init__(None, paths, threads)
        self.port = port
        self.failed = 0

    def _run(self, index: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        i = index
        while not self.stop.is_set():
            try:
                conn.request("GET", self.paths[i % len(self.paths)])
                resp = conn.getresponse()
                resp.read()
            except (OSError, http.client.HTTPException):
                with self._lock:
                    self.failed += 1  # the request died with the worker: never answered, so not a click
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
                continue
            i += 1
            with self._lock:
                self.statuses[resp.status] += 1
                if resp.status == 302:
                    self.tids.append(tid_of(resp.getheader("Location")))
        conn.close()


def server_env(app: Any, tmp_path: Path, **overrides: str) -> dict[str, str]:
    return {**os.environ, "TRACKER_DATABASE_URL": app.config["SETTINGS"].database_url,
            "TRACKER_INSTANCE_PATH": str(tmp_path / "srv"), "TRACKER_SECRET_KEY": "s",
            "TRACKER_IP_HASH_SECRET": "i", "PYTHONUNBUFFERED": "1", **overrides}


TRACKER_BIN = str(Path(sys.executable).parent / "tracker")


@contextlib.contextmanager
def tracker_serve(env: dict[str, str], tmp_path: Path, probe: str,
                  expect: int = 302) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    """``tracker serve`` with 2 workers on a free port, up once ``HEAD probe`` answers ``expect``; SIGTERM after."""
    port = pg_support.free_port()
    log_path = tmp_path / f"server-{port}.log"
    log = log_path.open("wb")
    server = subprocess.Popen([TRACKER_BIN, "serve", "--workers", "2", "--port", str(port)], env=env,
                              stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        def up() -> bool:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            try:
                conn.request("HEAD", probe)  # not a click
                return conn.getresponse().status == expect
            except OSError:
                return False
            finally:
                conn.close()
        assert wait_for(up, 60) and len(_children(server.pid)) >= 2, log_path.read_text()
        yield port, server
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(10)
        log.close()


def replay(env: dict[str, str]) -> None:
    done = subprocess.run([TRACKER_BIN, "spool", "replay"], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


@pytest.mark.slow
def test_worker_killed_mid_load_loses_no_answered_click(make_app: Callable[..., Any], tmp_path: Path) -> None:
    app = make_app()
    codes = new_links(app, 2)
    env = server_env(app, tmp_path)
    with tracker_serve(env, tmp_path, f"/r/{codes[0]}") as (port, server):
        with HttpLoad(port, [f"/r/{c}" for c in codes]) as load:
            time.sleep(1.0)
            victim = _children(server.pid)[0]
            os.kill(victim, signal.SIGKILL)
            answered_before_kill = len(load.tids)
            time.sleep(1.5)
        assert answered_before_kill > 20 and len(load.tids) > answered_before_kill
    assert load.statuses.keys() == {302}
    replay(env)
    tids, total = stored(app)
    assert set(load.tids) <= tids  # every answered click is stored...
    assert len(tids) - len(load.tids) <= len(load.threads)  # ...plus at most the requests cut off mid-answer
    assert total == len(tids)


@pytest.mark.slow
def test_service_started_during_an_outage_redirects_the_links_read_before(
        make_app: Callable[..., Any], tmp_path: Path) -> None:
    app = make_app()
    known, unread = new_links(app, 2)
    env = server_env(app, tmp_path)
    answered = []
    with tracker_serve(env, tmp_path, f"/r/{known}") as (port, _):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", f"/r/{known}")
        before = conn.getresponse()
        before.read()
        answered.append(tid_of(before.getheader("Location")))
        conn.close()

    # The whole service restarts while the database is unreachable (nothing listens on its port).
    down = server_env(app, tmp_path, TRACKER_DATABASE_URL=f"postgresql://postgres@127.0.0.1:{pg_support.free_port()}/x")
    with tracker_serve(down, tmp_path, f"/r/{known}") as (port, _):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        for _ in range(3):
            conn.request("GET", f"/r/{known}")
            resp = conn.getresponse()
            resp.read()
            assert resp.status == 302
            assert resp.getheader("Location").split("tid=")[0] == before.getheader("Location").split("tid=")[0]
            answered.append(tid_of(resp.getheader("Location")))
        conn.request("GET", f"/r/{unread}")
        resp = conn.getresponse()
        resp.read()
        assert resp.status == 503  # read by nobody before the outage
        conn.close()

    replay(env)  # the database is back: the clicks spooled meanwhile are stored, once
    tids, total = stored(app)
    assert tids == set(answered) and total == len(answered) == 4

