"""The Markov model: an independent dense reference, conservation, invariances, determinism, the linear
fallback, the bootstrap replicator, and ChannelAttribution's simulation at a large nsim."""
from __future__ import annotations

from collections import defaultdict

import numpy as np
import pandas as pd
import pytest
from ChannelAttribution import markov_model
from hypothesis import given, settings
from hypothesis import strategies as st

from attribution import Linear, journeys_from_paths
from attribution.models.base import JourneyIndex
from attribution.models.markov import Markov

SETTINGS = settings(max_examples=60, deadline=None, derandomize=True, database=None)
CHANNELS = ("A", "B", "C", "D")
ORDERS = (1, 2, 3, 4)
START, CONVERSION, NULL = "(start)", "(conversion)", "(null)"


# ---- data ------------------------------------------------------------------------------------------

@st.composite
def path_tables(draw: st.DrawFn, channels: tuple[str, ...] = CHANNELS, max_paths: int = 10) -> pd.DataFrame:
    """Draw distinct paths (1-6 steps, repeats common) with conversions, non-converting journeys and values.

    Rows with neither conversions nor non-converting journeys occur (they stand for nothing); at least
    one row converts.
    """
    paths = draw(st.lists(st.lists(st.sampled_from(channels), min_size=1, max_size=6).map(" > ".join),
                          min_size=1, max_size=max_paths, unique=True))
    n = len(paths)
    conv = draw(st.lists(st.integers(0, 5), min_size=n, max_size=n))
    null = draw(st.lists(st.integers(0, 5), min_size=n, max_size=n))
    if not any(conv):
        conv[draw(st.integers(0, n - 1))] = draw(st.integers(1, 5))
    value = draw(st.lists(st.sampled_from([0.0, 1.0, 19.99, 250.0, 1e4 / 3]), min_size=n, max_size=n))
    return pd.DataFrame({"path": paths, "conv": conv, "null": null,
                         "value": [v * c for v, c in zip(value, conv, strict=True)]})


def journeys_of(table: pd.DataFrame) -> pd.DataFrame:
    """Return the journeys of a path table (``conv`` conversions, ``null`` non-converting journeys per row)."""
    return journeys_from_paths(table, conversions="conv", nulls="null")


def credit_dict(table: pd.DataFrame, column: str = "conversions", by: str = "channel") -> dict[object, float]:
    """Return {value of ``by``: credited conversions (or value)} of a credit table."""
    return dict(zip(table[by], table[column], strict=True))


def fixed_table() -> pd.DataFrame:
    """A fixed path table with loops (Email > Paid search > Email), repeats and non-converting paths."""
    return pd.DataFrame({
        "path": ["Email > Paid search", "Paid search", "Email > Email > Events", "Podcast > Email", "Events",
                 "Podcast > Paid search > Email", "Paid search > Podcast", "Events > Email > Paid search"],
        "conv": [30, 12, 8, 5, 9, 4, 0, 6],
        "value": [3000.0, 1200.0, 800.0, 500.0, 900.0, 400.0, 0.0, 600.0],
        "null": [40, 60, 10, 20, 15, 5, 25, 8],
    })


# ---- an independent reference: dicts of path strings, a dense fundamental matrix -------------------

State = tuple[str, ...]


def chain_counts(table: pd.DataFrame, order: int) -> dict[tuple[State, State], float]:
    """Return the weighted transition counts {(from, to): count}, written straight from ATTRIBUTION.md."""
    counts: dict[tuple[State, State], float] = defaultdict(float)
    for path, conv, null in zip(table["path"], table["conv"], table["null"], strict=True):
        if conv + null == 0:
            continue
        steps = path.split(" > ")
        if order == 1:
            steps = [s for i, s in enumerate(steps) if i == 0 or s != steps[i - 1]]
        padded = [START] * (order - 1) + steps
        states = [(START,) * order] + [tuple(padded[i:i + order]) for i in range(len(steps))]
        for a, b in zip(states[:-1], states[1:], strict=True):
            counts[a, b] += conv + null
        counts[states[-1], (CONVERSION,)] += conv
        counts[states[-1], (NULL,)] += null
    return counts


