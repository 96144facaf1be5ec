"""Build conversion journeys from touchpoints and conversions (ATTRIBUTION.md, "Journeys").

A journey is one row per (conversion, touch), in the long ("tidy") format every model takes:

- the touches are the person's non-bot touchpoints with ``conversion.ts - lookback <= ts <= conversion.ts``
  (with ``since_previous_conversion``, also strictly after the person's previous conversion of the
  same type), ordered by ``(ts, touchpoint_id)``;
- a conversion with no such touch gets one row ``[Direct]`` (``is_fallback`` true), so it is never dropped;
- rows are sorted by ``conversion_id`` then ``position``; ``position`` counts 0..n-1 within a journey
  and ``n_touches`` is n.

Everything is vectorised: one merge of touches onto conversions by person, one filter, one sort.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from attribution.channels import DIRECT

__all__ = ["CONVERSION_COLUMNS", "DEFAULT_LOOKBACK", "DIMENSIONS", "TOUCH_COLUMNS", "build_journeys",
           "journeys_from_paths"]

DEFAULT_LOOKBACK = pd.Timedelta(days=30)
TOUCH_COLUMNS = ("touchpoint_id", "person_id", "ts", "channel", "source", "medium", "campaign", "link_code",
                 "kind", "is_bot")
CONVERSION_COLUMNS = ("conversion_id", "person_id", "ts", "value", "type")
# Touch columns a report may group credits by; in journeys they are categoricals (fast grouping).
DIMENSIONS = ("channel", "source", "medium", "campaign", "link_code", "kind")


def _require(frame: pd.DataFrame, columns: Sequence[str], name: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{name} lacks the column(s) {', '.join(missing)}; it needs {', '.join(columns)}")


def _utc(series: pd.Series, name: str) -> pd.Series:
    if not isinstance(series.dtype, pd.DatetimeTZDtype):
        raise ValueError(f"{name} must be timezone-aware UTC timestamps (e.g. pd.to_datetime(..., utc=True))")
    return series.dt.tz_convert("UTC").astype("datetime64[ns, UTC]")


def build_journeys(touchpoints: pd.DataFrame, conversions: pd.DataFrame, *,
                   lookback: pd.Timedelta = DEFAULT_LOOKBACK,
                   since_previous_conversion: bool = False) -> pd.DataFrame:
    """Return the journey of every conversion, one row per touch, in the long format the models take.

    Parameters
    ----------
    touchpoints
        Columns ``touchpoint_id``, ``person_id``, ``ts`` (tz-aware), ``channel``, ``source``, ``medium``,
        ``campaign``, ``link_code``, ``kind`` and ``is_bot`` (missing counts as no bot); extra columns are
        carried along. Touches without a ``person_id`` are in no journey.
    conversions
        Columns ``conversion_id``, ``person_id``, ``ts`` (tz-aware), ``value`` and ``type``; extra
        columns (for example ``answer_channel`` from :func:`attribution.selfreports.tie_answers`) are
        carried along on every row of the conversion.
    lookback
        How far before a conversion a touch may be (inclusive at both ends).
    since_previous_conversion
        Start each journey strictly after the person's previous conversion of the same type (by
        ``(ts, conversion_id)``), so a touch is credited to one conversion of a type at most.

    Returns
    -------
    DataFrame
        The conversion's columns (its ``ts`` as ``conversion_ts``), then ``position``, ``n_touches``,
        the touch's columns and ``is_fallback``, sorted by ``conversion_id`` and ``position``; the
        dimension columns are categoricals. Fallback rows have channel ``Direct``, the conversion's
        time as ``ts`` and empty touch columns.

    Examples
    --------
    >>> t = pd.Timestamp("2026-05-10", tz="UTC")
    >>> touches = pd.DataFrame({"touchpoint_id": ["a", "b", "c"], "person_id": ["p", "p", "p"],
    ...     "ts": [t - pd.Timedelta(days=40), t - pd.Timedelta(days=3), t - pd.Timedelta(days=1)],
    ...     "channel": ["Email", "Events", "Paid search"], "source": None, "medium": None,
    ...     "campaign": None, "link_code": None, "kind": None, "is_bot": False})
    >>> conv = pd.DataFrame({"conversion_id": [1, 2], "person_id": ["p", "q"], "ts": [t, t],
    ...                      "value": [100.0, 0.0], "type": "purchase"})
    >>> j = build_journeys(touches, conv)
    >>> print(j[["conversion_id", "position", "n_touches", "channel", "is_fallback"]].to_string(index=False))
     conversion_id  position  n_touches     channel  is_fallback
                 1         0          2      Events        False
                 1         1          2 Paid search        False
                 2         0          1      Direct         True
    """
    _require(touchpoints, TOUCH_COLUMNS, "touchpoints")
    _require(conversions, CONVERSION_COLUMNS, "conversions")
    if lookback < pd.Timedelta(0):
        raise ValueError("lookback must not be negative")
    if conversions["conversion_id"].duplicated().any():
        raise ValueError("conversion_id must be unique")

    # A fresh positional index: the since_previous_conversion bound is aligned by label below.
    conv = conversions.reset_index(drop=True).rename(columns={"ts": "conversion_ts"})
    conv["conversion_ts"] = _utc(conv["conversion_ts"], "conversions.ts")
    conv["value"] = conv["value"].astype(float)
    start = conv["conversion_ts"] - lookback
    if since_previous_conversion:
        order = conv.sort_values(["person_id", "type", "conversion_ts", "conversion_id"], kind="stable")
        previous = order.groupby(["person_id", "type"], sort=False)["conversion_ts"].shift()
        # Strictly after the previous conversion: a touch at that very instant belongs to it.
        after = (previous + pd.Timedelta(1, "ns")).reindex(conv.index)
        start = start.where(after.isna() | (after < start), after)
    conv["_start"] = start

    # A missing is_bot (unknown) is no bot; a touch without a person belongs to nobody's journey (merging on
    # person_id would otherwise pair missing ids with each other).
    bot = touchpoints["is_bot"].eq(True).to_numpy(dtype=bool, na_value=False)
    touches = touchpoints[~bot & touchpoints["person_id"].notna().to_numpy()]
    touches = touches.assign(ts=_utc(touches["ts"], "touchpoints.ts"))
    clash = [c for c in touches.columns if c in conv.columns and c != "person_id"]
    touches = touches.drop(columns=clash)
    merged = conv[["conversion_id", "person_id", "conversion_ts", "_start"]].merge(touches, on="person_id")
    keep = (merged["ts"] >= merged["_start"]).to_numpy() & (merged["ts"] <= merged["conversion_ts"]).to_numpy()
    merged = merged.loc[keep].drop(columns=["person_id", "conversion_ts", "_start"])

    empty = ~conv["conversion_id"].isin(merged["conversion_id"]).to_numpy()
    fallback = pd.DataFrame({"conversion_id": conv["conversion_id"].to_numpy()[empty],
                             "ts": conv["conversion_ts"].array[empty], "channel": DIRECT})  # keeps the dtype
    rows = pd.concat([merged.assign(is_fallback=False), fallback.assign(is_fallback=True)], ignore_index=True)
    rows["touchpoint_id"] = rows["touchpoint_id"].astype(object)
    rows = rows.sort_values(["conversion_id", "ts", "touchpoint_id"], kind="stable", na_position="first")
    rows = rows.reset_index(drop=True)

    codes = rows["conversion_id"].to_numpy()
    new = np.ones(len(rows), dtype=bool)
    new[1:] = codes[1:] != codes[:-1]
    starts = np.flatnonzero(new)
    sizes = np.diff(np.append(starts, len(rows)))
    rows.insert(1, "position", np.arange(len(rows)) - np.repeat(starts, sizes))
    rows.insert(2, "n_touches", np.repeat(sizes, sizes))
    journeys = conv.drop(columns=["_start"]).merge(rows, on="conversion_id", how="right")
    for name in DIMENSIONS:
        if name in journeys:
            journeys[name] = journeys[name].astype("category")
    journeys["is_fallback"] = journeys["is_fallback"].astype(bool)
    return journeys


def journeys_from_paths(paths: pd.DataFrame, *, path: str = "path", separator: str = " > ",
                        value: str = "value") -> pd.DataFrame:
    """Return journeys from path strings, one conversion per row (as ChannelAttribution takes them).

    The ``value`` column gives each conversion's value (0 where the column is missing).

    Touches of a path get consecutive timestamps one second apart ending at the conversion, so
    time-based models see them in order. Useful in notebooks and for comparing with other tools.

    Examples
    --------
    >>> j = journeys_from_paths(pd.DataFrame({"path": ["A > B", "C"], "value": [10.0, 5.0]}))
    >>> j[["conversion_id", "position", "n_touches", "channel", "value"]].values.tolist()
    [[0, 0, 2, 'A', 10.0], [0, 1, 2, 'B', 10.0], [1, 0, 1, 'C', 5.0]]
    """
    _require(paths, [path], "paths")
    if paths[path].isna().any():
        raise ValueError(f"paths.{path} has missing paths: every path needs at least one channel")
    steps = paths[path].astype(str).str.split(separator, regex=False)
    sizes = steps.str.len().to_numpy()
    channels = steps.explode().to_numpy(dtype=object) if len(paths) else np.zeros(0, dtype=object)
    if (pd.Series(channels, dtype=object).str.strip() == "").any():
        raise ValueError(f"every step of a path needs a channel name (paths are channels joined by {separator!r}, "
                         "e.g. 'Email > Paid search')")
    conversion = np.repeat(np.arange(len(paths)), sizes)
    position = np.arange(sizes.sum()) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    n = np.repeat(sizes, sizes)
    end = pd.Timestamp("2000-01-01", tz="UTC")
    values = paths[value].astype(float).to_numpy() if value in paths else np.zeros(len(paths))
    return pd.DataFrame({
        "conversion_id": conversion, "person_id": conversion, "conversion_ts": end,
        "value": np.repeat(values, sizes), "position": position, "n_touches": n,
        "touchpoint_id": np.arange(len(conversion)),
        "ts": end - pd.to_timedelta(n - 1 - position, unit="s"),
        "channel": pd.Categorical(channels),
        "is_fallback": False,
    })
