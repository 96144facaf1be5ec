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
"""
from __future__ import annotations

import atexit
import logging
import multiprocessing.util
import os
import threading
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

__all__ = ["SCHEDULE", "Claimed", "Outcome", "Sender", "claim_due", "deliver_due", "send"]

log = logging.getLogger(__name__)

# Delay before attempt 1, 2, ... 7 (after the previous one failed); then the delivery has failed.
SCHEDULE = (timedelta(0), timedelta(seconds=5), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2),
            timedelta(hours=5), timedelta(hours=10))
TIMEOUT = 10.0  # seconds: connect, and then waiting for the answer's status line and headers
LEASE = timedelta(minutes=2)  # a claimed row is not claimed again for this long (well above TIMEOUT)
BATCH = 50
WORKERS = 8
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
    stmt = (sa.select(WebhookDelivery, Webhook.url, Webhook.secret)
            .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
            .where(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now,
                   Webhook.disabled.is_(False))
            .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id).limit(limit))
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True, of=WebhookDelivery)
    claimed = []
    for delivery, url, secret in session.execute(stmt).all():
        delivery.attempts += 1
        delivery.last_attempt_at = now
        delivery.next_attempt_at = now + LEASE
        claimed.append(Claimed(delivery.id, delivery.msg_id, delivery.payload, url, secret, delivery.attempts))
    session.commit()
    return claimed


def _headers(claimed: Claimed, when: datetime) -> dict[str, str]:
    signature = Signer(claimed.secret).sign(claimed.msg_id, when, claimed.payload)
    return {"content-type": "application/json", "user-agent": USER_AGENT,
            "webhook-id": claimed.msg_id, "webhook-timestamp": str(int(when.timestamp())),
            "webhook-signature": signature}


def send(claimed: Claimed, allow_private: bool, timeout: float = TIMEOUT) -> Outcome:
    """POST one delivery to the checked address of its target; never follow a redirect."""
    try:
        target = parse_target(claimed.url, allow_private)
        address = str(resolve(target, allow_private)[0])
    except TargetRefused as exc:
        return Outcome(None, f"refused: {exc}")
    except ValidationError as exc:  # the URL no longer passes (the setting was turned off since it was saved)
        return Outcome(None, f"refused: {exc.message}")
    headers = {"host": target.host_header, **_headers(claimed, utcnow())}
    limits = urllib3.Timeout(connect=min(timeout, 5.0), read=timeout)
    # Connect to the address just checked (not the name again: it could resolve elsewhere now); the
    # certificate and SNI are still those of the host name.
    if target.scheme == "https":
        pool: urllib3.HTTPConnectionPool = urllib3.HTTPSConnectionPool(
            address, target.port, server_hostname=target.host, assert_hostname=target.host,
            cert_reqs="CERT_REQUIRED", timeout=limits, retries=False, maxsize=1)
    else:
        pool = urllib3.HTTPConnectionPool(address, target.port, timeout=limits, retries=False, maxsize=1)
    try:
        with pool:
            resp = pool.urlopen("POST", target.path, body=claimed.payload.encode(), headers=headers,
                                redirect=False, retries=False, assert_same_host=False, preload_content=False)
            status = resp.status
            resp.close()  # only the status counts: the body is not read (a huge or endless one cannot hold us)
    except urllib3.exceptions.HTTPError as exc:
        reason = getattr(exc, "reason", None) or exc
        return Outcome(None, f"{type(exc).__name__}: {reason}"[:MAX_ERROR])
    if 200 <= status < 300:
        return Outcome(status, None)
    if 300 <= status < 400:
        return Outcome(status, f"answered {status}: redirects are not followed")
    return Outcome(status, f"answered {status}")


def record(session: Session, claimed: Claimed, outcome: Outcome, now: datetime | None = None,
           commit: bool = True) -> str:
    """Write one attempt's outcome and schedule the next attempt; commit (unless told not to).

    Return the new status, or ``superseded`` when the row was claimed again meanwhile (nothing written).
    """
    now = now or utcnow()
    values: dict[str, Any] = {"response_status": outcome.status, "last_error": outcome.error}
    if outcome.delivered:
        values.update(status="delivered", delivered_at=now, next_attempt_at=None)
    elif claimed.attempts >= len(SCHEDULE):
        values.update(status="failed", next_attempt_at=None)
    else:
        values.update(next_attempt_at=now + SCHEDULE[claimed.attempts])
    done = session.execute(sa.update(WebhookDelivery).where(
        WebhookDelivery.id == claimed.id, WebhookDelivery.status == "pending",
        WebhookDelivery.attempts == claimed.attempts).values(**values)).rowcount
    if commit:
        session.commit()
    return str(values.get("status", "pending")) if done else "superseded"


def deliver_due(session_factory: Callable[[], Session], allow_private: bool, *, timeout: float = TIMEOUT,
                limit: int = BATCH, now: datetime | None = None) -> dict[str, int]:
    """Send what is due once (in parallel, each bounded by ``timeout``); return counts by outcome."""
    with session_factory() as session:
        claimed = claim_due(session, now, limit)
    counts = {"claimed": len(claimed), "delivered": 0, "pending": 0, "failed": 0, "superseded": 0}
    if not claimed:
        return counts
    with ThreadPoolExecutor(max_workers=min(WORKERS, len(claimed)), thread_name_prefix="tracker-webhook") as pool:
        outcomes = list(pool.map(lambda c: send(c, allow_private, timeout), claimed))
    with session_factory() as session:
        begin_write(session)
        for item, outcome in zip(claimed, outcomes, strict=True):
            status = record(session, item, outcome, commit=False)
            counts[status] += 1
            if outcome.error:
                log.info("webhook delivery %s (attempt %d) failed: %s", item.id, item.attempts, outcome.error)
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

    def ensure(self) -> None:
        """Start this process's sender thread if it is not running."""
        if self._thread is not None and self._pid == os.getpid() and self._thread.is_alive():
            return
        with self._lock:
            if self._thread is not None and self._pid == os.getpid() and self._thread.is_alive():
                return
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

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                counts = deliver_due(self.session_factory, self.allow_private)
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
