"""Conversions accepted while the database is unavailable: queued durably, written once when it is back.

When a ``POST /api/v1/conversions`` cannot reach the database (connection refused or lost, SQLite
locked past its busy timeout, a pool or statement timeout), the request is answered from here:

1. The API key: the database cannot be asked, so only a key this worker verified for this endpoint
   within ``offline_key_seconds`` (default 1 hour) is accepted; it is remembered as a SHA-256 of the
   key, never the key. Other requests get 503 with ``Retry-After``.
2. Everything that needs no database is checked exactly as usual (fields, type, value, currency and
   its rate, time, id formats): an invalid conversion gets the usual 422, so a client's mistakes are
   reported at once, not queued.
3. The request's valid conversions are appended as one line to the conversion spool
   (``<spool>/conversions-<pid>-<ns>.jsonl``, the click spool's :class:`Spool` under another name;
   always fsync'ed: conversions are few and carry money) with a spool id ``sid``, the time received
   and the ``atomic`` flag, and the answer is **202** ``{"status": "queued", "queued": n, "sid": ...}``.
4. The spool's drain thread (and ``tracker spool replay`` for stopped processes) writes each line
   with :func:`tracker.conversions.service.create_conversions` as if it had just arrived: ``now`` is the
   time received (a missing ``ts`` is that time). Idempotency on (external id, type) makes a line
   written twice (a crash between commit and spool bookkeeping) count once; ``external_id`` is
   required, so every conversion has that key, and ``sid`` identifies the request in dead letters.
5. A conversion the database rejects on replay (a currency rate or funnel type removed from the
   settings meanwhile, anything the service refuses) is never dropped silently: it goes with the
   reasons to the dead-letter file ``<spool>/dead-conversions.jsonl`` (an atomic request's line goes
   there whole, as it would have been refused whole), is logged, and is counted by
   ``tracker spool status``. Fix the cause and send those conversions again.

:meth:`ConversionQueue.write` is the one writer; it first drops the conversions of people erased after
the line was received (``tracker.privacy.erasure.drop_erased_conversions``).
"""
from __future__ import annotations

import json
import logging
import os
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from flask import Flask, Request, Response, current_app, jsonify, request
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session

from tracker.auth.service import key_hash
from tracker.config import Settings
from tracker.db import utcnow
from tracker.errors import ValidationError
from tracker.people.service import clean_id
from tracker.redirects.spool import Spool

__all__ = ["DB_UNAVAILABLE", "ConversionQueue", "conversion_queue", "init_app"]

log = logging.getLogger(__name__)

DEAD_LETTERS = "dead-conversions.jsonl"  # must not match the segments' glob (conversions-*.jsonl)
MAX_KEYS = 1000  # remembered keys per worker
CREATE_ENDPOINT = "conversions.create_conversions"
# What a database that is down, locked or stalled raises through SQLAlchemy.
DB_UNAVAILABLE = (OperationalError, InterfaceError, PoolTimeout)


def validate_offline(settings: Settings, item: Mapping[str, Any], now: datetime) -> None:
    """Check one conversion as far as possible without the database; raise ValidationError."""
    from tracker.conversions.service import validate

    validate(settings, item, now)
    for name in ("tid", "site_visitor_id"):
        clean_id(item.get(name), name)
    key = item.get("customer_key")
    if key is not None and not isinstance(key, str):
        raise ValidationError("customer_key must be a string (an e-mail address or a customer id)", "customer_key")


