"""The cohort report: customers by first-purchase month and acquisition channel, aggregated in the database.

Definitions (ATTRIBUTION.md "Cohorts"; docs/guides/analyst.md#cohorts-and-lifetime-value):

- A *purchase* is a conversion of ``conversion_type`` (default: the ``cohort_conversion_type`` setting).
  Purchases after the report's end (midnight after ``as_of``, report time zone) are ignored.
- A customer's *cohort* is the calendar month (report time zone) of their first purchase ever.
- Their *acquisition channel* is the channel of their first touch ever (clicks and scans, landing
  visits that are touches, offline touches; bots excluded; ordered by ``(ts, touchpoint_id)``) at or
  before that first purchase: a touch after it cannot have acquired them. No such touch: ``Direct``.
  Channels come from the same taxonomy code the attribution reports use (:mod:`tracker.reports.paths`).
- With ``by=self_reported`` the label is instead the channel of the customer's earliest answer to
  "How did you hear about us?" (option, else free text through the phrases and rules in force,
  else Other), ``(none)`` for customers who never answered.
- Per (cohort, label) and month since acquisition the database counts the customers buying and their
  revenue; per (cohort, label) the customers, the churned ones (last purchase at or before
  ``end - churn_days``) and the revenue less than 30, 90 and 365 days after each customer's first purchase.
  Python receives rows that grow with cohorts x labels x months, never with purchases or touches;
  :mod:`attribution.cohorts` turns them into shares, cumulative revenue per customer and LTV, with
  blanks for months that have not ended.
"""
from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

from attribution.channels import DIRECT
from attribution.cohorts import (
    ALL,
    LTV_DAYS,
    cohort_tables,
    label_summary,
    month_label,
    month_number,
    pooled,
)
from tracker.cohorts.params import NONE_LABEL, CohortParams, month_start
from tracker.config import Settings
from tracker.privacy.retention import retention_note
from tracker.reports.loading import fetch_frame

# The touch tables' SQL and their channel keys are the attribution reports' own (one classifier).
from tracker.reports.paths import (
    MAX_TRIES,
    NO_KEY,
    UNMAPPED,
    _bound,
    _Dialect,
    _elements,
    _maps,
    _prepare,
    _send_keys,
    _sqlite_maps,
    _text,
    _touch_branches,
)
from tracker.selfreports.service import matcher

__all__ = ["CSV_COLUMNS", "Aggregates", "cohort_aggregates", "cohort_report"]

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ANSWER_KEYS = (("o", "text"), ("t", "text"), ("e", "int"))
CSV_COLUMNS = ["cohort", "channel", "size", "month", "customers", "retention", "revenue", "revenue_per_customer",
               "ltv_30", "ltv_90", "ltv_365", "churned", "churn_share"]
SIZE = 1  # the kind of a per-(cohort, label) row in the aggregate statement; 0: per month since acquisition


class Aggregates:
    """What the database returns: ``sizes`` and ``activity`` (:mod:`attribution.cohorts`' layouts), labelled."""

    def __init__(self, sizes: pd.DataFrame, activity: pd.DataFrame) -> None:
        self.sizes = sizes
        self.activity = activity


def _months(params: CohortParams, settings: Settings, end: datetime) -> tuple[list[tuple[int, datetime, datetime]],
                                                                               int]:
    """The calendar months the statement maps purchases to (relative number, UTC start, UTC end), and
    the number of the last month that has ended by ``end``."""
    local_end = end.astimezone(settings.tz)
    end_month = month_number(local_end.year, local_end.month)
    done = end_month - 1  # ``end`` lies in end_month (at its start at the latest): the month before has ended
    last = min(params.last_month + params.months - 1, end_month)
    rows = [(n - params.first_month, month_start(n, settings), month_start(n + 1, settings))
            for n in range(params.first_month, last + 1)]
    return rows, done


