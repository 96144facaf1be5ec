"""The Shapley model: a brute-force reference (every ordering of the players, exact fractions), conservation,
renaming, determinism, the player cap, the equal split, drill-down and the bootstrap replicator."""
from __future__ import annotations

import itertools
import math
import os
import subprocess
import sys
from collections import defaultdict
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from attribution import journeys_from_paths
from attribution.models import JourneyIndex
from attribution.models import shapley as shapley_module
from attribution.models.shapley import Shapley

CHANNELS = ("Direct", "Email", "Paid search", "Events", "Podcast")  # at most 5 players: 120 orderings
CAMPAIGNS = ("spring", "fall", None)
VALUES = (0.0, 1.0, 19.99, 250.0, 1e4 / 3, 0.1)
SETTINGS = settings(max_examples=100, deadline=None, derandomize=True, database=None)
ROOT = Path(__file__).resolve().parents[2]


class Row(NamedTuple):
    """One row of a path table: its touches (channel, campaign), conversions, non-converting journeys, value."""

    touches: tuple[tuple[str, str | None], ...]
    conversions: int
    nulls: int
    value: float


# ---- data ------------------------------------------------------------------------------------------

@st.composite
def path_rows(draw: st.DrawFn, channels: Sequence[str] = CHANNELS) -> list[Row]:
    """Draw 1-14 path rows of 1-6 touches (repeats common), 0-3 conversions, 0-3 non-converting journeys."""
    rows = draw(st.lists(st.tuples(
        st.lists(st.tuples(st.sampled_from(channels), st.sampled_from(CAMPAIGNS)), min_size=1, max_size=6),
        st.integers(0, 3), st.integers(0, 3), st.sampled_from(VALUES)), min_size=1, max_size=14))
    return [Row(tuple(touches), conversions, nulls, value if conversions else 0.0)
            for touches, conversions, nulls, value in rows]


def journeys_of(rows: Sequence[Row]) -> pd.DataFrame:
    """Return the journeys of path rows (``n_conversions``, ``n_null``), with each touch's campaign."""
    table = pd.DataFrame({"path": [" > ".join(c for c, _ in r.touches) for r in rows],
                          "n": [r.conversions for r in rows], "nulls": [r.nulls for r in rows],
                          "value": [r.value for r in rows]})
    journeys = journeys_from_paths(table, conversions="n", nulls="nulls")
    journeys["campaign"] = pd.Series([campaign for r in rows for _, campaign in r.touches], dtype=object)
    return journeys


def as_dict(table: pd.DataFrame, by: Sequence[str]) -> dict[tuple[object, ...], tuple[float, float]]:
    """Return {by values: (conversions, value)} of a credit table."""
    keys = zip(*(table[c] for c in by), strict=True)
    return {k: (c, v) for k, c, v in zip(keys, table["conversions"], table["value"], strict=True)}


def assert_same_credits(got: dict, want: dict, total: float) -> None:
    """Assert two {key: (conversions, value)} maps agree to 1e-9 (relative to the total), key by key."""
    tolerance = 1e-9 * max(total, 1.0)
    for key in set(got) | set(want):
        have, expected = got.get(key, (0.0, 0.0)), want.get(key, (0.0, 0.0))
        assert abs(have[0] - expected[0]) <= tolerance and abs(have[1] - expected[1]) <= 1e-9 * max(
            abs(expected[1]), total, 1.0), (key, have, expected)


# ---- the brute-force reference: plain Python, exact fractions, every ordering ----------------------

def reference_phi(rows: Sequence[Row]) -> dict[frozenset[str], dict[str, Fraction]]:
    """Return the Shapley values of every journey set, straight from the definition in ATTRIBUTION.md.

    v(S) is the conversion rate of the rows whose set of channels is exactly S (0 where none);
    phi_j is j's marginal contribution averaged over all orderings of the set.
    """
    conversions: dict[frozenset[str], int] = defaultdict(int)
    everyone: dict[frozenset[str], int] = defaultdict(int)
    for row in rows:
        players = frozenset(c for c, _ in row.touches)
        conversions[players] += row.conversions
        everyone[players] += row.conversions + row.nulls
    out = {}
    for players in everyone:
        # Every coalition of the set, enumerated, with its rate.
        v = {frozenset(c): (Fraction(conversions[frozenset(c)], everyone[frozenset(c)])
                            if everyone.get(frozenset(c)) else Fraction(0))
             for r in range(len(players) + 1) for c in itertools.combinations(sorted(players), r)}
        phi = dict.fromkeys(players, Fraction(0))
        for order in itertools.permutations(sorted(players)):
            joined: frozenset[str] = frozenset()
            for player in order:
                phi[player] += v[joined | {player}] - v[joined]
                joined = joined | {player}
        out[players] = {p: x / math.factorial(len(players)) for p, x in phi.items()}
    return out