def absorption(counts: dict[tuple[State, State], float], order: int) -> float:
    """Return P(absorbed in (conversion) | (start)) from N = (I - Q)^-1 and B = N R, with dense matrices."""
    absorbing = [(CONVERSION,), (NULL,)]
    transient = sorted({s for pair in counts for s in pair if s not in absorbing} | {(START,) * order})
    where = {s: i for i, s in enumerate(transient)}
    q = np.zeros((len(transient), len(transient)))
    r = np.zeros((len(transient), 2))
    out: dict[State, float] = defaultdict(float)
    for (a, _), w in counts.items():
        out[a] += w
    for (a, b), w in counts.items():
        if b in absorbing:
            r[where[a], absorbing.index(b)] += w / out[a]
        else:
            q[where[a], where[b]] += w / out[a]
    fundamental = np.linalg.inv(np.eye(len(transient)) - q)
    return float((fundamental @ r)[where[(START,) * order], 0])


def reference(table: pd.DataFrame, order: int) -> tuple[float, dict[str, float], dict[str, tuple[float, float]]]:
    """Return P, the removal effects and {value: (conversions, value)} credits of the definition."""
    counts = chain_counts(table, order)
    p = absorption(counts, order)
    seen = sorted({v for a, b in counts for v in a + b} - {START, CONVERSION, NULL})
    effects = {}
    for c in seen:
        redirected: dict[tuple[State, State], float] = defaultdict(float)
        for (a, b), w in counts.items():
            redirected[a, (NULL,) if c in b else b] += w
        effects[c] = 1 - absorption(redirected, order) / p if p > 0 else 0.0
    converting = table[table["conv"] > 0]
    total, total_value = float(converting["conv"].sum()), float(converting["value"].sum())
    if sum(effects.values()) > 0:
        shares = {c: e / sum(effects.values()) for c, e in effects.items()}
        credits = {c: (s * total, s * total_value) for c, s in shares.items() if s > 0}
    else:
        credits = linear_reference(converting)
    return p, effects, credits


def linear_reference(converting: pd.DataFrame) -> dict[str, tuple[float, float]]:
    """Return linear credits: each touch of a path gets 1/n of its conversions and value."""
    credit: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for path, conv, value in zip(converting["path"], converting["conv"], converting["value"], strict=True):
        steps = path.split(" > ")
        for s in steps:
            credit[s][0] += conv / len(steps)
            credit[s][1] += value / len(steps)
    return {c: (a, b) for c, (a, b) in credit.items()}


def labelled(frame: pd.DataFrame, columns: list[str]) -> list[str]:
    """Return each row's ``columns`` values joined without a separator (the tokens of the multi-column test)."""
    out = frame[columns[0]].astype(str)
    for c in columns[1:]:
        out = out + frame[c].astype(str)
    return out.tolist()


# ---- (a) the exact reference ---------------------------------------------------------------------

@pytest.mark.parametrize("order", ORDERS)
@SETTINGS
@given(table=path_tables())
def test_matches_the_dense_reference(order: int, table: pd.DataFrame) -> None:
    """P, every removal effect and every credit equal the dict-and-dense-inverse reference to 1e-9."""
    fit = Markov(order).fit(journeys_of(table))
    p, effects, credits = reference(table, order)
    total = float(table.loc[table["conv"] > 0, "conv"].sum())
    total_value = float(table.loc[table["conv"] > 0, "value"].sum())
    assert not fit.fell_back and fit.order == order
    assert fit.conversion_probability == pytest.approx(p, rel=1e-9, abs=1e-12)
    assert 0 < fit.conversion_probability <= 1
    got_effects = credit_dict(fit.removal_effects, "removal_effect")
    assert got_effects.keys() == effects.keys()
    for channel, effect in effects.items():
        assert got_effects[channel] == pytest.approx(effect, rel=1e-9, abs=1e-12), channel
    assert set(fit.credits["channel"]) == set(credits)
    got, got_value = credit_dict(fit.credits), credit_dict(fit.credits, "value")
    for channel, (conversions, value) in credits.items():
        assert got[channel] == pytest.approx(conversions, rel=1e-9, abs=1e-9 * total), channel
        assert got_value[channel] == pytest.approx(value, rel=1e-9, abs=1e-9 * max(total_value, 1.0)), channel


