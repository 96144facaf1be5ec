"""Cohorts and lifetime value (ATTRIBUTION.md, "Cohorts"): retention, revenue per customer, LTV and churn.

A customer's cohort is the calendar month (report time zone) of their first purchase, split by a
label (their acquisition channel, or their self-reported channel). Months since acquisition are
counted in calendar months: month 0 is the cohort's own month, month ``k`` the ``k``-th month after it.

The database aggregates (``tracker.cohorts.service``); this module turns the aggregates into the
report's tables and holds the in-memory reference (:func:`cohort_counts`) the tests compare them with:

- ``sizes``: one row per (cohort, label): ``size`` (customers), ``churned``, ``revenue_30``,
  ``revenue_90``, ``revenue_365`` (the cohort's revenue from purchases less than 30/90/365 days after
  each customer's first purchase, the first purchase included), ``age_months`` (how many months since
  acquisition have *ended* by the report's as-of time) and ``age_days`` (days from the end of the
  cohort's month to the as-of time: the age every customer of the cohort has reached at least).
- ``activity``: one row per (cohort, label, month since acquisition) with a purchase: ``customers``
  (distinct customers buying in that month) and ``revenue``.

Definitions
-----------
- Retention share of month ``k`` = customers buying in month ``k`` / cohort size (month 0 is 1).
- Revenue per customer of month ``k`` = the cohort's revenue in months 0..k / cohort size (cumulative).
- LTV at ``d`` days = the cohort's revenue of purchases made less than ``d`` x 24 hours after each
  customer's own first purchase / cohort size: exact day ages, not the month curve read at a month.
- A month is *blank* (NaN, never 0) unless it has ended by the as-of time (``k >= age_months``);
  LTV at ``d`` days is blank unless every customer of the cohort is ``d`` days old (``age_days >= d``).
- Churned: no purchase in the last ``churn_days`` before the as-of time (the last purchase at or before
  ``as_of - churn_days``); churn share = churned / size.

Pooled figures (all labels of a cohort, :func:`pooled`; one label over every cohort, :func:`label_summary`)
sum the counts first and divide once: an LTV pooled over cohorts uses only the cohorts old enough for it.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

__all__ = ["ALL", "LTV_DAYS", "CohortTables", "cohort_counts", "cohort_tables", "label_summary", "month_label",
           "month_number", "pooled"]

LTV_DAYS = (30, 90, 365)
ALL = "(all)"  # the label of the pooled rows of a cohort
SIZE_COLUMNS = ("cohort", "label", "size", "churned", *(f"revenue_{d}" for d in LTV_DAYS), "age_months", "age_days")
ACTIVITY_COLUMNS = ("cohort", "label", "month", "customers", "revenue")


def month_number(year: int, month: int) -> int:
    """Return the month's number (``year * 12 + month - 1``), so months subtract to months apart.

    >>> month_number(2026, 3) - month_number(2025, 11)
    4
    """
    return year * 12 + month - 1


def month_label(number: int) -> str:
    """Return ``YYYY-MM`` of a month number.

    >>> month_label(month_number(2026, 3))
    '2026-03'
    """
    return f"{number // 12:04d}-{number % 12 + 1:02d}"


@dataclass(frozen=True)
class CohortTables:
    """What :func:`cohort_tables` gives.

    Attributes
    ----------
    cohorts
        One row per (cohort, label): ``size``, ``churned``, ``churn_share``, ``ltv_30``, ``ltv_90``,
        ``ltv_365`` (NaN: blank) and ``age_months``.
    cells
        One row per (cohort, label, month since acquisition ``0..months-1``): ``customers``,
        ``retention``, ``revenue``, ``revenue_per_customer`` (cumulative); NaN where the month has not
        ended.
    """

    cohorts: pd.DataFrame
    cells: pd.DataFrame


def _check(frame: pd.DataFrame, columns: Sequence[str], name: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{name} lacks the column(s) {', '.join(missing)}")


def cohort_tables(sizes: pd.DataFrame, activity: pd.DataFrame, *, months: int) -> CohortTables:
    """Build the retention matrix, revenue per customer, LTV and churn of each (cohort, label).

    Parameters
    ----------
    sizes
        One row per (cohort, label): the columns listed in the module's docstring.
    activity
        Customers buying and revenue per (cohort, label, month since acquisition); months without a
        row had no purchase (0 where the month has ended, blank otherwise).
    months
        How many months since acquisition to show (0..months-1).

    Returns
    -------
    CohortTables
        Sorted by cohort, then label. Inputs are not changed.

    Examples
    --------
    Four customers acquired by Email in January, as of the end of March: month 2 (March) has ended,
    month 3 has not.

    >>> sizes = pd.DataFrame({"cohort": [month_number(2026, 1)], "label": ["Email"], "size": [4], "churned": [1],
    ...                       "revenue_30": [400.0], "revenue_90": [550.0], "revenue_365": [600.0],
    ...                       "age_months": [3], "age_days": [59.0]})
    >>> activity = pd.DataFrame({"cohort": [month_number(2026, 1)] * 2, "label": ["Email"] * 2, "month": [0, 2],
    ...                          "customers": [4, 1], "revenue": [400.0, 150.0]})
    >>> t = cohort_tables(sizes, activity, months=4)
    >>> t.cells[["customers", "retention", "revenue_per_customer"]].values.tolist()
    [[4.0, 1.0, 100.0], [0.0, 0.0, 100.0], [1.0, 0.25, 137.5], [nan, nan, nan]]
    >>> t.cohorts[["size", "churn_share", "ltv_30", "ltv_90", "ltv_365"]].values.tolist()
    [[4.0, 0.25, 100.0, nan, nan]]
    """
    _check(sizes, SIZE_COLUMNS, "sizes")
    _check(activity, ACTIVITY_COLUMNS, "activity")
    if months < 1:
        raise ValueError("months must be at least 1")
    cohorts = sizes.loc[:, list(SIZE_COLUMNS)].sort_values(["cohort", "label"], kind="stable").reset_index(drop=True)
    size = cohorts["size"].to_numpy(dtype=float)
    if (size <= 0).any():
        raise ValueError("every (cohort, label) needs at least one customer")
    cohorts["churn_share"] = cohorts["churned"].to_numpy(dtype=float) / size
    for days in LTV_DAYS:
        seen = cohorts["age_days"].to_numpy(dtype=float) >= days
        cohorts[f"ltv_{days}"] = np.where(seen, cohorts[f"revenue_{days}"].to_numpy(dtype=float) / size, np.nan)

    n = len(cohorts)
    k = np.tile(np.arange(months), n)
    row = np.repeat(np.arange(n), months)
    keys = pd.MultiIndex.from_arrays([cohorts["cohort"].to_numpy()[row], cohorts["label"].to_numpy()[row], k])
    found = activity.set_index(["cohort", "label", "month"])[["customers", "revenue"]]
    if found.index.has_duplicates:
        raise ValueError("activity has duplicate (cohort, label, month) rows: aggregate them first")
    aligned = found.reindex(keys)
    customers = aligned["customers"].to_numpy(dtype=float)
    revenue = aligned["revenue"].to_numpy(dtype=float)
    ended = k < cohorts["age_months"].to_numpy()[row]
    customers = np.where(ended, np.nan_to_num(customers), np.nan)
    revenue = np.where(ended, np.nan_to_num(revenue), np.nan)
    cumulative = np.nancumsum(np.nan_to_num(revenue).reshape(n, months), axis=1).ravel() if n else revenue
    cells = pd.DataFrame({
        "cohort": keys.get_level_values(0).to_numpy(), "label": keys.get_level_values(1).to_numpy(dtype=object),
        "month": k, "customers": customers, "retention": customers / size[row], "revenue": revenue,
        "revenue_per_customer": np.where(ended, cumulative / size[row], np.nan),
    })
    columns = ["cohort", "label", "size", "churned", "churn_share", *(f"ltv_{d}" for d in LTV_DAYS), "age_months"]
    return CohortTables(cohorts[columns], cells)


def pooled(sizes: pd.DataFrame, activity: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Sum the counts of every label of a cohort into one ``(all)`` row per cohort, for :func:`cohort_tables`.

    >>> sizes = pd.DataFrame({"cohort": [1, 1, 2], "label": ["A", "B", "A"], "size": [2, 1, 3], "churned": [1, 0, 0],
    ...                       "revenue_30": [20.0, 5.0, 9.0], "revenue_90": [30.0, 5.0, 9.0],
    ...                       "revenue_365": [30.0, 5.0, 9.0], "age_months": [2, 2, 1], "age_days": [40.0, 40.0, 5.0]})
    >>> activity = pd.DataFrame({"cohort": [1, 1, 2], "label": ["A", "B", "A"], "month": [0, 0, 0],
    ...                          "customers": [2, 1, 3], "revenue": [20.0, 5.0, 9.0]})
    >>> s, a = pooled(sizes, activity)
    >>> s[["cohort", "label", "size", "churned", "revenue_30"]].values.tolist()
    [[1, '(all)', 3, 1, 25.0], [2, '(all)', 3, 0, 9.0]]
    >>> a.values.tolist()
    [[1, '(all)', 0, 3, 25.0], [2, '(all)', 0, 3, 9.0]]
    """
    _check(sizes, SIZE_COLUMNS, "sizes")
    _check(activity, ACTIVITY_COLUMNS, "activity")
    grouped = sizes.groupby("cohort", sort=True)
    out = grouped[["size", "churned", *(f"revenue_{d}" for d in LTV_DAYS)]].sum()
    out["age_months"] = grouped["age_months"].max()  # the same for every label of a cohort
    out["age_days"] = grouped["age_days"].max()
    out = out.reset_index()
    out.insert(1, "label", ALL)
    moves = activity.groupby(["cohort", "month"], sort=True)[["customers", "revenue"]].sum().reset_index()
    moves.insert(1, "label", ALL)
    return out.loc[:, list(SIZE_COLUMNS)], moves.loc[:, list(ACTIVITY_COLUMNS)]


