"""The dark-funnel gap, self_report_as_first_touch, and the funnel metrics (stages, cycle time, costs)."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import pytest

from attribution import (
    ENTRY,
    FirstTouch,
    Linear,
    TimeDecay,
    build_journeys,
    cost_metrics,
    cycle_times,
    dark_funnel,
    funnel_stages,
    journeys_from_paths,
    self_report_as_first_touch,
)

T = pd.Timestamp("2026-05-10", tz="UTC")
DAY = pd.Timedelta(days=1)


def touches(rows: Sequence[tuple[str, str, int, str]]) -> pd.DataFrame:
    """Return touchpoints from (touchpoint_id, person_id, days before T, channel)."""
    return pd.DataFrame({
        "touchpoint_id": [r[0] for r in rows], "person_id": [r[1] for r in rows],
        "ts": pd.Series([T - r[2] * DAY for r in rows], dtype="datetime64[ns, UTC]"),
        "channel": [r[3] for r in rows], "source": "src", "medium": "med", "campaign": "camp", "link_code": "L1",
        "kind": "click", "is_bot": False})


def conversions(rows: Sequence[tuple[int, str, float, Any]]) -> pd.DataFrame:
    """Return purchases at T from (conversion_id, person_id, value, answer_channel)."""
    return pd.DataFrame({
        "conversion_id": [r[0] for r in rows], "person_id": [r[1] for r in rows],
        "ts": pd.Series([T] * len(rows), dtype="datetime64[ns, UTC]"), "value": [r[2] for r in rows],
        "type": "purchase", "answer_channel": pd.Series([r[3] for r in rows], dtype=object)})


def gap_journeys() -> pd.DataFrame:
    """Seven conversions, hand-checked below (person = conversion).

    ====  ===========================  ==============  =====
    conv  tracked journey              answer          dark
    ====  ===========================  ==============  =====
    0     Email > Paid search          Podcast         yes
    1     Events                       Events          no
    2     [Direct] (no touch)          (none)          -
    3     [Direct] (no touch)          Podcast         yes
    4     [Direct] (no touch)          Direct          no
    5     Podcast > Email              Podcast         no
    6     Email > Events > Email       Word of mouth   yes
    ====  ===========================  ==============  =====
    """
    tp = touches([("a", "p0", 3, "Email"), ("b", "p0", 1, "Paid search"), ("c", "p1", 2, "Events"),
                  ("d", "p5", 4, "Podcast"), ("e", "p5", 2, "Email"),
                  ("f", "p6", 5, "Email"), ("g", "p6", 4, "Events"), ("h", "p6", 3, "Email")])
    answers = ["Podcast", "Events", None, "Podcast", "Direct", "Podcast", "Word of mouth"]
    return build_journeys(tp, conversions([(i, f"p{i}", 10.0 * i, a) for i, a in enumerate(answers)]))


# ---- dark_funnel ------------------------------------------------------------------------------------------

def test_dark_funnel_totals() -> None:
    """Dark share is over answered conversions; answer rate over all of them."""
    gap = dark_funnel(gap_journeys())
    assert (gap.conversions, gap.answered, gap.dark) == (7, 6, 3)
    assert gap.dark_share == 0.5
    assert gap.answer_rate == pytest.approx(6 / 7)


def test_dark_funnel_per_channel() -> None:
    """Per self-reported channel: answered, dark and dark share; most answered first, then by name."""
    gap = dark_funnel(gap_journeys())
    assert list(gap.by_channel.columns) == ["self_reported_channel", "answered", "dark", "dark_share"]
    assert gap.by_channel.values.tolist() == [
        ["Podcast", 3, 2, 2 / 3], ["Direct", 1, 0, 0.0], ["Events", 1, 0, 0.0], ["Word of mouth", 1, 1, 1.0]]


def test_dark_funnel_first_touch_matrix() -> None:
    """Self-reported channel (rows) x tracked first-touch channel (columns), answered conversions only."""
    matrix = dark_funnel(gap_journeys()).first_touch
    assert matrix.index.tolist() == ["Direct", "Events", "Podcast", "Word of mouth"]
    assert matrix.columns.tolist() == ["Direct", "Email", "Events", "Podcast"]
    assert matrix.to_numpy().tolist() == [[1, 0, 0, 0],
                                          [0, 0, 1, 0],
                                          [1, 1, 0, 1],
                                          [0, 1, 0, 0]]
    assert (matrix.index.name, matrix.columns.name) == ("self_reported_channel", "first_touch_channel")


def test_dark_funnel_last_touch_matrix() -> None:
    """Self-reported channel x tracked last-touch channel."""
    matrix = dark_funnel(gap_journeys()).last_touch
    assert matrix.index.tolist() == ["Direct", "Events", "Podcast", "Word of mouth"]
    assert matrix.columns.tolist() == ["Direct", "Email", "Events", "Paid search"]
    assert matrix.to_numpy().tolist() == [[1, 0, 0, 0],
                                          [0, 0, 1, 0],
                                          [1, 1, 0, 1],
                                          [0, 1, 0, 0]]
    assert int(matrix.to_numpy().sum()) == 6


@pytest.mark.parametrize(("answer", "dark"), [("Podcast", 1), ("Direct", 0), (None, 0)])
def test_fallback_journey_is_dark_unless_the_answer_is_direct(answer: str | None, dark: int) -> None:
    """A [Direct] journey with an answer is dark unless the answer is Direct; without one it is not counted."""
    journeys = build_journeys(touches([]).astype({"ts": "datetime64[ns, UTC]"}),
                              conversions([(1, "p", 5.0, answer)]))
    assert journeys["is_fallback"].tolist() == [True]
    gap = dark_funnel(journeys)
    assert (gap.answered, gap.dark) == (int(answer is not None), dark)


def test_dark_funnel_as_dict() -> None:
    """The JSON shape reports use."""
    data = dark_funnel(gap_journeys()).as_dict()
    assert {k: data[k] for k in ("conversions", "answered", "dark", "dark_share")} == {
        "conversions": 7, "answered": 6, "dark": 3, "dark_share": 0.5}
    assert data["first_touch_matrix"]["rows"] == ["Direct", "Events", "Podcast", "Word of mouth"]
    assert data["first_touch_matrix"]["cells"][2] == [1, 1, 0, 1]
    assert data["by_channel"][0] == {"self_reported_channel": "Podcast", "answered": 3, "dark": 2,
                                     "dark_share": 2 / 3}


def test_dark_funnel_without_answers_or_conversions() -> None:
    """No answers: no dark share (None) and empty tables; no conversions: no answer rate either."""
    journeys = gap_journeys().assign(answer_channel=pd.NA)
    gap = dark_funnel(journeys)
    assert (gap.conversions, gap.answered, gap.dark, gap.dark_share, gap.answer_rate) == (7, 0, 0, None, 0.0)
    assert gap.by_channel.empty and gap.first_touch.empty and gap.last_touch.empty
    assert dark_funnel(journeys.iloc[:0]).answer_rate is None


def test_dark_funnel_needs_answer_channel() -> None:
    """The error says how to add answers."""
    with pytest.raises(ValueError, match="tie_answers"):
        dark_funnel(journeys_from_paths(pd.DataFrame({"path": ["A"]})))


# ---- self_report_as_first_touch -----------------------------------------------------------------------------

def first_touch_journeys() -> pd.DataFrame:
    """A: Email > Paid search, said Podcast; B: no touch, said Events; C: Email, no answer; D: no touch, no answer."""
    tp = touches([("a1", "A", 3, "Email"), ("a2", "A", 1, "Paid search"), ("c1", "C", 2, "Email")])
    return build_journeys(tp, conversions([(1, "A", 90.0, "Podcast"), (2, "B", 10.0, "Events"),
                                           (3, "C", 5.0, None), (4, "D", 1.0, pd.NA)]))


def test_answer_joins_as_the_earliest_touch() -> None:
    """The answer comes first, at the first tracked touch's time, with no touch id, source, campaign or link."""
    out = self_report_as_first_touch(first_touch_journeys())
    one = out[out["conversion_id"] == 1]
    assert one["channel"].tolist() == ["Podcast", "Email", "Paid search"]
    assert one["position"].tolist() == [0, 1, 2]
    assert one["n_touches"].tolist() == [3, 3, 3]
    assert one["ts"].tolist() == [T - 3 * DAY, T - 3 * DAY, T - DAY]
    head = one.iloc[0]
    assert head["kind"] == "self_report"
    assert pd.isna(head["touchpoint_id"])
    # The answer has no source, medium, campaign or link: named (not set), never blank.
    assert [head[c] for c in ("source", "medium", "campaign", "link_code")] == ["(not set)"] * 4
    assert not head["is_fallback"]
    assert one["touchpoint_id"].tolist()[1:] == ["a1", "a2"]