@pytest.mark.parametrize("order", [1, 2])
@settings(max_examples=30, deadline=None, derandomize=True, database=None)
@given(table=path_tables(channels=("A1", "A2", "B1", "C2")))
def test_several_by_columns_credit_tuples(order: int, table: pd.DataFrame) -> None:
    """With by = [channel, campaign], each (channel, campaign) tuple is one value: the reference on the tuples."""
    journeys = journeys_of(table)
    tokens = journeys["channel"].astype(str)
    journeys = journeys.assign(channel=tokens.str[0], campaign=tokens.str[1])
    fit = Markov(order).fit(journeys, by=["channel", "campaign"])
    assert list(fit.credits.columns) == ["channel", "campaign", "conversions", "value", "share"]
    assert list(fit.removal_effects.columns) == ["channel", "campaign", "removal_effect"]
    p, effects, credits = reference(table, order)
    assert fit.conversion_probability == pytest.approx(p, rel=1e-9)
    got = dict(zip(labelled(fit.credits, ["channel", "campaign"]), fit.credits["conversions"], strict=True))
    assert got == pytest.approx({k: c for k, (c, _) in credits.items()}, rel=1e-9, abs=1e-9)
    got_effects = dict(zip(labelled(fit.removal_effects, ["channel", "campaign"]),
                           fit.removal_effects["removal_effect"], strict=True))
    assert got_effects == pytest.approx(effects, rel=1e-9, abs=1e-12)
    if order == 1:  # state labels join the values of the by columns
        assert set(fit.transitions["from"]) == {START} | {f"{k[0]} / {k[1]}" for k in effects}


# ---- hand-worked cases ---------------------------------------------------------------------------

def test_hand_worked_chain() -> None:
    """A > B (1 conversion), B (1 conversion, 1 null), A (1 null), solved by hand.

    (start) goes to A and B with 1/2 each; A to B or (null) with 1/2 each; B converts 2/3 of the time.
    P = 1/2 (1/2 x 2/3) + 1/2 x 2/3 = 1/2. Without A: 1/3, RE_A = 1/3. Without B: 0, RE_B = 1.
    """
    table = pd.DataFrame({"path": ["A > B", "B", "A"], "conv": [1, 1, 0], "null": [0, 1, 1],
                          "value": [30.0, 10.0, 0.0]})
    fit = Markov().fit(journeys_of(table))
    assert fit.conversion_probability == pytest.approx(0.5, rel=1e-12)
    assert credit_dict(fit.removal_effects, "removal_effect") == pytest.approx({"A": 1 / 3, "B": 1.0}, rel=1e-12)
    assert fit.credits["channel"].tolist() == ["B", "A"]
    np.testing.assert_allclose(fit.credits[["conversions", "value", "share"]].to_numpy(),
                               [[1.5, 30.0, 0.75], [0.5, 10.0, 0.25]], rtol=1e-12)
    assert fit.transitions.values.tolist() == [
        [START, "A", 0.5, 2.0], [START, "B", 0.5, 2.0], ["A", "B", 0.5, 1.0], ["A", NULL, 0.5, 1.0],
        ["B", CONVERSION, pytest.approx(2 / 3), 2.0], ["B", NULL, pytest.approx(1 / 3), 1.0]]


