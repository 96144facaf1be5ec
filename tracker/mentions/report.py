"""The brand mentions report: mentions per day beside Direct and Organic-search visits and word of mouth.

Per day of the period (report time zone; a full calendar, days without anything are zeros):

- ``mentions``: the sum of the stored mentions' counts (after the platform and sentiment filters),
  and ``sentiment``: their mean sentiment weighted by count (rows without a sentiment left out;
  None on a day without a scored mention);
- ``direct_visits`` and ``organic_search_visits``: landing visits that are touches (as in the
  attribution reports: a visit after a tracked click is that click, a page reached from the site
  itself is no new visit), bots excluded, whose channel is ``Direct`` or ``Organic search`` by the
  rules every report uses (:func:`tracker.reports.loading.visit_channels`: UTM values through the
  taxonomy, else the referrer host, else Direct);
- ``word_of_mouth``: self-reported answers given that day whose channel is ``Word of mouth`` (their
  option's channel, else the free text's through the configured phrases and the analysts' rules).

Then :func:`attribution.mentions.lag_correlations` correlates mentions on day ``t`` with each series
on day ``t + lag`` for lag 0..14 inside the period. Mentions are a signal beside the journeys, never
a touchpoint: no person is credited with them.

The database does the aggregation: one grouped statement per table reads counts per day and raw key
(visits: source, medium, referrer host, site; answers: option and text), so what reaches Python
grows with days and distinct keys, never with visits. The local day of a UTC timestamp is computed
in SQL from the zone's UTC offsets over the period (one ``CASE`` branch per daylight-saving change).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.orm import Session

from attribution.channels import DIRECT
from attribution.mentions import MAX_LAG, lag_correlations, strongest_lags
from tracker.config import Settings
from tracker.db import UTCDateTime
from tracker.errors import ValidationError
from tracker.mentions.models import Mention
from tracker.mentions.service import SENTIMENTS, sentiment_filter
from tracker.reports.loading import fetch_frame, visit_channels
from tracker.reports.params import MAX_DAYS, Period
from tracker.selfreports.models import SelfReport
from tracker.touchpoints.models import LandingVisit

__all__ = ["DEFAULT_DAYS", "PARAMETERS", "SERIES", "MentionsParams", "lags_csv_report", "local_day",
           "mentions_report", "offset_segments", "parse_params"]

ORGANIC_SEARCH = "Organic search"
WORD_OF_MOUTH = "Word of mouth"
# Report column -> the channel it counts.
SERIES = {"direct_visits": DIRECT, "organic_search_visits": ORGANIC_SEARCH, "word_of_mouth": WORD_OF_MOUTH}
COLUMNS = ("day", "mentions", "sentiment", *SERIES)
LAG_CSV_COLUMNS = ("series", "channel", "lag", "n", "r", "p_value", "note")
DEFAULT_DAYS = 90  # lags of up to 14 days need more than a month of days
PARAMETERS = ("from", "to", "platform", "sentiment", "format")
MAX_PLATFORMS = 50


@dataclass(frozen=True)
class MentionsParams:
    """The report's parameters (echoed back as ``parameters``)."""

    period: Period
    platforms: tuple[str, ...] = ()
    sentiments: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {**self.period.as_dict(), "platform": list(self.platforms), "sentiment": list(self.sentiments)}


def _values(raw: Mapping[str, Any], name: str) -> list[str]:
    value = raw.get(name)
    values = value if isinstance(value, (list, tuple)) else [value] if value is not None else []
    return [part.strip() for v in values for part in str(v).split(",") if part.strip()]


def _date(raw: Mapping[str, Any], name: str) -> date | None:
    values = _values(raw, name)
    if not values:
        return None
    try:
        return date.fromisoformat(values[-1])
    except ValueError:
        raise ValidationError(f"{name} must be a date like 2026-05-31", name) from None


