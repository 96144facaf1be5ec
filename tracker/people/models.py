"""Identities: every id a person is known by maps to one ``person_id``."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from tracker.db import Base, UTCDateTime

# What an identity's value is:
#   visitor  - the short-link visitor cookie (trk_vid) set by redirects
#   site     - the site visitor id kept by the landing-site snippet
#   customer - a customer key (e-mail or CRM id), normalised and keyed-hashed before storage
#   click    - a click id (tid), for clicks that carried no visitor cookie
IDENTITY_KINDS = ("visitor", "site", "customer", "click")
PERSON_ID_LENGTH = 22


class Identity(Base):
    """One id of a person. ``person_id`` is rewritten when two people turn out to be one."""

    __tablename__ = "identities"

    kind: Mapped[str] = mapped_column(sa.String(10), primary_key=True)
    value: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    person_id: Mapped[str] = mapped_column(sa.String(PERSON_ID_LENGTH), index=True)
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime)
