"""A bounded in-process cache of links for the redirect path (short TTL, so edits show up quickly)."""
from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker

from tracker.links.models import Campaign, Link
from tracker.links.service import tracked_url


@dataclass(frozen=True)
class LinkSnapshot:
    """What the redirect needs of a link, computed once per cache fill."""

    id: int
    tracked_url: str
    fallback_url: str | None
    disabled: bool
    expires_at: datetime | None
    utm_source: str
    utm_medium: str
    utm_campaign: str
    utm_term: str | None
    utm_content: str | None

    def target(self, now: datetime) -> str | None:
        """Where to send the visitor: the tracked URL, else the campaign fallback, else None (410)."""
        if self.disabled or (self.expires_at is not None and self.expires_at <= now):
            return self.fallback_url
        return self.tracked_url


class LinkCache:
    """code -> LinkSnapshot (or None for unknown codes), each entry trusted for ``ttl`` seconds."""

    def __init__(self, session_factory: sessionmaker, ttl: float, max_entries: int = 50_000) -> None:
        self.session_factory = session_factory
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: OrderedDict[str, tuple[float, LinkSnapshot | None]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, code: str) -> LinkSnapshot | None:
        now = time.monotonic()
        entry = self._entries.get(code)
        if entry is not None and entry[0] > now:
            return entry[1]
        snapshot = self._load(code)
        with self._lock:
            self._entries[code] = (now + self.ttl, snapshot)
            self._entries.move_to_end(code)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return snapshot

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def _load(self, code: str) -> LinkSnapshot | None:
        with self.session_factory() as session:
            row = session.execute(
                sa.select(Link, Campaign.fallback_url).outerjoin(Campaign, Link.campaign_id == Campaign.id)
                .where(Link.code == code)).first()
            if row is None:
                return None
            link, fallback = row
            return LinkSnapshot(
                id=link.id, tracked_url=tracked_url(link), fallback_url=fallback, disabled=link.disabled,
                expires_at=link.expires_at, utm_source=link.utm_source, utm_medium=link.utm_medium,
                utm_campaign=link.utm_campaign, utm_term=link.utm_term, utm_content=link.utm_content)