def _label_sql(session: Session, settings: Settings, d: _Dialect, params: CohortParams, binds: dict[str, Any],
               head: str) -> tuple[str, list[str], int]:
    """CTE ``seg`` (person_id, cohort, first, last, e): each customer with their label id; the labels; the id
    of a customer without one (``:fallback``).

    ``head`` is the statement's start up to and including the ``cust`` CTE (customers, first purchase).
    """
    if params.by == "channel":
        keys = {**binds, "start": month_start(params.first_month, settings), "end": binds["asof"],
                "klo": EPOCH, "types": [params.conversion_type]}
        elements = _elements(session, settings, d, ("channel",), keys, people=True, types=True)
        direct = _send_keys(session, d, elements, binds)
        labels = [str(c) for c in elements.categorical()["channel"].astype(object)]
        # Each customer's touches up to the first purchase, plus one row of their own that sorts last (no
        # touch: Direct); the first row per customer is the label. One window over one union: joining two
        # derived tables per customer instead makes SQLite scan one of them per row (quadratic).
        owner = "FROM cust c JOIN {table} t ON t.person_id = c.person_id AND t.ts <= c.first"
        cols = "c.person_id AS pid, c.cohort AS cohort, c.first AS first, c.last AS last, 0 AS fb"
        branches = [b.replace("{cols}", cols).replace("{age}", "") for b in _touch_branches(d, owner, "")]
        branches.append(f"SELECT {cols.replace('0 AS fb', '1 AS fb')}, c.first AS ts, '' AS tpid, "
                        "CAST(:fallback AS INTEGER) AS e FROM cust c")
        sql = (f"{_maps(d)}, tt AS ({' UNION ALL '.join(branches)}), "
               "seg AS (SELECT pid AS person_id, cohort, first, last, e FROM (SELECT pid, cohort, first, last, e, "
               f"row_number() OVER (PARTITION BY pid ORDER BY fb, {d.order}) AS rn FROM tt) AS ordered WHERE rn = 1)")
        return sql, labels, direct
    # The customers' earliest answers; their channels are derived in Python once per distinct (option, text).
    answers = ("ans AS (SELECT person_id, option, text FROM (SELECT r.person_id, r.option, r.text, row_number() "
               "OVER (PARTITION BY r.person_id ORDER BY r.ts, r.id) AS rn FROM self_reports r "
               "JOIN cust c ON c.person_id = r.person_id) AS x WHERE rn = 1)")
    distinct = fetch_frame(session, _bound(f"{head}, {answers} SELECT DISTINCT option, text FROM ans", binds),
                           ("option", "text"), times=())
    match_with = matcher(session, settings)
    channels = [settings.answers.channel(o if isinstance(o, str) else None, t if isinstance(t, str) else None,
                                         match_with) for o, t in zip(distinct["option"], distinct["text"], strict=True)]
    labels = sorted(set(channels)) + [NONE_LABEL]
    ids = {label: i for i, label in enumerate(labels)}
    rows = [{"o": _text(o), "t": _text(t), "e": ids[c]}
            for o, t, c in zip(distinct["option"], distinct["text"], channels, strict=True)]
    if d.postgres:
        binds["amap"] = json.dumps(rows)
        amap = f"amap AS MATERIALIZED ({d.keys('amap', ANSWER_KEYS)})"
    else:
        _sqlite_maps(session, {"amap": rows}, {"amap": ANSWER_KEYS})
        amap = "amap AS (SELECT * FROM temp.report_amap)"
    # The earliest answer joined to each customer inside one window (no join of two derived tables: see above).
    sql = (f"{amap}, seg AS (SELECT person_id, cohort, first, last, COALESCE(e, :fallback) AS e FROM ("
           "SELECT c.person_id, c.cohort, c.first, c.last, CASE WHEN r.person_id IS NULL THEN NULL "
           f"ELSE COALESCE(m.e, {UNMAPPED}) END AS e, row_number() OVER (PARTITION BY c.person_id "
           "ORDER BY r.ts, r.id) AS rn FROM cust c LEFT JOIN self_reports r ON r.person_id = c.person_id "
           "LEFT JOIN amap m ON m.o = COALESCE(r.option, :z) AND m.t = COALESCE(r.text, :z)) AS x WHERE rn = 1)")
    return sql, labels, ids[NONE_LABEL]


