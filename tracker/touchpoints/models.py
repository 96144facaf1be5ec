"""Landing visits (from the site snippet) and imported offline touchpoints."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from tracker.db import Base, UTCDateTime

OFFLINE_TOUCH_KINDS = ("event", "print", "podcast", "pr", "partner", "outdoor", "other")


class LandingVisit(Base):
    """A page view on the landing site reported by the snippet (``POST /collect``).

    ``is_touch`` is False when the visit carried the ``tid`` of a recorded click: then it only links
    identities and the click stays the one touchpoint (no double credit).

    On PostgreSQL the table is partitioned by month on ``ts`` (migration 0006, :mod:`tracker.partitions`)
    and its primary key is ``(id, ts)``; the mapping keeps ``id`` alone, unique as it comes from one sequence.
    """

    __tablename__ = "landing_visits"
    __table_args__ = (
        sa.Index("ix_landing_visits_ts", "ts"),
        # A person's visits by time, holding what the attribution report reads (migration 0003).
        sa.Index("ix_landing_visits_person_ts", "person_id", "ts", "is_touch", "is_bot", "utm_source", "utm_medium",
                 "utm_campaign", "referrer_host", "page", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ts: Mapped[datetime] = mapped_column(UTCDateTime)
    person_id: Mapped[str] = mapped_column(sa.String(22))  # indexed with ts
    site_visitor_id: Mapped[str] = mapped_column(sa.String(64))
    tid: Mapped[str | None] = mapped_column(sa.String(32), index=True)
    is_touch: Mapped[bool] = mapped_column(default=True)
    page: Mapped[str | None] = mapped_column(sa.String(500))  # host + path, no query string
    referrer_host: Mapped[str | None] = mapped_column(sa.String(255))
    utm_source: Mapped[str | None] = mapped_column(sa.String(100))
    utm_medium: Mapped[str | None] = mapped_column(sa.String(100))
    utm_campaign: Mapped[str | None] = mapped_column(sa.String(100))
    utm_term: Mapped[str | None] = mapped_column(sa.String(100))
    utm_content: Mapped[str | None] = mapped_column(sa.String(100))
    country: Mapped[str | None] = mapped_column(sa.String(2))  # ISO 3166-1 alpha-2 at capture; NULL: unknown
    city: Mapped[str | None] = mapped_column(sa.String(100))  # only with a City database (geoip_database)
    user_agent: Mapped[str | None] = mapped_column(sa.Text)
    is_bot: Mapped[bool] = mapped_column(default=False)
    ip_hash: Mapped[str | None] = mapped_column(sa.String(64))


class OfflineTouch(Base):
    """An imported offline contact: attendee list, badge scan, PR mention, podcast promo code."""

    __tablename__ = "offline_touches"
    __table_args__ = (
        sa.Index("ix_offline_touches_ts", "ts"),
        # A person's offline touches by time, holding what the attribution report reads (migration 0013).
        sa.Index("ix_offline_touches_person_ts", "person_id", "ts", "kind", "utm_source", "channel", "campaign_id",
                 "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(sa.String(64), unique=True)  # re-imports add nothing
    ts: Mapped[datetime] = mapped_column(UTCDateTime)
    person_id: Mapped[str] = mapped_column(sa.String(22))  # indexed with ts
    customer_hash: Mapped[str] = mapped_column(sa.String(64))
    kind: Mapped[str] = mapped_column(sa.String(10))
    channel: Mapped[str | None] = mapped_column(sa.String(40))  # explicit channel, else from the kind
    campaign_id: Mapped[int | None] = mapped_column(sa.ForeignKey("campaigns.id", ondelete="SET NULL"))
    utm_source: Mapped[str | None] = mapped_column(sa.String(100))
    label: Mapped[str | None] = mapped_column(sa.String(200))
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime)
