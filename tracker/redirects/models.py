"""Clicks and scans, orphan visits, and the aggregates the pages read."""
from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from tracker.db import Base, UTCDateTime


class Click(Base):
    """One answered redirect. ``tid`` is generated before answering and handed to the landing site.

    On PostgreSQL the table is partitioned by month on ``ts`` (migration 0006, :mod:`tracker.partitions`)
    and its primary key is ``(tid, ts)``, as a partitioned table's keys must hold ``ts``; the mapping
    keeps ``tid`` alone as the identity, which stays unique (120 random bits; the drain skips stored tids).
    """

    __tablename__ = "clicks"
    __table_args__ = (
        sa.Index("ix_clicks_link_ts", "link_id", "ts"), sa.Index("ix_clicks_ts", "ts"),
        # A person's clicks by time, holding what the attribution report reads (migration 0003).
        sa.Index("ix_clicks_person_ts", "person_id", "ts", "link_id", "is_bot", "via", "utm_source", "utm_medium",
                 "tid"),
    )

    tid: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    ts: Mapped[datetime] = mapped_column(UTCDateTime)
    link_id: Mapped[int] = mapped_column(sa.ForeignKey("links.id"))
    via: Mapped[str] = mapped_column(sa.String(4))  # "link" or "qr"
    outcome: Mapped[str] = mapped_column(sa.String(12))  # "redirect", "fallback" or "gone"
    visitor_id: Mapped[str | None] = mapped_column(sa.String(40), index=True)
    person_id: Mapped[str | None] = mapped_column(sa.String(22))  # set when drained; indexed with ts
    referrer_host: Mapped[str | None] = mapped_column(sa.String(255))
    user_agent: Mapped[str | None] = mapped_column(sa.Text)
    ip_hash: Mapped[str | None] = mapped_column(sa.String(64))
    browser: Mapped[str | None] = mapped_column(sa.String(60))
    os: Mapped[str | None] = mapped_column(sa.String(60))
    device_type: Mapped[str | None] = mapped_column(sa.String(10))
    is_bot: Mapped[bool] = mapped_column(default=False)
    utm_source: Mapped[str | None] = mapped_column(sa.String(100))
    utm_medium: Mapped[str | None] = mapped_column(sa.String(100))
    utm_campaign: Mapped[str | None] = mapped_column(sa.String(100))
    utm_term: Mapped[str | None] = mapped_column(sa.String(100))
    utm_content: Mapped[str | None] = mapped_column(sa.String(100))
    country: Mapped[str | None] = mapped_column(sa.String(2))  # ISO 3166-1 alpha-2 at capture; NULL: unknown
    city: Mapped[str | None] = mapped_column(sa.String(100))  # only with a City database (geoip_database)
    rule: Mapped[int | None] = mapped_column(sa.SmallInteger)  # index of the link's rule that sent it; NULL: default


class OrphanVisit(Base):
    """A request for a code that does not exist (a misprinted or mistyped QR code shows up here)."""

    __tablename__ = "orphan_visits"

    tid: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    ts: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    code: Mapped[str] = mapped_column(sa.String(200))
    domain_id: Mapped[int | None] = mapped_column(sa.Integer)  # the short-link domain asked (NULL: the default)
    via: Mapped[str] = mapped_column(sa.String(4))
    referrer_host: Mapped[str | None] = mapped_column(sa.String(255))
    user_agent: Mapped[str | None] = mapped_column(sa.Text)
    ip_hash: Mapped[str | None] = mapped_column(sa.String(64))
    is_bot: Mapped[bool] = mapped_column(default=False)


class LinkDailyStat(Base):
    """Per link, day (in the report time zone) and via: human clicks, new unique visitors, bot hits."""

    __tablename__ = "link_daily_stats"

    link_id: Mapped[int] = mapped_column(sa.ForeignKey("links.id"), primary_key=True)
    day: Mapped[date] = mapped_column(sa.Date, primary_key=True)
    via: Mapped[str] = mapped_column(sa.String(4), primary_key=True)
    clicks: Mapped[int] = mapped_column(default=0)
    uniques: Mapped[int] = mapped_column(default=0)
    bots: Mapped[int] = mapped_column(default=0)


class LinkVisitor(Base):
    """Set of visitor ids seen per link and via; a new row means a new unique visitor."""

    __tablename__ = "link_visitors"

    link_id: Mapped[int] = mapped_column(sa.ForeignKey("links.id"), primary_key=True)
    via: Mapped[str] = mapped_column(sa.String(4), primary_key=True)
    visitor_id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)


class LinkCountryStat(Base):
    """Clicks and scans per link, day (report time zone), way and country (``"--"``: unknown), kept past retention."""

    __tablename__ = "link_country_stats"

    link_id: Mapped[int] = mapped_column(sa.ForeignKey("links.id"), primary_key=True)
    day: Mapped[date] = mapped_column(sa.Date, primary_key=True)
    via: Mapped[str] = mapped_column(sa.String(4), primary_key=True)
    country: Mapped[str] = mapped_column(sa.String(2), primary_key=True)
    clicks: Mapped[int] = mapped_column(default=0)
    bots: Mapped[int] = mapped_column(default=0)


class LinkRuleStat(Base):
    """Human clicks and scans per link, day (report time zone) and redirect rule (``-1``: the default)."""

    __tablename__ = "link_rule_stats"

    link_id: Mapped[int] = mapped_column(sa.ForeignKey("links.id"), primary_key=True)
    day: Mapped[date] = mapped_column(sa.Date, primary_key=True)
    rule: Mapped[int] = mapped_column(sa.SmallInteger, primary_key=True)
    clicks: Mapped[int] = mapped_column(default=0)
