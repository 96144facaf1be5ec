"""An uploaded image, stored as the service re-encoded it (PNG)."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from tracker.db import Base, UTCDateTime, utcnow


class Asset(Base):
    """A logo uploaded once (``POST /api/v1/assets``) and drawn in QR codes of links and campaigns.

    ``data`` is the image as the service re-encoded it after decoding (never the uploaded bytes);
    ``sha256`` is of ``data``, so uploading the same image again finds the stored one.
    """

    __tablename__ = "assets"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200), default="")
    media_type: Mapped[str] = mapped_column(sa.String(40))
    width: Mapped[int]
    height: Mapped[int]
    sha256: Mapped[str] = mapped_column(sa.String(64), unique=True)
    data: Mapped[bytes] = mapped_column(sa.LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