def reference_shares(phi: dict[str, Fraction]) -> dict[str, Fraction]:
    """Split one conversion over the players: in proportion to max(phi, 0), equally when none is positive."""
    positive = {p: max(x, Fraction(0)) for p, x in phi.items()}
    total = sum(positive.values())
    return {p: (x / total if total else Fraction(1, len(phi))) for p, x in positive.items()}


def reference_credits(rows: Sequence[Row], drill: bool) -> dict[tuple[object, ...], tuple[float, float]]:
    """Return {(channel,) or (channel, campaign): (conversions, value)}: each channel's share split over its touches."""
    phi = reference_phi(rows)
    credit: dict[tuple[object, ...], list[Fraction]] = defaultdict(lambda: [Fraction(0), Fraction(0)])
    for row in rows:
        if not row.conversions:
            continue
        channels = [c for c, _ in row.touches]
        share = reference_shares(phi[frozenset(channels)])
        for channel, campaign in row.touches:
            part = share[channel] / channels.count(channel)
            key = (channel, campaign) if drill else (channel,)
            credit[key][0] += part * row.conversions
            credit[key][1] += part * Fraction(row.value)
    return {k: (float(c), float(v)) for k, (c, v) in credit.items()}


@SETTINGS
@given(rows=path_rows())
def test_matches_the_brute_force_reference(rows: list[Row]) -> None:
    """Credits equal the permutation-enumeration reference to 1e-9, per channel and per (channel, campaign)."""
    journeys = journeys_of(rows)
    total = float(sum(r.conversions for r in rows))
    for by, drill in (("channel", False), (["channel", "campaign"], True)):
        table = Shapley(players="channel").attribute(journeys, by=by)
        assert_same_credits(as_dict(table, [by] if isinstance(by, str) else by), reference_credits(rows, drill), total)


@pytest.mark.parametrize("lookup", [True, False], ids=["sub-mask lookups", "scans"])
def test_matches_the_reference_with_more_than_64_players(lookup: bool) -> None:
    """Universes of several 64-bit words; subsets found by lookups or by scans, in any block size, same bytes."""
    rng = np.random.default_rng(7)
    names = [f"c{i:03d}" for i in range(150)]
    rows = []
    for _ in range(400):
        pool = names[:4] if rng.random() < 0.5 else names  # many journeys on a few channels: many subsets
        touches = tuple((str(rng.choice(pool)), None) for _ in range(rng.integers(1, 5)))
        rows.append(Row(touches, int(rng.integers(0, 3)), int(rng.integers(0, 3)), float(rng.integers(0, 50))))
    journeys = journeys_of(rows)
    assert len({c for r in rows for c, _ in r.touches}) > 128  # three words
    weights = Shapley().weights(journeys)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(shapley_module, "_enumerate_subsets", lambda k, candidates: lookup)
        assert_same_credits(as_dict(Shapley().attribute(journeys), ["channel"]), reference_credits(rows, drill=False),
                            float(sum(r.conversions for r in rows)))
        assert Shapley().weights(journeys).tobytes() == weights.tobytes()
        patch.setattr(shapley_module, "_BLOCK", 3)  # one set per block
        assert Shapley().weights(journeys).tobytes() == weights.tobytes()


def test_hand_worked_example() -> None:
    """v(A) = 1/4, v(B) = 0, v(AB) = 1/2: phi_A = 3/8, phi_B = 1/8 in A > B, so A gets 3/4 of its conversions."""
    table = pd.DataFrame({"path": ["A > B > B", "A", "B"], "n": [2, 1, 0], "nulls": [2, 3, 4],
                          "value": [20.0, 10.0, 0.0]})
    journeys = journeys_from_paths(table, conversions="n", nulls="nulls")
    weights = Shapley().weights(journeys)
    assert weights.tolist() == [0.75, 0.125, 0.125, 1.0, 1.0]
    assert Shapley().attribute(journeys).values.tolist() == [["A", 2.5, 25.0, 2.5 / 3], ["B", 0.5, 5.0, 0.5 / 3]]


