"""build_journeys and journeys_from_paths: the journey definition of ATTRIBUTION.md, edge by edge."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import pytest

from attribution import (
    DEFAULT_LOOKBACK,
    LastNonDirect,
    Linear,
    Markov,
    PositionBased,
    Shapley,
    build_journeys,
    journeys_from_paths,
)

T = pd.Timestamp("2026-05-10 12:00", tz="UTC")
DAY = pd.Timedelta(days=1)
NS = pd.Timedelta(1, "ns")
TOUCH_COLUMNS = ["touchpoint_id", "person_id", "ts", "channel", "source", "medium", "campaign", "link_code", "kind",
                 "is_bot"]


def touches(rows: Sequence[dict[str, Any]], **extra: Any) -> pd.DataFrame:
    """Return a touchpoints frame (nanosecond UTC timestamps) from partial rows; defaults: person p, no bot."""
    defaults = {"person_id": "p", "source": "src", "medium": "med", "campaign": "camp", "link_code": None,
                "kind": "click", "is_bot": False, **extra}
    frame = pd.DataFrame([{**defaults, **row} for row in rows])
    frame = frame[[*TOUCH_COLUMNS, *[c for c in frame.columns if c not in TOUCH_COLUMNS]]]
    frame["ts"] = pd.Series(list(frame["ts"]), dtype="datetime64[ns, UTC]")
    return frame


def conversions(rows: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """Return a conversions frame from partial rows; defaults: person p, value 10, type purchase."""
    frame = pd.DataFrame([{"person_id": "p", "value": 10.0, "type": "purchase", **row} for row in rows])
    frame["ts"] = pd.Series(list(frame["ts"]), dtype="datetime64[ns, UTC]")
    return frame


def paths_of(journeys: pd.DataFrame, column: str = "touchpoint_id") -> dict[Any, list[Any]]:
    """Return {conversion_id: [column values in journey order]} (missing values as None)."""
    out: dict[Any, list[Any]] = {}
    for conversion_id, value in zip(journeys["conversion_id"], journeys[column].astype(object), strict=True):
        out.setdefault(conversion_id, []).append(None if pd.isna(value) else value)
    return out


# ---- the window -------------------------------------------------------------------------------------------

def test_lookback_is_inclusive_at_both_ends() -> None:
    """Touches at exactly ts - lookback and at ts count; one nanosecond outside either end does not."""
    tp = touches([
        {"touchpoint_id": "too_old", "ts": T - DEFAULT_LOOKBACK - NS, "channel": "Email"},
        {"touchpoint_id": "oldest", "ts": T - DEFAULT_LOOKBACK, "channel": "Email"},
        {"touchpoint_id": "middle", "ts": T - DAY, "channel": "Events"},
        {"touchpoint_id": "at_conversion", "ts": T, "channel": "Paid search"},
        {"touchpoint_id": "after", "ts": T + NS, "channel": "Podcast"},
    ])
    journeys = build_journeys(tp, conversions([{"conversion_id": 1, "ts": T}]))
    assert paths_of(journeys) == {1: ["oldest", "middle", "at_conversion"]}
    assert journeys["position"].tolist() == [0, 1, 2]
    assert journeys["n_touches"].tolist() == [3, 3, 3]
    assert not journeys["is_fallback"].any()


def test_custom_lookback() -> None:
    """``lookback`` moves the start; 0 keeps only touches at the conversion's instant."""
    tp = touches([{"touchpoint_id": "a", "ts": T - 3 * DAY, "channel": "Email"},
                  {"touchpoint_id": "b", "ts": T - 2 * DAY, "channel": "Events"},
                  {"touchpoint_id": "c", "ts": T, "channel": "Podcast"}])
    conv = conversions([{"conversion_id": 1, "ts": T}])
    assert paths_of(build_journeys(tp, conv, lookback=2 * DAY)) == {1: ["b", "c"]}
    assert paths_of(build_journeys(tp, conv, lookback=pd.Timedelta(0))) == {1: ["c"]}
    with pytest.raises(ValueError, match="lookback must not be negative"):
        build_journeys(tp, conv, lookback=-DAY)


def test_touches_after_the_conversion_are_excluded() -> None:
    """A touch after the conversion belongs to no journey of it; with none before, the journey is [Direct]."""
    tp = touches([{"touchpoint_id": "later", "ts": T + DAY, "channel": "Email"}])
    journeys = build_journeys(tp, conversions([{"conversion_id": 1, "ts": T}]))
    assert journeys["channel"].tolist() == ["Direct"]
    assert journeys["is_fallback"].tolist() == [True]