def cohort_aggregates(session: Session, settings: Settings, params: CohortParams) -> Aggregates:
    """Aggregate the report's customers in the database: ``sizes`` and ``activity`` per (cohort, label).

    ``cohort`` is a month number (:func:`attribution.cohorts.month_number`), ``label`` the acquisition
    (or self-reported) channel. See the module docstring for the definitions.
    """
    d = _Dialect(session.connection().dialect.name)
    _prepare(session, d)
    # In UTC: arithmetic on two times of one zone would be wall-clock time (an hour off across DST).
    end = params.end(settings).astimezone(UTC)
    months, done = _months(params, settings, end)
    binds: dict[str, Any] = {
        "ctype": params.conversion_type, "asof": end, "z": NO_KEY,
        "clo": month_start(params.first_month, settings), "chi": month_start(params.last_month + 1, settings),
        "cut": end - timedelta(days=settings.churn_days), "horizon": params.months,
    }
    values = []
    for i, (n, lo, hi) in enumerate(months):
        binds.update({f"mn{i}": n, f"mlo{i}": lo, f"mhi{i}": hi})
        values.append(f"(:mn{i}, :mlo{i}, :mhi{i})")
    # Months as a VALUES list of UTC bounds: the report zone's month boundaries (DST included) are worked out
    # in Python once per month, so both databases map a purchase to its local month with a range join.
    head = ("WITH pur AS (SELECT person_id, ts, value FROM conversions WHERE type = :ctype AND ts < :asof), "
            "firsts AS (SELECT person_id, min(ts) AS first, max(ts) AS last FROM pur GROUP BY person_id), "
            f"mon (n, lo, hi) AS (VALUES {', '.join(values)}), "
            "cust AS (SELECT f.person_id, f.first, f.last, m.n AS cohort FROM firsts f "
            "JOIN mon m ON f.first >= m.lo AND f.first < m.hi WHERE f.first >= :clo AND f.first < :chi)")
    # One pass over (customer, purchase) x kind: kind 0 rows are grouped per month since acquisition (buyers,
    # revenue), kind SIZE rows per (cohort, label) (customers, churned, revenue within 30/90/365 days). A
    # single reader of ``seg``: SQLite computes a CTE again for every arm of a UNION that reads it.
    within = [f"CASE WHEN k.kind = {SIZE} AND {d.lower_bound('p.ts', days)} < s.first THEN p.value ELSE 0 END"
              for days in LTV_DAYS]
    month = f"CASE WHEN k.kind = {SIZE} THEN -1 ELSE m.n - s.cohort END"
    for _ in range(MAX_TRIES):
        labels_sql, labels, default = _label_sql(session, settings, d, params, binds, head)
        binds["fallback"] = default
        sql = (f"{head}, {labels_sql}, kinds (kind) AS (VALUES (0), ({SIZE})) "
               f"SELECT k.kind, s.cohort, s.e, {month} AS k, count(DISTINCT s.person_id) AS n1, "
               f"count(DISTINCT CASE WHEN k.kind = {SIZE} AND s.last <= :cut THEN s.person_id END) AS n2, "
               f"CAST(sum(CASE WHEN k.kind = 0 THEN p.value ELSE {within[0]} END) AS {d.real}) AS v1, "
               f"CAST(sum({within[1]}) AS {d.real}) AS v2, CAST(sum({within[2]}) AS {d.real}) AS v3 "
               "FROM seg s JOIN pur p ON p.person_id = s.person_id CROSS JOIN kinds k "
               "LEFT JOIN mon m ON k.kind = 0 AND p.ts >= m.lo AND p.ts < m.hi "
               f"WHERE k.kind = {SIZE} OR (m.n IS NOT NULL AND m.n - s.cohort < :horizon) "
               f"GROUP BY k.kind, s.cohort, s.e, {month}")
        frame = fetch_frame(session, _bound(sql, binds), ("kind", "cohort", "e", "k", "n1", "n2", "v1", "v2", "v3"),
                            times=())
        if (frame["e"] == UNMAPPED).any():
            continue  # touches or answers with new keys arrived meanwhile: list the keys again
        return _frames(frame, labels, params, settings, end, done)
    raise RuntimeError("touches with new channel keys kept arriving while the report read them; try again")


