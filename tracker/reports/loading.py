"""Read what a report needs from the database, column-wise, into the DataFrames of ``attribution``.

The database does the filtering: conversions are read for the report's window and type only, and
touches only for the people of those conversions and from ``window start - lookback`` on (the
people filter is a sub-select, so it never leaves the database). Rows are fetched from the DBAPI
cursor without per-row ORM processing (touches from SQLite column-wise, as one JSON array per column),
and timestamps are parsed once per column.

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

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.orm import Session

from attribution.channels import DIRECT, OTHER, assign_channels
from attribution.labels import name_missing
from tracker.config import Settings
from tracker.conversions.models import Conversion
from tracker.links.models import Campaign, CampaignCost, Link
from tracker.redirects.models import Click
from tracker.selfreports.models import SelfReport
from tracker.touchpoints.collect import referrer_channel
from tracker.touchpoints.models import LandingVisit, OfflineTouch

__all__ = ["TOUCH_COLUMNS", "fetch_frame", "links_frame", "load_answers", "load_conversions", "load_costs",
           "load_touchpoints", "offline_channels", "visit_channels"]

TOUCH_COLUMNS = ("touchpoint_id", "person_id", "ts", "channel", "source", "medium", "campaign", "link_code",
                 "kind", "via", "is_bot")
CONVERSION_COLUMNS = ("conversion_id", "person_id", "ts", "value", "type", "external_id")


def fetch_frame(session: Session, stmt: sa.Executable, columns: Sequence[str],
                times: Sequence[str] = ("ts",), *, no_reals: bool = False) -> pd.DataFrame:
    """Run ``stmt`` and return its rows as a DataFrame, reading the DBAPI cursor directly.

    SQLAlchemy binds the parameters (UTC datetimes included); the rows skip its per-row result
    processing, so the ``times`` columns (naive UTC in the database) are parsed here in one go.

    ``no_reals`` says that ``stmt`` selects only text, integers, booleans and timestamps. SQLite then
    hands the rows over column-wise: one JSON array per column, built in the database by
    ``json_group_array`` over ``stmt``, which Python's json module reads faster than sqlite3 returns
    rows one by one (about a quarter less time for the report's clicks). Reals are left out because
    SQLite writes them to JSON with 15 significant digits only.
    """
    connection = session.connection()
    if no_reals and connection.dialect.name == "sqlite":
        sub = stmt.subquery()
        # One pass over the rows feeds every aggregate, so the arrays stay aligned row by row.
        arrays = connection.execute(sa.select(*[sa.func.json_group_array(c) for c in sub.c])).cursor.fetchone()
        frame = pd.DataFrame({name: json.loads(text) for name, text in zip(columns, arrays, strict=True)})
    else:
        result = connection.execute(stmt)  # Core execution: a CursorResult, not ORM rows
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
    is used as a sub-select, so the filtering happens in the database. Missing dimension values are
    named (:func:`attribution.labels.name_missing`). ``channel``, ``source``,
    ``medium``, ``campaign``, ``link_code``, ``kind`` and ``via`` are categoricals (their categories:
    the values read, sorted).
    """
    def scoped(model: Any) -> list[sa.ColumnElement[bool]]:
        where = [model.ts >= start, model.ts <= end]
        if people is not None:
            where.append(model.person_id.in_(people))
        return where

    taxonomy = settings.taxonomy.as_dict()
    clicks = fetch_frame(session, sa.select(
        _prefixed("c:", Click.tid), Click.person_id, Click.ts, Click.utm_source, Click.utm_medium, Click.link_id,
        Click.via, Click.is_bot,
    ).where(*scoped(Click), Click.person_id.is_not(None)),
        ("touchpoint_id", "person_id", "ts", "source", "medium", "link_id", "via", "is_bot"), no_reals=True)
    # The link's code and kind and its campaign come from the (small) links table, not once per click.
    links = links_frame(session)
    row = pd.Index(links["id"]).get_indexer(clicks["link_id"])
    clicks = clicks.loc[row >= 0]  # a click always has its link (foreign key); as the join it replaces
    row = row[row >= 0]
    clicks = clicks.assign(
        source=pd.Categorical(clicks["source"]), medium=pd.Categorical(clicks["medium"]),
        campaign=links["campaign"].array.take(row), link_code=links["link_code"].array.take(row),
        kind=links["kind"].array.take(row), via=pd.Categorical(clicks["via"]))
    clicks["channel"] = _by_distinct(clicks, ["source", "medium"], lambda d: assign_channels(
        d, taxonomy, source="source", medium="medium"))

    visits = fetch_frame(session, sa.select(
        _prefixed("v:", LandingVisit.id), LandingVisit.person_id, LandingVisit.ts, LandingVisit.utm_source,
        LandingVisit.utm_medium, LandingVisit.utm_campaign, LandingVisit.referrer_host, LandingVisit.page,
        LandingVisit.is_bot,
    ).where(*scoped(LandingVisit), LandingVisit.is_touch.is_(True)),
        ("touchpoint_id", "person_id", "ts", "source", "medium", "campaign", "referrer_host", "page", "is_bot"),
        no_reals=True)
    visits = visits.assign(
        source=pd.Categorical(visits["source"]), medium=pd.Categorical(visits["medium"]),
        campaign=pd.Categorical(visits["campaign"]), referrer_host=pd.Categorical(visits["referrer_host"]),
        page=pd.Categorical(visits["page"]), link_code=_constant(None, len(visits)),
        kind=_constant("landing", len(visits)), via=_constant("site", len(visits)))
    visits["channel"] = _visit_channels(visits, settings)

    offline = fetch_frame(session, sa.select(
        _prefixed("o:", OfflineTouch.id), OfflineTouch.person_id, OfflineTouch.ts, OfflineTouch.utm_source,
        OfflineTouch.kind, OfflineTouch.channel, Campaign.slug,
    ).outerjoin(Campaign, OfflineTouch.campaign_id == Campaign.id).where(*scoped(OfflineTouch)),
        ("touchpoint_id", "person_id", "ts", "source", "kind", "given_channel", "campaign"), no_reals=True)
    offline = offline.assign(
        source=pd.Categorical(offline["source"]), kind=pd.Categorical(offline["kind"]),
        given_channel=pd.Categorical(offline["given_channel"]), campaign=pd.Categorical(offline["campaign"]),
        link_code=_constant(None, len(offline)), via=_constant("import", len(offline)), is_bot=False)
    offline["medium"] = offline["kind"].where(offline["kind"] != "other")
    offline["channel"] = _by_distinct(offline, ["source", "kind", "given_channel"], lambda d: offline_channels(
        d, taxonomy))

    frames = [f for f in (clicks, visits, offline) if len(f)]
    if not frames:
        return _empty_touches()
    touches = pd.DataFrame({name: _stack(name, [f[name] for f in frames]) for name in TOUCH_COLUMNS})
    touches["is_bot"] = touches["is_bot"].astype(bool)
    return name_missing(touches)


def _prefixed(prefix: str, column: Any) -> sa.ColumnElement[str]:
    """``prefix`` followed by the column's text, made in the database (touchpoint ids: ``c:<tid>``, ``v:<id>``)."""
    return sa.literal(prefix) + sa.cast(column, sa.String)


def links_frame(session: Session) -> pd.DataFrame:
    """Every link's id, code and kind and its campaign's slug (categoricals)."""
    links = fetch_frame(session, sa.select(Link.id, Link.code, Link.kind, Campaign.slug).outerjoin(
        Campaign, Link.campaign_id == Campaign.id), ("id", "link_code", "kind", "campaign"), times=())
    return links.assign(link_code=pd.Categorical(links["link_code"]), kind=pd.Categorical(links["kind"]),
                        campaign=pd.Categorical(links["campaign"]))


def _constant(value: str | None, n: int) -> pd.Categorical:
    if value is None:
        return pd.Categorical.from_codes(np.full(n, -1), categories=pd.Index([], dtype=object))
    return pd.Categorical.from_codes(np.zeros(n, dtype=np.int8), categories=[value])


def _stack(name: str, parts: list[pd.Series]) -> Any:
    """The parts of one column one after another; categoricals get the union of their categories, sorted."""
    if not all(isinstance(p.dtype, pd.CategoricalDtype) for p in parts):
        return pd.concat(parts, ignore_index=True)
    used = []
    for part in parts:
        own = part.cat.codes.to_numpy()
        used.append(part.cat.categories[np.bincount(own[own >= 0], minlength=len(part.cat.categories)) > 0])
    values = sorted({v for u in used for v in u})
    categories = pd.Index(values) if values else pd.Index([], dtype=object)
    codes = []
    for part in parts:
        mapping = categories.get_indexer(part.cat.categories)  # -1 for the unused ones: no row has them
        own = part.cat.codes.to_numpy()
        codes.append(np.where(own >= 0, mapping[np.maximum(own, 0)] if len(mapping) else -1, -1))
    return pd.Categorical.from_codes(np.concatenate(codes), categories=categories)


def _by_distinct(frame: pd.DataFrame, columns: Sequence[str],
                 compute: Callable[[pd.DataFrame], Sequence[Any]]) -> pd.Categorical:
    """``compute`` once per distinct combination of the categorical ``columns`` (missing values as NaN).

    Returns its results, one per row of ``frame``, as a categorical.
    """
    key = np.zeros(len(frame), dtype=np.int64)
    for name in columns:
        cat = frame[name].cat
        key = key * (len(cat.categories) + 1) + cat.codes.to_numpy().astype(np.int64) + 1
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    distinct = pd.DataFrame({name: np.asarray(frame[name].array.take(first), dtype=object) for name in columns})
    results = pd.Categorical(np.asarray(compute(distinct), dtype=object))
    return pd.Categorical.from_codes(results.codes[inverse.ravel()], categories=results.categories)


def offline_channels(distinct: pd.DataFrame, taxonomy: Mapping[str, Any]) -> pd.Series:
    """Offline touches: their explicit channel, else the taxonomy's for their source and kind (as the medium)."""
    medium = distinct["kind"].where(distinct["kind"] != "other")
    derived = assign_channels(distinct.assign(medium=medium), taxonomy, source="source", medium="medium")
    given = distinct["given_channel"]
    return given.where(given.notna(), derived)


def _empty_touches() -> pd.DataFrame:
    frame = pd.DataFrame({name: pd.Series(dtype=object) for name in TOUCH_COLUMNS})
    frame["ts"] = pd.Series(dtype="datetime64[ns, UTC]")
    frame["is_bot"] = pd.Series(dtype=bool)
    return frame


def visit_channels(visits: pd.DataFrame, settings: Settings) -> np.ndarray:
    """Landing visits' channels: UTM values through the taxonomy, else the referrer host, else Direct.

    ``visits`` has ``source``, ``medium``, ``referrer_host`` and ``site`` (the landing page's host: a
    referrer from the site itself is no new contact), one row per distinct combination.
    """
    taxonomy = settings.taxonomy.as_dict()
    by_utm = assign_channels(visits, taxonomy, source="source", medium="medium").to_numpy(dtype=object)

    def blank(column: pd.Series) -> np.ndarray:  # missing or only spaces
        return (column.astype(object).fillna("").astype(str).str.strip() == "").to_numpy(dtype=bool)

    by_host = np.array([referrer_channel(h or None, settings.taxonomy.referrers, s or None) or DIRECT
                        for h, s in zip(visits["referrer_host"].astype(object).fillna(""),
                                        visits["site"].astype(object).fillna(""), strict=True)], dtype=object)
    has_utm = ~(blank(visits["source"]) & blank(visits["medium"]))
    return np.where(has_utm, by_utm, by_host) if len(visits) else np.zeros(0, dtype=object)


def _visit_channels(visits: pd.DataFrame, settings: Settings) -> pd.Categorical:
    """Landing visits' channels (:func:`visit_channels`), worked out once per distinct combination."""
    # The site's own host, once per distinct page.
    pages = visits["page"].cat
    site_of_page = pages.categories.astype(str).str.split("/", n=1).str[0]
    site_code, sites = pd.factorize(np.asarray(site_of_page, dtype=object))
    page_code = pages.codes.to_numpy()
    site = pd.Categorical.from_codes(np.where(page_code >= 0, site_code[np.maximum(page_code, 0)]
                                              if len(site_code) else -1, -1), categories=sites)
    return _by_distinct(visits.assign(site=site), ["source", "medium", "referrer_host", "site"],
                        lambda d: visit_channels(d, settings))


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