def test_bots_and_other_people_are_excluded() -> None:
    """Bot touches and other people's touches are not in a person's journey."""
    tp = touches([
        {"touchpoint_id": "bot", "ts": T - DAY, "channel": "Email", "is_bot": True},
        {"touchpoint_id": "mine", "ts": T - DAY, "channel": "Events"},
        {"touchpoint_id": "theirs", "ts": T - DAY, "channel": "Podcast", "person_id": "q"},
    ])
    journeys = build_journeys(tp, conversions([{"conversion_id": 1, "ts": T}]))
    assert paths_of(journeys) == {1: ["mine"]}


@pytest.mark.parametrize("is_bot", [
    pd.array([True, None], dtype="boolean"),
    pd.Series([True, None], dtype=object),
    pd.Series([1.0, np.nan]),
], ids=["nullable-boolean", "object-None", "float-nan"])
def test_a_missing_is_bot_counts_as_no_bot(is_bot: Any) -> None:
    """Unknown is_bot values keep the touch (before: pd.NA raised, NaN counted as a bot)."""
    tp = touches([{"touchpoint_id": "bot", "ts": T - DAY, "channel": "Email"},
                  {"touchpoint_id": "unknown", "ts": T - DAY, "channel": "Events"}])
    tp["is_bot"] = is_bot
    assert paths_of(build_journeys(tp, conversions([{"conversion_id": 1, "ts": T}]))) == {1: ["unknown"]}


def test_touches_without_a_person_are_in_no_journey() -> None:
    """A missing person_id matches nobody, not even a conversion whose person_id is missing too."""
    tp = touches([{"touchpoint_id": "anon", "ts": T - DAY, "channel": "Email", "person_id": None},
                  {"touchpoint_id": "mine", "ts": T - DAY, "channel": "Events"}])
    conv = conversions([{"conversion_id": 1, "ts": T, "person_id": None}, {"conversion_id": 2, "ts": T}])
    journeys = build_journeys(tp, conv)
    assert paths_of(journeys) == {1: [None], 2: ["mine"]}
    assert journeys["channel"].tolist() == ["Direct", "Events"]


# ---- the [Direct] fallback --------------------------------------------------------------------------------

def test_conversion_without_touches_gets_one_direct_row() -> None:
    """The fallback row: channel Direct, the conversion's time, no touch columns, is_fallback true."""
    tp = touches([{"touchpoint_id": "a", "ts": T - DAY, "channel": "Email"}])
    conv = conversions([{"conversion_id": 1, "ts": T}, {"conversion_id": 2, "ts": T + DAY, "person_id": "q",
                                                         "value": 0.0}])
    journeys = build_journeys(tp, conv)
    fallback = journeys[journeys["conversion_id"] == 2].iloc[0]
    assert fallback["channel"] == "Direct"
    assert bool(fallback["is_fallback"])
    assert (fallback["position"], fallback["n_touches"]) == (0, 1)
    assert fallback["ts"] == T + DAY == fallback["conversion_ts"]
    assert fallback["value"] == 0.0
    assert pd.isna(fallback["touchpoint_id"])
    # The dimensions are named as GA4 names direct traffic, never blank.
    assert [fallback[c] for c in ("source", "medium", "campaign", "link_code", "kind")] == \
        ["(direct)", "(none)", "(direct)", "(none)", "(none)"]
    assert journeys["is_fallback"].tolist() == [False, True]


@pytest.mark.parametrize("with_fallback", [False, True])
def test_column_types_do_not_depend_on_fallbacks(with_fallback: bool) -> None:
    """ts stays a UTC datetime column whether or not some conversion fell back (before: object without one)."""
    tp = touches([{"touchpoint_id": "a", "ts": T - DAY, "channel": "Email"}])
    conv = [{"conversion_id": 1, "ts": T}] + ([{"conversion_id": 2, "ts": T, "person_id": "q"}] if with_fallback
                                              else [])
    journeys = build_journeys(tp, conversions(conv))
    assert journeys["ts"].dtype == "datetime64[ns, UTC]"
    assert journeys["conversion_ts"].dtype == "datetime64[ns, UTC]"
    assert journeys["value"].dtype == float
    assert journeys["is_fallback"].dtype == bool
    for name in ("channel", "source", "medium", "campaign", "link_code", "kind"):
        assert isinstance(journeys[name].dtype, pd.CategoricalDtype), name