def test_non_converting_journeys_move_the_credit() -> None:
    """Unlike the simplified (Zhao) form, which would split A > B equally, rates from the nulls decide."""
    def credit(nulls_a: int) -> float:
        table = pd.DataFrame({"path": ["A > B", "A", "B"], "n": [4, 1, 1], "nulls": [4, nulls_a, 1]})
        journeys = journeys_from_paths(table, conversions="n", nulls="nulls")
        return float(Shapley().attribute(journeys).set_index("channel").loc["A", "conversions"])
    assert credit(1) == pytest.approx(3.0)  # symmetric rates: A > B split equally, plus A's own
    assert credit(9) < credit(1)            # A converts worse alone: less of A > B is A's


# ---- invariants ------------------------------------------------------------------------------------

@SETTINGS
@given(rows=path_rows())
def test_credits_are_conserved_per_conversion_and_overall(rows: list[Row]) -> None:
    """Every journey's weights sum to 1; the credits sum to the conversions and the value."""
    journeys = journeys_of(rows)
    index = JourneyIndex.of(journeys)
    weights = Shapley().weights(journeys)
    assert (weights >= 0).all()
    np.testing.assert_allclose(index.sums(weights), 1.0, rtol=0, atol=1e-12)
    conversions = sum(r.conversions for r in rows)
    value = sum(r.value for r in rows)
    for by in ("channel", ["channel", "campaign"]):
        table = Shapley(players="channel").attribute(journeys, by=by)
        assert abs(table["conversions"].sum() - conversions) <= 1e-9 * max(conversions, 1)
        assert abs(table["value"].sum() - value) <= 1e-9 * max(value, 1.0)
        assert (table["conversions"] > 0).all()


@SETTINGS
@given(rows=path_rows(), renaming=st.permutations(CHANNELS))
def test_renaming_channels_permutes_the_credits(rows: list[Row], renaming: list[str]) -> None:
    """Channel names carry no weight: renaming them (so their sorted order changes) renames the credits."""
    mapping = dict(zip(CHANNELS, renaming, strict=True))
    renamed = [Row(tuple((mapping[c], k) for c, k in r.touches), r.conversions, r.nulls, r.value) for r in rows]
    original = as_dict(Shapley().attribute(journeys_of(rows)), ["channel"])
    got = as_dict(Shapley().attribute(journeys_of(renamed)), ["channel"])
    want = {(mapping[c],): credit for (c,), credit in original.items()}
    assert_same_credits(got, want, float(sum(r.conversions for r in rows)))


# ---- determinism -----------------------------------------------------------------------------------

DIGEST_SCRIPT = """
import hashlib
import numpy as np, pandas as pd
from attribution import journeys_from_paths
from attribution.models.shapley import Shapley
rng = np.random.default_rng(3)
names = np.array(["Email", "Paid search", "Events", "Podcast", "Direct", "Social", "Print", "Partner"])
paths = [" > ".join(rng.choice(names, rng.integers(1, 7))) for _ in range(3000)]
table = pd.DataFrame({"path": paths, "n": rng.integers(0, 4, 3000), "nulls": rng.integers(0, 9, 3000),
                      "value": rng.random(3000) * 100})
j = journeys_from_paths(table, conversions="n", nulls="nulls")
j["channel"] = j["channel"].astype(object)  # hashed strings: any hash-order dependence would show
j["campaign"] = rng.choice(np.array(["a", "b", "c"], dtype=object), len(j))
digest = hashlib.sha256()
digest.update(Shapley().weights(j).tobytes())
for by in ("channel", ["channel", "campaign"]):
    t = Shapley(players="channel").attribute(j, by)
    digest.update(t.to_csv().encode())
    digest.update(t[["conversions", "value", "share"]].to_numpy().tobytes())
r = Shapley(players="channel").replicator(j, ["channel", "campaign"])
for array in r(r.conversions, r.nulls, r.values):
    digest.update(array.tobytes())
print(digest.hexdigest())
"""


