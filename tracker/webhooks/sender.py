"""Sending deliveries: claim what is due, sign, POST, record the answer, schedule the retry.

A delivery is attempted at once, then after 5 s, 5 min, 30 min, 2 h, 5 h and 10 h (``SCHEDULE``, the
Standard Webhooks schedule); when the seventh attempt fails it is marked ``failed``. An answer 2xx marks
it ``delivered`` and it is never sent again; anything else (3xx included: redirects are not followed),
a timeout, a refused connection or a refused address is a failed attempt. Every attempt carries the
same ``webhook-id``; the ``webhook-timestamp`` and ``webhook-signature`` are those of the attempt.

All state is in the database, so a restart loses nothing. Claiming: in one short transaction the due
rows are locked (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, the write lock on SQLite), their
``attempts`` counted up and ``next_attempt_at`` pushed past the lease (``LEASE``); the HTTP requests run
after the commit, in parallel (``WORKERS``), each bounded by ``timeout``. The result is written only if
the row is still the one claimed (``attempts`` unchanged), so two app servers never send one delivery
at once, and a server that died while sending leaves the row to be sent again once its lease ends.

The sender runs as one thread per app process (:class:`Sender`, started by the first request or click
drain, like the spool drain) and as ``tracker webhooks deliver`` (what is due, once).

Throughput: connections to a target are kept open between deliveries and batches (:class:`Connections`,
one pool per checked address, host and port), so a busy endpoint costs one TLS handshake, not one per
click; the results of a batch are written with one statement per delivery on one connection, in one
transaction. ``make bench-webhooks`` measures deliveries per second against bare HTTP POSTs. A kept
connection the receiver closed meanwhile is noticed before reuse (urllib3 checks it); if it closes during
the request, that attempt fails and is retried on the schedule (same ``webhook-id``).
"""
from __future__ import annotations

import atexit
import logging
import multiprocessing.util
import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
import urllib3
from sqlalchemy.orm import Session
from standardwebhooks.webhooks import Webhook as Signer

from tracker.db import begin_write, utcnow
from tracker.errors import ValidationError
from tracker.webhooks.models import Webhook, WebhookDelivery
from tracker.webhooks.targets import TargetRefused, parse_target, resolve

__all__ = ["SCHEDULE", "Claimed", "Connections", "Outcome", "Sender", "claim_due", "deliver_due", "send"]

log = logging.getLogger(__name__)

# Delay before attempt 1, 2, ... 7 (after the previous one failed); then the delivery has failed.
SCHEDULE = (timedelta(0), timedelta(seconds=5), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2),
            timedelta(hours=5), timedelta(hours=10))
TIMEOUT = 10.0  # seconds: connect, and then waiting for the answer's status line and headers
LEASE = timedelta(minutes=2)  # a claimed row is not claimed again for this long (well above TIMEOUT)
BATCH = 200
WORKERS = 8
MAX_POOLS = 64  # targets whose connections are kept (least recently used closed first)
POLL_SECONDS = 1.0
MAX_ERROR = 500
USER_AGENT = "tracker-webhooks/1"


@dataclass(frozen=True)
class Claimed:
    """A delivery claimed for one attempt (``attempts`` is that attempt's number and the claim's token)."""

    id: int
    msg_id: str
    payload: str
    url: str
    secret: str
    attempts: int


@dataclass(frozen=True)
class Outcome:
    status: int | None  # the HTTP status answered, None when there was no answer
    error: str | None  # why the attempt failed (None: answered 2xx)

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def claim_due(session: Session, now: datetime | None = None, limit: int = BATCH) -> list[Claimed]:
    """Claim up to ``limit`` due deliveries of enabled endpoints; commit."""
    now = now or utcnow()
    begin_write(session)  # SQLite: the write lock, so two processes cannot claim the same rows
    table = WebhookDelivery.__table__
    stmt = (sa.select(table.c.id, table.c.msg_id, table.c.payload, Webhook.url, Webhook.secret, table.c.attempts)
            .join(Webhook, Webhook.id == table.c.webhook_id)
            .where(table.c.status == "pending", table.c.next_attempt_at <= now, Webhook.disabled.is_(False))
            .order_by(table.c.next_attempt_at, table.c.id).limit(limit))
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True, of=table)
    claimed = [Claimed(*row[:5], attempts=row.attempts + 1) for row in session.execute(stmt)]
    if claimed:
        session.connection().execute(
            sa.update(table).where(table.c.id == sa.bindparam("b_id"))
            .values(attempts=sa.bindparam("b_attempts"), last_attempt_at=now, next_attempt_at=now + LEASE),
            [{"b_id": c.id, "b_attempts": c.attempts} for c in claimed])
    session.commit()
    return claimed


def _headers(claimed: Claimed, when: datetime) -> dict[str, str]:
    signature = Signer(claimed.secret).sign(claimed.msg_id, when, claimed.payload)
    return {"content-type": "application/json", "user-agent": USER_AGENT,
            "webhook-id": claimed.msg_id, "webhook-timestamp": str(int(when.timestamp())),
            "webhook-signature": signature}