def test_no_touches_at_all() -> None:
    """With an empty touch table every conversion is [Direct]."""
    tp = touches([{"touchpoint_id": "a", "ts": T, "channel": "Email"}]).iloc[:0]
    journeys = build_journeys(tp, conversions([{"conversion_id": 1, "ts": T}, {"conversion_id": 2, "ts": T}]))
    assert journeys[["conversion_id", "channel", "is_fallback"]].values.tolist() == [[1, "Direct", True],
                                                                                     [2, "Direct", True]]


def test_no_conversions() -> None:
    """No conversions, no journey rows."""
    tp = touches([{"touchpoint_id": "a", "ts": T, "channel": "Email"}])
    conv = conversions([{"conversion_id": 1, "ts": T}]).iloc[:0]
    assert build_journeys(tp, conv).empty


# ---- since_previous_conversion ----------------------------------------------------------------------------

def bounded() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Touches 10, 5 (exactly at lead 1), 2 days before T; leads at T-5d and T; a purchase at T-3d."""
    tp = touches([{"touchpoint_id": "d10", "ts": T - 10 * DAY, "channel": "Email"},
                  {"touchpoint_id": "d5", "ts": T - 5 * DAY, "channel": "Events"},
                  {"touchpoint_id": "d2", "ts": T - 2 * DAY, "channel": "Podcast"}])
    conv = conversions([{"conversion_id": 2, "ts": T, "type": "lead"},
                        {"conversion_id": 1, "ts": T - 5 * DAY, "type": "lead"},
                        {"conversion_id": 3, "ts": T - 3 * DAY, "type": "purchase"}])
    return tp, conv


def test_since_previous_conversion_starts_strictly_after_the_previous_conversion_of_the_type() -> None:
    """Lead 2 starts after lead 1 (a touch at lead 1's instant is lead 1's); the purchase is not cut by leads."""
    journeys = build_journeys(*bounded(), since_previous_conversion=True)
    assert paths_of(journeys) == {1: ["d10", "d5"], 2: ["d2"], 3: ["d10", "d5"]}


def test_without_since_previous_conversion_a_touch_counts_for_several_conversions() -> None:
    """Default off: the lookback alone bounds each journey (as in GA4)."""
    journeys = build_journeys(*bounded())
    assert paths_of(journeys) == {1: ["d10", "d5"], 2: ["d10", "d5", "d2"], 3: ["d10", "d5"]}


def test_since_previous_conversion_never_extends_the_lookback() -> None:
    """A previous conversion older than the lookback does not widen the window."""
    tp, conv = bounded()
    journeys = build_journeys(tp, conv, lookback=3 * DAY, since_previous_conversion=True)
    assert paths_of(journeys) == {1: ["d5"], 2: ["d2"], 3: ["d5"]}


def test_since_previous_conversion_is_per_person() -> None:
    """Another person's conversion does not cut a journey."""
    tp = touches([{"touchpoint_id": "a", "ts": T - 4 * DAY, "channel": "Email"}])
    conv = conversions([{"conversion_id": 1, "ts": T - 2 * DAY, "person_id": "q"}, {"conversion_id": 2, "ts": T}])
    assert paths_of(build_journeys(tp, conv, since_previous_conversion=True)) == {1: [None], 2: ["a"]}


def test_since_previous_conversion_with_simultaneous_conversions() -> None:
    """Two conversions of a type at one instant: the one with the larger id comes second and gets [Direct]."""
    tp = touches([{"touchpoint_id": "a", "ts": T - DAY, "channel": "Email"}])
    conv = conversions([{"conversion_id": 8, "ts": T}, {"conversion_id": 7, "ts": T}])
    assert paths_of(build_journeys(tp, conv, since_previous_conversion=True)) == {7: ["a"], 8: [None]}


@pytest.mark.parametrize("index", [[0, 1, 2], [2, 1, 0], [5, 5, 5], ["x", "y", "x"]], ids=str)
def test_since_previous_conversion_ignores_the_index(index: list[Any]) -> None:
    """Whatever the conversions' index (even repeated labels), the bounds go to the right conversions.

    Before the fix a repeated label aligned the bounds by position in sorted order: lead 1 got [Direct].
    """
    tp, conv = bounded()
    journeys = build_journeys(tp, conv.set_axis(index), since_previous_conversion=True)
    assert paths_of(journeys) == {1: ["d10", "d5"], 2: ["d2"], 3: ["d10", "d5"]}


# ---- order, carried columns, inputs -------------------------------------------------------------------------