def test_direct_only_journey_becomes_the_answer() -> None:
    """[Direct] with an answer becomes [answer channel], at the conversion's time, no longer a fallback."""
    out = self_report_as_first_touch(first_touch_journeys())
    two = out[out["conversion_id"] == 2]
    assert two[["channel", "position", "n_touches", "is_fallback"]].values.tolist() == [["Events", 0, 1, False]]
    assert two["ts"].tolist() == [T]


def test_unanswered_journeys_are_unchanged() -> None:
    """Journeys without an answer (None or pd.NA) keep their rows, fallback included."""
    journeys = first_touch_journeys()
    out = self_report_as_first_touch(journeys)
    for conversion_id in (3, 4):
        before = journeys[journeys["conversion_id"] == conversion_id].reset_index(drop=True)
        after = out[out["conversion_id"] == conversion_id].reset_index(drop=True)
        assert after[["channel", "position", "n_touches", "is_fallback", "touchpoint_id"]].astype(object) \
            .values.tolist() == before[["channel", "position", "n_touches", "is_fallback", "touchpoint_id"]] \
            .astype(object).values.tolist()
    assert out["conversion_id"].tolist() == [1, 1, 1, 2, 3, 4]


def test_models_credit_the_dark_channel() -> None:
    """Linear then credits the self-reported channel; the input journeys are not modified."""
    journeys = first_touch_journeys()
    before = journeys.copy(deep=True)
    out = self_report_as_first_touch(journeys)
    pd.testing.assert_frame_equal(journeys, before)
    table = Linear().attribute(out)
    got = dict(zip(table["channel"], zip(table["conversions"].round(12), table["value"].round(9), strict=True),
                   strict=True))
    assert got == {"Podcast": (round(1 / 3, 12), 30.0), "Email": (round(4 / 3, 12), 35.0),
                   "Paid search": (round(1 / 3, 12), 30.0), "Events": (1.0, 10.0), "Direct": (1.0, 1.0)}
    assert FirstTouch().attribute(out).set_index("channel").loc["Podcast", "conversions"] == 1.0
    # The answer shares the first tracked touch's time, so time decay weighs it like that touch.
    weights = TimeDecay().weights(out)
    assert weights[0] == weights[1]


