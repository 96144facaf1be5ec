"""A bounded in-process cache of links for the redirect path (short TTL, so edits show up quickly)."""
from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker
from werkzeug.urls import iri_to_uri

from tracker.links.models import Campaign, Link
from tracker.links.service import tracked_url
from tracker.links.urls import merge_query

TID_MARK = "TIDMARK7"  # survives merge_query and iri_to_uri unchanged


@dataclass(frozen=True)
class LinkSnapshot:
    """What the redirect needs of a link, computed once per cache fill.

    Locations are ready for the ``Location`` header (IRIs encoded to ASCII URIs). The tracked URL is
    kept split around the click id, so a redirect only has to join three strings.
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

    @classmethod
    def build(cls, link: Link, fallback_url: str | None) -> LinkSnapshot:
        with_mark = iri_to_uri(merge_query(tracked_url(link), {"tid": TID_MARK}))
        before, _, after = with_mark.rpartition(TID_MARK)
        return cls(
            id=link.id, location_before_tid=before, location_after_tid=after,
            fallback_location=iri_to_uri(fallback_url) if fallback_url else None, disabled=link.disabled,
            expires_at=link.expires_at, utm_source=link.utm_source, utm_medium=link.utm_medium,
            utm_campaign=link.utm_campaign, utm_term=link.utm_term, utm_content=link.utm_content)

    def live(self, now: datetime) -> bool:
        """False when the link is disabled or expired (it goes to the fallback, or answers 410)."""
        return not self.disabled and (self.expires_at is None or self.expires_at > now)

    @property
    def tracked_location(self) -> str:
        """The tracked URL without a click id (what a HEAD request is shown)."""
        return merge_query(self.location_before_tid + self.location_after_tid, {"tid": ""})


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
            return LinkSnapshot.build(link, fallback)