def test_order_is_by_timestamp_then_touchpoint_id() -> None:
    """Equal timestamps are ordered by touchpoint_id; rows are sorted by conversion_id then position."""
    tp = touches([{"touchpoint_id": "t3", "ts": T - DAY, "channel": "Email"},
                  {"touchpoint_id": "t1", "ts": T - DAY, "channel": "Events"},
                  {"touchpoint_id": "t2", "ts": T - DAY, "channel": "Podcast"},
                  {"touchpoint_id": "t9", "ts": T - 2 * DAY, "channel": "Direct"}])
    conv = conversions([{"conversion_id": 20, "ts": T}, {"conversion_id": 10, "ts": T}])
    journeys = build_journeys(tp, conv)
    assert journeys["conversion_id"].tolist() == [10] * 4 + [20] * 4
    assert paths_of(journeys) == {10: ["t9", "t1", "t2", "t3"], 20: ["t9", "t1", "t2", "t3"]}
    assert journeys["position"].tolist() == [0, 1, 2, 3] * 2
    shuffled = build_journeys(tp.iloc[[2, 0, 3, 1]], conv.iloc[[1, 0]])
    pd.testing.assert_frame_equal(shuffled, journeys)


def test_extra_columns_are_carried() -> None:
    """Conversion columns (answer_channel) go on every row of the conversion; extra touch columns stay on touches."""
    tp = touches([{"touchpoint_id": "a", "ts": T - 2 * DAY, "channel": "Email", "via": "link"},
                  {"touchpoint_id": "b", "ts": T - DAY, "channel": "Events", "via": "import"}])
    conv = conversions([{"conversion_id": 1, "ts": T, "answer_channel": "Podcast"},
                        {"conversion_id": 2, "ts": T, "answer_channel": None, "person_id": "q"}])
    journeys = build_journeys(tp, conv)
    assert paths_of(journeys, "answer_channel") == {1: ["Podcast", "Podcast"], 2: [None]}
    assert paths_of(journeys, "via") == {1: ["link", "import"], 2: [None]}


def test_conversion_columns_win_over_touch_columns_of_the_same_name() -> None:
    """A touch column named like a conversion column (value) does not replace the conversion's."""
    tp = touches([{"touchpoint_id": "a", "ts": T - DAY, "channel": "Email", "value": 999.0}])
    journeys = build_journeys(tp, conversions([{"conversion_id": 1, "ts": T, "value": 5.0}]))
    assert journeys["value"].tolist() == [5.0]


def test_inputs_are_not_mutated() -> None:
    """build_journeys copies what it changes."""
    tp, conv = bounded()
    tp = tp.assign(is_bot=pd.Series([False, True, None], dtype=object))
    before_tp, before_conv = tp.copy(deep=True), conv.copy(deep=True)
    build_journeys(tp, conv, since_previous_conversion=True)
    pd.testing.assert_frame_equal(tp, before_tp)
    pd.testing.assert_frame_equal(conv, before_conv)


def test_timestamps_in_other_zones_and_units_are_converted_to_utc() -> None:
    """Aware timestamps in another zone or unit compare by instant."""
    tp = touches([{"touchpoint_id": "a", "ts": T - DEFAULT_LOOKBACK, "channel": "Email"}])
    tp["ts"] = tp["ts"].dt.tz_convert("Europe/Oslo").astype("datetime64[s, Europe/Oslo]")
    journeys = build_journeys(tp, conversions([{"conversion_id": 1, "ts": T}]))
    assert paths_of(journeys) == {1: ["a"]}
    assert journeys["ts"].tolist() == [T - DEFAULT_LOOKBACK]


# ---- errors -----------------------------------------------------------------------------------------------

def test_naive_timestamps_are_refused() -> None:
    """Both tables need timezone-aware timestamps; the message says how to make them."""
    tp = touches([{"touchpoint_id": "a", "ts": T - DAY, "channel": "Email"}])
    conv = conversions([{"conversion_id": 1, "ts": T}])
    with pytest.raises(ValueError, match=r"touchpoints.ts must be timezone-aware.*utc=True"):
        build_journeys(tp.assign(ts=tp["ts"].dt.tz_localize(None)), conv)
    with pytest.raises(ValueError, match=r"conversions.ts must be timezone-aware"):
        build_journeys(tp, conv.assign(ts=conv["ts"].dt.tz_localize(None)))


@pytest.mark.parametrize(("table", "column"), [("touchpoints", "is_bot"), ("touchpoints", "channel"),
                                               ("conversions", "type"), ("conversions", "value")])
