"""Self-reported answers and the analysts' free-text mapping rules."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from tracker.db import Base, UTCDateTime


class SelfReport(Base):
    """An answer to "How did you hear about us?". The channel is derived when reporting."""

    __tablename__ = "self_reports"
    __table_args__ = (sa.Index("ix_self_reports_ts", "ts"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ts: Mapped[datetime] = mapped_column(UTCDateTime)
    person_id: Mapped[str] = mapped_column(sa.String(22), index=True)
    option: Mapped[str | None] = mapped_column(sa.String(40))  # a configured answer option
    text: Mapped[str | None] = mapped_column(sa.String(500))  # free text, verbatim
    language: Mapped[str] = mapped_column(sa.String(2), default="en")
    conversion_external_id: Mapped[str | None] = mapped_column(sa.String(100), index=True)
    tid: Mapped[str | None] = mapped_column(sa.String(32))
    site_visitor_id: Mapped[str | None] = mapped_column(sa.String(64))
    customer_hash: Mapped[str | None] = mapped_column(sa.String(64))
    via: Mapped[str] = mapped_column(sa.String(8))  # "page" (/ask) or "api"
    # Makes a submission idempotent: the /ask form's one-time token, or the API caller's submission_id.
    submission_id: Mapped[str | None] = mapped_column(sa.String(64), unique=True)


class AnswerRule(Base):
    """An analyst's rule: free text matching ``phrase`` means ``channel`` (beside config/ defaults)."""

    __tablename__ = "answer_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    phrase: Mapped[str] = mapped_column(sa.String(200), unique=True)  # normalised
    channel: Mapped[str] = mapped_column(sa.String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
