"""Events to deliveries: the rows written in the transaction that stores the event.

The services that store events call one function each, just before their commit:
:func:`record_clicks` (the click drain, ``tracker.redirects.capture.write_batch``), :func:`record_conversions`
(``tracker.conversions.service``, which the conversion spool's writer calls too), :func:`record_answers`
(``tracker.selfreports.service``) and :func:`record_links` (``tracker.links.service``). Each adds one
``webhook_deliveries`` row per (event, endpoint that wants it) to the caller's session: the delivery
commits or rolls back with the event, and is never sent from a request (the sender in
:mod:`tracker.webhooks.sender` sends it).

With no endpoint, or none that wants the event, the cost is one cached read of the enabled endpoints
(:class:`EndpointCache`, ``ENDPOINT_CACHE_SECONDS``; changes made through this app clear it at once).
The cache and the settings (taxonomy, reporting currency, public base URL) reach these functions in
``session.info``, which the app's session factory fills (:func:`configure_sessions`): a session made
elsewhere simply reads the endpoints every time and leaves ``channel`` out.

The payload is the Standard Webhooks envelope ``{"type", "timestamp", "data"}``, serialized once
and stored as sent: the signature covers these exact bytes.
"""
from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from tracker.db import utcnow
from tracker.domains.service import default_host, short_base
from tracker.webhooks.models import Webhook, WebhookDelivery

__all__ = ["EVENTS", "EndpointCache", "configure_sessions", "envelope", "new_msg_id", "record_answers",
           "record_clicks", "record_conversions", "record_links"]

EVENTS: Mapping[str, str] = {
    "click.recorded": "a human click or scan was stored (bots and link previews are not sent)",
    "conversion.recorded": "a new conversion was stored (a duplicate of a stored one is not sent again)",
    "answer.recorded": "an answer to \"How did you hear about us?\" was stored",
    "link.created": "a tracked link was created (API, bulk CSV, CLI, page or A/B variant)",
}
ENDPOINT_CACHE_SECONDS = 5.0
CACHE_KEY = "tracker.webhooks"
SETTINGS_KEY = "tracker.settings"


class EndpointCache:
    """The enabled endpoints and their events, read at most once per ``ttl`` seconds per process."""

    def __init__(self, ttl: float = ENDPOINT_CACHE_SECONDS) -> None:
        self.ttl = ttl
        self._lock = threading.Lock()
        self._value: tuple[float, tuple[tuple[int, frozenset[str]], ...]] | None = None

    def get(self, session: Session) -> tuple[tuple[int, frozenset[str]], ...]:
        value = self._value
        if value is not None and time.monotonic() < value[0]:
            return value[1]
        rows = tuple((wid, frozenset(events or ())) for wid, events in session.execute(
            sa.select(Webhook.id, Webhook.events).where(Webhook.disabled.is_(False)).order_by(Webhook.id)))
        with self._lock:
            self._value = (time.monotonic() + self.ttl, rows)
        return rows

    def clear(self) -> None:
        with self._lock:
            self._value = None


def configure_sessions(factory: sessionmaker[Session], settings: Any) -> EndpointCache:
    """Give every session of ``factory`` the settings and one shared endpoint cache (``session.info``)."""
    cache = EndpointCache()
    factory.configure(info={CACHE_KEY: cache, SETTINGS_KEY: settings})
    return cache


def clear_cache(session: Session) -> None:
    """Forget the cached endpoints (after an endpoint was created, changed or deleted)."""
    cache = session.info.get(CACHE_KEY)
    if isinstance(cache, EndpointCache):
        cache.clear()


def _wanting(session: Session, event: str) -> list[int]:
    cache = session.info.get(CACHE_KEY)
    endpoints = cache.get(session) if isinstance(cache, EndpointCache) else EndpointCache(0).get(session)
    return [wid for wid, events in endpoints if event in events]


def new_msg_id() -> str:
    """A message id (the ``webhook-id`` header): the same on every attempt of one delivery."""
    return "msg_" + secrets.token_urlsafe(18)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def envelope(event: str, timestamp: datetime, data: Mapping[str, Any]) -> str:
    """Serialize one event as the Standard Webhooks payload ``{"type", "timestamp", "data"}``."""
    return json.dumps({"type": event, "timestamp": _iso(timestamp), "data": data},
                      separators=(",", ":"), ensure_ascii=False, default=str)


def _add(session: Session, event: str, items: Iterable[tuple[datetime, Mapping[str, Any]]],
         endpoints: Sequence[int]) -> int:
    now = utcnow()
    rows = []
    for ts, data in items:
        payload = envelope(event, ts, data)
        rows.extend({"webhook_id": wid, "msg_id": new_msg_id(), "event": event, "payload": payload,
                     "status": "pending", "attempts": 0, "next_attempt_at": now, "created_at": now}
                    for wid in endpoints)
    if rows:
        # Core executemany: one statement for a whole click batch.
        session.execute(sa.insert(WebhookDelivery.__table__), rows)
    return len(rows)