def parse_params(raw: Mapping[str, Any], settings: Settings, *, today: date | None = None) -> MentionsParams:
    """Check the report's parameters given as text; raise ValidationError naming the parameter.

    ``from``/``to``: days in the report time zone (default: the last 90 days up to today);
    ``platform``: one or several platforms (comma-separated or repeated; default all);
    ``sentiment``: one or several of positive (>= 0.2), neutral (between), negative (<= -0.2) and
    unscored (no sentiment) (default all mentions).
    """
    for name in raw:
        if name not in PARAMETERS:
            raise ValidationError(f"unknown parameter {name}; this report takes: {', '.join(PARAMETERS)}", name)
    today = today or datetime.now(settings.tz).date()
    first, last = _date(raw, "from"), _date(raw, "to")
    last = last or today
    first = first or last - timedelta(days=DEFAULT_DAYS - 1)
    if last < first:
        raise ValidationError("to is before from", "to")
    if (last - first).days >= MAX_DAYS:
        raise ValidationError(f"a period is at most {MAX_DAYS} days", "from")
    platforms = tuple(dict.fromkeys(p.lower() for p in _values(raw, "platform")))
    if len(platforms) > MAX_PLATFORMS or any(len(p) > 40 for p in platforms):
        raise ValidationError(f"platform: at most {MAX_PLATFORMS} platforms of at most 40 characters", "platform")
    sentiments = tuple(dict.fromkeys(s.lower() for s in _values(raw, "sentiment")))
    for band in sentiments:
        if band not in SENTIMENTS:
            raise ValidationError(f"sentiment must be one or several of {', '.join(SENTIMENTS)}", "sentiment")
    return MentionsParams(Period.of(first, last, settings), platforms, sentiments)


# ---- local days in SQL ---------------------------------------------------------------------------------

def _offset(instant: datetime, tz: ZoneInfo) -> int:
    delta = instant.astimezone(tz).utcoffset()
    return int(delta.total_seconds()) if delta is not None else 0


def offset_segments(start: datetime, end: datetime, tz: ZoneInfo) -> list[tuple[datetime | None, int]]:
    """The zone's UTC offsets over ``[start, end)``: ``(until, seconds)`` pairs, ``until`` exclusive (None: to the end).

    Each local midnight is checked; where the offset changed since the one before, the change's
    instant is found to the second by bisection.

    >>> from datetime import UTC
    >>> segs = offset_segments(datetime(2026, 3, 27, tzinfo=UTC), datetime(2026, 3, 31, tzinfo=UTC),
    ...                        ZoneInfo("Europe/Oslo"))
    >>> [(u.isoformat() if u else None, s) for u, s in segs]
    [('2026-03-29T01:00:00+00:00', 3600), (None, 7200)]
    """
    utc_start = start.astimezone(ZoneInfo("UTC"))
    utc_end = end.astimezone(ZoneInfo("UTC"))
    segments: list[tuple[datetime | None, int]] = []
    current = _offset(utc_start, tz)
    lo = utc_start
    while lo < utc_end:
        hi = min(lo + timedelta(days=1), utc_end)
        if _offset(hi, tz) == current:
            lo = hi
            continue
        a, b = lo, hi  # the offset at a is the current one, at b it is not
        while b - a > timedelta(seconds=1):
            mid = (a + (b - a) / 2).replace(microsecond=0)
            if mid <= a:
                break
            a, b = (mid, b) if _offset(mid, tz) == current else (a, mid)
        segments.append((b, current))
        current = _offset(b, tz)
        lo = b
    segments.append((None, current))
    return segments


def local_day(column: Any, dialect: str, segments: Sequence[tuple[datetime | None, int]]) -> Any:
    """SQL expression: the report-zone day (``YYYY-MM-DD`` text on SQLite, a date on PostgreSQL) of a UTC column."""
    def shifted(seconds: int) -> Any:
        if dialect == "postgresql":
            return sa.cast(column + sa.literal_column(f"INTERVAL '{int(seconds)} seconds'"), sa.Date)
        # Whole seconds only: SQLite's date functions round fractions to milliseconds (23:59:59.9999 would
        # become the next day).
        return sa.func.date(sa.func.substr(column, 1, 19), sa.literal_column(f"'{int(seconds):+d} seconds'"))

    if len(segments) == 1:
        return shifted(segments[0][1])
    whens = [(column < sa.literal(until, UTCDateTime()), shifted(seconds)) for until, seconds in segments[:-1]]
    return sa.case(*whens, else_=shifted(segments[-1][1]))


