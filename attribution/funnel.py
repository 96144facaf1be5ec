"""Funnel metrics (ATTRIBUTION.md, "Funnel metrics"): stages, rates, drop-off, cycle time, costs and ROAS.

Stages are ``entry`` (people with a touchpoint in the period) followed by the configured conversion
types in order. With ``cumulative`` (the default) a person who reached a later stage counts as having
reached every earlier one, entry included, so rates never exceed 100 %.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = ["ENTRY", "NO_SEGMENT", "cost_metrics", "cycle_times", "funnel_stages", "stage_table"]

ENTRY = "entry"
NO_SEGMENT = "(none)"


def funnel_stages(entrants: pd.Series, conversions: pd.DataFrame, stages: Sequence[str], *,
                  cumulative: bool = True, segments: pd.Series | None = None) -> pd.DataFrame:
    """Count the people reaching each stage, and the stage-to-stage rates.

    Parameters
    ----------
    entrants
        Person ids with a touchpoint in the period (repeats allowed).
    conversions
        The period's conversions: ``person_id`` and ``type``; types outside ``stages`` are ignored.
    stages
        The conversion types in funnel order (entry comes first by itself).
    cumulative
        Count a person reaching stage k in every earlier stage too.
    segments
        Optional segment label per person (a Series indexed by person id); people without one are
        in ``(none)``. Rates are then computed within each segment.

    Returns
    -------
    DataFrame
        ``segment`` (with ``segments``), ``stage``, ``people``, ``rate`` (% of the previous stage; missing
        for entry or an empty previous stage), ``drop_off`` (100 - rate) and ``overall`` (% of entry).

    Examples
    --------
    >>> conv = pd.DataFrame({"person_id": ["a", "a", "b", "c"], "type": ["lead", "purchase", "lead", "lead"]})
    >>> funnel_stages(pd.Series(["a", "b", "d", "e"]), conv, ["lead", "purchase"])[["stage", "people", "rate"]] \\
    ...     .values.tolist()
    [['entry', 5, nan], ['lead', 3, 60.0], ['purchase', 1, 33.333333333333336]]
    """
    if len(set(stages)) != len(stages) or not stages:
        raise ValueError("stages must be distinct conversion types, at least one")
    rank = {t: k + 1 for k, t in enumerate(stages)}
    conv = conversions[conversions["type"].isin(rank)]
    reached = pd.concat([
        pd.DataFrame({"person_id": pd.Series(entrants).to_numpy(), "stage": 0}),
        pd.DataFrame({"person_id": conv["person_id"].to_numpy(), "stage": conv["type"].map(rank).to_numpy()}),
    ], ignore_index=True).drop_duplicates()
    if segments is not None:
        segment = reached["person_id"].map(segments).astype(object)  # object first: no segment at all is float NaN
        reached["segment"] = segment.where(segment.notna(), NO_SEGMENT)
    else:
        reached["segment"] = ""
    names = [ENTRY, *stages]
    if cumulative:
        top = reached.groupby(["segment", "person_id"], sort=False)["stage"].max().reset_index()
        furthest = top.groupby(["segment", "stage"]).size().rename("people").reset_index()
        return stage_table(furthest, stages, segmented=segments is not None)
    counts = reached.groupby(["segment", "stage"]).size().unstack(fill_value=0)
    counts = counts.reindex(columns=range(len(names)), fill_value=0)
    return _table(counts, names, segmented=segments is not None)


def stage_table(furthest: pd.DataFrame, stages: Sequence[str], *, segmented: bool = False) -> pd.DataFrame:
    """Return the cumulative stage table from people counted by the furthest stage they reached.

    ``furthest`` has ``stage`` (0 for entry only, k for the k-th of ``stages``), ``people`` and, when
    ``segmented``, ``segment``; rows of the same (segment, stage) are added up. The table is the one
    :func:`funnel_stages` returns: a report can count people in the database and hand over only this.

    Examples
    --------
    >>> stage_table(pd.DataFrame({"stage": [0, 1, 2], "people": [2, 2, 1]}), ["lead", "purchase"]) \\
    ...     [["stage", "people"]].values.tolist()
    [['entry', 5], ['lead', 3], ['purchase', 1]]
    """
    names = [ENTRY, *stages]
    frame = furthest.assign(segment=furthest["segment"].astype(object) if segmented else "")
    counts = frame.groupby(["segment", "stage"])["people"].sum().unstack(fill_value=0)
    counts = counts.reindex(columns=range(len(names)), fill_value=0)
    counts = counts.iloc[:, ::-1].cumsum(axis=1).iloc[:, ::-1]  # reached k or later
    return _table(counts, names, segmented=segmented)


def _table(counts: pd.DataFrame, names: list[str], *, segmented: bool) -> pd.DataFrame:
    """People per segment (rows) and stage (columns) -> the stage table with rates."""
    if counts.empty:
        counts = pd.DataFrame(0, index=pd.Index([] if segmented else [""], name="segment"),
                              columns=range(len(names)))
    people = counts.to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.full_like(people, np.nan)
        rate[:, 1:] = np.where(people[:, :-1] > 0, 100 * people[:, 1:] / people[:, :-1], np.nan)
        overall = np.where(people[:, :1] > 0, 100 * people / people[:, :1], np.nan)
    table = pd.DataFrame({
        "segment": np.repeat(counts.index.to_numpy(), len(names)),
        "stage": np.tile(names, len(counts)),
        "people": people.astype(int).ravel(),
        "rate": rate.ravel(),
        "drop_off": 100 - rate.ravel(),
        "overall": overall.ravel(),
    })
    if not segmented:
        return table.drop(columns="segment")
    # Largest segments (by entry) first.
    size = table.groupby("segment", sort=False)["people"].transform("first")
    order = np.lexsort([np.tile(np.arange(len(names)), len(counts)), table["segment"].astype(str).to_numpy(),
                        -size.to_numpy()])
    return table.iloc[order].reset_index(drop=True)


def cycle_times(first_touch: pd.Series, purchases: pd.DataFrame) -> dict[str, float | int | None]:
    """Days from each buyer's first touch ever to their first purchase in the period.

    Parameters
    ----------
    first_touch
        The time of each person's first touchpoint ever, indexed by person id.
    purchases
        ``person_id`` and ``ts`` of the period's purchases.

    Returns
    -------
    dict
        ``buyers``, ``with_touch`` (buyers with a first touch before the purchase), and the
        ``median_days`` and ``mean_days`` over those (None when there are none).

    Examples
    --------
    >>> t = pd.Timestamp("2026-05-01", tz="UTC")
    >>> first = pd.Series([t, t], index=["a", "b"])
    >>> buys = pd.DataFrame({"person_id": ["a", "b", "c"], "ts": [t + pd.Timedelta(days=d) for d in (2, 10, 1)]})
    >>> cycle_times(first, buys)
    {'buyers': 3, 'with_touch': 2, 'median_days': 6.0, 'mean_days': 6.0}
    """
    firsts = purchases.groupby("person_id")["ts"].min()
    start = first_touch.reindex(firsts.index)
    days = (firsts - start).dt.total_seconds() / 86400
    days = days[days.notna() & (days >= 0)]
    return {"buyers": len(firsts), "with_touch": len(days),
            "median_days": float(days.median()) if len(days) else None,
            "mean_days": float(days.mean()) if len(days) else None}


def cost_metrics(leads: pd.DataFrame, purchases: pd.DataFrame, costs: pd.DataFrame, by: str) -> pd.DataFrame:
    """Cost per lead, cost per acquisition and ROAS per ``by`` value.

    Parameters
    ----------
    leads, purchases
        Credit tables (``by``, ``conversions``, ``value``) of the lead and the purchase conversions,
        from any model's :meth:`~attribution.models.AttributionModel.attribute`.
    costs
        ``by`` and ``amount`` (one row per cost entry, in the reporting currency).
    by
        The dimension (``channel`` or ``campaign``).

    Returns
    -------
    DataFrame
        ``by``, ``cost``, ``leads``, ``cost_per_lead``, ``purchases``, ``cost_per_acquisition``,
        ``revenue`` (credited purchase value) and ``roas`` (revenue / cost); a ratio is missing where
        its denominator is 0, and all three are missing where there is no cost. Rows are sorted by
        cost, then revenue, largest first.

    Examples
    --------
    >>> leads = pd.DataFrame({"channel": ["Email", "Events"], "conversions": [4.0, 1.0], "value": [0.0, 0.0]})
    >>> buys = pd.DataFrame({"channel": ["Events"], "conversions": [1.0], "value": [500.0]})
    >>> costs = pd.DataFrame({"channel": ["Events", "Events", "Email"], "amount": [100.0, 150.0, 20.0]})
    >>> cost_metrics(leads, buys, costs, "channel")[["channel", "cost_per_lead", "roas"]].values.tolist()
    [['Events', 250.0, 2.0], ['Email', 5.0, 0.0]]
    """
    spent = costs.groupby(by, dropna=False)["amount"].sum().rename("cost")
    lead = leads.groupby(by, dropna=False)["conversions"].sum().rename("leads")
    bought = purchases.groupby(by, dropna=False).agg(purchases=("conversions", "sum"), revenue=("value", "sum"))
    table = pd.concat([spent, lead, bought], axis=1).fillna(0.0)
    table.index.name = by
    cost = table["cost"].to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        # No cost entry is "no cost data", not "free": its cost per lead and acquisition stay missing, like ROAS.
        priced = cost > 0
        table["cost_per_lead"] = np.where(priced & (table["leads"] > 0), cost / table["leads"].to_numpy(), np.nan)
        table["cost_per_acquisition"] = np.where(priced & (table["purchases"] > 0),
                                                 cost / table["purchases"].to_numpy(), np.nan)
        table["roas"] = np.where(cost > 0, table["revenue"].to_numpy() / cost, np.nan)
    table = table.reset_index()
    table = table.sort_values(["cost", "revenue", by], ascending=[False, False, True], kind="stable")
    return table[[by, "cost", "leads", "cost_per_lead", "purchases", "cost_per_acquisition", "revenue", "roas"]] \
        .reset_index(drop=True)