def _frames(frame: pd.DataFrame, labels: list[str], params: CohortParams, settings: Settings, end: datetime,
            done: int) -> Aggregates:
    names = np.asarray(labels, dtype=object)
    kind = frame["kind"].to_numpy(dtype=np.int64)
    cohort = frame["cohort"].to_numpy(dtype=np.int64) + params.first_month
    label = names[frame["e"].to_numpy(dtype=np.int64)] if len(frame) else np.zeros(0, dtype=object)
    sized = kind == SIZE
    sizes = pd.DataFrame({
        "cohort": cohort[sized], "label": label[sized], "size": frame["n1"].to_numpy(dtype=np.int64)[sized],
        "churned": frame["n2"].to_numpy(dtype=np.int64)[sized],
        **{f"revenue_{days}": frame[column].astype(float).fillna(0.0).to_numpy()[sized]
           for days, column in zip(LTV_DAYS, ("v1", "v2", "v3"), strict=True)},
    })
    if len(sizes):  # several element ids can carry one channel (one per dimension tuple): one row per label
        sizes = sizes.groupby(["cohort", "label"], as_index=False).sum()
    sizes["age_months"] = np.maximum(done - sizes["cohort"].to_numpy(dtype=np.int64) + 1, 0)
    ends = {c: month_start(int(c) + 1, settings) for c in set(sizes["cohort"].tolist())}
    sizes["age_days"] = [(end - ends[c].astimezone(UTC)).total_seconds() / 86400 for c in sizes["cohort"]]
    activity = pd.DataFrame({
        "cohort": cohort[~sized], "label": label[~sized], "month": frame["k"].to_numpy(dtype=np.int64)[~sized],
        "customers": frame["n1"].to_numpy(dtype=np.int64)[~sized],
        "revenue": frame["v1"].astype(float).fillna(0.0).to_numpy()[~sized],
    })
    if len(activity):
        activity = activity.groupby(["cohort", "label", "month"], as_index=False).sum()
    if params.channels:
        sizes = sizes[sizes["label"].isin(params.channels)].reset_index(drop=True)
        activity = activity[activity["label"].isin(params.channels)].reset_index(drop=True)
    return Aggregates(sizes, activity)


def _number(value: Any) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)


def _whole(value: Any) -> int | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else int(value)


def _rows(cohorts: pd.DataFrame, cells: pd.DataFrame, months: int) -> list[dict[str, Any]]:
    """One entry per (cohort, label) with its month curves as lists (null where the month has not ended)."""
    out = []
    grid = {name: cells[name].to_numpy(dtype=float).reshape(len(cohorts), months) if len(cohorts) else None
            for name in ("customers", "retention", "revenue", "revenue_per_customer")}
    for i, row in enumerate(cohorts.itertuples(index=False)):
        out.append({
            "cohort": month_label(int(row.cohort)), "channel": row.label, "size": int(row.size),
            "months_ended": int(min(row.age_months, months)),
            "customers": [_whole(v) for v in grid["customers"][i]],  # type: ignore[index]
            "retention": [_number(v) for v in grid["retention"][i]],  # type: ignore[index]
            "revenue": [_number(v) for v in grid["revenue"][i]],  # type: ignore[index]
            "revenue_per_customer": [_number(v) for v in grid["revenue_per_customer"][i]],  # type: ignore[index]
            **{f"ltv_{days}": _number(getattr(row, f"ltv_{days}")) for days in LTV_DAYS},
            "churned": int(row.churned), "churn_share": _number(row.churn_share),
        })
    return out