class Connections:
    """Open connections per target, kept between deliveries: one urllib3 pool per (scheme, address, port, host).

    The key holds the address checked for this attempt, so a name that now resolves elsewhere gets a
    pool of its own (after the same checks); pools hold up to ``WORKERS`` connections and never block.
    """

    def __init__(self, timeout: float = TIMEOUT, max_pools: int = MAX_POOLS) -> None:
        self.limits = urllib3.Timeout(connect=min(timeout, 5.0), read=timeout)
        self.max_pools = max_pools
        self._pools: OrderedDict[tuple[str, str, int, str], urllib3.HTTPConnectionPool] = OrderedDict()
        self._lock = threading.Lock()

    def pool(self, scheme: str, address: str, port: int, host: str) -> urllib3.HTTPConnectionPool:
        key = (scheme, address, port, host)
        with self._lock:
            pool = self._pools.get(key)
            if pool is not None:
                self._pools.move_to_end(key)
                return pool
            # Connect to the address just checked (not the name again: it could resolve elsewhere now);
            # the certificate and SNI are still those of the host name.
            if scheme == "https":
                pool = urllib3.HTTPSConnectionPool(
                    address, port, server_hostname=host, assert_hostname=host, cert_reqs="CERT_REQUIRED",
                    timeout=self.limits, retries=False, maxsize=WORKERS, block=False)
            else:
                pool = urllib3.HTTPConnectionPool(address, port, timeout=self.limits, retries=False, maxsize=WORKERS,
                                                  block=False)
            self._pools[key] = pool
            while len(self._pools) > self.max_pools:
                self._pools.popitem(last=False)[1].close()
            return pool

    def close(self) -> None:
        with self._lock:
            for pool in self._pools.values():
                pool.close()
            self._pools.clear()


def send(claimed: Claimed, allow_private: bool, timeout: float = TIMEOUT,
         connections: Connections | None = None) -> Outcome:
    """POST one delivery to the checked address of its target; never follow a redirect.

    ``connections``: kept connections to reuse (:class:`Connections`); without, one is opened and closed.
    """
    try:
        target = parse_target(claimed.url, allow_private)
        address = str(resolve(target, allow_private)[0])
    except TargetRefused as exc:
        return Outcome(None, f"refused: {exc}")
    except ValidationError as exc:  # the URL no longer passes (the setting was turned off since it was saved)
        return Outcome(None, f"refused: {exc.message}")
    headers = {"host": target.host_header, **_headers(claimed, utcnow())}
    own = connections is None
    pool = (connections or Connections(timeout, max_pools=1)).pool(target.scheme, address, target.port, target.host)
    try:
        resp = pool.urlopen("POST", target.path, body=claimed.payload.encode(), headers=headers,
                            redirect=False, retries=False, assert_same_host=False, preload_content=False)
        status = resp.status
        # Only the status counts: at most a small body is read so the connection can be reused; a larger or
        # endless one closes it (it cannot hold us).
        length = resp.headers.get("content-length", "")
        if status in (204, 304) or (length.isdigit() and int(length) <= 65536):
            resp.drain_conn()
            resp.release_conn()
        else:
            resp.close()
    except urllib3.exceptions.HTTPError as exc:
        reason = getattr(exc, "reason", None) or exc
        return Outcome(None, f"{type(exc).__name__}: {reason}"[:MAX_ERROR])
    finally:
        if own:
            pool.close()
    if 200 <= status < 300:
        return Outcome(status, None)
    if 300 <= status < 400:
        return Outcome(status, f"answered {status}: redirects are not followed")
    return Outcome(status, f"answered {status}")


def _values(claimed: Claimed, outcome: Outcome, now: datetime) -> dict[str, Any]:
    """The row's new columns after this attempt: delivered, failed for good, or due again on the schedule."""
    values: dict[str, Any] = {"status": "pending", "response_status": outcome.status, "last_error": outcome.error,
                              "delivered_at": None, "next_attempt_at": None}
    if outcome.delivered:
        values.update(status="delivered", delivered_at=now)
    elif claimed.attempts >= len(SCHEDULE):
        values.update(status="failed")
    else:
        values.update(next_attempt_at=now + SCHEDULE[claimed.attempts])
    return values


