"""Brand mentions: what people say about the brand in public (social listening, reviews, press)."""
from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from tracker.db import Base, UTCDateTime, utcnow


class Mention(Base):
    """Mentions of the brand on one day on one platform (one post or article when ``url`` is set).

    A dark-funnel signal beside Direct traffic, never a touchpoint of a person. Idempotent per
    (day, platform, url): ``url`` is ``""`` for a platform's daily count without a link.
    """

    __tablename__ = "mentions"
    __table_args__ = (sa.UniqueConstraint("day", "platform", "url"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(sa.Date, index=True)
    platform: Mapped[str] = mapped_column(sa.String(40))
    count: Mapped[int] = mapped_column(default=1)
    sentiment: Mapped[float | None] = mapped_column(sa.Float)  # -1 (negative) .. 1 (positive)
    url: Mapped[str] = mapped_column(sa.String(2000), default="")
    note: Mapped[str] = mapped_column(sa.String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