def cohort_report(session: Session, settings: Settings, params: CohortParams) -> dict[str, Any]:
    """The cohort report: per cohort and label, retention and revenue per customer by month, LTV and churn.

    Returns a JSON-ready dict: ``parameters``; ``cohorts`` (per cohort x channel), ``totals`` (per cohort,
    every channel pooled, channel ``(all)``) and ``channels`` (per channel, every cohort pooled: LTV over
    the cohorts old enough for it); ``rows``/``columns`` (the CSV: one row per cohort x channel x month
    since acquisition, blanks as empty cells) and ``notes``.
    """
    aggregates = cohort_aggregates(session, settings, params)
    sizes, activity = aggregates.sizes, aggregates.activity
    months = params.months
    tables = cohort_tables(sizes, activity, months=months)
    totals = cohort_tables(*pooled(sizes, activity), months=months)
    summary = label_summary(sizes)
    cohorts = _rows(tables.cohorts, tables.cells, months)
    rows = []
    for entry in cohorts:
        for k in range(months):
            rows.append({"cohort": entry["cohort"], "channel": entry["channel"], "size": entry["size"], "month": k,
                         "customers": entry["customers"][k], "retention": entry["retention"][k],
                         "revenue": entry["revenue"][k], "revenue_per_customer": entry["revenue_per_customer"][k],
                         **{f"ltv_{d}": entry[f"ltv_{d}"] for d in LTV_DAYS}, "churned": entry["churned"],
                         "churn_share": entry["churn_share"]})
    channels = [{"channel": r["label"], "customers": int(r["size"]), "churned": int(r["churned"]),
                 "churn_share": _number(r["churn_share"]),
                 **{f"ltv_{d}": _number(r[f"ltv_{d}"]) for d in LTV_DAYS},
                 **{f"ltv_{d}_customers": int(r[f"ltv_{d}_customers"]) for d in LTV_DAYS}}
                for r in summary.to_dict("records")]
    label = "self-reported channel" if params.by == "self_reported" else "acquisition channel"
    report: dict[str, Any] = {
        "parameters": {**params.as_dict(), "churn_days": settings.churn_days},
        "timezone": settings.report_timezone,
        "currency": settings.reporting_currency,
        "months": list(range(months)),
        "counts": {"customers": int(sizes["size"].sum()) if len(sizes) else 0,
                   "cohorts": int(sizes["cohort"].nunique()) if len(sizes) else 0,
                   "channels": len(channels)},
        "cohorts": cohorts,
        "totals": _rows(totals.cohorts, totals.cells, months),
        "channels": channels,
        "rows": rows,
        "columns": CSV_COLUMNS,
        "csv": "rows",
        "notes": [
            f"A cohort is the month ({settings.report_timezone}) of a customer's first {params.conversion_type}; "
            f"channel is their {label}"
            + (f" (their first touch at or before that purchase; {DIRECT} when there is none)."
               if params.by == "channel" else f" (their earliest answer; {NONE_LABEL} when they never answered)."),
            "Month k is the k-th calendar month after the cohort's month (month 0: the cohort's own month). "
            "Months that have not ended by the end of as_of are blank (null; empty cells in CSV), never 0.",
            "Retention: customers with a purchase in the month / cohort size. Revenue per customer: the cohort's "
            "revenue up to and including the month / cohort size.",
            "LTV at 30/90/365 days: revenue of purchases less than 30/90/365 x 24 hours after each customer's first "
            "purchase (which is included) / cohort size; blank until every customer of the cohort is that old.",
            f"Churned: no {params.conversion_type} in the {settings.churn_days} days before the end of as_of "
            "(setting churn_days).",
        ],
    }
    note = retention_note(session, settings, EPOCH)
    if note is not None:
        report["retention"] = note
    report["totals"] = [dict(t, channel=ALL) for t in report["totals"]]
    return report