def _iso(value: Any) -> str:
    return value.isoformat() if isinstance(value, date) else str(value)


# ---- the report ---------------------------------------------------------------------------------------

def _mentions_by_day(session: Session, params: MentionsParams) -> pd.DataFrame:
    where: list[sa.ColumnElement[bool]] = [Mention.day >= params.period.first, Mention.day <= params.period.last]
    if params.platforms:
        where.append(Mention.platform.in_(list(params.platforms)))
    if params.sentiments:
        where.append(sentiment_filter(Mention.sentiment, params.sentiments))
    scored = Mention.sentiment.is_not(None)
    stmt = sa.select(
        Mention.day, sa.func.sum(Mention.count),
        sa.func.sum(sa.case((scored, Mention.count * Mention.sentiment), else_=0.0)),
        sa.func.sum(sa.case((scored, Mention.count), else_=0)),
    ).where(*where).group_by(Mention.day)
    frame = fetch_frame(session, stmt, ("day", "mentions", "weighted", "scored"), times=())
    frame["day"] = frame["day"].map(_iso)
    return frame


def _visits_by_day(session: Session, settings: Settings, params: MentionsParams, dialect: str,
                   segments: Sequence[tuple[datetime | None, int]]) -> pd.DataFrame:
    """Touch visits per day and channel (Direct and Organic search)."""
    page = LandingVisit.page
    site = (sa.func.split_part(page, "/", 1) if dialect == "postgresql" else
            sa.case((sa.func.instr(page, "/") > 0, sa.func.substr(page, 1, sa.func.instr(page, "/") - 1)),
                    else_=page))
    inner = sa.select(local_day(LandingVisit.ts, dialect, segments).label("day"),
                      LandingVisit.utm_source.label("source"), LandingVisit.utm_medium.label("medium"),
                      LandingVisit.referrer_host.label("referrer_host"), site.label("site")).where(
        LandingVisit.ts >= params.period.start, LandingVisit.ts < params.period.end,
        LandingVisit.is_touch.is_(True), LandingVisit.is_bot.is_(False)).subquery()
    stmt = sa.select(inner.c.day, inner.c.source, inner.c.medium, inner.c.referrer_host, inner.c.site,
                     sa.func.count()).group_by(inner.c.day, inner.c.source, inner.c.medium, inner.c.referrer_host,
                                               inner.c.site)
    frame = fetch_frame(session, stmt, ("day", "source", "medium", "referrer_host", "site", "visits"), times=())
    frame["day"] = frame["day"].map(_iso)
    keys = frame[["source", "medium", "referrer_host", "site"]].drop_duplicates()
    # The channel of each distinct key, by the function the attribution reports use for landing visits.
    keys["channel"] = visit_channels(keys.reset_index(drop=True), settings) if len(keys) else []
    return frame.merge(keys, on=["source", "medium", "referrer_host", "site"], how="left")


def _answers_by_day(session: Session, settings: Settings, params: MentionsParams, dialect: str,
                    segments: Sequence[tuple[datetime | None, int]]) -> pd.DataFrame:
    """Answers per day and channel (their option's, else their free text's)."""
    from tracker.selfreports.service import matcher  # the service layer owns the rules' loading
    inner = sa.select(local_day(SelfReport.ts, dialect, segments).label("day"), SelfReport.option.label("option"),
                      SelfReport.text.label("text")).where(
        SelfReport.ts >= params.period.start, SelfReport.ts < params.period.end).subquery()
    stmt = sa.select(inner.c.day, inner.c.option, inner.c.text, sa.func.count()).group_by(
        inner.c.day, inner.c.option, inner.c.text)
    frame = fetch_frame(session, stmt, ("day", "option", "text", "answers"), times=())
    frame["day"] = frame["day"].map(_iso)
    match_with = matcher(session, settings)
    frame["channel"] = [
        settings.answers.channel(o if isinstance(o, str) else None, t if isinstance(t, str) else None, match_with)
        for o, t in zip(frame["option"], frame["text"], strict=True)]
    return frame