def test_identical_bytes_across_runs_and_hash_seeds() -> None:
    """The same input gives bit-identical weights and credits in fresh processes with different hash seeds."""
    def run(seed: str | None) -> str:
        env = {**os.environ, "PYTHONHASHSEED": seed} if seed else None
        done = subprocess.run([sys.executable, "-c", DIGEST_SCRIPT], cwd=ROOT, env=env, capture_output=True,
                              text=True, check=True)
        return done.stdout.strip()
    digests = {run("1"), run("2"), run(None)}
    assert len(digests) == 1 and len(next(iter(digests))) == 64, digests


def test_identical_bytes_in_one_process() -> None:
    """Two runs on the same journeys give the same bytes (no state kept between calls)."""
    rows = [Row((("Email", "spring"), ("Podcast", None), ("Email", "fall")), 3, 2, 30.0),
            Row((("Podcast", None),), 1, 4, 5.0), Row((("Email", None), ("Events", None)), 0, 6, 0.0),
            Row((("Events", "fall"), ("Email", "spring"), ("Podcast", "fall")), 2, 1, 12.5)]
    journeys = journeys_of(rows)
    first = Shapley(players="channel").attribute(journeys, ["channel", "campaign"])
    second = Shapley(players="channel").attribute(journeys, ["channel", "campaign"])
    assert first.to_csv() == second.to_csv()
    assert first[["conversions", "value"]].to_numpy().tobytes() == second[["conversions", "value"]].to_numpy().tobytes()


# ---- the cap ---------------------------------------------------------------------------------------

def test_more_players_than_the_cap_is_refused() -> None:
    """A journey with more distinct values than max_players raises a ValueError naming the cap and the count."""
    table = pd.DataFrame({"path": ["A > B > C > D > A", "A"], "n": [0, 1], "nulls": [3, 1]})
    journeys = journeys_from_paths(table, conversions="n", nulls="nulls")
    for call in (lambda m: m.attribute(journeys), lambda m: m.weights(journeys), lambda m: m.replicator(journeys)):
        with pytest.raises(ValueError, match=r"shapley_max_players is 3, but a journey has 4 distinct"):
            call(Shapley(max_players=3))
    assert Shapley(max_players=4).attribute(journeys)["conversions"].sum() == 1.0


@pytest.mark.parametrize("bad", [0, -2, 2.5, True, "16", None])
def test_max_players_must_be_a_whole_number_of_at_least_one(bad: object) -> None:
    """max_players is validated when the model is made."""
    with pytest.raises(ValueError, match="shapley_max_players must be a whole number >= 1"):
        Shapley(max_players=bad)  # type: ignore[arg-type]


# ---- the equal split -------------------------------------------------------------------------------

def test_equal_split_when_no_phi_is_positive() -> None:
    """A set whose every phi is 0 splits equally over its players, then over each player's touches.

    phi sums to v(T), so no phi is positive only where v(T) = 0: a non-converting journey. The second
    case's rates make every phi of {A, B, C} exactly 0 (checked with exact fractions), though the float
    sums leave noise of about 1e-17, which must not hand one player everything.
    """
    table = pd.DataFrame({"path": ["A > B > B", "C"], "n": [0, 1], "nulls": [5, 1]})
    weights = Shapley().weights(journeys_from_paths(table, conversions="n", nulls="nulls"))
    assert weights.tolist() == [0.5, 0.25, 0.25, 1.0]

    rates = {"A": (8, 17), "B": (201, 680), "C": (31, 102), "A > B": (2, 15), "A > C": (1, 8), "B > C": (3, 10)}
    rows = [Row(tuple((c, None) for c in path.split(" > ")), n, total - n, 0.0) for path, (n, total) in rates.items()]
    rows.append(Row((("C", None), ("B", None), ("A", None), ("C", None)), 0, 5, 0.0))
    assert set(reference_phi(rows)[frozenset("ABC")].values()) == {0}
    weights = Shapley().weights(journeys_of(rows))
    np.testing.assert_allclose(weights[-4:], [1 / 6, 1 / 3, 1 / 3, 1 / 6], rtol=1e-15)


