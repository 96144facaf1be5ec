"""Read what a report needs from the database, column-wise, into the DataFrames of ``attribution``.

The database does the filtering: conversions are read for the report's window and type only, and
touches only for the people of those conversions and from ``window start - lookback`` on (the
people filter is a sub-select, so it never leaves the database). Rows are fetched from the DBAPI
cursor without per-row ORM processing, and timestamps are parsed once per column.

Touchpoints (ATTRIBUTION.md "Inputs") come from three tables:

- clicks and QR scans (``touchpoint_id`` ``c:<tid>``; ``kind`` the link's kind, ``via`` link or qr);
- landing visits that are touches (``v:<id>``; kind ``landing``): visits carrying a click's ``tid``
  are not (the click is the touch);
- imported offline touches (``o:<id>``; kind the row's kind).

Their channels are derived now from the raw values and the taxonomy in force (clicks and visits with
UTM values through its rules, visits without through the referrer host, offline touches through their
explicit channel or their kind as the medium), once per distinct combination, not per row.
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.orm import Session

from attribution.channels import DIRECT, OTHER, assign_channels
from tracker.config import Settings
from tracker.conversions.models import Conversion
from tracker.links.models import Campaign, CampaignCost, Link
from tracker.redirects.models import Click
from tracker.selfreports.models import SelfReport
from tracker.touchpoints.collect import referrer_channel
from tracker.touchpoints.models import LandingVisit, OfflineTouch

__all__ = ["TOUCH_COLUMNS", "fetch_frame", "load_answers", "load_conversions", "load_costs", "load_touchpoints"]

TOUCH_COLUMNS = ("touchpoint_id", "person_id", "ts", "channel", "source", "medium", "campaign", "link_code",
                 "kind", "via", "is_bot")
CONVERSION_COLUMNS = ("conversion_id", "person_id", "ts", "value", "type", "external_id")


def fetch_frame(session: Session, stmt: sa.Select[Any], columns: Sequence[str],
                times: Sequence[str] = ("ts",)) -> pd.DataFrame:
    """Run ``stmt`` and return its rows as a DataFrame, reading the DBAPI cursor directly.

    SQLAlchemy binds the parameters (UTC datetimes included); the rows skip its per-row result
    processing, so the ``times`` columns (naive UTC in the database) are parsed here in one go.
    """
    result = session.connection().execute(stmt)  # Core execution: a CursorResult, not ORM rows
    rows = result.cursor.fetchall() if result.cursor is not None else []
    frame = pd.DataFrame.from_records(rows, columns=list(columns), coerce_float=True)
    for name in times:
        frame[name] = pd.to_datetime(frame[name], utc=True, format="ISO8601") if len(frame) else \
            pd.Series(pd.DatetimeIndex([], tz="UTC"), dtype="datetime64[ns, UTC]")
        if frame[name].dtype != "datetime64[ns, UTC]":
            frame[name] = frame[name].astype("datetime64[ns, UTC]")
    return frame


def _conversion_filter(start: datetime, end: datetime, types: Sequence[str] | None) -> list[sa.ColumnElement[bool]]:
    where = [Conversion.ts >= start, Conversion.ts < end]
    if types:
        where.append(Conversion.type.in_(list(types)))
    return where


def load_conversions(session: Session, start: datetime, end: datetime,
                     types: Sequence[str] | None = None) -> pd.DataFrame:
    """Conversions with ``start <= ts < end`` (UTC) of the given types (all when None)."""
    stmt = sa.select(Conversion.id, Conversion.person_id, Conversion.ts, Conversion.value, Conversion.type,
                     Conversion.external_id).where(*_conversion_filter(start, end, types))
    frame = fetch_frame(session, stmt, CONVERSION_COLUMNS)
    frame["value"] = frame["value"].astype(float)
    frame["conversion_id"] = frame["conversion_id"].astype(np.int64)
    return frame


def load_touchpoints(session: Session, settings: Settings, start: datetime, end: datetime, *,
                     people: sa.Select[Any] | None = None) -> pd.DataFrame:
    """Every touch with ``start <= ts <= end`` (UTC), of the people ``people`` selects (all when None).

    ``people`` is a select of person ids (for example the people of the report's conversions); it
    is used as a sub-select, so the filtering happens in the database.
    """
    def scoped(model: Any) -> list[sa.ColumnElement[bool]]:
        where = [model.ts >= start, model.ts <= end]
        if people is not None:
            where.append(model.person_id.in_(people))
        return where

    clicks = fetch_frame(session, sa.select(
        Click.tid, Click.person_id, Click.ts, Click.utm_source, Click.utm_medium, Campaign.slug, Link.code, Link.kind,
        Click.via, Click.is_bot,
    ).join(Link, Click.link_id == Link.id).outerjoin(Campaign, Link.campaign_id == Campaign.id).where(
        *scoped(Click), Click.person_id.is_not(None)),
        ("touchpoint_id", "person_id", "ts", "source", "medium", "campaign", "link_code", "kind", "via", "is_bot"))
    clicks["touchpoint_id"] = "c:" + clicks["touchpoint_id"].astype(str)
    clicks["channel"] = _utm_channels(clicks, settings)

    visits = fetch_frame(session, sa.select(
        LandingVisit.id, LandingVisit.person_id, LandingVisit.ts, LandingVisit.utm_source, LandingVisit.utm_medium,
        LandingVisit.utm_campaign, LandingVisit.referrer_host, LandingVisit.page, LandingVisit.is_bot,
    ).where(*scoped(LandingVisit), LandingVisit.is_touch.is_(True)),
        ("touchpoint_id", "person_id", "ts", "source", "medium", "campaign", "referrer_host", "page", "is_bot"))
    visits["touchpoint_id"] = "v:" + visits["touchpoint_id"].astype(str)
    visits["channel"] = _visit_channels(visits, settings)
    visits = visits.drop(columns=["referrer_host", "page"]).assign(link_code=None, kind="landing", via="site")

    offline = fetch_frame(session, sa.select(
        OfflineTouch.id, OfflineTouch.person_id, OfflineTouch.ts, OfflineTouch.utm_source, OfflineTouch.kind,
        OfflineTouch.channel, Campaign.slug,
    ).outerjoin(Campaign, OfflineTouch.campaign_id == Campaign.id).where(*scoped(OfflineTouch)),
        ("touchpoint_id", "person_id", "ts", "source", "kind", "given_channel", "campaign"))
    offline["touchpoint_id"] = "o:" + offline["touchpoint_id"].astype(str)
    offline["medium"] = offline["kind"].where(offline["kind"] != "other")
    derived = _utm_channels(offline, settings)
    offline["channel"] = offline["given_channel"].where(offline["given_channel"].notna(), derived)
    offline = offline.drop(columns=["given_channel"]).assign(link_code=None, via="import", is_bot=False)

    frames = [f[list(TOUCH_COLUMNS)] for f in (clicks, visits, offline) if len(f)]
    if not frames:
        return _empty_touches()
    touches = pd.concat(frames, ignore_index=True)
    touches["is_bot"] = touches["is_bot"].astype(bool)
    return touches


def _empty_touches() -> pd.DataFrame:
    frame = pd.DataFrame({name: pd.Series(dtype=object) for name in TOUCH_COLUMNS})
    frame["ts"] = pd.Series(dtype="datetime64[ns, UTC]")
    frame["is_bot"] = pd.Series(dtype=bool)
    return frame


def _utm_channels(frame: pd.DataFrame, settings: Settings) -> pd.Series:
    """Channel of each row by the taxonomy's rules, computed once per distinct (source, medium)."""
    if frame.empty:
        return pd.Series([], dtype=object, index=frame.index)
    pairs = frame[["source", "medium"]].fillna("").drop_duplicates()
    pairs = pairs.assign(channel=assign_channels(pairs.rename(columns={"source": "utm_source",
                                                                       "medium": "utm_medium"}),
                                                 settings.taxonomy.as_dict()).to_numpy())
    merged = frame[["source", "medium"]].fillna("").merge(pairs, on=["source", "medium"], how="left")
    return pd.Series(merged["channel"].to_numpy(), index=frame.index, dtype=object)


def _visit_channels(visits: pd.DataFrame, settings: Settings) -> pd.Series:
    """Landing visits: UTM values through the taxonomy, else the referrer host, else Direct."""
    if visits.empty:
        return pd.Series([], dtype=object, index=visits.index)
    by_utm = _utm_channels(visits, settings)
    has_utm = (visits["source"].fillna("").str.strip() != "") | (visits["medium"].fillna("").str.strip() != "")
    site_host = visits["page"].fillna("").str.split("/", n=1).str[0]
    hosts = pd.DataFrame({"referrer_host": visits["referrer_host"].fillna(""), "site": site_host})
    distinct = hosts.drop_duplicates()
    distinct["channel"] = [referrer_channel(h or None, settings.taxonomy.referrers, s or None) or DIRECT
                           for h, s in zip(distinct["referrer_host"], distinct["site"], strict=True)]
    by_referrer = hosts.merge(distinct, on=["referrer_host", "site"], how="left")["channel"].to_numpy()
    return pd.Series(np.where(has_utm.to_numpy(), by_utm.to_numpy(), by_referrer), index=visits.index, dtype=object)


def load_answers(session: Session, settings: Settings, start: datetime, end: datetime, *,
                 people: sa.Select[Any] | None = None) -> pd.DataFrame:
    """Self-reported answers with ``start <= ts <= end`` and their channels (derived now, rules included)."""
    from tracker.selfreports.service import matcher  # the service layer owns the rules' loading
    stmt = sa.select(SelfReport.id, SelfReport.person_id, SelfReport.ts, SelfReport.option, SelfReport.text,
                     SelfReport.conversion_external_id).where(SelfReport.ts >= start, SelfReport.ts <= end)
    if people is not None:
        stmt = stmt.where(SelfReport.person_id.in_(people))
    frame = fetch_frame(session, stmt, ("answer_id", "person_id", "ts", "option", "text", "conversion_external_id"))
    match_with = matcher(session, settings)
    book = settings.answers
    distinct = frame[["option", "text"]].drop_duplicates()
    distinct["channel"] = [
        book.option(o).channel if book.option(o) is not None else match_with.channel(t if isinstance(t, str) else None)
        for o, t in zip(distinct["option"], distinct["text"], strict=True)]
    merged = frame.merge(distinct, on=["option", "text"], how="left")
    frame["channel"] = merged["channel"].fillna(OTHER).to_numpy() if len(frame) else pd.Series(dtype=object)
    return frame


def load_costs(session: Session, settings: Settings, first: date, last: date) -> tuple[pd.DataFrame, int]:
    """Campaign cost entries dated ``first``..``last`` (inclusive) in the reporting currency.

    Returns the entries (date, amount, campaign, channel) and how many were left out because their
    currency has no configured rate.
    """
    stmt = sa.select(CampaignCost.date, CampaignCost.amount, CampaignCost.currency, Campaign.slug,
                     CampaignCost.channel).join(Campaign, CampaignCost.campaign_id == Campaign.id).where(
        CampaignCost.date >= first, CampaignCost.date <= last)
    rows = session.execute(stmt).all()  # a few hundred rows at most: the ORM's Decimal and date handling is fine
    rates = settings.rates
    kept = [(d, float(a * rates[c]), slug, ch) for d, a, c, slug, ch in rows if c in rates]
    frame = pd.DataFrame(kept, columns=["date", "amount", "campaign", "channel"])
    frame["amount"] = frame["amount"].astype(float)
    return frame, len(rows) - len(kept)


def load_first_touches(session: Session, people: sa.Select[Any]) -> pd.Series:
    """The time of each person's first touch ever (clicks, landing-visit touches, offline touches).

    One ``min(ts) ... group by person_id`` per table, limited to the people ``people`` selects.
    """
    firsts = []
    for model, extra in ((Click, [Click.is_bot.is_(False)]),
                         (LandingVisit, [LandingVisit.is_touch.is_(True), LandingVisit.is_bot.is_(False)]),
                         (OfflineTouch, [])):
        stmt = sa.select(model.person_id, sa.func.min(model.ts)).where(model.person_id.in_(people), *extra) \
            .group_by(model.person_id)
        firsts.append(fetch_frame(session, stmt, ("person_id", "ts")))
    frame = pd.concat([f for f in firsts if len(f)] or firsts[:1], ignore_index=True)
    return frame.groupby("person_id")["ts"].min()