def test_missing_columns_are_named(table: str, column: str) -> None:
    """A missing column is named, with the full list of what is needed."""
    tp = touches([{"touchpoint_id": "a", "ts": T - DAY, "channel": "Email"}])
    conv = conversions([{"conversion_id": 1, "ts": T}])
    frames = {"touchpoints": tp, "conversions": conv}
    frames[table] = frames[table].drop(columns=column)
    with pytest.raises(ValueError, match=rf"{table} lacks the column\(s\) {column}; it needs"):
        build_journeys(frames["touchpoints"], frames["conversions"])


def test_duplicate_conversion_ids_are_refused() -> None:
    """conversion_id identifies a journey."""
    tp = touches([{"touchpoint_id": "a", "ts": T - DAY, "channel": "Email"}])
    with pytest.raises(ValueError, match="conversion_id must be unique"):
        build_journeys(tp, conversions([{"conversion_id": 1, "ts": T}, {"conversion_id": 1, "ts": T}]))


# ---- journeys_from_paths ----------------------------------------------------------------------------------

def test_journeys_from_paths() -> None:
    """One conversion per path; touches one second apart ending at the conversion; value per conversion."""
    journeys = journeys_from_paths(pd.DataFrame({"path": ["A > B > A", "C"], "value": [10.0, 0.0]}))
    assert journeys[["conversion_id", "position", "n_touches", "channel", "value"]].values.tolist() == [
        [0, 0, 3, "A", 10.0], [0, 1, 3, "B", 10.0], [0, 2, 3, "A", 10.0], [1, 0, 1, "C", 0.0]]
    assert (journeys["conversion_ts"] - journeys["ts"]).dt.total_seconds().tolist() == [2.0, 1.0, 0.0, 0.0]
    assert journeys["touchpoint_id"].tolist() == [0, 1, 2, 3]
    assert not journeys["is_fallback"].any()
    assert isinstance(journeys["channel"].dtype, pd.CategoricalDtype)


def test_journeys_from_paths_options() -> None:
    """Other column names and separators; no value column means value 0."""
    frame = pd.DataFrame({"p": ["Email|Paid search", "Events"], "revenue": [3.0, 4.0]})
    journeys = journeys_from_paths(frame, path="p", separator="|", value="revenue")
    assert journeys[["channel", "value"]].values.tolist() == [["Email", 3.0], ["Paid search", 3.0], ["Events", 4.0]]
    assert journeys_from_paths(frame, path="p", separator="|")["value"].tolist() == [0.0, 0.0, 0.0]


def test_journeys_from_paths_without_times_credit_the_same() -> None:
    """times=False drops only the time columns and made-up ids: every other model credits the same."""
    rng = np.random.default_rng(5)
    table = pd.DataFrame({"path": [" > ".join(rng.choice(list("ABCDE"), rng.integers(1, 6))) for _ in range(300)],
                          "conv": rng.integers(0, 4, 300), "null": rng.integers(0, 6, 300),
                          "value": rng.random(300) * 100})
    full = journeys_from_paths(table, conversions="conv", nulls="null")
    light = journeys_from_paths(table, conversions="conv", nulls="null", times=False)
    assert set(full.columns) - set(light.columns) == {"ts", "conversion_ts", "person_id", "touchpoint_id"}
    for model in (Linear(), PositionBased(), LastNonDirect(), Markov(order=2), Shapley()):
        pd.testing.assert_frame_equal(model.attribute(light), model.attribute(full))


def test_journeys_from_no_paths() -> None:
    """An empty table gives empty journeys."""
    journeys = journeys_from_paths(pd.DataFrame({"path": pd.Series([], dtype=object)}))
    assert journeys.empty
    assert {"conversion_id", "position", "n_touches", "channel", "value"} <= set(journeys.columns)


@pytest.mark.parametrize("path", ["", "A >  > B", "A > ", None], ids=repr)
def test_journeys_from_paths_refuses_empty_steps(path: str | None) -> None:
    """Empty or missing paths and empty steps are errors (before: a channel named '' or 'None')."""
    with pytest.raises(ValueError, match="channel"):
        journeys_from_paths(pd.DataFrame({"path": ["A > B", path]}))


def test_journeys_from_paths_needs_the_path_column() -> None:
    """The path column must exist."""
    with pytest.raises(ValueError, match="paths lacks the column"):
        journeys_from_paths(pd.DataFrame({"route": ["A"]}))
