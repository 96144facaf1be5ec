"""Campaigns, their dated costs, and tracked links."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tracker.db import Base, UTCDateTime, utcnow
from tracker.domains.models import Domain

LINK_KINDS = ("online", "event", "print", "podcast", "pr", "partner", "outdoor", "other")
OFFLINE_KINDS = tuple(k for k in LINK_KINDS if k != "online")


class Campaign(Base):
    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    slug: Mapped[str] = mapped_column(sa.String(100), unique=True)
    description: Mapped[str] = mapped_column(sa.Text, default="")
    start_date: Mapped[date | None] = mapped_column(sa.Date)
    end_date: Mapped[date | None] = mapped_column(sa.Date)
    fallback_url: Mapped[str | None] = mapped_column(sa.Text)
    logo_asset_id: Mapped[int | None] = mapped_column(sa.ForeignKey("assets.id"))  # default logo of its QR codes
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    costs: Mapped[list[CampaignCost]] = relationship(
        back_populates="campaign", order_by="CampaignCost.date", cascade="all, delete-orphan")


class CampaignCost(Base):
    __tablename__ = "campaign_costs"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(sa.ForeignKey("campaigns.id", ondelete="CASCADE"), index=True)
    date: Mapped[date] = mapped_column(sa.Date)
    amount: Mapped[Decimal] = mapped_column(sa.Numeric(14, 2))
    currency: Mapped[str] = mapped_column(sa.String(3))
    channel: Mapped[str | None] = mapped_column(sa.String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    campaign: Mapped[Campaign] = relationship(back_populates="costs")


class Link(Base):
    __tablename__ = "links"

    __table_args__ = (
        # A code is unique per domain (NULL: the default domain); ix_links_code serves lookups by code.
        sa.Index("uq_links_domain_code", sa.func.coalesce(sa.column("domain_id"), 0), "code", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(64), index=True)
    domain_id: Mapped[int | None] = mapped_column(sa.ForeignKey("domains.id"))  # NULL: public_base_url's host
    campaign_id: Mapped[int | None] = mapped_column(sa.ForeignKey("campaigns.id"), index=True)
    destination: Mapped[str] = mapped_column(sa.Text)
    utm_source: Mapped[str] = mapped_column(sa.String(100))
    utm_medium: Mapped[str] = mapped_column(sa.String(100))
    utm_campaign: Mapped[str] = mapped_column(sa.String(100))
    utm_term: Mapped[str | None] = mapped_column(sa.String(100))
    utm_content: Mapped[str | None] = mapped_column(sa.String(100))
    extra_params: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    kind: Mapped[str] = mapped_column(sa.String(16), default="online")
    label: Mapped[str] = mapped_column(sa.String(200), default="")
    # A/B: links with the same ``experiment`` are the arms of one test, named by ``variant`` ("A", "B").
    experiment: Mapped[str | None] = mapped_column(sa.String(100))
    variant: Mapped[str | None] = mapped_column(sa.String(40))
    logo_asset_id: Mapped[int | None] = mapped_column(sa.ForeignKey("assets.id"))  # else the campaign's logo
    # Redirect rules: an ordered list of {"conditions": {...}, "destination": URL}; the first that holds wins.
    rules: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON, default=list)
    rules_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # per-rule counts start here
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    disabled: Mapped[bool] = mapped_column(default=False)
    fingerprint: Mapped[str] = mapped_column(sa.String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    campaign: Mapped[Campaign | None] = relationship()
    domain: Mapped[Domain | None] = relationship(lazy="joined")
    history: Mapped[list[LinkDestinationChange]] = relationship(
        back_populates="link", order_by="LinkDestinationChange.id", cascade="all, delete-orphan")


class LinkDestinationChange(Base):
    """One row per destination a link has had (the first is its creation)."""

    __tablename__ = "link_destination_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    link_id: Mapped[int] = mapped_column(sa.ForeignKey("links.id", ondelete="CASCADE"), index=True)
    destination: Mapped[str] = mapped_column(sa.Text)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    link: Mapped[Link] = relationship(back_populates="history")