def test_self_report_as_first_touch_on_paths() -> None:
    """Works on journeys from paths as well (the docstring's case)."""
    journeys = journeys_from_paths(pd.DataFrame({"path": ["Email > Paid search", "Direct"]}))
    journeys["is_fallback"] = journeys["conversion_id"] == 1
    journeys["answer_channel"] = "Podcast"
    out = self_report_as_first_touch(journeys)
    assert out["channel"].tolist() == ["Podcast", "Email", "Paid search", "Podcast"]
    assert out["n_touches"].tolist() == [3, 3, 3, 1]


# ---- funnel_stages ----------------------------------------------------------------------------------------

STAGES = ["lead", "opportunity", "purchase"]
ENTRANTS = pd.Series(["a", "b", "c", "d", "a"])
FUNNEL = pd.DataFrame({"person_id": ["a", "a", "b", "e", "f", "b"],
                       "type": ["lead", "purchase", "lead", "opportunity", "signup", "lead"]})


def rows(table: pd.DataFrame, columns: Sequence[str]) -> list[list[Any]]:
    """Return the table's values rounded to 6 decimals, NaN as None."""
    out = table[list(columns)].astype(object).where(table[list(columns)].notna(), None)
    return [[round(v, 6) if isinstance(v, float) else v for v in row] for row in out.values.tolist()]