def test_negative_phi_gets_nothing() -> None:
    """A player whose presence lowers the rate (phi < 0) is given no credit; the others share all of it."""
    table = pd.DataFrame({"path": ["A", "B", "A > B"], "n": [4, 0, 1], "nulls": [0, 4, 4]})
    journeys = journeys_from_paths(table, conversions="n", nulls="nulls")
    # v(A) = 1, v(B) = 0, v(AB) = 1/5: phi_A = (1 + 1/5)/2 > 0, phi_B = (0 + 1/5 - 1)/2 < 0.
    assert Shapley().weights(journeys).tolist() == [1.0, 1.0, 1.0, 0.0]
    assert as_dict(Shapley().attribute(journeys), ["channel"]) == {("A",): (5.0, 0.0)}


# ---- drill-down ------------------------------------------------------------------------------------

@SETTINGS
@given(rows=path_rows())
def test_drill_down_sums_back_to_the_players(rows: list[Row]) -> None:
    """players=channel credited by (channel, campaign) sums, per channel, to the credits by channel."""
    journeys = journeys_of(rows)
    model = Shapley(players="channel")
    drilled = model.attribute(journeys, by=["channel", "campaign"])
    summed = drilled.groupby("channel")[["conversions", "value"]].sum()
    by_channel = model.attribute(journeys, by="channel").set_index("channel")[["conversions", "value"]]
    assert set(summed.index) == set(by_channel.index)
    np.testing.assert_allclose(summed.loc[by_channel.index].to_numpy(), by_channel.to_numpy(), rtol=1e-12, atol=1e-9)
    assert Shapley().attribute(journeys, by="channel").equals(model.attribute(journeys, by="channel"))


# ---- the replicator (bootstrap) ------------------------------------------------------------------

@SETTINGS
@given(rows=path_rows(), draws=st.lists(st.tuples(st.integers(0, 4), st.integers(0, 4)), min_size=14, max_size=14))
def test_replicator_matches_attribute(rows: list[Row], draws: list[tuple[int, int]]) -> None:
    """With the journeys' own counts, and with other counts, the replicator gives attribute's credits."""
    journeys = journeys_of(rows)
    resampled = [Row(r.touches, c, n, r.value * c) for r, (c, n) in zip(rows, draws, strict=False)]
    for by in ("channel", ["channel", "campaign"]):
        columns = [by] if isinstance(by, str) else by
        model = Shapley(players="channel")
        replicate = model.replicator(journeys, by)
        assert list(replicate.keys.columns) == columns
        assert not replicate.keys.duplicated().any()
        for counts in (rows, resampled):
            conversions, value = replicate(np.array([r.conversions for r in counts], dtype=float),
                                           np.array([r.nulls for r in counts], dtype=float),
                                           np.array([r.value for r in counts]))
            keys = list(replicate.keys.itertuples(index=False, name=None))
            got = {k: (c, v) for k, c, v in zip(keys, conversions, value, strict=True) if c > 0}
            want = as_dict(model.attribute(journeys_of(counts), by), columns)
            assert_same_credits(got, want, float(sum(r.conversions for r in counts)))


def test_replicator_rejects_counts_of_the_wrong_shape() -> None:
    """One number per journey, counts >= 0."""
    journeys = journeys_from_paths(pd.DataFrame({"path": ["A > B", "B"]}))
    replicate = Shapley().replicator(journeys)
    with pytest.raises(ValueError, match="one number per journey"):
        replicate(np.ones(3), np.zeros(3), np.zeros(3))
    with pytest.raises(ValueError, match="counts"):
        replicate(np.array([1.0, -1.0]), np.zeros(2), np.zeros(2))


def test_missing_player_column_is_a_clear_error() -> None:
    """Players must be a journey column."""
    journeys = journeys_from_paths(pd.DataFrame({"path": ["A > B"]}))
    with pytest.raises(ValueError, match="no column campaign"):
        Shapley(players="campaign").attribute(journeys)


def test_hash_and_repr() -> None:
    """Parameters show in repr; a list of players equals the same tuple (and hashes)."""
    assert repr(Shapley(players=["channel"], max_players=8)) == "Shapley(players=('channel',), max_players=8)"
    assert Shapley(players=["channel"]) == Shapley(players=("channel",))
    assert hash(Shapley(players=["channel"])) == hash(Shapley(players=("channel",)))
    assert Shapley() != Shapley(max_players=15)

