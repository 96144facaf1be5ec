"""The rule-based attribution models: invariants on random journeys, hand-worked cases, a naive reference,
ChannelAttribution's heuristic models, and compare()."""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import timedelta
from typing import Any, NamedTuple

import ChannelAttribution as ca
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from attribution import (
    AttributionModel,
    FirstTouch,
    LastNonDirect,
    LastTouch,
    Linear,
    PositionBased,
    SelfReported,
    TimeDecay,
    build_journeys,
    compare,
    journeys_from_paths,
)
from attribution.models import RULE_BASED, JourneyIndex, credit_table

BASE = pd.Timestamp("2026-05-01", tz="UTC")
DAY = pd.Timedelta(days=1)
CHANNELS = ("Direct", "Email", "Paid search", "Events", "Podcast")
ANSWERS = ("Podcast", "Word of mouth", "Events", "Direct", None, None)
CAMPAIGNS = ("spring", "fall", None)
VALUES = (0.0, 1.0, 19.99, 250.0, 1e4 / 3, 0.1)
LOOKBACK = pd.Timedelta(days=30)
SETTINGS = settings(max_examples=50, deadline=None)


def default_model(name: str) -> AttributionModel:
    """Return the model registered as ``name`` with its default parameters."""
    return RULE_BASED[name]()


# ---- data ------------------------------------------------------------------------------------------