def test_funnel_stages_cumulative() -> None:
    """Reaching a later stage counts for the earlier ones; rates are % of the previous stage."""
    table = funnel_stages(ENTRANTS, FUNNEL, STAGES)
    assert list(table.columns) == ["stage", "people", "rate", "drop_off", "overall"]
    assert rows(table, table.columns) == [
        [ENTRY, 5, None, None, 100.0],
        ["lead", 3, 60.0, 40.0, 60.0],
        ["opportunity", 2, 66.666667, 33.333333, 40.0],
        ["purchase", 1, 50.0, 50.0, 20.0],
    ]


def test_funnel_stages_not_cumulative() -> None:
    """Each stage counts only the people with a conversion of its type (entry: the entrants)."""
    table = funnel_stages(ENTRANTS, FUNNEL, STAGES, cumulative=False)
    assert rows(table, table.columns) == [
        [ENTRY, 4, None, None, 100.0],
        ["lead", 2, 50.0, 50.0, 50.0],
        ["opportunity", 1, 50.0, 50.0, 25.0],
        ["purchase", 1, 100.0, 0.0, 25.0],
    ]


def test_funnel_stages_segments() -> None:
    """Rates within each segment; people without a segment in (none); largest segments first."""
    segments = pd.Series({"a": "Email", "b": "Email", "c": "Events"})
    table = funnel_stages(ENTRANTS, FUNNEL, STAGES, segments=segments)
    assert list(table.columns) == ["segment", "stage", "people", "rate", "drop_off", "overall"]
    assert rows(table, ["segment", "stage", "people", "rate", "overall"]) == [
        ["(none)", ENTRY, 2, None, 100.0],
        ["(none)", "lead", 1, 50.0, 50.0],
        ["(none)", "opportunity", 1, 100.0, 50.0],
        ["(none)", "purchase", 0, 0.0, 0.0],
        ["Email", ENTRY, 2, None, 100.0],
        ["Email", "lead", 2, 100.0, 100.0],
        ["Email", "opportunity", 1, 50.0, 50.0],
        ["Email", "purchase", 1, 100.0, 50.0],
        ["Events", ENTRY, 1, None, 100.0],
        ["Events", "lead", 0, 0.0, 0.0],
        ["Events", "opportunity", 0, None, 0.0],  # empty previous stage: no rate
        ["Events", "purchase", 0, None, 0.0],
    ]


def test_funnel_stages_empty_inputs() -> None:
    """No people: zero counts and no rates; with segments, an empty table."""
    nobody = pd.Series([], dtype=object)
    no_conversions = pd.DataFrame({"person_id": pd.Series([], dtype=object), "type": pd.Series([], dtype=object)})
    table = funnel_stages(nobody, no_conversions, STAGES)
    assert rows(table, table.columns) == [[s, 0, None, None, None] for s in [ENTRY, *STAGES]]
    assert funnel_stages(nobody, no_conversions, STAGES, cumulative=False)["people"].tolist() == [0, 0, 0, 0]
    segmented = funnel_stages(nobody, no_conversions, STAGES, segments=pd.Series(dtype=object))
    assert segmented.empty and "segment" in segmented


def test_funnel_stages_conversions_only() -> None:
    """Converters without a touch in the period still enter the cumulative funnel."""
    table = funnel_stages(pd.Series([], dtype=object), pd.DataFrame({"person_id": ["x"], "type": ["purchase"]}),
                          ["lead", "purchase"])
    assert table["people"].tolist() == [1, 1, 1]


@pytest.mark.parametrize("stages", [[], ["lead", "lead"]])
def test_funnel_stages_needs_distinct_stages(stages: list[str]) -> None:
    """Stages must be distinct conversion types, at least one."""
    with pytest.raises(ValueError, match="distinct"):
        funnel_stages(ENTRANTS, FUNNEL, stages)


# ---- cycle_times ------------------------------------------------------------------------------------------

def test_cycle_times() -> None:
    """Days from the first touch ever to the first purchase; buyers without a touch before it are left out."""
    first = pd.Series([T, T, T + 5 * DAY], index=["a", "b", "c"])
    purchases = pd.DataFrame({"person_id": ["a", "a", "b", "c", "d"],
                              "ts": [T + 2 * DAY, T + DAY, T + 10 * DAY, T + DAY, T]})
    assert cycle_times(first, purchases) == {"buyers": 4, "with_touch": 2, "median_days": 5.5, "mean_days": 5.5}