def _number(value: Any) -> float | None:
    return None if value is None or (isinstance(value, float) and np.isnan(value)) else float(value)


def mentions_report(session: Session, settings: Settings, params: MentionsParams) -> dict[str, Any]:
    """Build the report (module docstring): ``rows`` per day, ``lags``, ``strongest`` and ``totals``."""
    dialect = session.connection().dialect.name
    period = params.period
    segments = offset_segments(period.start, period.end, settings.tz)
    days = [(period.first + timedelta(days=i)).isoformat() for i in range((period.last - period.first).days + 1)]
    daily = pd.DataFrame({"day": days})

    mentions = _mentions_by_day(session, params)
    daily = daily.merge(mentions, on="day", how="left")
    daily["mentions"] = daily["mentions"].fillna(0).astype(int)
    scored = daily["scored"].fillna(0).astype(float)
    daily["sentiment"] = (daily["weighted"].fillna(0).astype(float) / scored.where(scored > 0)).astype(object)
    visits = _visits_by_day(session, settings, params, dialect, segments)
    answers = _answers_by_day(session, settings, params, dialect, segments)
    for name, channel in SERIES.items():
        source, count = (answers, "answers") if name == "word_of_mouth" else (visits, "visits")
        per_day = source.loc[source["channel"] == channel].groupby("day")[count].sum()
        daily[name] = daily["day"].map(per_day).fillna(0).astype(int)

    lags = lag_correlations(daily, list(SERIES), signal="mentions", max_lag=MAX_LAG)
    strongest = strongest_lags(lags)
    rows = [{"day": d, "mentions": int(m), "sentiment": _number(s),
             **{name: int(daily.at[i, name]) for name in SERIES}}
            for i, (d, m, s) in enumerate(zip(daily["day"], daily["mentions"], daily["sentiment"], strict=True))]
    lag_rows = [{"series": s, "channel": SERIES[s], "lag": int(lag), "n": int(n), "r": _number(r),
                 "p_value": _number(p), "note": note}
                for s, lag, n, r, p, note in lags.itertuples(index=False, name=None)]
    strongest_rows = [{"series": s, "channel": SERIES[s], "lag": lag, "n": n, "r": _number(r), "p_value": _number(p)}
                      for s, lag, n, r, p in strongest.itertuples(index=False, name=None)]
    total_scored = float(scored.sum())
    platforms = session.execute(sa.select(Mention.platform, sa.func.sum(Mention.count)).where(
        Mention.day >= period.first, Mention.day <= period.last).group_by(Mention.platform)
        .order_by(sa.func.sum(Mention.count).desc(), Mention.platform)).all()
    return {
        "parameters": {**params.as_dict(), "timezone": settings.report_timezone, "max_lag": MAX_LAG},
        "channels": dict(SERIES),
        "totals": {"mentions": int(daily["mentions"].sum()),
                   "sentiment": (float(daily["weighted"].fillna(0).sum()) / total_scored) if total_scored else None,
                   **{name: int(daily[name].sum()) for name in SERIES}},
        "rows": rows,
        "columns": list(COLUMNS),
        "lags": lag_rows,
        "strongest": strongest_rows,
        "platforms": [{"platform": p, "mentions": int(c)} for p, c in platforms],
        "note": "Mentions are a dark-funnel signal: correlation over days, never a touchpoint credited to a person. "
                "A correlation is no proof of cause; look at the days behind it.",
    }


def lags_csv_report(report: Mapping[str, Any]) -> dict[str, Any]:
    """The lag table as a CSV-able report (for :func:`tracker.reports.output.to_csv`)."""
    return {"parameters": report["parameters"], "rows": report["lags"], "columns": list(LAG_CSV_COLUMNS)}