def label_summary(sizes: pd.DataFrame) -> pd.DataFrame:
    """Pool every cohort of each label: customers, churn and LTV at 30/90/365 days.

    LTV at ``d`` days = the revenue at ``d`` days of the cohorts old enough for it (``age_days >= d``)
    / their customers; NaN when no cohort is that old. ``ltv_<d>_customers`` says how many customers
    it rests on.

    >>> sizes = pd.DataFrame({"cohort": [1, 2, 1], "label": ["A", "A", "B"], "size": [2, 3, 1], "churned": [1, 0, 0],
    ...                       "revenue_30": [20.0, 9.0, 5.0], "revenue_90": [30.0, 9.0, 5.0],
    ...                       "revenue_365": [30.0, 9.0, 5.0], "age_months": [2, 1, 2], "age_days": [40.0, 5.0, 40.0]})
    >>> label_summary(sizes)[["label", "size", "churn_share", "ltv_30", "ltv_30_customers", "ltv_90"]].values.tolist()
    [['A', 5, 0.2, 10.0, 2, nan], ['B', 1, 0.0, 5.0, 1, nan]]
    """
    _check(sizes, SIZE_COLUMNS, "sizes")
    out = sizes.groupby("label", sort=True)[["size", "churned"]].sum()
    out["churn_share"] = out["churned"] / out["size"]
    for days in LTV_DAYS:
        seen = sizes[sizes["age_days"].to_numpy(dtype=float) >= days]
        sums = seen.groupby("label")[[f"revenue_{days}", "size"]].sum().reindex(out.index)
        counted = sums["size"].fillna(0).astype(np.int64)
        out[f"ltv_{days}"] = np.where(counted > 0, sums[f"revenue_{days}"] / counted.where(counted > 0, 1), np.nan)
        out[f"ltv_{days}_customers"] = counted
    return out.reset_index()