def test_order_one_merges_repeats_and_higher_orders_do_not() -> None:
    """A > A > B walks A > B at order 1 (the same chain); at order 2 the step A > A is a state of its own."""
    repeated = pd.DataFrame({"path": ["A > A > B", "B > C > A > A", "C > A > A > C"], "conv": [1, 1, 0],
                             "null": [2, 1, 2], "value": [1.0, 1.0, 0.0]})
    merged = repeated.assign(path=["A > B", "B > C > A", "C > A > C"])
    one = Markov().fit(journeys_of(repeated))
    pd.testing.assert_frame_equal(one.credits, Markov().fit(journeys_of(merged)).credits)
    pd.testing.assert_frame_equal(one.transitions, Markov().fit(journeys_of(merged)).transitions)
    assert ["A", "A"] not in one.transitions[["from", "to"]].values.tolist()
    two = Markov(2).fit(journeys_of(repeated))
    assert two.transitions is None
    _, effects, _ = reference(repeated, 2)
    assert credit_dict(two.removal_effects, "removal_effect") == pytest.approx(effects, rel=1e-12)
    assert effects == pytest.approx({"A": 1.0, "B": 9 / 14, "C": 4 / 7}, rel=1e-12)
    merged_effects = credit_dict(Markov(2).fit(journeys_of(merged)).removal_effects, "removal_effect")
    assert merged_effects == pytest.approx({"A": 1.0, "B": 0.75, "C": 0.5}, rel=1e-12)


def test_direct_only_journeys_are_one_state() -> None:
    """[Direct]-only journeys are paths of the one state Direct: with nothing else, Direct gets everything."""
    table = pd.DataFrame({"path": ["Direct", "Direct > Direct"], "conv": [3, 1], "null": [1, 0], "value": [9.0, 2.0]})
    fit = Markov().fit(journeys_of(table))
    assert fit.credits.values.tolist() == [["Direct", 4.0, 11.0, 1.0]]
    assert fit.conversion_probability == pytest.approx(0.8)
    assert fit.removal_effects.values.tolist() == [["Direct", 1.0]]


def test_journeys_without_counts_are_one_conversion_each() -> None:
    """Without n_conversions / n_null every journey is one conversion and nothing is non-converting."""
    journeys = journeys_from_paths(pd.DataFrame({"path": ["A > B", "B", "A > B"], "value": [1.0, 2.0, 3.0]}))
    fit = Markov().fit(journeys)
    table = pd.DataFrame({"path": ["A > B", "B"], "conv": [2, 1], "null": [0, 0], "value": [4.0, 2.0]})
    p, effects, credits = reference(table, 1)
    assert fit.conversion_probability == pytest.approx(p) == pytest.approx(1.0)
    assert credit_dict(fit.credits) == pytest.approx({k: c for k, (c, _) in credits.items()}, rel=1e-12)
    assert credit_dict(fit.credits, "value") == pytest.approx({k: v for k, (_, v) in credits.items()}, rel=1e-12)


def test_missing_values_are_a_value_of_their_own() -> None:
    """A missing ``by`` value is credited as one value (None in the table), like any other name."""
    table = fixed_table()
    journeys = journeys_of(table)
    with_missing = journeys.assign(channel=journeys["channel"].astype(object).replace({"Events": None}))
    named = journeys.assign(channel=journeys["channel"].astype(object).replace({"Events": "zz"}))
    got = Markov().attribute(with_missing)
    expected = Markov().attribute(named)
    assert got["channel"].tolist() == [None if c == "zz" else c for c in expected["channel"]]
    np.testing.assert_allclose(got[["conversions", "value", "share"]].to_numpy(),
                               expected[["conversions", "value", "share"]].to_numpy(), rtol=1e-12)
    labels = Markov().fit(with_missing).transitions
    assert "" in set(labels["from"])  # a missing value's state label is blank, as in path strings


# ---- (b) conservation ----------------------------------------------------------------------------

@pytest.mark.parametrize("order", ORDERS)
@settings(max_examples=40, deadline=None, derandomize=True, database=None)
@given(table=path_tables(max_paths=20))
def test_credits_sum_to_conversions_and_value(order: int, table: pd.DataFrame) -> None:
    """The credits sum to the conversions and the value of all converting journeys (rel. error < 1e-9)."""
    credits = Markov(order).attribute(journeys_of(table))
    converting = table[table["conv"] > 0]
    conversions, value = float(converting["conv"].sum()), float(converting["value"].sum())
    assert list(credits.columns) == ["channel", "conversions", "value", "share"]
    assert not credits["channel"].duplicated().any()
    assert abs(credits["conversions"].sum() - conversions) <= 1e-9 * conversions
    assert abs(credits["value"].sum() - value) <= 1e-9 * max(value, 1.0)
    assert abs(credits["share"].sum() - 1.0) <= 1e-9
    assert (credits["conversions"] > 0).all()
    assert (np.diff(credits["conversions"].round(9).to_numpy()) <= 0).all()  # largest first


