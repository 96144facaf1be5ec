"""Tombstones of erased people's ids, and the retention purge's record of what it removed."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from tracker.db import Base, UTCDateTime


class ErasedId(Base):
    """An id of an erased person (visitor cookie, site id, customer hash, click id), hashed.

    ``hash`` is SHA-256 of ``"<kind>:<value>"``; the drain of the click spool (and the conversion
    spool) drops lines carrying such an id that were written before ``erased_at``.
    """

    __tablename__ = "erased_ids"

    hash: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    erased_at: Mapped[datetime] = mapped_column(UTCDateTime)


class RetentionMark(Base):
    """What the retention purge of raw rows last did: rows before ``purged_before`` are gone."""

    __tablename__ = "retention_marks"

    name: Mapped[str] = mapped_column(sa.String(20), primary_key=True)  # "raw_clicks"
    purged_before: Mapped[datetime] = mapped_column(UTCDateTime)
    ran_at: Mapped[datetime] = mapped_column(UTCDateTime)
