"""Short-link domains beside the default one (the host of ``public_base_url``)."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from tracker.db import Base, UTCDateTime, utcnow


class Domain(Base):
    """A host that answers ``/r/<code>`` and ``/q/<code>`` for its own links (``go.brand.no``).

    Links with ``domain_id`` NULL belong to the default domain, the host of ``public_base_url``, which
    has no row: changing that setting moves them with it.
    """

    __tablename__ = "domains"

    id: Mapped[int] = mapped_column(primary_key=True)
    host: Mapped[str] = mapped_column(sa.String(253), unique=True)  # lower-case ASCII (punycode), no port
    scheme: Mapped[str] = mapped_column(sa.String(5), default="https")  # of short_url, qr_url and QR codes
    not_found_url: Mapped[str | None] = mapped_column(sa.Text)  # where unknown codes on this host go
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
