"""Conversions (lead, opportunity, purchase...), one row per (external id, type)."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from tracker.db import Base, UTCDateTime


class Conversion(Base):
    __tablename__ = "conversions"
    __table_args__ = (sa.UniqueConstraint("external_id", "type"), sa.Index("ix_conversions_ts", "ts"))

    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str] = mapped_column(sa.String(100))
    type: Mapped[str] = mapped_column(sa.String(40))
    ts: Mapped[datetime] = mapped_column(UTCDateTime)
    value: Mapped[Decimal] = mapped_column(sa.Numeric(16, 2), default=Decimal(0))  # reporting currency
    original_value: Mapped[Decimal] = mapped_column(sa.Numeric(16, 2), default=Decimal(0))
    original_currency: Mapped[str] = mapped_column(sa.String(3))
    person_id: Mapped[str] = mapped_column(sa.String(22), index=True)
    tid: Mapped[str | None] = mapped_column(sa.String(32))
    site_visitor_id: Mapped[str | None] = mapped_column(sa.String(64))
    customer_hash: Mapped[str | None] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
