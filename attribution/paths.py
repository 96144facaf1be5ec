"""Paths: journeys with the same sequence of dimension values, counted (ATTRIBUTION.md, "Journeys").

A path table has one row per distinct path with ``total_conversions``, ``total_conversion_value``
and ``total_null`` (non-converting journeys), the input ChannelAttribution takes. These are the
in-memory versions, the reference for the reports the database aggregates (``tracker.reports.paths``).
:func:`attribution.journeys_from_paths` turns a path table back into journeys weighed by their counts,
which every model takes.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from attribution.journeys import TOUCH_COLUMNS, _journey_order, _require, _utc
from attribution.labels import name_missing
from attribution.models.base import COUNT, NULLS, JourneyIndex

__all__ = ["PATH_COLUMNS", "journey_paths", "non_converting_journeys", "path_table", "with_non_converting"]

PATH_COLUMNS = ("path", "total_conversions", "total_conversion_value", "total_null")


def _labels(journeys: pd.DataFrame, by: Sequence[str], joiner: str) -> np.ndarray:
    missing = [c for c in by if c not in journeys]
    if missing:
        raise ValueError(f"cannot write paths by {', '.join(missing)}: the journeys have no such column")
    parts = [journeys[c].astype(object).where(journeys[c].notna(), "").astype(str).to_numpy(dtype=object)
             for c in by]
    out = parts[0]
    for part in parts[1:]:
        out = out + joiner + part
    return out


def journey_paths(journeys: pd.DataFrame, by: str | Sequence[str] = "channel", *, separator: str = " > ",
                  joiner: str = " / ") -> pd.DataFrame:
    """Return the distinct paths of ``journeys`` with their conversions and total value.

    Each touch is written as its ``by`` values joined by ``joiner``, the touches of a journey by
    ``separator``. Journeys with ``n_conversions`` count that many conversions each.

    Examples
    --------
    >>> from attribution import journeys_from_paths
    >>> j = journeys_from_paths(pd.DataFrame({"path": ["A > B", "C", "A > B"], "value": [1.0, 2.0, 3.0]}))
    >>> journey_paths(j).values.tolist()
    [['A > B', 2.0, 4.0], ['C', 1.0, 2.0]]
    """
    columns = [by] if isinstance(by, str) else list(by)
    index = JourneyIndex.of(journeys)
    labels = _labels(journeys, columns, joiner)
    texts = [separator.join(labels[s:s + n]) for s, n in zip(index.starts, index.sizes, strict=True)]
    count = journeys[COUNT].to_numpy(dtype=float)[index.starts] if COUNT in journeys else np.ones(len(index.starts))
    frame = pd.DataFrame({"path": texts, "total_conversions": count,
                          "total_conversion_value": journeys["value"].to_numpy(dtype=float)[index.starts]})
    out = frame.groupby("path", sort=True)[["total_conversions", "total_conversion_value"]].sum().reset_index()
    return out


def non_converting_journeys(touchpoints: pd.DataFrame, conversions: pd.DataFrame, *, start: pd.Timestamp,
                            end: pd.Timestamp, lookback: pd.Timedelta) -> pd.DataFrame:
    """Return each person's non-converting journey in the period ``start <= ts < end``, one row per touch.

    The journey is the person's non-bot touches in the period after their last conversion there
    (all of them for a person without one) and no earlier than ``end - lookback``; at most one per
    person, ordered by ``(ts, touchpoint_id)``. ``conversions`` are the conversions of the analysed
    type(s). Returns the touches' columns with ``person_id``, ``position`` and ``n_touches``, sorted
    by person and position; missing dimension values are named as in journeys.

    Examples
    --------
    >>> t = pd.Timestamp("2026-05-10", tz="UTC")
    >>> touches = pd.DataFrame({"touchpoint_id": ["a", "b", "c"], "person_id": ["p", "p", "q"],
    ...     "ts": [t - pd.Timedelta(days=2), t, t], "channel": ["Email", "Events", "Podcast"],
    ...     "source": None, "medium": None, "campaign": None, "link_code": None, "kind": None, "is_bot": False})
    >>> conv = pd.DataFrame({"conversion_id": [1], "person_id": ["p"], "ts": [t - pd.Timedelta(days=1)],
    ...                      "value": [1.0], "type": "lead"})
    >>> nc = non_converting_journeys(touches, conv, start=t - pd.Timedelta(days=30),
    ...                              end=t + pd.Timedelta(days=1), lookback=pd.Timedelta(days=30))
    >>> nc[["person_id", "position", "channel"]].values.tolist()
    [['p', 0, 'Events'], ['q', 0, 'Podcast']]
    """
    _require(touchpoints, TOUCH_COLUMNS, "touchpoints")
    _require(conversions, ("person_id", "ts"), "conversions")
    lower = max(pd.Timestamp(start), pd.Timestamp(end) - lookback)
    bot = touchpoints["is_bot"].eq(True).to_numpy(dtype=bool, na_value=False)
    touches = touchpoints[~bot & touchpoints["person_id"].notna().to_numpy()]
    touches = touches.assign(ts=_utc(touches["ts"], "touchpoints.ts"))
    ts = touches["ts"]
    touches = touches[((ts >= lower) & (ts < end)).to_numpy()]
    conv_ts = _utc(conversions["ts"], "conversions.ts")
    in_period = ((conv_ts >= start) & (conv_ts < end)).to_numpy()
    last = conv_ts[in_period].groupby(conversions["person_id"][in_period].to_numpy()).max()
    if len(last):
        bound = last.reindex(touches["person_id"].to_numpy())
        after = bound.isna().to_numpy() | (touches["ts"].to_numpy() > bound.to_numpy())
        touches = touches[after]
    person_code, _ = pd.factorize(touches["person_id"], sort=True)
    order = _journey_order(np.asarray(person_code, dtype=np.int64), touches["ts"].reset_index(drop=True),
                           touches["touchpoint_id"].reset_index(drop=True))
    out = touches.reset_index(drop=True).take(order).reset_index(drop=True)
    codes = np.asarray(person_code)[order]
    new = np.ones(len(out), dtype=bool)
    new[1:] = codes[1:] != codes[:-1]
    starts = np.flatnonzero(new)
    sizes = np.diff(np.append(starts, len(out)))
    out.insert(1, "position", np.arange(len(out)) - np.repeat(starts, sizes))
    out.insert(2, "n_touches", np.repeat(sizes, sizes))
    return name_missing(out)


def path_table(journeys: pd.DataFrame, non_converting: pd.DataFrame | None = None,
               by: str | Sequence[str] = "channel", *, separator: str = " > ", joiner: str = " / ") -> pd.DataFrame:
    """Return ChannelAttribution's input table: path, total conversions, total conversion value, total null.

    ``journeys`` are converting journeys (as :func:`attribution.build_journeys` gives them);
    ``non_converting`` as :func:`non_converting_journeys` gives them. Sorted by path.

    Examples
    --------
    >>> from attribution import journeys_from_paths
    >>> j = journeys_from_paths(pd.DataFrame({"path": ["A > B", "C"], "value": [1.0, 2.0]}))
    >>> nc = pd.DataFrame({"person_id": ["x", "x"], "position": [0, 1], "n_touches": [2, 2],
    ...                    "channel": ["A", "B"]})
    >>> path_table(j, nc).values.tolist()
    [['A > B', 1.0, 1.0, 1.0], ['C', 1.0, 2.0, 0.0]]
    """
    converting = journey_paths(journeys, by, separator=separator, joiner=joiner)
    if non_converting is None or not len(non_converting):
        return converting.assign(total_null=0.0)
    columns = [by] if isinstance(by, str) else list(by)
    labels = _labels(non_converting, columns, joiner)
    starts = np.flatnonzero(non_converting["position"].to_numpy() == 0)
    sizes = non_converting["n_touches"].to_numpy()[starts]
    texts = [separator.join(labels[s:s + n]) for s, n in zip(starts, sizes, strict=True)]
    nulls = pd.Series(texts, dtype=object).value_counts().rename("total_null").astype(float)
    table = converting.set_index("path").join(nulls, how="outer").fillna(0.0).sort_index()
    table.index.name = "path"
    return table.reset_index()[list(PATH_COLUMNS)]


def with_non_converting(journeys: pd.DataFrame, non_converting: pd.DataFrame) -> pd.DataFrame:
    """Return converting ``journeys`` followed by the ``non_converting`` ones, as the data-driven models take them.

    Converting journeys get ``n_conversions`` (1 each unless they carry counts) and ``n_null`` 0; the
    non-converting ones (as :func:`non_converting_journeys` gives them) ``n_conversions`` 0, ``n_null``
    1 (unless they carry counts), value 0 and no conversion id. The rule-based models credit only
    conversions, so they give the non-converting journeys nothing.

    Examples
    --------
    >>> from attribution import journeys_from_paths
    >>> j = journeys_from_paths(pd.DataFrame({"path": ["A > B"], "value": [5.0]}))
    >>> nc = pd.DataFrame({"person_id": ["x"], "position": [0], "n_touches": [1], "channel": ["A"]})
    >>> with_non_converting(j, nc)[["position", "channel", "n_conversions", "n_null", "value"]].values.tolist()
    [[0, 'A', 1.0, 0.0, 5.0], [1, 'B', 1.0, 0.0, 5.0], [0, 'A', 0.0, 1.0, 0.0]]
    """
    converting = journeys.assign(**{COUNT: journeys[COUNT].astype(float) if COUNT in journeys else 1.0,
                                    NULLS: journeys[NULLS].astype(float) if NULLS in journeys else 0.0})
    if not len(non_converting):
        return converting
    nulls = non_converting.assign(**{COUNT: 0.0, "value": 0.0, "conversion_id": None, "is_fallback": False,
                                     NULLS: non_converting[NULLS].astype(float) if NULLS in non_converting else 1.0})
    for name in converting.columns:
        if isinstance(converting[name].dtype, pd.CategoricalDtype) and name in nulls:
            nulls[name] = nulls[name].astype(object)  # the categories are joined below, by concat's union
    out = pd.concat([converting, nulls[[c for c in nulls.columns if c in converting.columns]]], ignore_index=True)
    for name in converting.columns:  # categoricals of different categories concatenate as object: make them again
        if isinstance(converting[name].dtype, pd.CategoricalDtype) and out[name].dtype == object:
            out[name] = out[name].astype("category")
    return out
