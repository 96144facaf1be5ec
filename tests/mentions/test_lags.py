"""attribution.mentions: lagged correlations on hand-made series, against a naive numpy reference."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from attribution.mentions import lag_correlations, strongest_lags


def naive(x: np.ndarray, y: np.ndarray, lag: int) -> float:
    return float(np.corrcoef(x[:len(x) - lag], y[lag:])[0, 1])


@pytest.mark.parametrize("shift", [0, 1, 2, 5, 14])
def test_a_shifted_series_peaks_at_its_shift(shift: int) -> None:
    rng = np.random.default_rng(shift)
    mentions = rng.poisson(3, 60).astype(float)
    follower = np.concatenate([np.zeros(shift), mentions[:60 - shift]]) * 2 + rng.normal(0, 0.3, 60)
    daily = pd.DataFrame({"mentions": mentions, "direct": follower})
    table = lag_correlations(daily, ["direct"])
    best = strongest_lags(table).iloc[0]
    assert best["lag"] == shift and best["r"] > 0.95 and best["n"] == 60 - shift


def test_matches_numpy_and_keeps_the_input() -> None:
    rng = np.random.default_rng(1)
    daily = pd.DataFrame({"mentions": rng.poisson(4, 40), "a": rng.poisson(2, 40), "b": rng.normal(0, 1, 40)})
    before = daily.copy()
    table = lag_correlations(daily, ["a", "b"], max_lag=7)
    assert list(table["series"]) == ["a"] * 8 + ["b"] * 8 and list(table["lag"]) == list(range(8)) * 2
    for row in table.itertuples():
        assert row.r == pytest.approx(naive(daily["mentions"].to_numpy(float), daily[row.series].to_numpy(float),
                                            row.lag), abs=1e-12)
        assert 0 <= row.p_value <= 1 and row.n == 40 - row.lag and row.note is None
    pd.testing.assert_frame_equal(daily, before)


def test_the_strongest_may_be_negative() -> None:
    x = np.array([5, 0, 4, 0, 6, 1, 0, 3, 0, 5, 0, 2], dtype=float)
    daily = pd.DataFrame({"mentions": x, "y": np.concatenate([[3.0], 10 - x[:-1]])})
    best = strongest_lags(lag_correlations(daily, ["y"], max_lag=3)).iloc[0]
    assert best["lag"] == 1 and best["r"] == pytest.approx(-1.0)


def test_constant_and_short_series_have_no_correlation() -> None:
    daily = pd.DataFrame({"mentions": [0, 3, 1, 0, 2], "flat": [4, 4, 4, 4, 4], "y": [1, 0, 2, 0, 1]})
    table = lag_correlations(daily, ["flat", "y"], max_lag=4)
    flat = table[table["series"] == "flat"]
    assert flat["note"].tolist() == ["constant", "constant", "constant", "too_short", "too_short"]
    assert flat["r"].isna().all() and all(v is None for v in flat["r"])  # None, not NaN: JSON null
    y = table[table["series"] == "y"]
    assert y["note"].tolist() == [None, None, None, "too_short", "too_short"]
    assert y["n"].tolist() == [5, 4, 3, 2, 1]
    quiet = pd.DataFrame({"mentions": [0] * 10, "y": list(range(10))})
    assert set(lag_correlations(quiet, ["y"])["note"]) == {"constant", "too_short"}
    assert strongest_lags(lag_correlations(quiet, ["y"])).iloc[0]["lag"] is None


def test_ties_take_the_earliest_lag_and_bad_arguments() -> None:
    daily = pd.DataFrame({"mentions": [1, 0, 1, 0, 1, 0, 1, 0], "y": [1, 0, 1, 0, 1, 0, 1, 0]})
    assert strongest_lags(lag_correlations(daily, ["y"], max_lag=4)).iloc[0]["lag"] == 0
    with pytest.raises(ValueError, match="max_lag"):
        lag_correlations(daily, ["y"], max_lag=-1)
    with pytest.raises(ValueError, match="nope"):
        lag_correlations(daily, ["nope"])