def touch_frame(rows: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """Return a touchpoints frame from partial rows (defaults: person p, no source/medium/link, not a bot)."""
    defaults = {"person_id": "p", "source": None, "medium": None, "campaign": None, "link_code": None,
                "kind": "click", "is_bot": False}
    frame = pd.DataFrame([{**defaults, **row} for row in rows],
                         columns=["touchpoint_id", "person_id", "ts", "channel", "source", "medium", "campaign",
                                  "link_code", "kind", "is_bot"])
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
    return frame


def conversion_frame(rows: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """Return a conversions frame from partial rows (defaults: person p, value 0, type purchase)."""
    defaults = {"person_id": "p", "value": 0.0, "type": "purchase"}
    frame = pd.DataFrame([{**defaults, **row} for row in rows])
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
    return frame


@st.composite
def datasets(draw: st.DrawFn) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Draw touchpoints and conversions: 1-5 people, 0-8 touches and 1-2 conversions each, many ties."""
    people = draw(st.lists(st.tuples(
        # Touches: (day, noon?, channel, campaign, bot); few distinct instants, so equal timestamps are common.
        st.lists(st.tuples(st.integers(-34, 10), st.booleans(), st.sampled_from(CHANNELS),
                           st.sampled_from(CAMPAIGNS), st.sampled_from([False] * 7 + [True])), max_size=8),
        # Conversions: (day, noon?, value, type, answer channel).
        st.lists(st.tuples(st.integers(0, 10), st.booleans(), st.sampled_from(VALUES),
                           st.sampled_from(["lead", "purchase"]), st.sampled_from(ANSWERS)), min_size=1, max_size=2),
    ), min_size=1, max_size=5))
    touches = [(f"p{p}", *t) for p, (ts, _) in enumerate(people) for t in ts]
    conversions = [(f"p{p}", *c) for p, (_, cs) in enumerate(people) for c in cs]
    # Touchpoint and conversion ids in an order unrelated to time, so the tie-break is really exercised.
    touch_ids = draw(st.permutations(range(len(touches))))
    conversion_ids = draw(st.permutations(range(100, 100 + len(conversions))))

    def instants(rows: list[tuple[Any, ...]]) -> pd.Series:
        return pd.Series([BASE + r[1] * DAY + int(r[2]) * pd.Timedelta(hours=12) for r in rows],
                         dtype="datetime64[ns, UTC]")

    tp = pd.DataFrame({"touchpoint_id": [f"t{i:02d}" for i in touch_ids], "person_id": [t[0] for t in touches],
                       "ts": instants(touches), "channel": [t[3] for t in touches],
                       "source": None, "medium": None, "campaign": pd.Series([t[4] for t in touches], dtype=object),
                       "link_code": None, "kind": "click", "is_bot": np.array([t[5] for t in touches], dtype=bool)})
    conv = pd.DataFrame({"conversion_id": list(conversion_ids), "person_id": [c[0] for c in conversions],
                         "ts": instants(conversions), "value": [c[3] for c in conversions],
                         "type": [c[4] for c in conversions],
                         "answer_channel": pd.Series([c[5] for c in conversions], dtype=object)})
    return tp, conv


def assert_totals(table: pd.DataFrame, conversions: int, value: float) -> None:
    """Assert the credit table sums to the conversions and the value (relative error < 1e-9)."""
    assert abs(table["conversions"].sum() - conversions) <= 1e-9 * max(conversions, 1)
    assert abs(table["value"].sum() - value) <= 1e-9 * max(abs(value), 1.0)
    assert abs(table["share"].sum() - 1.0) <= 1e-9
    assert (table["conversions"] > 0).all()


# ---- invariants for every model --------------------------------------------------------------------

@st.composite
def journey_frames(draw: st.DrawFn) -> pd.DataFrame:
    """Draw journeys directly in the long layout: 1-8 conversions of 1-8 touches, ties in ts, values incl. 0."""
    sizes = draw(st.lists(st.integers(1, 8), min_size=1, max_size=8))
    n, total = len(sizes), sum(sizes)
    touches = st.lists(st.tuples(st.sampled_from(CHANNELS), st.sampled_from(CAMPAIGNS), st.integers(0, 8)),
                       min_size=total, max_size=total)
    rows = draw(touches)
    values = draw(st.lists(st.sampled_from(VALUES), min_size=n, max_size=n))
    answers = draw(st.lists(st.sampled_from(ANSWERS), min_size=n, max_size=n))
    conversion = np.repeat(np.arange(n), sizes)
    position = np.arange(total) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    # Ages in half days from few values (ties are common), oldest first within each journey.
    age = np.array([r[2] for r in rows]) * pd.Timedelta(hours=12)
    order = np.lexsort([-age.astype(np.int64), conversion])
    return pd.DataFrame({
        "conversion_id": conversion, "conversion_ts": BASE, "value": np.repeat(values, sizes),
        "answer_channel": np.repeat(np.array(answers, dtype=object), sizes), "position": position,
        "n_touches": np.repeat(sizes, sizes), "touchpoint_id": np.arange(total),
        "ts": BASE - pd.to_timedelta(age[order]),
        "channel": pd.Categorical([rows[i][0] for i in order]), "campaign": pd.Categorical([rows[i][1] for i in order]),
        "is_fallback": False,
    })


@pytest.mark.parametrize("name", sorted(RULE_BASED))
@SETTINGS
@given(journeys=journey_frames())
def test_credits_sum_to_conversions_and_value(name: str, journeys: pd.DataFrame) -> None:
    """Every model credits exactly the number of conversions and their total value, per conversion too."""
    conversions = journeys.drop_duplicates("conversion_id")
    model = default_model(name)
    for by in ("channel", ["channel", "campaign"]):
        table = model.attribute(journeys, by=by)
        columns = [by] if isinstance(by, str) else by
        assert list(table.columns) == [*columns, "conversions", "value", "share"]
        assert not table.duplicated(columns).any()
        assert_totals(table, len(conversions), float(conversions["value"].sum()))
    if name != "self_reported":  # self_reported credits answered conversions on rows of its own
        weights = model.weights(journeys)
        assert (weights >= 0).all()
        np.testing.assert_allclose(JourneyIndex.of(journeys).sums(weights), 1.0, rtol=0, atol=1e-12)


@settings(max_examples=30, deadline=None)  # two builds and 14 credit tables per example: the slowest check
@given(data=datasets(), seed=st.integers(0, 2**32 - 1))
def test_shuffled_inputs_give_identical_credit_tables(data: tuple[pd.DataFrame, pd.DataFrame], seed: int) -> None:
    """The order of the touchpoint and conversion rows (and their index labels) changes no model's credits."""
    touches, conversions = data
    rng = np.random.default_rng(seed)
    expected = build_journeys(touches, conversions)
    got = build_journeys(touches.iloc[rng.permutation(len(touches))],
                         conversions.iloc[rng.permutation(len(conversions))])
    pd.testing.assert_frame_equal(got, expected)
    for name in RULE_BASED:  # a loop, not parametrize: building the journeys is the slow part, done once per example
        model = default_model(name)
        table = model.attribute(got, by=["channel", "campaign"])
        pd.testing.assert_frame_equal(table, model.attribute(expected, by=["channel", "campaign"]), obj=name)
        assert_totals(table, len(conversions), float(conversions["value"].sum()))


# ---- a naive reference: plain loops over journeys ------------------------------------------------------

class Touch(NamedTuple):
    channel: str
    campaign: str | None
    ts: pd.Timestamp


def naive_journeys(touches: pd.DataFrame, conversions: pd.DataFrame,
                   lookback: pd.Timedelta = LOOKBACK) -> list[tuple[dict[str, Any], list[Touch]]]:
    """Return (conversion, ordered touches) per conversion, straight from the definition in ATTRIBUTION.md."""
    out = []
    for conv in conversions.to_dict("records"):
        eligible = [t for t in touches.to_dict("records")
                    if t["person_id"] == conv["person_id"] and not t["is_bot"]
                    and conv["ts"] - lookback <= t["ts"] <= conv["ts"]]
        eligible.sort(key=lambda t: (t["ts"], t["touchpoint_id"]))
        path = [Touch(t["channel"], None if pd.isna(t["campaign"]) else t["campaign"], t["ts"]) for t in eligible]
        path = path or [Touch("Direct", None, conv["ts"])]
        out.append((conv, path))
    return out


def naive_weights(model: AttributionModel, conv: dict[str, Any], path: list[Touch]) -> list[tuple[Touch, float]]:
    """Return the credit of each touch of one journey under ``model``."""
    n = len(path)
    if isinstance(model, SelfReported):
        answer = conv.get("answer_channel")
        if answer is not None and not pd.isna(answer):
            return [(Touch(answer, None, conv["ts"]), 1.0)]
        return naive_weights(model.fallback, conv, path)
    if isinstance(model, FirstTouch):
        weights = [1.0] + [0.0] * (n - 1)
    elif isinstance(model, LastTouch):
        weights = [0.0] * (n - 1) + [1.0]
    elif isinstance(model, LastNonDirect):
        chosen = n - 1
        for i, touch in enumerate(path):
            if touch.channel != model.direct:
                chosen = i
        weights = [1.0 if i == chosen else 0.0 for i in range(n)]
    elif isinstance(model, Linear):
        weights = [1.0 / n] * n
    elif isinstance(model, TimeDecay):
        raw = [2.0 ** (-((conv["ts"] - t.ts) / model.half_life)) for t in path]
        weights = [w / sum(raw) for w in raw]
    elif isinstance(model, PositionBased):
        first, last = model.first, model.last
        if n == 1:
            weights = [1.0]
        elif n == 2:
            weights = [first / (first + last), last / (first + last)] if first + last else [0.5, 0.5]
        else:
            weights = [first] + [(1 - first - last) / (n - 2)] * (n - 2) + [last]
    else:
        raise AssertionError(f"no reference for {model!r}")
    return list(zip(path, weights, strict=True))


def naive_credits(model: AttributionModel, journeys: list[tuple[dict[str, Any], list[Touch]]]
                  ) -> dict[tuple[str, str | None], tuple[float, float]]:
    """Return {(channel, campaign): (conversions, value)} summed over the journeys."""
    credit: dict[tuple[str, str | None], list[float]] = defaultdict(lambda: [0.0, 0.0])
    for conv, path in journeys:
        for touch, weight in naive_weights(model, conv, path):
            campaign = touch.campaign
            if campaign is None and any(touch is t for t in path):  # a tracked touch's blank is named (GA4)
                campaign = "(direct)" if touch.channel == "Direct" else "(not set)"
            credit[(touch.channel, campaign)][0] += weight
            credit[(touch.channel, campaign)][1] += weight * conv["value"]
    return {key: (c, v) for key, (c, v) in credit.items()}


REFERENCE_MODELS = [FirstTouch(), LastTouch(), LastNonDirect(), Linear(), TimeDecay(half_life=pd.Timedelta(hours=30)),
                    PositionBased(), PositionBased(0.1, 0.6), SelfReported(), SelfReported(fallback=Linear())]


@settings(max_examples=40, deadline=None)  # nine models per example
@given(data=datasets())
def test_models_match_the_naive_reference(data: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    """The vectorised journeys and models agree with plain per-journey loops, for every model."""
    touches, conversions = data
    reference = naive_journeys(touches, conversions)
    journeys = build_journeys(touches, conversions)
    for model in REFERENCE_MODELS:  # a loop, not parametrize: journeys are built once per example
        expected = naive_credits(model, reference)
        table = model.attribute(journeys, by=["channel", "campaign"])
        got = {(row.channel, row.campaign): (row.conversions, row.value) for row in table.itertuples()}
        for key in set(expected) | set(got):
            want = expected.get(key, (0.0, 0.0))
            have = got.get(key, (0.0, 0.0))
            assert have == pytest.approx(want, rel=1e-9, abs=1e-9), (model, key)


# ---- ChannelAttribution's heuristic models -------------------------------------------------------------

CA_CHANNELS = ("Direct", "Email", "Paid search", "Events", "Podcast", "Social")


@st.composite
def path_tables(draw: st.DrawFn) -> pd.DataFrame:
    """Draw distinct path strings with conversion counts and total values (as ChannelAttribution takes them)."""
    paths = draw(st.lists(st.lists(st.sampled_from(CA_CHANNELS), min_size=1, max_size=8).map(" > ".join),
                          min_size=1, max_size=12, unique=True))
    conv = draw(st.lists(st.integers(1, 7), min_size=len(paths), max_size=len(paths)))
    val = draw(st.lists(st.one_of(st.just(0.0), st.floats(0.01, 10_000, allow_nan=False)),
                        min_size=len(paths), max_size=len(paths)))
    return pd.DataFrame({"path": paths, "conv": conv, "val": val})


@SETTINGS
@given(table=path_tables())
def test_first_last_linear_agree_with_channelattribution(table: pd.DataFrame) -> None:
    """first_touch, last_touch and linear equal ChannelAttribution's heuristic_models to 1e-9 per channel."""
    theirs = ca.heuristic_models(table, "path", "conv", var_value="val", flg_pro=False).set_index("channel_name")
    per_conversion = table.loc[table.index.repeat(table["conv"])]
    per_conversion = per_conversion.assign(value=per_conversion["val"] / per_conversion["conv"])
    journeys = journeys_from_paths(per_conversion[["path", "value"]])
    assert journeys["conversion_id"].nunique() == table["conv"].sum()
    for model, prefix in ((FirstTouch(), "first_touch"), (LastTouch(), "last_touch"), (Linear(), "linear_touch")):
        ours = model.attribute(journeys).set_index("channel").reindex(theirs.index, fill_value=0.0)
        assert set(model.attribute(journeys)["channel"]) <= set(theirs.index)
        np.testing.assert_allclose(ours["conversions"].to_numpy(), theirs[f"{prefix}_conversions"].to_numpy(),
                                   rtol=1e-9, atol=1e-9, err_msg=prefix)
        np.testing.assert_allclose(ours["value"].to_numpy(), theirs[f"{prefix}_value"].to_numpy(),
                                   rtol=1e-9, atol=1e-9, err_msg=prefix)


def test_channelattribution_hand_checked_example() -> None:
    """A fixed example, so a change in either side shows up with readable numbers."""
    table = pd.DataFrame({"path": ["A > A > B", "B", "C > A"], "conv": [3, 1, 2], "val": [30.0, 5.0, 8.0]})
    theirs = ca.heuristic_models(table, "path", "conv", var_value="val", flg_pro=False).set_index("channel_name")
    assert theirs.loc["A", "linear_touch_conversions"] == pytest.approx(3 * 2 / 3 + 2 * 0.5)
    per_conversion = table.loc[table.index.repeat(table["conv"])]
    journeys = journeys_from_paths(per_conversion.assign(value=per_conversion["val"] / per_conversion["conv"]))
    linear = Linear().attribute(journeys).set_index("channel")
    assert linear.loc["A", "conversions"] == pytest.approx(3.0)
    assert linear.loc["A", "value"] == pytest.approx(30 * 2 / 3 + 8 * 0.5)
    assert linear.loc["B", "value"] == pytest.approx(10.0 + 5.0)
    assert linear.loc["A", "value"] == pytest.approx(theirs.loc["A", "linear_touch_value"], rel=1e-12)


# ---- hand-worked cases ---------------------------------------------------------------------------------

def credits(model: AttributionModel, journeys: pd.DataFrame, column: str = "conversions") -> dict[str, float]:
    """Return {channel: credited conversions (or value)}."""
    table = model.attribute(journeys)
    return dict(zip(table["channel"], table[column], strict=True))


def paths(*items: str, values: Sequence[float] | None = None) -> pd.DataFrame:
    """Return journeys from path strings."""
    frame = pd.DataFrame({"path": list(items)})
    if values is not None:
        frame["value"] = list(values)
    return journeys_from_paths(frame)


def aged(journeys: pd.DataFrame, ages: Sequence[pd.Timedelta]) -> pd.DataFrame:
    """Return ``journeys`` with each row's touch ``age`` before its conversion."""
    return journeys.assign(ts=journeys["conversion_ts"] - pd.to_timedelta(list(ages)))


@pytest.mark.parametrize("name", sorted(RULE_BASED))
def test_one_touch_gets_everything(name: str) -> None:
    """A one-touch journey is credited wholly to its touch by every model (self_reported: no answer)."""
    journeys = paths("Events", values=[42.0]).assign(answer_channel=None)
    table = default_model(name).attribute(journeys)
    assert table.values.tolist() == [["Events", 1.0, 42.0, 1.0]]


@pytest.mark.parametrize("name", sorted(RULE_BASED))
def test_conversion_without_touch_is_credited_to_direct(name: str) -> None:
    """A conversion with no eligible touch ([Direct] fallback) goes to Direct under every model."""
    touches = touch_frame([{"touchpoint_id": "old", "ts": BASE - 40 * DAY, "channel": "Email"}])
    conversions = conversion_frame([{"conversion_id": 1, "ts": BASE, "value": 12.5, "answer_channel": None}])
    journeys = build_journeys(touches, conversions)
    assert journeys["is_fallback"].tolist() == [True]
    table = default_model(name).attribute(journeys, by=["channel", "campaign"])
    assert table.values.tolist() == [["Direct", "(direct)", 1.0, 12.5, 1.0]]  # named as GA4 does


@pytest.mark.parametrize(("model", "expected"), [
    (FirstTouch(), {"A": 1.0}),
    (LastTouch(), {"B": 1.0}),
    (LastNonDirect(), {"B": 1.0}),
    (Linear(), {"A": 0.5, "B": 0.5}),
    (PositionBased(), {"A": 0.5, "B": 0.5}),
    (PositionBased(first=0.3, last=0.5), {"A": 0.375, "B": 0.625}),
    (PositionBased(first=0.0, last=0.0), {"A": 0.5, "B": 0.5}),
    (PositionBased(first=0.0, last=0.2), {"B": 1.0}),
    (TimeDecay(), {"A": 1 / 3, "B": 2 / 3}),
], ids=repr)
def test_two_touches(model: AttributionModel, expected: dict[str, float]) -> None:
    """A > B, with A one default half-life (7 days) before B and B at the conversion."""
    journeys = aged(paths("A > B", values=[30.0]), [7 * DAY, 0 * DAY])
    got = credits(model, journeys)
    assert got == pytest.approx(expected, rel=1e-12)
    assert credits(model, journeys, "value") == pytest.approx({k: 30.0 * v for k, v in expected.items()}, rel=1e-12)


def tie_journeys() -> pd.DataFrame:
    """One conversion with two touches at the same instant: t2 (Email) listed before t1 (Events), then Podcast."""
    touches = touch_frame([
        {"touchpoint_id": "t2", "ts": BASE - 2 * DAY, "channel": "Email"},
        {"touchpoint_id": "t1", "ts": BASE - 2 * DAY, "channel": "Events"},
        {"touchpoint_id": "t0", "ts": BASE - 9 * DAY, "channel": "Podcast"},
    ])
    return build_journeys(touches, conversion_frame([{"conversion_id": 1, "ts": BASE, "value": 10.0}]))


def test_equal_timestamps_are_ordered_by_touchpoint_id() -> None:
    """Ties in ts are broken by touchpoint_id: t1 before t2, whatever the input order."""
    journeys = tie_journeys()
    assert journeys["touchpoint_id"].tolist() == ["t0", "t1", "t2"]
    assert credits(FirstTouch(), journeys) == {"Podcast": 1.0}
    assert credits(LastTouch(), journeys) == {"Email": 1.0}
    only_ties = journeys.iloc[1:].assign(position=[0, 1], n_touches=2)
    assert credits(FirstTouch(), only_ties) == {"Events": 1.0}
    assert credits(LastTouch(), only_ties) == {"Email": 1.0}


def test_time_decay_gives_equal_timestamps_equal_weight() -> None:
    """Email and Events share a timestamp, 2 days old; Podcast is 9 days old (one 7-day half-life older)."""
    weights = TimeDecay().weights(tie_journeys())
    assert weights[1] == weights[2]
    np.testing.assert_allclose(weights, [0.5 / 2.5, 1 / 2.5, 1 / 2.5], rtol=1e-12)


def test_time_decay_half_life() -> None:
    """A touch one half-life older gets half the weight; a custom half-life of 1 day halves per day."""
    journeys = aged(paths("A > B > C", values=[7.0]), [2 * DAY, DAY, 0 * DAY])
    np.testing.assert_allclose(TimeDecay(half_life=DAY).weights(journeys), [1 / 7, 2 / 7, 4 / 7], rtol=1e-12)
    np.testing.assert_allclose(TimeDecay(half_life=timedelta(days=2)).weights(journeys),
                               np.array([0.5, 2**-0.5, 1]) / (1.5 + 2**-0.5), rtol=1e-12)
    np.testing.assert_allclose(TimeDecay(half_life="12h").weights(journeys), [1 / 21, 4 / 21, 16 / 21], rtol=1e-12)
    assert credits(TimeDecay(half_life=DAY), journeys, "value") == pytest.approx({"A": 1.0, "B": 2.0, "C": 4.0})


def test_time_decay_is_relative_to_the_conversion_not_the_touch() -> None:
    """Weights depend on the ages (T - ts): the same gaps further from the conversion give the same shares."""
    near = TimeDecay().weights(aged(paths("A > B"), [14 * DAY, 7 * DAY]))
    np.testing.assert_allclose(near, [1 / 3, 2 / 3], rtol=1e-12)


def test_time_decay_does_not_underflow_for_old_touches() -> None:
    """Touches thousands of half-lives old still share the credit (2^-3000 is 0 in floating point)."""
    journeys = aged(paths("A > B > C"), [3000 * DAY, 3000 * DAY, 2999 * DAY])
    np.testing.assert_allclose(TimeDecay(half_life=DAY).weights(journeys), [0.25, 0.25, 0.5], rtol=1e-12)


@pytest.mark.parametrize(("path", "expected"), [
    ("Email > Direct", {"Email": 1.0}),
    ("Direct > Email > Direct > Direct", {"Email": 1.0}),
    ("Email > Events > Direct", {"Events": 1.0}),
    ("Direct", {"Direct": 1.0}),
    ("Direct > Direct > Direct", {"Direct": 1.0}),
])
def test_last_non_direct(path: str, expected: dict[str, float]) -> None:
    """The last non-Direct touch gets 1; Direct only when every touch is Direct."""
    assert credits(LastNonDirect(), paths(path)) == expected


def test_last_non_direct_picks_the_right_row_when_all_direct() -> None:
    """All-Direct journeys credit their last touch (its campaign shows which row was chosen)."""
    journeys = paths("Direct > Direct", "Email > Direct").assign(campaign=["first", "last", "e", "d"])
    table = LastNonDirect().attribute(journeys, by=["channel", "campaign"])
    assert table[["channel", "campaign", "conversions"]].values.tolist() == [["Direct", "last", 1.0],
                                                                             ["Email", "e", 1.0]]


def test_last_non_direct_custom_direct_name() -> None:
    """``direct`` names the channel to skip."""
    assert credits(LastNonDirect(direct="(none)"), paths("Email > (none)")) == {"Email": 1.0}
    assert credits(LastNonDirect(direct="(none)"), paths("Email > Direct")) == {"Direct": 1.0}


def test_linear_counts_repeated_channels_each_time() -> None:
    """A > A > B gives A 2/3 and B 1/3 (ChannelAttribution does the same)."""
    got = Linear().attribute(paths("A > A > B", values=[30.0]))
    assert got["channel"].tolist() == ["A", "B"]
    np.testing.assert_allclose(got["conversions"], [2 / 3, 1 / 3], rtol=1e-12)
    np.testing.assert_allclose(got["value"], [20.0, 10.0], rtol=1e-12)


@pytest.mark.parametrize(("n", "model", "expected"), [
    (1, PositionBased(), [1.0]),
    (2, PositionBased(), [0.5, 0.5]),
    (3, PositionBased(), [0.4, 0.2, 0.4]),
    (5, PositionBased(), [0.4, 0.2 / 3, 0.2 / 3, 0.2 / 3, 0.4]),
    (1, PositionBased(first=0.3, last=0.5), [1.0]),
    (2, PositionBased(first=0.3, last=0.5), [0.375, 0.625]),
    (3, PositionBased(first=0.3, last=0.5), [0.3, 0.2, 0.5]),
    (5, PositionBased(first=0.3, last=0.5), [0.3, 0.2 / 3, 0.2 / 3, 0.2 / 3, 0.5]),
    (2, PositionBased(first=0.0, last=0.0), [0.5, 0.5]),
    (3, PositionBased(first=0.0, last=0.0), [0.0, 1.0, 0.0]),
    (5, PositionBased(first=0.0, last=0.0), [0.0, 1 / 3, 1 / 3, 1 / 3, 0.0]),
    (2, PositionBased(first=0.2, last=0.2), [0.5, 0.5]),
    (3, PositionBased(first=1.0, last=0.0), [1.0, 0.0, 0.0]),
    (3, PositionBased(first=0.5, last=0.5), [0.5, 0.0, 0.5]),
], ids=str)
def test_position_based_weights(n: int, model: PositionBased, expected: list[float]) -> None:
    """U-shaped weights for n = 1, 2, 3, 5, default and custom (n = 2 rescaled; first = last = 0)."""
    journeys = paths(" > ".join(f"c{i}" for i in range(n)))
    np.testing.assert_allclose(model.weights(journeys), expected, rtol=1e-12, atol=1e-15)


def test_position_based_several_journeys_at_once() -> None:
    """Weights follow each journey's own length within one frame."""
    journeys = paths("A", "A > B", "A > B > C > D > E")
    np.testing.assert_allclose(PositionBased().weights(journeys),
                               [1.0, 0.5, 0.5, 0.4, 0.2 / 3, 0.2 / 3, 0.2 / 3, 0.4], rtol=1e-12)


@pytest.mark.parametrize(("model", "message"), [
    (PositionBased(first=-0.1), "first and last must be in"),
    (PositionBased(last=1.5), "first and last must be in"),
    (PositionBased(first=0.7, last=0.7), "sum to at most 1"),
    (PositionBased(first=float("nan")), "first and last must be in"),
    (TimeDecay(half_life=pd.Timedelta(0)), "half_life must be a positive time span"),
    (TimeDecay(half_life=-DAY), "half_life must be a positive time span"),
    (TimeDecay(half_life=7), "bare number"),  # pd.Timedelta(7) would be 7 nanoseconds
    (TimeDecay(half_life=7.5), "bare number"),
    (TimeDecay(half_life=None), "half_life must be a positive time span"),
    (TimeDecay(half_life=pd.NaT), "half_life must be a positive time span"),
], ids=repr)
def test_invalid_parameters_raise_when_used(model: AttributionModel, message: str) -> None:
    """Parameters are validated when the model is applied, with a message that says what is allowed."""
    with pytest.raises(ValueError, match=message):
        model.attribute(paths("A > B > C"))


def test_time_decay_rejects_unparseable_half_life() -> None:
    """A string that is no time span fails at once, saying what to give."""
    with pytest.raises(ValueError, match=r"pd.Timedelta\(days=7\) or '7D'"):
        TimeDecay(half_life="seven days-ish")


def test_model_parameters_in_repr_and_equality() -> None:
    """Models are plain parameter holders: equal parameters compare equal and hash alike."""
    assert PositionBased(0.3, 0.5) == PositionBased(first=0.3, last=0.5)
    assert PositionBased() != PositionBased(0.3, 0.5)
    assert TimeDecay(timedelta(days=7)) == TimeDecay()
    assert hash(TimeDecay("7D")) == hash(TimeDecay())
    assert repr(PositionBased(0.3, 0.5)) == "PositionBased(first=0.3, last=0.5)"
    assert SelfReported() == SelfReported(fallback=LastTouch())
    assert {cls.name for cls in RULE_BASED.values()} == set(RULE_BASED) == {
        "first_touch", "last_touch", "last_non_direct", "linear", "time_decay", "position_based", "self_reported"}


# ---- self_reported -------------------------------------------------------------------------------------

def answered_journeys() -> pd.DataFrame:
    """Three conversions: answered Podcast (Email > Paid search), unanswered (Email > Events), answered Email."""
    journeys = paths("Email > Paid search", "Email > Events", "Events", values=[100.0, 10.0, 1.0])
    journeys["campaign"] = pd.Categorical(["spring", "fall", "spring", "fall", "fall"])
    journeys["answer_channel"] = journeys["conversion_id"].map({0: "Podcast", 1: None, 2: "Email"})
    return journeys


def test_self_reported_credits_the_answer_and_falls_back_to_last_touch() -> None:
    """Answered conversions go to the answer's channel; the rest to the fallback model (last touch)."""
    journeys = answered_journeys()
    model = SelfReported()
    assert model.attribute(journeys).values.tolist() == [
        ["Email", 1.0, 1.0, 1 / 3], ["Events", 1.0, 10.0, 1 / 3], ["Podcast", 1.0, 100.0, 1 / 3]]
    assert model.fell_back(journeys) == 1


def test_self_reported_custom_fallback() -> None:
    """``fallback`` credits the unanswered conversions."""
    table = SelfReported(fallback=Linear()).attribute(answered_journeys())
    assert dict(zip(table["channel"], table["value"], strict=True)) == {
        "Podcast": 100.0, "Email": 1.0 + 5.0, "Events": 5.0}


def test_self_reported_answer_rows_have_empty_other_dimensions() -> None:
    """The answer is no touch: its credit row has the answer's channel and no campaign."""
    table = SelfReported().attribute(answered_journeys(), by=["channel", "campaign"])
    assert table[["channel", "campaign", "conversions", "value"]].values.tolist() == [
        ["Email", None, 1.0, 1.0], ["Events", "fall", 1.0, 10.0], ["Podcast", None, 1.0, 100.0]]


def test_self_reported_with_pandas_na_answers_and_no_answers() -> None:
    """pd.NA (as tie_answers gives it) counts as no answer; with none, it is the fallback model."""
    journeys = answered_journeys().assign(answer_channel=pd.NA)
    assert SelfReported().fell_back(journeys) == 3
    pd.testing.assert_frame_equal(SelfReported().attribute(journeys), LastTouch().attribute(journeys))


def test_self_reported_needs_answer_channel() -> None:
    """Without answer_channel the error says how to add it."""
    with pytest.raises(ValueError, match="tie_answers"):
        SelfReported().attribute(paths("A"))


# ---- credit tables, compare() and the journey checks --------------------------------------------------

def test_credit_table_layout_and_order() -> None:
    """Columns by, conversions, value, share; largest first, equal credits by name; zero credits dropped."""
    journeys = paths("B > X", "A > Y", "C > Z", "C > Z", values=[1.0, 2.0, 3.0, 4.0])
    table = FirstTouch().attribute(journeys)
    assert table.values.tolist() == [["C", 2.0, 7.0, 0.5], ["A", 1.0, 2.0, 0.25], ["B", 1.0, 1.0, 0.25]]
    assert "X" not in set(table["channel"])  # a touch the model gives nothing is not listed


def test_credit_table_keeps_missing_dimension_values_as_none() -> None:
    """Rows without a campaign are grouped together, shown as None and sorted last among equals."""
    journeys = paths("A", "A", "A", values=[1.0, 2.0, 3.0]).assign(campaign=["x", None, None])
    table = LastTouch().attribute(journeys, by=["channel", "campaign"])
    assert table.values.tolist() == [["A", None, 2.0, 5.0, 2 / 3], ["A", "x", 1.0, 1.0, 1 / 3]]


def test_credit_table_direct() -> None:
    """credit_table works on any rows and weights; ``conversions`` only sets the shares."""
    rows = pd.DataFrame({"channel": ["A", "B", "A"], "value": [10.0, 10.0, 20.0]})
    table = credit_table(rows, np.array([0.5, 0.0, 1.0]), "channel", conversions=4)
    assert table.values.tolist() == [["A", 1.5, 25.0, 0.375]]


def test_compare_stacks_the_models() -> None:
    """compare() has a leading model column and each model's own table, in the order given."""
    journeys = paths("A > B > C", "B", values=[90.0, 10.0]).assign(answer_channel=[None] * 4)
    models = [FirstTouch(), Linear(), PositionBased(0.3, 0.5), SelfReported()]
    table = compare(journeys, models)
    assert list(table.columns) == ["model", "channel", "conversions", "value", "share"]
    assert table["model"].drop_duplicates().tolist() == ["first_touch", "linear", "position_based", "self_reported"]
    for model in models:
        own = table[table["model"] == model.name].drop(columns="model").reset_index(drop=True)
        pd.testing.assert_frame_equal(own, model.attribute(journeys))
    linear = table[table["model"] == "linear"]
    assert dict(zip(linear["channel"], linear["value"].round(9), strict=True)) == {"B": 40.0, "A": 30.0, "C": 30.0}


def test_compare_by_several_columns() -> None:
    """``by`` is passed to every model."""
    journeys = paths("A > B").assign(campaign=["x", "y"])
    table = compare(journeys, [FirstTouch(), LastTouch()], by=["channel", "campaign"])
    assert table[["model", "channel", "campaign"]].values.tolist() == [["first_touch", "A", "x"],
                                                                      ["last_touch", "B", "y"]]


@pytest.mark.parametrize(("models", "message"), [
    ([], "at least one model"),
    ([Linear(), Linear()], "each model may appear once"),
    ([PositionBased(), PositionBased(0.3, 0.5)], "each model may appear once"),
])
def test_compare_errors(models: list[AttributionModel], message: str) -> None:
    """compare() needs distinct models."""
    with pytest.raises(ValueError, match=message):
        compare(paths("A"), models)


@pytest.mark.parametrize("name", sorted(RULE_BASED))
@pytest.mark.parametrize("by", ["campaign", ["channel", "nope"], []], ids=str)
def test_by_a_missing_column_raises(name: str, by: str | list[str]) -> None:
    """Grouping by a column the journeys lack (or by nothing) is a ValueError naming the problem."""
    journeys = paths("A > B").assign(answer_channel=[None, None])
    with pytest.raises(ValueError, match="cannot group by|at least one column"):
        default_model(name).attribute(journeys, by=by)
    with pytest.raises(ValueError, match="cannot group by|at least one column"):
        compare(journeys, [default_model(name)], by=by)


def test_journeys_in_the_wrong_layout_raise() -> None:
    """Models refuse frames that are not journeys, or whose rows are out of order, saying how to build them."""
    journeys = paths("A > B", "C")
    with pytest.raises(ValueError, match="build_journeys"):
        Linear().attribute(journeys.drop(columns="n_touches"))
    with pytest.raises(ValueError, match="sorted by conversion_id and position"):
        Linear().attribute(journeys.iloc[[1, 0, 2]])
    with pytest.raises(ValueError, match="sorted by conversion_id and position"):
        FirstTouch().attribute(journeys.iloc[[0, 2]])


def test_models_do_not_mutate_journeys() -> None:
    """Applying every model leaves the journeys frame as it was."""
    journeys = answered_journeys()
    before = journeys.copy(deep=True)
    compare(journeys, [default_model(name) for name in RULE_BASED], by=["channel", "campaign"])
    pd.testing.assert_frame_equal(journeys, before)


def test_empty_journeys_give_empty_tables() -> None:
    """No conversions: empty credit tables with the usual columns."""
    journeys = paths("A").iloc[:0].assign(answer_channel=pd.Series(dtype=object))
    for name in RULE_BASED:
        table = default_model(name).attribute(journeys)
        assert list(table.columns) == ["channel", "conversions", "value", "share"]
        assert table.empty