# ---- (c) permutation invariance ------------------------------------------------------------------

@pytest.mark.parametrize("order", [1, 3])
@SETTINGS
@given(table=path_tables(), names=st.permutations(["Wx", "Az", "Mm", "Zq"]))
def test_renaming_channels_permutes_the_credits(order: int, table: pd.DataFrame, names: list[str]) -> None:
    """Renaming the channels (so states are numbered in another order) only renames the credits (to 1e-9)."""
    rename = dict(zip(CHANNELS, names, strict=True))
    renamed = table.assign(path=[" > ".join(rename[s] for s in p.split(" > ")) for p in table["path"]])
    before = Markov(order).fit(journeys_of(table))
    after = Markov(order).fit(journeys_of(renamed))
    assert after.conversion_probability == pytest.approx(before.conversion_probability, rel=1e-9)
    for column in ("conversions", "value"):
        got = credit_dict(after.credits, column)
        expected = {rename[k]: v for k, v in credit_dict(before.credits, column).items()}
        assert got == pytest.approx(expected, rel=1e-9, abs=1e-9)
    assert credit_dict(after.removal_effects, "removal_effect") == pytest.approx(
        {rename[k]: v for k, v in credit_dict(before.removal_effects, "removal_effect").items()}, rel=1e-9, abs=1e-12)


# ---- (d) determinism -----------------------------------------------------------------------------

def random_table(seed: int, n: int = 3000) -> pd.DataFrame:
    """Return ``n`` random paths over 6 channels (1-8 steps) with random conversions and non-conversions."""
    rng = np.random.default_rng(seed)
    names = np.array(["Direct", "Email", "Paid search", "Events", "Podcast", "Social"])
    sizes = rng.integers(1, 9, n)
    steps = names[rng.integers(0, len(names), sizes.sum())]
    cuts = np.cumsum(sizes)[:-1]
    paths = [" > ".join(p) for p in np.split(steps, cuts)]
    table = pd.DataFrame({"path": paths, "conv": rng.poisson(0.4, n), "null": rng.poisson(2.0, n)})
    table = table.groupby("path", as_index=False, sort=False)[["conv", "null"]].sum()
    return table.assign(value=table["conv"] * rng.uniform(1, 100, len(table)))


@pytest.mark.parametrize("order", ORDERS)
def test_same_input_gives_identical_bytes(order: int) -> None:
    """Two runs on the same journeys give identical tables (CSV) and identical arrays (bytes), no mutation."""
    journeys = journeys_of(random_table(order))
    copy = journeys.copy()
    first, second = Markov(order).fit(journeys), Markov(order).fit(journeys.copy())
    pd.testing.assert_frame_equal(journeys, copy)
    assert first.credits.to_csv() == second.credits.to_csv()
    assert first.removal_effects.to_csv() == second.removal_effects.to_csv()
    assert first.credits["conversions"].to_numpy().tobytes() == second.credits["conversions"].to_numpy().tobytes()
    assert np.float64(first.conversion_probability).tobytes() == np.float64(second.conversion_probability).tobytes()
    if order == 1:
        assert first.transitions.to_csv() == second.transitions.to_csv()
    index = JourneyIndex.of(journeys)
    weights = [journeys[c].to_numpy()[index.starts] for c in ("n_conversions", "n_null", "value")]
    one, two = Markov(order).replicator(journeys)(*weights), Markov(order).replicator(journeys.copy())(*weights)
    assert all(a.tobytes() == b.tobytes() for a, b in zip(one, two, strict=True))


# ---- (e) the linear fallback ---------------------------------------------------------------------

