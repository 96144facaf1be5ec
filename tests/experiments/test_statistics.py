"""attribution.experiments against hand-worked textbook values and second library calls, plus properties."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import chi2_contingency, norm

from attribution.experiments import (
    NO_DIFFERENCE,
    NOT_ENOUGH_DATA,
    analyse,
    compare_two,
    omnibus_test,
    sample_size_per_arm,
    wilson_interval,
)

Z = norm.ppf(0.975)


def _wilson_by_hand(k: int, n: int) -> tuple[float, float]:
    """Wilson (1927): centre (p + z²/2n) / (1 + z²/n), half-width z/(1 + z²/n) sqrt(p(1-p)/n + z²/4n²)."""
    p = k / n
    denominator = 1 + Z**2 / n
    centre = (p + Z**2 / (2 * n)) / denominator
    half = Z / denominator * math.sqrt(p * (1 - p) / n + Z**2 / (4 * n**2))
    return centre - half, centre + half


@pytest.mark.parametrize(("k", "n"), [(10, 100), (0, 20), (20, 20), (81, 263), (1, 3)])
def test_wilson_matches_the_formula(k: int, n: int) -> None:
    low, high = wilson_interval(k, n)
    assert (low, high) == pytest.approx(_wilson_by_hand(k, n), abs=1e-12)


def test_wilson_textbook_value() -> None:
    # Newcombe (1998), example: 81 of 263 -> 0.2553 to 0.3662 (Wilson score interval).
    low, high = wilson_interval(81, 263)
    assert round(low, 4) == 0.2553 and round(high, 4) == 0.3662


def test_z_test_matches_the_pooled_formula_and_chi_square() -> None:
    out = compare_two((100, 1000), (140, 1000))
    pooled = 240 / 2000
    z = (0.14 - 0.10) / math.sqrt(pooled * (1 - pooled) * (2 / 1000))
    assert out["statistic"] == pytest.approx(z, rel=1e-12)
    assert out["p_value"] == pytest.approx(2 * norm.sf(z), rel=1e-12)
    # The 2x2 chi-square without continuity correction is z²: a second library, the same test.
    chi = chi2_contingency(np.array([[100, 900], [140, 860]]), correction=False)
    assert chi.statistic == pytest.approx(z**2, rel=1e-9) and chi.pvalue == pytest.approx(out["p_value"], rel=1e-9)
    assert out["lift"] == pytest.approx(0.4)


def test_lift_interval_is_close_to_katz_for_large_counts() -> None:
    k1, n1, k0, n0 = 400, 4000, 300, 4000
    out = compare_two((k0, n0), (k1, n1))
    log_rr = math.log((k1 / n1) / (k0 / n0))
    se = math.sqrt(1 / k1 - 1 / n1 + 1 / k0 - 1 / n0)  # Katz et al. (1978)
    assert out["lift_low"] == pytest.approx(math.exp(log_rr - Z * se) - 1, abs=2e-3)
    assert out["lift_high"] == pytest.approx(math.exp(log_rr + Z * se) - 1, abs=2e-3)


def test_degenerate_comparisons() -> None:
    assert compare_two((0, 50), (0, 60)) == {"statistic": 0.0, "p_value": 1.0, "lift": None, "lift_low": None,
                                             "lift_high": None}
    assert compare_two((5, 5), (7, 7))["p_value"] == 1.0
    assert compare_two((0, 0), (3, 10))["p_value"] is None
    zero_control = compare_two((0, 100), (12, 100))
    assert zero_control["lift"] is None and zero_control["p_value"] < 0.001


def test_chi_square_by_hand() -> None:
    # Expected 20 converters per arm of 100 (60/300): sum (o-e)²/e over both columns = 12.5.
    out = omnibus_test([10, 20, 30], [100, 100, 100])
    expected = sum((o - 20) ** 2 / 20 + ((100 - o) - 80) ** 2 / 80 for o in (10, 20, 30))
    assert out["statistic"] == pytest.approx(expected) == 12.5
    assert out["p_value"] == pytest.approx(math.exp(-12.5 / 2))  # chi-square with 2 dof: p = exp(-x/2)
    assert omnibus_test([0, 0, 0], [10, 20, 30])["p_value"] == 1.0


def test_sample_size_matches_cohen() -> None:
    # Cohen (1988), table 6.4.1: h = 0.2, two-sided alpha 0.05, power 0.8 -> 392 per group.
    p1 = 0.5
    p2 = math.sin(math.asin(math.sqrt(p1)) + 0.1) ** 2  # h = 2 asin sqrt p2 - 2 asin sqrt p1 = 0.2
    assert sample_size_per_arm(p1, p2) == 393  # 392.4 rounded up
    h = 2 * math.asin(math.sqrt(0.2)) - 2 * math.asin(math.sqrt(0.1))
    assert sample_size_per_arm(0.1, 0.2) == math.ceil(2 * ((Z + norm.ppf(0.8)) / h) ** 2)
    assert sample_size_per_arm(0.3, 0.3) is None
    assert sample_size_per_arm(0.0, 1.0) == sample_size_per_arm(1.0, 0.0) == 2  # the root finder alone fails here


def _counts(exposures: list[int], people: list[int], converters: list[int], names: str = "ABCDEF") -> pd.DataFrame:
    return pd.DataFrame({"arm": list(names[:len(people)]), "exposures": exposures, "people": people,
                         "converters": converters})


def test_two_arms_verdicts() -> None:
    assert analyse(_counts([1200, 1200], [1000, 1000], [100, 140]), "A").verdict == "B beats A"
    loser = analyse(_counts([1200, 1200], [1000, 1000], [140, 100]), "A")
    assert loser.verdict == "A beats B" and loser.winner == "A"
    even = analyse(_counts([1200, 1200], [1000, 1000], [100, 104]), "A")
    assert even.verdict == NO_DIFFERENCE and even.winner is None and even.needed_per_arm > 1000


def test_not_enough_data_gives_the_sample_size() -> None:
    result = analyse(_counts([80, 300], [70, 250], [3, 20]), "A")
    assert result.verdict == NOT_ENOUGH_DATA and not result.enough_data
    assert result.reasons == ["fewer than 100 exposures in A"]
    assert result.needed_per_arm == sample_size_per_arm(3 / 70, 20 / 250) and result.needed_for == "B"
    few = analyse(_counts([500, 500], [400, 400], [2, 5]), "A")
    assert few.reasons == ["fewer than 10 conversions over all arms (7)"]


def test_more_arms_use_holm() -> None:
    counts = _counts([500] * 4, [400] * 4, [20, 22, 45, 30])
    result = analyse(counts, "A")
    raw = [compare_two((20, 400), (k, 400))["p_value"] for k in (22, 45, 30)]
    order = np.argsort(raw)
    holm = np.empty(3)
    running = 0.0
    for rank, i in enumerate(order):  # Holm (1979): (m - rank) p, made monotone, capped at 1
        running = max(running, min(1.0, (3 - rank) * raw[i]))
        holm[i] = running
    assert result.arms["p_adjusted"].iloc[1:].astype(float).tolist() == pytest.approx(holm.tolist())
    assert result.arms["p_adjusted"].iloc[0] is None and result.test["method"] == "chi-square"
    assert result.verdict == "C beats A"
    # The sample size is for the largest difference at alpha / 3 (Holm's first step).
    assert result.needed_for == "C" and result.needed_per_arm == sample_size_per_arm(20 / 400, 45 / 400, 0.05 / 3)


def test_analyse_checks_its_input() -> None:
    with pytest.raises(ValueError, match="two arms"):
        analyse(_counts([1], [1], [0]), "A")
    with pytest.raises(ValueError, match="control"):
        analyse(_counts([1, 1], [1, 1], [0, 0]), "Z")
    with pytest.raises(ValueError, match="converters <= people"):
        analyse(_counts([1, 1], [1, 1], [2, 0]), "A")


arm_counts = st.integers(1, 5000).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n)))


@settings(max_examples=150, deadline=None)
@given(st.integers(0, 10_000).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_wilson_contains_the_rate(counts: tuple[int, int]) -> None:
    k, n = counts
    low, high = wilson_interval(k, n)
    if n == 0:
        assert (low, high) == (None, None)
    else:
        assert 0 <= low <= k / n + 1e-12 and k / n - 1e-12 <= high <= 1


@settings(max_examples=150, deadline=None)
@given(arm_counts, arm_counts)
def test_swapping_arms_flips_z_and_keeps_p(a: tuple[int, int], b: tuple[int, int]) -> None:
    ab, ba = compare_two(a, b), compare_two(b, a)
    assert ab["statistic"] == pytest.approx(-ba["statistic"], abs=1e-9)
    assert ab["p_value"] == pytest.approx(ba["p_value"], rel=1e-9)
    assert 0 <= ab["p_value"] <= 1
    if ab["lift"] is not None and b[0] > 0:
        assert ab["lift_low"] <= ab["lift"] + 1e-9 and ab["lift"] <= ab["lift_high"] + 1e-9


@settings(max_examples=80, deadline=None)
@given(st.lists(arm_counts, min_size=2, max_size=5), st.integers(0, 300))
def test_analyse_properties(arms: list[tuple[int, int]], exposures: int) -> None:
    counts = _counts([exposures] * len(arms), [n for _, n in arms], [k for k, _ in arms])
    before = counts.copy()
    result = analyse(counts, "A")
    pd.testing.assert_frame_equal(counts, before)  # the input is not mutated
    assert result.arms["arm"].tolist() == counts["arm"].tolist()
    for _, row in result.arms.iloc[1:].iterrows():
        assert row["p_adjusted"] >= row["p_value"] - 1e-12
    if exposures < 100 or sum(k for k, _ in arms) < 10:
        assert result.verdict == NOT_ENOUGH_DATA
    else:
        assert result.verdict != NOT_ENOUGH_DATA
