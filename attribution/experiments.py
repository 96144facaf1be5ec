"""A/B tests of link variants (ATTRIBUTION.md, "Link variants (A/B)"): rates, tests, lift, sample size.

Every number comes from statsmodels or scipy, never from a hand-written formula:

- the rate of each arm (people converting / people) with its 95 % **Wilson** interval
  (``statsmodels.stats.proportion.proportion_confint(method="wilson")``);
- two arms: the **two-proportion z-test** with the pooled variance, two-sided
  (``proportions_ztest``); more arms: **Pearson's chi-square** test of the arms x (converted, not)
  table (``scipy.stats.chi2_contingency``, no continuity correction), then a z-test of each arm
  against the control with **Holm**'s correction of the p-values (``multipletests(method="holm")``);
- the **relative lift** of an arm over the control, ``rate / control rate - 1``, and its interval from the
  interval of the ratio of two independent proportions (``confint_proportions_2indep(compare="ratio")``,
  statsmodels' default log-adjusted method, which stays finite when one arm has no conversions);
- the **sample size** per arm needed to see the current difference with 80 % power
  (``NormalIndPower().solve_power`` on Cohen's ``h`` from ``proportion_effectsize``), at the level
  the first step of Holm's procedure uses (``alpha / comparisons``).

Below a minimum sample (``min_exposures`` per arm, ``min_conversions`` over all arms) the verdict is
``"not enough data"``; the tests are still computed and shown, the verdict just does not rest on them.

Examples
--------
>>> counts = pd.DataFrame({"arm": ["A", "B"], "exposures": [1200, 1180], "people": [1000, 1000],
...                        "converters": [100, 140]})
>>> result = analyse(counts, control="A")
>>> result.verdict, result.winner
('B beats A', 'B')
>>> round(result.test["p_value"], 4)
0.0059
>>> result.arms[["arm", "rate"]].values.tolist()
[['A', 0.1], ['B', 0.14]]
"""
from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

# statsmodels and scipy.stats are imported in the functions that use them: together they take about 90 MB
# of every process that imports them (measured with VmRSS), and only experiment reports need them.

__all__ = ["ALPHA", "NOT_ENOUGH_DATA", "NO_DIFFERENCE", "POWER", "ExperimentResult", "analyse", "compare_two",
           "omnibus_test", "sample_size_per_arm", "wilson_interval"]

ALPHA = 0.05
POWER = 0.8
NOT_ENOUGH_DATA = "not enough data"
NO_DIFFERENCE = "no significant difference"
MAX_SAMPLE = 10**9  # beyond this a difference is too small to test with links: reported as None


def wilson_interval(successes: int, trials: int, alpha: float = ALPHA) -> tuple[float | None, float | None]:
    """Return the Wilson score interval of ``successes / trials`` (``(None, None)`` without trials).

    Examples
    --------
    >>> [round(x, 4) for x in wilson_interval(10, 100)]
    [0.0552, 0.1744]
    >>> wilson_interval(0, 0)
    (None, None)
    """
    if trials <= 0:
        return None, None
    from statsmodels.stats.proportion import proportion_confint

    low, high = proportion_confint(int(successes), int(trials), alpha=alpha, method="wilson")
    return float(low), float(high)


def compare_two(control: tuple[int, int], arm: tuple[int, int], alpha: float = ALPHA) -> dict[str, float | None]:
    """Compare an arm with the control: z-test, relative lift and the lift's interval.

    Parameters
    ----------
    control, arm
        ``(converters, people)`` of each.
    alpha
        1 - the interval's confidence.

    Returns
    -------
    dict
        ``statistic`` (z, positive when the arm's rate is higher), ``p_value`` (two-sided), ``lift``
        (``rate / control rate - 1``), ``lift_low`` and ``lift_high``. Undefined values are None: the
        lift when the control has no conversions, everything when an arm has no people. When both arms
        are all-zero (or all-one) the rates are equal: z is 0 and the p-value 1.

    Examples
    --------
    >>> out = compare_two((10, 100), (20, 100))
    >>> round(out["statistic"], 4), round(out["p_value"], 4), out["lift"]
    (1.9803, 0.0477, 1.0)
    """
    from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest

    (k0, n0), (k1, n1) = control, arm
    out: dict[str, float | None] = {"statistic": None, "p_value": None, "lift": None, "lift_low": None,
                                    "lift_high": None}
    if n0 <= 0 or n1 <= 0:
        return out
    pooled = (k0 + k1) / (n0 + n1)
    if pooled in (0.0, 1.0):  # no variance: the z-test divides by zero, yet the rates are plainly equal
        out["statistic"], out["p_value"] = 0.0, 1.0
    else:
        z, p = proportions_ztest([k1, k0], [n1, n0], alternative="two-sided")
        out["statistic"], out["p_value"] = float(z), float(p)
    if k0 > 0:
        out["lift"] = (k1 / n1) / (k0 / n0) - 1
        low, high = confint_proportions_2indep(k1, n1, k0, n0, compare="ratio", alpha=alpha)
        out["lift_low"], out["lift_high"] = float(low) - 1, float(high) - 1
    return out