def test_no_conversions_falls_back_to_linear() -> None:
    """With P = 0 (no journey converts) every removal effect is 0: credits are linear's and fell_back says so.

    Any converting journey makes P > 0 and gives each value on its path a positive removal effect, so
    the fallback happens exactly when nothing converts; the totals are then 0 and linear credits nothing.
    """
    table = pd.DataFrame({"path": ["A > B", "C", "B > C > A"], "conv": [0, 0, 0], "null": [2, 1, 4],
                          "value": [0.0, 0.0, 0.0]})
    journeys = journeys_of(table)
    fit = Markov().fit(journeys)
    assert fit.fell_back
    assert fit.conversion_probability == 0.0
    pd.testing.assert_frame_equal(fit.credits, Linear().attribute(journeys))
    assert fit.removal_effects.values.tolist() == [["A", 0.0], ["B", 0.0], ["C", 0.0]]
    assert set(fit.transitions["to"]) == {"A", "B", "C", NULL}
    assert not Markov().fit(journeys_of(fixed_table())).fell_back


def test_empty_journeys() -> None:
    """No journeys at all: P = 0, nothing credited, linear's (empty) table."""
    journeys = journeys_of(fixed_table()).iloc[:0]
    fit = Markov(2).fit(journeys)
    assert fit.fell_back and fit.conversion_probability == 0.0 and fit.removal_effects.empty
    pd.testing.assert_frame_equal(fit.credits, Linear().attribute(journeys))


# ---- (f) validation ------------------------------------------------------------------------------

@pytest.mark.parametrize("order", [0, 5, -1, 1.0, 2.5, "2", None, True])
def test_order_must_be_an_integer_from_1_to_4(order: object) -> None:
    """An order outside 1..4, or not an integer, is refused at once, naming the parameter."""
    with pytest.raises(ValueError, match=r"order must be an integer from 1 to 4"):
        Markov(order)  # type: ignore[arg-type]


def test_parameters_in_repr_and_equality() -> None:
    """Models are parameter holders: equal orders compare equal; numpy integers are accepted."""
    assert Markov() == Markov(1) == Markov(np.int64(1))
    assert Markov(2) != Markov(3)
    assert repr(Markov(3)) == "Markov(order=3)"
    assert Markov.name == "markov"


def test_bad_journeys_raise_value_errors() -> None:
    """Unknown by columns, negative counts and a wrong layout are refused with a message that says why."""
    journeys = journeys_of(fixed_table())
    with pytest.raises(ValueError, match="cannot group by campaign"):
        Markov().attribute(journeys, by="campaign")
    with pytest.raises(ValueError, match="by needs at least one column"):
        Markov().attribute(journeys, by=[])
    with pytest.raises(ValueError, match=r"n_null\) must be counts"):
        Markov().attribute(journeys.assign(n_null=-1.0))
    with pytest.raises(ValueError, match="sorted by conversion_id and position"):
        Markov().attribute(journeys.iloc[::-1])
    with pytest.raises(NotImplementedError, match="in aggregate"):
        Markov().weights(journeys)
    replicate = Markov().replicator(journeys)
    with pytest.raises(ValueError, match="one number per journey"):
        replicate(np.ones(3), np.ones(3), np.ones(3))


# ---- (g) the bootstrap replicator ----------------------------------------------------------------

@pytest.mark.parametrize("order", [1, 2])
@settings(max_examples=40, deadline=None, derandomize=True, database=None)
@given(table=path_tables(max_paths=12), draws=st.lists(st.integers(0, 3), min_size=12, max_size=12))
def test_replicator_equals_attribute(order: int, table: pd.DataFrame, draws: list[int]) -> None:
    """The replicator with the journeys' own counts gives attribute's credits; with resampled counts, the
    credits of the resampled table (journeys drawn 0 times drop out)."""
    journeys = journeys_of(table)
    replicate = Markov(order).replicator(journeys)
    keys = replicate.keys["channel"].tolist()
    assert keys == sorted(keys)
    conv, null, value = (table[c].to_numpy(dtype=float) for c in ("conv", "null", "value"))
    conversions, values = replicate(conv, null, value)
    credits = Markov(order).attribute(journeys)
    assert conversions.shape == values.shape == (len(keys),)
    got = dict(zip(keys, conversions, strict=True))
    for row in credits.itertuples():
        assert got[row.channel] == row.conversions  # the same machinery: equal, not merely close
    assert dict(zip(keys, values, strict=True)) == {
        k: credit_dict(credits, "value").get(k, 0.0) for k in keys}

    times = np.array(draws[:len(table)], dtype=float)  # how often the bootstrap drew each journey
    conversions, values = replicate(conv * times, null * times, value * times)
    resampled = table.assign(conv=table["conv"] * times, null=table["null"] * times, value=value * times)
    if resampled["conv"].sum() == 0:
        assert conversions.sum() == 0 and values.sum() == 0
        return
    expected = Markov(order).attribute(journeys_of(resampled[(resampled["conv"] + resampled["null"]) > 0]))
    got = {k: c for k, c in zip(keys, conversions, strict=True) if c > 0}
    assert got == pytest.approx(credit_dict(expected), rel=1e-9, abs=1e-9)
    np.testing.assert_allclose(sum(values), resampled.loc[resampled["conv"] > 0, "value"].sum(), rtol=1e-9)


