"""People accounts (email + password, one role), staff campaign assignments, and API keys owned by an account."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tracker.db import Base, UTCDateTime, utcnow
from tracker.links.models import Campaign

ROLES = ("admin", "marketer", "staff", "analyst", "ingest")

account_campaigns = sa.Table(
    "account_campaigns", Base.metadata,
    sa.Column("account_id", sa.ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("campaign_id", sa.ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class Account(Base):
    """A person (or, for keys made before accounts existed, a password-less admin holding them)."""

    __tablename__ = "accounts"
    __table_args__ = (sa.CheckConstraint("role IN (" + ", ".join(f"'{r}'" for r in ROLES) + ")", name="role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    # None: the account cannot sign in with a password (API keys only).
    password_hash: Mapped[str | None] = mapped_column(sa.String(255))
    role: Mapped[str] = mapped_column(sa.String(16))
    disabled: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_sign_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    campaigns: Mapped[list[Campaign]] = relationship(secondary=account_campaigns, order_by=Campaign.id)
    keys: Mapped[list[ApiKey]] = relationship(back_populates="account", order_by="ApiKey.id")


class PageSession(Base):
    """A signed-in page session, held server-side so that signing out ends it on every app server.

    The cookie carries a random session id; only its SHA-256 is stored. Signing out deletes the row,
    so a copy of the old cookie is refused by every instance sharing the database (the cookie's
    signature alone would stay valid until it expires).
    """

    __tablename__ = "page_sessions"

    id_hash: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    prefix: Mapped[str] = mapped_column(sa.String(16), unique=True)
    key_hash: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    account: Mapped[Account] = relationship(back_populates="keys", lazy="joined")