def record(session: Session, results: list[tuple[Claimed, Outcome]], now: datetime | None = None) -> dict[str, int]:
    """Write the attempts' outcomes and schedule the next attempts, in the session's transaction.

    One UPDATE per row, sent as one batch (executemany) on the session's connection; a row is written only if it
    is still the one claimed (``pending`` with the same ``attempts``). Returns counts of the statuses the results
    asked for, and ``superseded``: how many were not written because the row was claimed again meanwhile (a
    lease ran out; the newer claim's result stands).
    """
    now = now or utcnow()
    table = WebhookDelivery.__table__
    stmt = (sa.update(table)
            .where(table.c.id == sa.bindparam("b_id"), table.c.status == "pending",
                   table.c.attempts == sa.bindparam("b_attempts"))
            .values({name: sa.bindparam(f"b_{name}", type_=table.c[name].type)
                     for name in ("status", "response_status", "last_error", "delivered_at", "next_attempt_at")}))
    rows = []
    counts = {"delivered": 0, "pending": 0, "failed": 0, "superseded": 0}
    for claimed, outcome in results:
        values = _values(claimed, outcome, now)
        counts[values["status"]] += 1
        rows.append({"b_id": claimed.id, "b_attempts": claimed.attempts, **{f"b_{k}": v for k, v in values.items()}})
    if rows:
        written = session.connection().execute(stmt, rows).rowcount
        if written >= 0 and written < len(rows):  # rare: attribute the difference without a query per row
            counts["superseded"] = len(rows) - written
    return counts


def deliver_due(session_factory: Callable[[], Session], allow_private: bool, *, timeout: float = TIMEOUT,
                limit: int = BATCH, now: datetime | None = None,
                connections: Connections | None = None) -> dict[str, int]:
    """Send what is due once (in parallel, each bounded by ``timeout``); return counts by outcome.

    ``connections``: kept between calls by the sender thread; without, they last this call.
    """
    with session_factory() as session:
        claimed = claim_due(session, now, limit)
    counts = {"claimed": len(claimed), "delivered": 0, "pending": 0, "failed": 0, "superseded": 0}
    if not claimed:
        return counts
    conns = connections or Connections(timeout)
    try:
        with ThreadPoolExecutor(max_workers=min(WORKERS, len(claimed)), thread_name_prefix="tracker-webhook") as pool:
            outcomes = list(pool.map(lambda c: send(c, allow_private, timeout, conns), claimed))
    finally:
        if connections is None:
            conns.close()
    for item, outcome in zip(claimed, outcomes, strict=True):
        if outcome.error:
            log.info("webhook delivery %s (attempt %d) failed: %s", item.id, item.attempts, outcome.error)
    with session_factory() as session:
        begin_write(session)
        counts.update(record(session, list(zip(claimed, outcomes, strict=True))))
        session.commit()  # one transaction for the batch's results
    return counts


class Sender:
    """The background sender of one app process (started lazily, after a fork too; stopped at exit)."""

    def __init__(self, session_factory: Callable[[], Session], allow_private: bool,
                 interval: float = POLL_SECONDS) -> None:
        self.session_factory = session_factory
        self.allow_private = allow_private
        self.interval = interval
        self._thread: threading.Thread | None = None
        self._pid: int | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.connections = Connections()

    def ensure(self) -> None:
        """Start this process's sender thread if it is not running."""
        if self._thread is not None and self._pid == os.getpid() and self._thread.is_alive():
            return
        with self._lock:
            if self._thread is not None and self._pid == os.getpid() and self._thread.is_alive():
                return
            if self._pid != os.getpid():
                self.connections = Connections()  # after a fork: the parent's sockets are not ours
            self._pid = os.getpid()
            self._stop = threading.Event()
            self._thread = threading.Thread(target=self._run, name="tracker-webhook-sender", daemon=True)
            self._thread.start()
            atexit.register(self.stop)
            multiprocessing.util.Finalize(None, self.stop, exitpriority=10)

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        self._thread = None
        self.connections.close()

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                counts = deliver_due(self.session_factory, self.allow_private, connections=self.connections)
                failures = 0
                if counts["claimed"] >= BATCH:
                    continue  # more are due: go on at once
            except Exception:  # the database may be down: the deliveries wait in it, retry later
                failures += 1
                log.exception("webhook sender failed (attempt %d); deliveries stay queued", failures)
            self._stop.wait(min(self.interval * (2 ** min(failures, 5)), 30.0))


def init_app(app: Any) -> Sender:
    """Set the app's sessions up for the event functions and give it a background sender.

    The sender starts with the first request or click drain of each process when ``SPOOL_BACKGROUND``
    is on (the tests turn it off and call :func:`deliver_due` themselves).
    """
    from flask import Flask

    from tracker.db import get_db
    from tracker.webhooks.events import configure_sessions

    assert isinstance(app, Flask)
    settings = app.config["SETTINGS"]
    db = get_db(app)
    configure_sessions(db.Session, settings)
    sender = Sender(db.Session, settings.webhook_allow_private_addresses)
    app.extensions["tracker.webhooks"] = sender
    if app.config["SPOOL_BACKGROUND"]:
        app.before_request(sender.ensure)
    return sender


def ensure_sender(app: Any) -> None:
    """Start the app's sender thread if it has one and background work is on (from the click drain)."""
    sender = app.extensions.get("tracker.webhooks")
    if sender is not None and app.config["SPOOL_BACKGROUND"]:
        sender.ensure()