class ConversionQueue:
    """The conversion spool of one service, its dead letters, and the keys it may accept offline."""

    def __init__(self, settings: Settings, session_factory: Callable[[], Session], secret: bytes,
                 background: bool) -> None:
        self.settings = settings
        self.session_factory = session_factory
        self.secret = secret
        self.background = background
        self.spool = Spool(settings.spool_path, self.write, fsync=True, interval=1.0, name="conversions")
        self.dead_path = Path(settings.spool_path) / DEAD_LETTERS
        self._keys: OrderedDict[str, float] = OrderedDict()
        self._keys_lock = threading.Lock()

    # ---- keys ----------------------------------------------------------------------------------
    @staticmethod
    def _key_digest(req: Request) -> str | None:
        header = req.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        return key_hash(token.strip())

    def remember_key(self, req: Request) -> None:
        """Note that the request's key was just verified for sending conversions."""
        digest = self._key_digest(req)
        if digest is None:
            return
        with self._keys_lock:
            self._keys[digest] = time.monotonic()
            self._keys.move_to_end(digest)
            while len(self._keys) > MAX_KEYS:
                self._keys.popitem(last=False)

    def knows_key(self, req: Request) -> bool:
        """Whether the request's key was verified here within ``offline_key_seconds``."""
        digest = self._key_digest(req)
        seen = self._keys.get(digest) if digest else None
        return seen is not None and time.monotonic() - seen <= self.settings.offline_key_seconds

    # ---- accepting -----------------------------------------------------------------------------
    def accept(self, items: Sequence[Mapping[str, Any]], atomic: bool) -> tuple[str, int, list[dict[str, Any]]]:
        """Validate without the database and spool the valid items; return (sid, queued, rejected).

        Raises ValidationError (nothing queued) when an atomic request has an invalid item.
        """
        now = utcnow()
        valid: list[Mapping[str, Any]] = []
        rejected: list[dict[str, Any]] = []
        for index, item in enumerate(items):
            try:
                if not isinstance(item, Mapping):
                    raise ValidationError("each conversion must be a JSON object", None)
                validate_offline(self.settings, item, now)
            except ValidationError as exc:
                rejected.append({"index": index, "field": exc.field, "message": exc.message})
                continue
            valid.append(item)
        if rejected and atomic:
            if len(items) == 1:
                raise ValidationError(rejected[0]["message"], rejected[0]["field"])
            raise ValidationError(f"{len(rejected)} of {len(items)} conversions are invalid; nothing was stored "
                                  "(see rejected, or send atomic=false to store the valid ones)",
                                  "conversions", rejected=rejected)
        sid = secrets.token_urlsafe(12)
        if valid:
            self.spool.append({"sid": sid, "received": now.isoformat(), "atomic": atomic, "items": valid})
            if self.background:
                self.spool.start()
        return sid, len(valid), rejected

    # ---- writing (drain and replay) ------------------------------------------------------------
    def write(self, records: list[dict[str, Any]]) -> int:
        """Write spooled requests to the database, one transaction each; rejected ones to dead letters.

        Database errors propagate (the lines stay spooled and are retried).
        """
        from tracker.conversions.service import create_conversions
        from tracker.privacy.erasure import drop_erased_conversions

        created = 0
        for record in records:
            received = datetime.fromisoformat(record["received"])
            with self.session_factory() as session:
                # People erased after the line was received stay erased: the tombstone check and the
                # insert share one transaction, which holds the tombstones' lock, so an erasure cannot
                # commit between them.
                kept = drop_erased_conversions(session, self.secret, [record])
                if not kept:
                    session.rollback()
                    continue
                record = kept[0]
                result = create_conversions(session, self.settings, self.secret, record["items"],
                                            atomic=record["atomic"], now=received)
            created += result.created
            if result.rejected:
                self._dead_letter(record, result.rejected, whole=not result.committed)
        return created

    def _dead_letter(self, record: dict[str, Any], rejected: list[dict[str, Any]], whole: bool) -> None:
        items = record["items"] if whole else [record["items"][r["index"]] for r in rejected]
        line = json.dumps({"sid": record["sid"], "received": record["received"], "dead_at": utcnow().isoformat(),
                           "atomic": record["atomic"], "items": items, "rejected": rejected},
                          separators=(",", ":"), ensure_ascii=False, default=str).encode() + b"\n"
        fd = os.open(self.dead_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)
        log.error("spooled conversions %s were rejected by the database and moved to %s: %s",
                  record["sid"], self.dead_path, "; ".join(r["message"] for r in rejected))

    def dead_letters(self) -> list[dict[str, Any]]:
        """The dead letters, one per spooled request (a line written twice by a replay counts once)."""
        try:
            lines = self.dead_path.read_bytes().splitlines()
        except FileNotFoundError:
            return []
        seen: dict[str, dict[str, Any]] = {}
        for line in lines:
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            seen.setdefault(entry["sid"], entry)
        return list(seen.values())

    def status(self) -> dict[str, Any]:
        dead = self.dead_letters()
        return {**self.spool.status(), "dead_letter_file": str(self.dead_path),
                "dead_letters": len(dead), "dead_conversions": sum(len(d["items"]) for d in dead)}


# ---- the answer while the database is unavailable ------------------------------------------------
def _unavailable(settings: Settings) -> tuple[Response, int, dict[str, str]]:
    body = {"error": {"code": "unavailable", "field": None,
                      "message": "the database is unavailable; retry later"}}
    return jsonify(body), 503, {"Retry-After": str(settings.unavailable_retry_after)}


def _queue_request(queue: ConversionQueue) -> tuple[Response, int] | None:
    """Answer a conversions POST from the spool (202), or None when its key cannot be trusted offline."""
    from tracker.conversions.service import parse_conversions

    if not queue.knows_key(request):
        return None
    try:
        items, batch = parse_conversions(request.get_json(silent=True))
        atomic = request.args.get("atomic", "true").strip().lower() not in ("false", "0", "no", "off") or not batch
        sid, queued, rejected = queue.accept(items, atomic)
    except ValidationError as exc:  # raised in an error handler, so answered here
        return jsonify(exc.to_dict()), exc.status
    body: dict[str, Any] = {"status": "queued", "queued": queued, "sid": sid,
                            "message": "the database is unavailable: the conversions are queued and will be "
                                       "stored once it is back (idempotent on external_id and type)"}
    if batch:
        body["rejected"] = rejected
    return jsonify(body), 202


def init_app(app: Flask, session_factory: Callable[[], Session], secret: bytes) -> ConversionQueue:
    """Create the service's conversion queue and answer database outages on the API (503, or 202 here)."""
    settings: Settings = app.config["SETTINGS"]
    queue = ConversionQueue(settings, session_factory, secret, background=app.config["SPOOL_BACKGROUND"])

    def outage(exc: Exception) -> Any:
        log.warning("database unavailable during %s %s: %s", request.method, request.path,
                    str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        if request.endpoint == CREATE_ENDPOINT and request.method == "POST":
            answer = _queue_request(queue)
            if answer is not None:
                return answer
        return _unavailable(settings)

    for error in DB_UNAVAILABLE:
        app.register_error_handler(error, outage)
    return queue


def conversion_queue() -> ConversionQueue:
    return current_app.extensions["tracker.redirects"]["conversions"]  # type: ignore[no-any-return]