def omnibus_test(converters: Sequence[int], people: Sequence[int]) -> dict[str, Any]:
    """Test whether the arms' rates differ: Pearson's chi-square over the arms x (converted, not) table.

    Returns ``method``, ``statistic``, ``dof`` and ``p_value``; with no conversions at all (or everyone
    converting) the rates are equal and the p-value is 1.

    Examples
    --------
    >>> out = omnibus_test([10, 20, 30], [100, 100, 100])
    >>> round(out["statistic"], 4), out["dof"], round(out["p_value"], 5)
    (12.5, 2, 0.00193)
    """
    table = np.column_stack([np.asarray(converters, dtype=float),
                             np.asarray(people, dtype=float) - np.asarray(converters, dtype=float)])
    table = table[table.sum(axis=1) > 0]
    if len(table) < 2 or (table.sum(axis=0) == 0).any():
        return {"method": "chi-square", "statistic": 0.0, "dof": max(0, len(table) - 1), "p_value": 1.0}
    from scipy.stats import chi2_contingency

    result = chi2_contingency(table, correction=False)
    return {"method": "chi-square", "statistic": float(result.statistic), "dof": int(result.dof),
            "p_value": float(result.pvalue)}


def sample_size_per_arm(control_rate: float, arm_rate: float, alpha: float = ALPHA, power: float = POWER) -> int | None:
    """People per arm needed to detect the difference between two rates (two-sided, equal arms).

    None when the rates are equal (no difference to detect) or the answer exceeds ``MAX_SAMPLE``; at least 2.

    Examples
    --------
    >>> sample_size_per_arm(0.10, 0.20)
    195
    >>> sample_size_per_arm(0.1, 0.1) is None
    True
    """
    from statsmodels.stats.power import NormalIndPower
    from statsmodels.stats.proportion import proportion_effectsize
    from statsmodels.tools.sm_exceptions import ConvergenceWarning

    effect = abs(float(proportion_effectsize(arm_rate, control_rate)))
    if not math.isfinite(effect) or effect < 1e-9:
        return None
    analysis = NormalIndPower()
    if analysis.power(effect_size=effect, nobs1=2, alpha=alpha, ratio=1.0) >= power:
        return 2  # a huge difference (0 % against 100 %): the root finder fails below 2, one person tests nothing
    # The root finder may try negative sample sizes on its way (numpy then warns about their square root) and
    # says when it fails (ConvergenceWarning, returning nan): the root it returns is checked below instead.
    with warnings.catch_warnings(), np.errstate(invalid="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)
        n = analysis.solve_power(effect_size=effect, alpha=alpha, power=power, ratio=1.0, alternative="two-sided")
    n = float(np.asarray(n).item())
    if not math.isfinite(n) or n > MAX_SAMPLE or n <= 0:
        return None
    needed = max(2, math.ceil(n - 1e-9))  # one person per arm tests nothing
    if analysis.power(effect_size=effect, nobs1=needed, alpha=alpha, ratio=1.0) < power - 1e-6:
        return None  # the solver did not converge (never seen, but never report a wrong number)
    return needed


@dataclass
class ExperimentResult:
    """What :func:`analyse` found: the arm table, the overall test, the verdict and the sample size."""

    arms: pd.DataFrame
    test: dict[str, Any]
    verdict: str
    winner: str | None
    enough_data: bool
    needed_per_arm: int | None
    needed_for: str | None
    reasons: list[str] = field(default_factory=list)


def _significant(row: pd.Series, alpha: float) -> bool:
    p = row["p_adjusted"]
    return p is not None and not pd.isna(p) and p < alpha


def analyse(counts: pd.DataFrame, control: str, *, alpha: float = ALPHA, power: float = POWER,
            min_exposures: int = 100, min_conversions: int = 10) -> ExperimentResult:
    """Analyse an experiment from per-arm counts.

    Parameters
    ----------
    counts
        One row per arm: ``arm`` (name), ``exposures``, ``people`` (the test's trials) and ``converters``
        (people converting; at most ``people``). Other columns are kept.
    control
        The arm the others are compared with.
    alpha, power
        Significance level of the tests and intervals; power of the sample-size calculation.
    min_exposures, min_conversions
        Below ``min_exposures`` in any arm, or ``min_conversions`` converters over all arms, the verdict is
        ``"not enough data"``.

    Returns
    -------
    ExperimentResult
        ``arms``: ``counts`` (same order, not mutated) with ``rate``, ``rate_low``, ``rate_high``,
        ``is_control``, ``lift``, ``lift_low``, ``lift_high``, ``statistic``, ``p_value`` and ``p_adjusted``
        (Holm over the comparisons with the control; the control's own are missing). ``test``: the
        two-proportion z-test (two arms) or chi-square (more). ``verdict``: ``"<arm> beats <control>"``,
        ``"<control> beats <arms>"``, ``"no significant difference"`` or ``"not enough data"``.
        ``needed_per_arm``: people per arm to detect the largest current difference from the control
        (``needed_for`` names that arm) at ``power``, with ``alpha`` divided by the number of comparisons.

    Raises
    ------
    ValueError
        Fewer than two arms, the control is not an arm, or counts are negative or inconsistent.

    Examples
    --------
    >>> counts = pd.DataFrame({"arm": ["A", "B", "C"], "exposures": [500, 500, 500],
    ...                        "people": [400, 400, 400], "converters": [20, 22, 45]})
    >>> result = analyse(counts, control="A")
    >>> result.test["method"], result.verdict
    ('chi-square', 'C beats A')
    >>> analyse(counts.assign(exposures=50), control="A").verdict
    'not enough data'
    """
    required = ("arm", "exposures", "people", "converters")
    missing = [c for c in required if c not in counts.columns]
    if missing:
        raise ValueError(f"counts needs the columns {', '.join(required)}; missing: {', '.join(missing)}")
    if len(counts) < 2:
        raise ValueError("an experiment needs at least two arms")
    arms = counts.reset_index(drop=True).copy()
    names = arms["arm"].astype(str).tolist()
    if len(set(names)) != len(names):
        raise ValueError("arm names must be distinct")
    if control not in names:
        raise ValueError(f"the control {control!r} is not one of the arms: {', '.join(names)}")
    people = arms["people"].to_numpy(dtype=np.int64)
    converters = arms["converters"].to_numpy(dtype=np.int64)
    exposures = arms["exposures"].to_numpy(dtype=np.int64)
    if (people < 0).any() or (converters < 0).any() or (exposures < 0).any() or (converters > people).any():
        raise ValueError("counts must be non-negative with converters <= people")

    bounds = [wilson_interval(int(k), int(n), alpha) for k, n in zip(converters, people, strict=True)]
    arms["rate"] = [k / n if n else None for k, n in zip(converters, people, strict=True)]
    arms["rate_low"] = [b[0] for b in bounds]
    arms["rate_high"] = [b[1] for b in bounds]
    c = names.index(control)
    arms["is_control"] = [i == c for i in range(len(arms))]
    comparisons = {i: compare_two((int(converters[c]), int(people[c])), (int(converters[i]), int(people[i])), alpha)
                   for i in range(len(arms)) if i != c}
    for column in ("lift", "lift_low", "lift_high", "statistic", "p_value", "p_adjusted"):
        arms[column] = pd.Series([None] * len(arms), dtype=object)
    for i, values in comparisons.items():
        for column, value in values.items():
            arms.at[i, column] = value
    tested = [i for i, v in comparisons.items() if v["p_value"] is not None]
    if tested:
        raw = [comparisons[i]["p_value"] for i in tested]
        from statsmodels.stats.multitest import multipletests

        adjusted = multipletests(raw, alpha=alpha, method="holm")[1] if len(tested) > 1 else raw
        for i, p in zip(tested, adjusted, strict=True):
            arms.at[i, "p_adjusted"] = float(p)

    if len(arms) == 2:
        other = comparisons[1 - c]
        test = {"method": "two-proportion z-test", "statistic": other["statistic"], "dof": None,
                "p_value": other["p_value"]}
    else:
        test = omnibus_test(converters, people)

    reasons = []
    low = [names[i] for i in range(len(arms)) if exposures[i] < min_exposures]
    if low:
        reasons.append(f"fewer than {min_exposures} exposures in {', '.join(low)}")
    if converters.sum() < min_conversions:
        reasons.append(f"fewer than {min_conversions} conversions over all arms ({int(converters.sum())})")
    enough = not reasons

    winner: str | None = None
    if not enough:
        verdict = NOT_ENOUGH_DATA
    elif test["p_value"] is None or test["p_value"] >= alpha:
        verdict = NO_DIFFERENCE
    else:
        rows = arms.drop(index=c)
        better = rows[[_significant(r, alpha) and r["statistic"] > 0
                       for _, r in rows.iterrows()]]
        worse = rows[[_significant(r, alpha) and r["statistic"] < 0 for _, r in rows.iterrows()]]
        if len(better):
            winner = str(better.sort_values("rate", ascending=False, kind="stable")["arm"].iloc[0])
            verdict = f"{winner} beats {control}"
        elif len(worse) == len(rows):
            winner = control
            verdict = f"{control} beats {', '.join(worse['arm'].astype(str))}"
        else:
            verdict = NO_DIFFERENCE

    needed, needed_for = None, None
    rates = arms["rate"]
    if rates[c] is not None:
        m = max(1, len(comparisons))
        candidates = [(sample_size_per_arm(rates[c], rates[i], alpha / m, power), names[i])
                      for i in comparisons if rates[i] is not None]
        found = [(n, name) for n, name in candidates if n is not None]
        if found:
            needed, needed_for = min(found)
    return ExperimentResult(arms=arms, test=test, verdict=verdict, winner=winner, enough_data=enough,
                            needed_per_arm=needed, needed_for=needed_for, reasons=reasons)