def test_replicator_is_scale_free() -> None:
    """Doubling every journey's counts doubles the credits and leaves P and the shares as they are."""
    table = fixed_table()
    journeys = journeys_of(table)
    replicate = Markov().replicator(journeys)
    conv, null, value = (table[c].to_numpy(dtype=float) for c in ("conv", "null", "value"))
    once, twice = replicate(conv, null, value), replicate(2 * conv, 2 * null, 2 * value)
    np.testing.assert_allclose(twice[0], 2 * once[0], rtol=1e-12)
    np.testing.assert_allclose(twice[1], 2 * once[1], rtol=1e-12)


# ---- (h) ChannelAttribution ----------------------------------------------------------------------

# ChannelAttribution simulates the chain. On fixed_table() at nsim_start = 1e7 and max_step = 1000,
# over seeds 0-9 its credits were within 0.29% of the exact ones per channel and its removal effects
# within 0.36% (at 1e6: 0.9% and 0.9%), so 1.5% leaves room for its noise and still catches any real
# difference. Its default max_step (the longest path in the data) truncates the walks, which biases
# channels on loops (Podcast here by 14%): the comparison needs a long max_step.
CA_TOLERANCE = 0.015


@pytest.mark.parametrize("seed", [0, 5])
def test_agrees_with_channelattribution_within_its_simulation_error(seed: int) -> None:
    """ChannelAttribution's markov_model (order 1) agrees within its simulation error; its transitions exactly."""
    table = fixed_table()
    data = table.rename(columns={"conv": "total_conversions", "value": "total_conversion_value", "null": "total_null"})
    theirs = markov_model(data, var_path="path", var_conv="total_conversions", var_value="total_conversion_value",
                          var_null="total_null", order=1, sep=">", nsim_start=1e7, max_step=1000, out_more=True,
                          verbose=0, seed=seed, flg_pro=False)
    fit = Markov().fit(journeys_of(table))
    result = theirs["result"].set_index("channel_name")
    assert set(result.index) == set(fit.credits["channel"])
    ours = fit.credits.set_index("channel").reindex(result.index)
    np.testing.assert_allclose(result["total_conversions"], ours["conversions"], rtol=CA_TOLERANCE)
    np.testing.assert_allclose(result["total_conversion_value"], ours["value"], rtol=CA_TOLERANCE)
    effects = theirs["removal_effects"].set_index("channel_name")["removal_effects_conversion"]
    exact = fit.removal_effects.set_index("channel")["removal_effect"].reindex(effects.index)
    np.testing.assert_allclose(effects, exact, rtol=CA_TOLERANCE)
    # Its transition matrix numbers channels 1, 2, ... in order of first appearance in the paths.
    first_seen = list(dict.fromkeys(s for p in table["path"] for s in p.split(" > ")))
    names = {str(i + 1): c for i, c in enumerate(first_seen)}
    matrix = theirs["transition_matrix"].replace({"channel_from": names, "channel_to": names})
    got = {(a, b): p for a, b, p in zip(matrix["channel_from"], matrix["channel_to"],
                                        matrix["transition_probability"], strict=True)}
    expected = {(a, b): p for a, b, p in zip(fit.transitions["from"], fit.transitions["to"],
                                             fit.transitions["probability"], strict=True)}
    assert got == pytest.approx(expected, rel=1e-12)
