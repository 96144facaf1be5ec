"""Brand mentions beside other daily series: lagged Pearson correlations (ATTRIBUTION.md, "Brand mentions").

Mentions are a dark-funnel signal: they are never a touchpoint of a person. What can be said is
whether days with many mentions are followed, ``lag`` days later, by days with more Direct visits,
Organic-search visits or people saying they heard of the brand by word of mouth. For each series
``y`` and each lag ``L`` in ``0..max_lag``, the mentions of day ``t`` are paired with ``y`` of day
``t + L`` over the days of the table where both exist (``n = days - L`` pairs), and
:func:`scipy.stats.pearsonr` gives the correlation ``r`` and its two-sided p-value.

A correlation is not defined (``r`` and ``p_value`` are None, ``note`` says why) when fewer than
``min_pairs`` pairs remain (``too_short``) or when one side of the pairs does not vary
(``constant``: for example no mentions at all, or no Direct visits at all). The strongest lag of a
series is the lag with the largest ``|r|`` (the earliest on ties); a series without any defined
correlation has none.
"""
from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = ["LAG_COLUMNS", "MAX_LAG", "MIN_PAIRS", "lag_correlations", "strongest_lags"]

MAX_LAG = 14
MIN_PAIRS = 3  # Pearson's r of two points is always +-1: no evidence of anything
LAG_COLUMNS = ("series", "lag", "n", "r", "p_value", "note")


def _pearson(x: np.ndarray, y: np.ndarray, min_pairs: int) -> tuple[float | None, float | None, str | None]:
    from scipy import stats  # here, not at the top: scipy.stats takes about 50 MB of a process that imports it

    if len(x) < min_pairs:
        return None, None, "too_short"
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return None, None, "constant"
    with warnings.catch_warnings():
        # Values that differ only in their last bits: scipy warns that r is unreliable; say constant instead.
        warnings.simplefilter("error", stats.NearConstantInputWarning)
        try:
            result = stats.pearsonr(x, y)
        except stats.NearConstantInputWarning:
            return None, None, "constant"
    return float(result.statistic), float(result.pvalue), None


def lag_correlations(daily: pd.DataFrame, series: Sequence[str], *, signal: str = "mentions",
                     max_lag: int = MAX_LAG, min_pairs: int = MIN_PAIRS) -> pd.DataFrame:
    """Correlate ``signal`` on day ``t`` with each of ``series`` on day ``t + lag``, for lag ``0..max_lag``.

    Parameters
    ----------
    daily
        One row per consecutive day, in day order (a full calendar: days without anything are zeros),
        with the column ``signal`` and the columns ``series``. Not modified.
    series
        The columns to correlate with ``signal``.
    signal
        The leading series (mentions per day).
    max_lag
        The largest lag in days (0 or more).
    min_pairs
        Fewer day pairs than this give no correlation (``note`` ``too_short``).

    Returns
    -------
    pandas.DataFrame
        One row per series and lag (series in the given order, then lag): ``series``, ``lag``,
        ``n`` (day pairs), ``r``, ``p_value`` (None where not defined) and ``note`` (None,
        ``too_short`` or ``constant``).

    Examples
    --------
    A series that follows the mentions two days later peaks at lag 2:

    >>> mentions = [0, 0, 9, 1, 0, 0, 7, 0, 1, 0, 0, 8, 0, 0]
    >>> later = [0, 0] + mentions[:-2]
    >>> daily = pd.DataFrame({"mentions": mentions, "direct": later, "flat": 3})
    >>> table = lag_correlations(daily, ["direct", "flat"], max_lag=3)
    >>> table.loc[table["series"] == "direct", ["lag", "n"]].to_numpy().tolist()
    [[0, 14], [1, 13], [2, 12], [3, 11]]
    >>> round(table.loc[(table["series"] == "direct") & (table["lag"] == 2), "r"].item(), 6)
    1.0
    >>> table.loc[table["series"] == "flat", "note"].unique().tolist()
    ['constant']
    """
    if max_lag < 0:
        raise ValueError("max_lag must be 0 or more")
    missing = [c for c in (signal, *series) if c not in daily.columns]
    if missing:
        raise ValueError(f"daily lacks the column(s) {', '.join(missing)}")
    x_all = daily[signal].to_numpy(dtype=float)
    days = len(x_all)
    rows: list[dict[str, object]] = []
    for name in series:
        y_all = daily[name].to_numpy(dtype=float)
        for lag in range(max_lag + 1):
            pairs = max(0, days - lag)
            r, p, note = _pearson(x_all[:pairs], y_all[lag:lag + pairs], min_pairs)
            rows.append({"series": name, "lag": lag, "n": pairs, "r": r, "p_value": p, "note": note})
    # object columns keep None where a correlation is not defined (a float column would make it NaN)
    return pd.DataFrame(rows, columns=list(LAG_COLUMNS), dtype=object)


def strongest_lags(table: pd.DataFrame) -> pd.DataFrame:
    """Per series of a :func:`lag_correlations` table: the lag with the largest ``|r|`` (earliest on ties).

    Returns one row per series (in the table's order) with ``series``, ``lag``, ``n``, ``r`` and
    ``p_value``; all but ``series`` are None for a series without any defined correlation.

    Examples
    --------
    >>> t = pd.DataFrame({"series": ["a", "a", "a", "b"], "lag": [0, 1, 2, 0], "n": [5, 4, 3, 5],
    ...                   "r": [0.1, -0.8, 0.8, None], "p_value": [0.9, 0.1, 0.4, None], "note": None})
    >>> strongest_lags(t)[["series", "lag", "r"]].to_numpy().tolist()
    [['a', 1, -0.8], ['b', None, None]]
    """
    out = []
    for name in dict.fromkeys(table["series"]):
        part = table[(table["series"] == name) & table["r"].notna()]
        if not len(part):
            out.append({"series": name, "lag": None, "n": None, "r": None, "p_value": None})
            continue
        # Rounded, so that equal correlations computed from different days tie exactly (float noise).
        strength = np.round(part["r"].astype(float).abs().to_numpy(), 12)
        best = part.iloc[int(np.argmax(strength))]  # argmax takes the first maximum: the earliest lag
        out.append({"series": name, "lag": int(best["lag"]), "n": int(best["n"]), "r": float(best["r"]),
                    "p_value": float(best["p_value"])})
    return pd.DataFrame(out, columns=["series", "lag", "n", "r", "p_value"], dtype=object)
