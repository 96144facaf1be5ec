"""The channel keys of the touch tables by month, kept by the database for the reports' key lists.

A report names each touch's channel (and source, medium, campaign...) from the touch's raw key and
the taxonomy in force, in Python, once per distinct key (:mod:`tracker.reports.paths`). The distinct
keys used to be read from the touches themselves, a scan of the window's touches. These tables hold
them instead, one row per distinct key and month, written by triggers on ``clicks``, ``landing_visits``
and ``offline_touches`` (migration 0013): every insert, and every update, of a touch adds its key if
the month lacks it. On PostgreSQL they are statement triggers reading the statement's transition
table (one ``INSERT ... SELECT DISTINCT ... ON CONFLICT DO NOTHING`` per statement, partitions
included); on SQLite row triggers.

The keys are the report's join keys, missing text written as :data:`NO_KEY` and a missing campaign
as -1, so they are unique as they are. They are a superset of what a report meets (bots, touches of
no person and keys of touches since deleted stay): a key a report does not meet costs it nothing. A
touch whose key is missing (rows written with the triggers off) is found by the report, which then
lists the keys from the touches as before (:func:`tracker.reports.paths._elements`).

Migrations that copy one of the touch tables (SQLite batch mode) drop its triggers with the old
table and must create them again (``tests/reports/test_report_keys.py`` checks that they work at head).
"""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from tracker.db import Base

NO_KEY = "\x1f"  # a missing text key (NULL would not be unique, nor join); PostgreSQL text cannot hold NUL


class ClickKey(Base):
    """A distinct (source, medium, link) of the clicks of a month (``YYYY-MM`` of the click's UTC time)."""

    __tablename__ = "click_keys"

    month: Mapped[str] = mapped_column(sa.String(7), primary_key=True)
    utm_source: Mapped[str] = mapped_column(sa.String(100), primary_key=True)
    utm_medium: Mapped[str] = mapped_column(sa.String(100), primary_key=True)
    link_id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)


class VisitKey(Base):
    """A distinct (source, medium, campaign, referrer host, site) of the landing visits of a month."""

    __tablename__ = "visit_keys"

    month: Mapped[str] = mapped_column(sa.String(7), primary_key=True)
    utm_source: Mapped[str] = mapped_column(sa.String(100), primary_key=True)
    utm_medium: Mapped[str] = mapped_column(sa.String(100), primary_key=True)
    utm_campaign: Mapped[str] = mapped_column(sa.String(100), primary_key=True)
    referrer_host: Mapped[str] = mapped_column(sa.String(255), primary_key=True)
    site: Mapped[str] = mapped_column(sa.String(500), primary_key=True)  # the page up to its first '/'


class OfflineKey(Base):
    """A distinct (source, kind, channel, campaign) of the offline touches of a month."""

    __tablename__ = "offline_keys"

    month: Mapped[str] = mapped_column(sa.String(7), primary_key=True)
    utm_source: Mapped[str] = mapped_column(sa.String(100), primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(10), primary_key=True)
    channel: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    campaign_id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)  # -1: none