def cohort_counts(purchases: pd.DataFrame, touches: pd.DataFrame, *, tz: ZoneInfo, as_of: datetime,
                  first_month: int, last_month: int, months: int, churn_days: int,
                  direct: str = "Direct") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Compute ``sizes`` and ``activity`` from raw rows in memory: the reference the database is tested against.

    Parameters
    ----------
    purchases
        Every purchase: ``person_id``, ``ts`` (aware UTC), ``value``.
    touches
        Non-bot touches: ``person_id``, ``ts``, ``touchpoint_id``, ``channel``. A customer's label is
        the channel of their first touch (by ``(ts, touchpoint_id)``) at or before their first purchase,
        else ``direct``.
    tz
        The report time zone (months are its calendar months).
    as_of
        The report's end (exclusive, aware): later purchases are ignored.
    first_month, last_month
        The cohorts to include (month numbers, inclusive).
    months
        Months since acquisition to count (0..months-1).
    churn_days
        Days without a purchase after which a customer has churned.
    """
    bought = purchases[purchases["ts"] < pd.Timestamp(as_of)].sort_values(["person_id", "ts"])
    firsts = bought.groupby("person_id")["ts"].agg(["min", "max"])
    local = firsts["min"].dt.tz_convert(tz)
    firsts["cohort"] = local.dt.year * 12 + local.dt.month - 1
    firsts = firsts[(firsts["cohort"] >= first_month) & (firsts["cohort"] <= last_month)]
    early = touches.merge(firsts[["min"]].rename_axis(None), left_on="person_id", right_index=True)
    early = early[early["ts"] <= early["min"]].sort_values(["person_id", "ts", "touchpoint_id"])
    channel = early.drop_duplicates("person_id").set_index("person_id")["channel"].astype(object)
    firsts["label"] = channel.reindex(firsts.index).fillna(direct).to_numpy(dtype=object)

    cut = pd.Timestamp(as_of) - pd.Timedelta(days=churn_days)
    rows = bought.merge(firsts[["min", "cohort", "label"]].rename_axis(None), left_on="person_id", right_index=True)
    plocal = rows["ts"].dt.tz_convert(tz)
    rows["month"] = plocal.dt.year * 12 + plocal.dt.month - 1 - rows["cohort"]
    for days in LTV_DAYS:
        rows[f"revenue_{days}"] = np.where(rows["ts"] < rows["min"] + pd.Timedelta(days=days), rows["value"], 0.0)
    end_local = pd.Timestamp(as_of).tz_convert(tz)
    firsts["churned"] = (firsts["max"] <= cut).astype(np.int64)
    sizes = rows.groupby(["cohort", "label"])[[f"revenue_{d}" for d in LTV_DAYS]].sum()
    sizes["size"] = firsts.groupby(["cohort", "label"]).size()
    sizes["churned"] = firsts.groupby(["cohort", "label"])["churned"].sum()
    sizes = sizes.reset_index()
    # as_of lies in month now_month (at its start at the latest), so the month before is the last that has ended.
    done = end_local.year * 12 + end_local.month - 1 - 1
    sizes["age_months"] = np.maximum(done - sizes["cohort"].to_numpy() + 1, 0)
    month_end = [pd.Timestamp(year=(c + 1) // 12, month=(c + 1) % 12 + 1, day=1, tz=tz) for c in sizes["cohort"]]
    sizes["age_days"] = [(pd.Timestamp(as_of) - e) / pd.Timedelta(days=1) for e in month_end]
    activity = rows[rows["month"] < months].groupby(["cohort", "label", "month"]).agg(
        customers=("person_id", "nunique"), revenue=("value", "sum")).reset_index()
    return sizes.loc[:, list(SIZE_COLUMNS)], activity.loc[:, list(ACTIVITY_COLUMNS)]