def test_cycle_times_fractions_and_same_instant() -> None:
    """Partial days count; a touch at the purchase's instant is 0 days."""
    first = pd.Series([T, T], index=["a", "b"])
    purchases = pd.DataFrame({"person_id": ["a", "b"], "ts": [T + pd.Timedelta(hours=36), T]})
    assert cycle_times(first, purchases) == {"buyers": 2, "with_touch": 2, "median_days": 0.75, "mean_days": 0.75}


def test_cycle_times_empty() -> None:
    """No purchases, or none with a touch: counts and None."""
    first = pd.Series([T], index=["a"])
    none = pd.DataFrame({"person_id": pd.Series([], dtype=object),
                         "ts": pd.Series([], dtype="datetime64[ns, UTC]")})
    assert cycle_times(first, none) == {"buyers": 0, "with_touch": 0, "median_days": None, "mean_days": None}
    stranger = pd.DataFrame({"person_id": ["z"], "ts": [T]})
    assert cycle_times(first, stranger) == {"buyers": 1, "with_touch": 0, "median_days": None, "mean_days": None}


# ---- cost_metrics -----------------------------------------------------------------------------------------

def test_cost_metrics() -> None:
    """Cost per lead, per acquisition and ROAS; ratios with a zero denominator or no cost are NaN, never inf."""
    leads = pd.DataFrame({"channel": ["Email", "Events", "Podcast"], "conversions": [4.0, 1.0, 2.0],
                          "value": [0.0, 0.0, 0.0]})
    purchases = pd.DataFrame({"channel": ["Events", "Podcast"], "conversions": [1.0, 0.5], "value": [500.0, 120.0]})
    costs = pd.DataFrame({"channel": ["Events", "Events", "Email", "Paid search"],
                          "amount": [100.0, 150.0, 20.0, 50.0]})
    table = cost_metrics(leads, purchases, costs, "channel")
    assert list(table.columns) == ["channel", "cost", "leads", "cost_per_lead", "purchases", "cost_per_acquisition",
                                   "revenue", "roas"]
    assert rows(table, table.columns) == [
        ["Events", 250.0, 1.0, 250.0, 1.0, 250.0, 500.0, 2.0],
        ["Paid search", 50.0, 0.0, None, 0.0, None, 0.0, 0.0],
        ["Email", 20.0, 4.0, 5.0, 0.0, None, 0.0, 0.0],
        ["Podcast", 0.0, 2.0, None, 0.5, None, 120.0, None],  # no cost entry: no cost data, not free
    ]
    assert not np.isinf(table.select_dtypes(float).to_numpy()).any()


def test_cost_metrics_by_campaign_from_credit_tables() -> None:
    """Credit tables from a model feed cost_metrics directly (by campaign)."""
    journeys = journeys_from_paths(pd.DataFrame({"path": ["A > B", "B"], "value": [100.0, 50.0]}))
    journeys["campaign"] = pd.Categorical(["spring", "fall", "fall"])
    purchases = Linear().attribute(journeys, by="campaign")
    costs = pd.DataFrame({"campaign": ["spring", "fall"], "amount": [25.0, 75.0]})
    table = cost_metrics(purchases.iloc[:0], purchases, costs, "campaign")
    assert rows(table, ["campaign", "cost", "purchases", "cost_per_acquisition", "revenue", "roas"]) == [
        ["fall", 75.0, 1.5, 50.0, 100.0, 1.333333], ["spring", 25.0, 0.5, 50.0, 50.0, 2.0]]


def test_cost_metrics_empty() -> None:
    """Nothing in, an empty table with the columns out."""
    empty = pd.DataFrame({"channel": pd.Series([], dtype=object), "conversions": pd.Series([], dtype=float),
                          "value": pd.Series([], dtype=float)})
    costs = pd.DataFrame({"channel": pd.Series([], dtype=object), "amount": pd.Series([], dtype=float)})
    table = cost_metrics(empty, empty, costs, "channel")
    assert table.empty
    assert list(table.columns) == ["channel", "cost", "leads", "cost_per_lead", "purchases", "cost_per_acquisition",
                                   "revenue", "roas"]