def _channels(session: Session, sources: list[tuple[str | None, str | None]]) -> list[str | None]:
    settings = session.info.get(SETTINGS_KEY)
    taxonomy = getattr(settings, "taxonomy", None)
    if taxonomy is None or not sources:
        return [None] * len(sources)
    import pandas as pd

    from attribution.channels import assign_channels
    frame = pd.DataFrame(sources, columns=["utm_source", "utm_medium"])
    return list(assign_channels(frame, taxonomy.as_dict()))


def record_clicks(session: Session, clicks: Sequence[Mapping[str, Any]]) -> int:
    """Add ``click.recorded`` deliveries for the new human clicks and scans (rows as the drain inserts them).

    Returns the number of deliveries added. Bots and link previews are left out (``is_bot``).
    """
    if not clicks:
        return 0
    endpoints = _wanting(session, "click.recorded")
    human = [c for c in clicks if not c.get("is_bot")]
    if not endpoints or not human:
        return 0
    from tracker.links.models import Campaign, Link
    links = {row.id: row for row in session.execute(
        sa.select(Link.id, Link.code, Link.kind, Link.label, Campaign.slug.label("campaign"))
        .outerjoin(Campaign, Campaign.id == Link.campaign_id)
        .where(Link.id.in_({c["link_id"] for c in human})))}
    channels = _channels(session, [(c.get("utm_source"), c.get("utm_medium")) for c in human])
    items = []
    for c, channel in zip(human, channels, strict=True):
        link = links.get(c["link_id"])
        items.append((c["ts"], {
            "click_id": c["tid"], "ts": _iso(c["ts"]), "via": c["via"], "outcome": c.get("outcome", "redirect"),
            "link": {"id": c["link_id"], "code": link.code if link else None,
                     "campaign": link.campaign if link else None, "kind": link.kind if link else None,
                     "label": link.label if link else None},
            "channel": channel, "utm_source": c.get("utm_source"), "utm_medium": c.get("utm_medium"),
            "utm_campaign": c.get("utm_campaign"), "utm_term": c.get("utm_term"),
            "utm_content": c.get("utm_content"),
            "device_type": c.get("device_type"), "browser": c.get("browser"), "os": c.get("os"),
            "country": c.get("country") or "", "city": c.get("city") or "", "rule": c.get("rule"),
            "referrer_host": c.get("referrer_host"),
        }))
    return _add(session, "click.recorded", items, endpoints)


def record_conversions(session: Session, conversions: Sequence[Any]) -> int:
    """Add ``conversion.recorded`` deliveries for newly stored conversions (``Conversion`` rows, flushed)."""
    endpoints = _wanting(session, "conversion.recorded") if conversions else []
    if not endpoints:
        return 0
    currency = getattr(session.info.get(SETTINGS_KEY), "reporting_currency", None)
    return _add(session, "conversion.recorded", ((c.ts, {
        "id": c.id, "external_id": c.external_id, "type": c.type, "ts": _iso(c.ts),
        "value": str(c.value), "currency": currency, "original_value": str(c.original_value),
        "original_currency": c.original_currency, "person_id": c.person_id, "tid": c.tid,
    }) for c in conversions), endpoints)


def record_answers(session: Session, reports: Sequence[Any]) -> int:
    """Add ``answer.recorded`` deliveries for newly stored self-reports (``SelfReport`` rows, flushed)."""
    endpoints = _wanting(session, "answer.recorded") if reports else []
    if not endpoints:
        return 0
    return _add(session, "answer.recorded", ((r.ts, {
        "id": r.id, "ts": _iso(r.ts), "option": r.option, "text": r.text, "language": r.language,
        "conversion_external_id": r.conversion_external_id, "person_id": r.person_id, "tid": r.tid,
        "via": r.via,
    }) for r in reports), endpoints)


def record_links(session: Session, links: Sequence[Any]) -> int:
    """Add ``link.created`` deliveries for newly created links (``Link`` rows, flushed)."""
    endpoints = _wanting(session, "link.created") if links else []
    if not endpoints:
        return 0
    settings = session.info.get(SETTINGS_KEY)

    def base(link: Any) -> str:  # scheme://host of the link's short-link domain (tracker/domains)
        return short_base(link, settings) if settings is not None else ""

    return _add(session, "link.created", ((link.created_at or utcnow(), {
        "id": link.id, "code": link.code, "domain": link.domain.host if link.domain is not None else
        (default_host(settings) if settings is not None else None),
        "short_url": f"{base(link)}/r/{link.code}", "qr_url": f"{base(link)}/q/{link.code}",
        "destination": link.destination, "campaign": link.campaign.slug if link.campaign else None,
        "kind": link.kind, "label": link.label, "utm_source": link.utm_source, "utm_medium": link.utm_medium,
        "utm_campaign": link.utm_campaign, "utm_term": link.utm_term, "utm_content": link.utm_content,
        "experiment": link.experiment, "variant": link.variant, "created_at": _iso(link.created_at),
    }) for link in links), endpoints)
