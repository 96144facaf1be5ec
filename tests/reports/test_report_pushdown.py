"""The reports pushed down into the database equal the in-memory reference, on random stores.

Each example writes a random store (clicks and scans of links with and without campaigns, landing
visits with UTMs, referrers or neither, imported offline touches, bots, conversions of two types,
answers by option, free text and conversion id; timestamps with microseconds, equal timestamps and
touches exactly at a lookback bound) to SQLite or PostgreSQL, then runs the same report twice:
``engine="database"`` (paths aggregated in SQL) and ``engine="memory"`` (every touch read into
pandas, ``attribution.build_journeys``), for every model and option. Credits, shares and counts
must agree to 1e-9, the dark funnel and the funnel (people per stage and segment, cost credits)
exactly; the paths export must equal ``attribution.path_table`` on the in-memory journeys.
"""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock

import pandas as pd
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tracker.reports.paths as paths_module
from attribution import build_journeys, self_report_as_first_touch
from attribution.models.base import journey_counts
from attribution.paths import non_converting_journeys, path_table
from attribution.selfreports import tie_answers
from tracker.conversions.models import Conversion
from tracker.db import get_db
from tracker.links.models import Campaign, Link
from tracker.redirects.models import Click
from tracker.reports.loading import load_answers, load_conversions, load_touchpoints
from tracker.reports.params import BY_COLUMNS, DATA_DRIVEN, FILTERS, MODEL_NAMES, parse_params
from tracker.reports.paths import ELEMENT_DIMENSIONS, load_paths, time_decay_sums
from tracker.reports.service import _tied_answers, attribution_report, dark_funnel_report, funnel_report, paths_report
from tracker.selfreports.models import SelfReport
from tracker.touchpoints.models import LandingVisit, OfflineTouch

# The same examples on every run (as tests/app/test_fuzz_inputs.py), so CI is repeatable; while changing the
# pushdown, explore more with e.g. ``-p no:cacheprovider`` and a temporary ``derandomize=False``.
DB_EXAMPLES: dict[str, Any] = {"deadline": None, "derandomize": True, "database": None,
                               "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]}
BASE = datetime(2026, 5, 10, 12, 0, tzinfo=UTC)
PEOPLE = [f"p{i}" for i in range(6)]
SOURCES = [None, "", "google", "newsletter", "facebook", "Partner Site", "podcast-x"]
MEDIUMS = [None, "", "cpc", "email", "social", "event", "print", "qr", "Paid-Social"]
HOSTS = [None, "www.google.com", "l.facebook.com", "blog.partner.example", "www.example.com", "shop.example.com"]
PAGES = [None, "www.example.com/", "www.example.com/pricing", "shop.example.com/cart"]
ANSWERS = [("search", None), ("friend", None), (None, "heard it on a podcast"), (None, "pdocast"),
           (None, "saw a poster at the expo"), (None, "no idea really")]


def instants() -> st.SearchStrategy[datetime]:
    """Times around BASE: whole minutes (many ties) or with microseconds (.999999 included: SQLite rounds it)."""
    minutes = st.integers(-60 * 24 * 12, 60 * 24 * 12)
    micros = st.one_of(st.just(0), st.just(999_999), st.integers(0, 999_999))
    return st.builds(lambda m, u: BASE + timedelta(minutes=m, microseconds=u), minutes, micros)


@st.composite
def stores(draw: Any) -> dict[str, Any]:
    conversions = draw(st.lists(st.fixed_dictionaries({
        "person": st.sampled_from(PEOPLE), "ts": instants(), "type": st.sampled_from(["lead", "purchase"]),
        "value": st.decimals(0, 500, places=2, allow_nan=False)}), min_size=0, max_size=8))
    touches = []
    for _ in range(draw(st.integers(0, 25))):
        kind = draw(st.sampled_from(["click", "visit", "offline"]))
        person = draw(st.sampled_from(PEOPLE))
        if conversions and draw(st.booleans()):  # exactly at a conversion's lookback bound (1 or 3 days)
            conv = draw(st.sampled_from(conversions))
            ts = conv["ts"] - timedelta(days=draw(st.sampled_from([0, 1, 3])))
            person = conv["person"]
        else:
            ts = draw(instants())
        touches.append({"kind": kind, "person": person, "ts": ts, "bot": draw(st.booleans()) and kind != "offline"
                        and draw(st.booleans()),
                        "link": draw(st.integers(0, 2)), "via": draw(st.sampled_from(["link", "qr"])),
                        "source": draw(st.sampled_from(SOURCES)), "medium": draw(st.sampled_from(MEDIUMS)),
                        "campaign": draw(st.sampled_from([None, "", "spring", "expo"])),
                        "host": draw(st.sampled_from(HOSTS)), "page": draw(st.sampled_from(PAGES)),
                        "is_touch": draw(st.booleans()) or draw(st.booleans()),
                        "offline_kind": draw(st.sampled_from(["event", "print", "podcast", "other"])),
                        "channel": draw(st.sampled_from([None, None, "Events", "PR"])),
                        "campaign_ref": draw(st.sampled_from([None, 0, 1]))})
    answers = draw(st.lists(st.fixed_dictionaries({
        "person": st.sampled_from(PEOPLE), "ts": instants(), "answer": st.sampled_from(ANSWERS),
        "by_id": st.booleans()}), max_size=5))
    return {"conversions": conversions, "touches": touches, "answers": answers}


@st.composite
def report_params(draw: Any) -> dict[str, Any]:
    by = draw(st.sampled_from([*BY_COLUMNS, "channel,campaign", "source,medium"]))
    models = list(MODEL_NAMES) if by == "channel" else [m for m in MODEL_NAMES if m != "self_reported"]
    if draw(st.booleans()):  # rule-based models only: credited piece by piece of journeys (no non-converting ones)
        models = [m for m in models if m not in DATA_DRIVEN]
    raw: dict[str, Any] = {
        "from": (BASE.date() + timedelta(days=draw(st.integers(-8, 0)))).isoformat(),
        "to": (BASE.date() + timedelta(days=draw(st.integers(0, 8)))).isoformat(),
        "model": ",".join(models), "by": by,
        "lookback_days": str(draw(st.sampled_from([0, 1, 3, 30]))),
        "conversion_type": draw(st.sampled_from(["all", "lead", "purchase"])),
        "since_previous_conversion": str(draw(st.booleans())).lower(),
        "self_report_as_first_touch": str(draw(st.booleans())).lower(),
        "half_life_days": str(draw(st.sampled_from([0.5, 7.0]))),
        "position_first": str(draw(st.sampled_from([0.4, 0.1]))),
    }
    if draw(st.booleans()):
        name, value = draw(st.sampled_from([("campaign", "(not set)"), ("kind", "landing"), ("channel", "Direct"),
                                            ("source", "(direct)"), ("campaign", "expo")]))
        raw[name] = value
        raw["model"] = ",".join(m for m in models if m != "markov")  # markov credits whole values: no filters
    raw["markov_order"] = str(draw(st.sampled_from([1, 2, 4])))
    return raw


def write(session: Any, store: dict[str, Any]) -> None:
    """Replace the store's touches, conversions and answers with ``store``."""
    for model in (Click, LandingVisit, OfflineTouch, SelfReport, Conversion):
        session.execute(sa.delete(model))
    links = session.scalars(sa.select(Link.id).order_by(Link.id)).all()
    campaigns = session.scalars(sa.select(Campaign.id).order_by(Campaign.id)).all()
    for i, c in enumerate(store["conversions"]):
        session.add(Conversion(id=i + 1, external_id=f"order-{i}", type=c["type"], ts=c["ts"], value=c["value"],
                               original_value=c["value"], original_currency="NOK", person_id=c["person"],
                               created_at=BASE))
    for i, t in enumerate(store["touches"]):
        if t["kind"] == "click":
            session.add(Click(tid=f"t{i:03d}", ts=t["ts"], link_id=links[t["link"]], via=t["via"], outcome="redirect",
                              person_id=t["person"], is_bot=t["bot"], utm_source=t["source"], utm_medium=t["medium"]))
        elif t["kind"] == "visit":
            session.add(LandingVisit(id=i + 1, ts=t["ts"], person_id=t["person"], site_visitor_id=t["person"],
                                     is_touch=t["is_touch"], page=t["page"], referrer_host=t["host"],
                                     utm_source=t["source"], utm_medium=t["medium"], utm_campaign=t["campaign"],
                                     is_bot=t["bot"]))
        else:
            ref = t["campaign_ref"]
            session.add(OfflineTouch(id=i + 1, dedupe_key=f"k{i}", ts=t["ts"], person_id=t["person"],
                                     customer_hash="h", kind=t["offline_kind"], channel=t["channel"],
                                     campaign_id=None if ref is None else campaigns[ref],
                                     utm_source=t["source"] or None, imported_at=BASE))
    for i, a in enumerate(store["answers"]):
        option, text = a["answer"]
        # Submitted with the id of one of the person's conversions (an answer given on the thank-you page).
        own = [k for k, c in enumerate(store["conversions"]) if c["person"] == a["person"]]
        external = f"order-{own[i % len(own)]}" if a["by_id"] and own else None
        session.add(SelfReport(id=i + 1, ts=a["ts"], person_id=a["person"], option=option, text=text,
                               conversion_external_id=external, via="api"))
    session.commit()


@pytest.fixture
def shop(app: Any, session: Any) -> Any:
    """Two campaigns and three links (one of them without a campaign) the random touches use."""
    spring = Campaign(name="Spring", slug="spring")
    expo = Campaign(name="Expo", slug="expo")
    session.add_all([spring, expo])
    session.flush()
    for code, campaign, kind in (("spr", spring.id, "online"), ("exp", expo.id, "event"), ("bare", None, "print")):
        session.add(Link(code=code, campaign_id=campaign, destination="https://example.com/", utm_source="s",
                         utm_medium="m", utm_campaign="c", kind=kind, fingerprint=code))
    session.commit()
    return app


def rows_by_key(report: dict[str, Any], key_columns: list[str]) -> dict[tuple[Any, ...], tuple[float, ...]]:
    return {tuple(r[c] for c in key_columns): (r["conversions"], r["value"], r["share"]) for r in report["rows"]}


def assert_same_credits(database: dict[str, Any], memory: dict[str, Any], by: list[str]) -> None:
    keys = ["model", *by]
    got, want = rows_by_key(database, keys), rows_by_key(memory, keys)
    for key in set(got) | set(want):
        have, expected = got.get(key, (0.0, 0.0, 0.0)), want.get(key, (0.0, 0.0, 0.0))
        assert have == pytest.approx(expected, rel=1e-9, abs=1e-9), key
    for name in ("conversions", "no_touch", "with_answer", "touches_read"):
        assert database["counts"][name] == memory["counts"][name], name
    assert database["counts"]["value"] == pytest.approx(memory["counts"]["value"], rel=1e-9, abs=1e-9)


@settings(max_examples=25, **DB_EXAMPLES)
@given(store=stores(), raw=report_params(), piece_rows=st.sampled_from([1, 4, paths_module.PIECE_ROWS]))
def test_pushed_down_reports_equal_the_in_memory_reference(shop: Any, store: dict[str, Any],
                                                           raw: dict[str, Any], piece_rows: int) -> None:
    config = shop.config["SETTINGS"]
    with get_db(shop).Session() as session:
        write(session, store)
        params = parse_params(raw, config)
        by = list(params.by)
        # The rule-based models credit the paths' journeys piece by piece: pieces of one journey, a few, or all.
        with mock.patch.object(paths_module, "PIECE_ROWS", piece_rows):
            database = attribution_report(session, config, params, engine="database")
        memory = attribution_report(session, config, params, engine="memory")
        assert_same_credits(database, memory, by)
        if "markov" in params.models:  # the chain behind the credits too: P and every removal effect
            assert database["markov"]["conversion_probability"] == pytest.approx(
                memory["markov"]["conversion_probability"], rel=1e-9, abs=1e-12)
            effects = {tuple(r[b] for b in params.by): r["removal_effect"] for r in memory["markov"]["removal_effects"]}
            assert {tuple(r[b] for b in params.by): pytest.approx(r["removal_effect"], rel=1e-9, abs=1e-12)
                    for r in database["markov"]["removal_effects"]} == effects
        for mode in ("database", "memory"):  # every conversion is credited once per model
            report = database if mode == "database" else memory
            for model in params.models:
                total = sum(r["conversions"] for r in report["rows"] if r["model"] == model)
                if not params.filters:
                    assert total == pytest.approx(report["counts"]["conversions"], rel=1e-9, abs=1e-9)

        gap_raw = {k: v for k, v in raw.items() if k in ("from", "to", "lookback_days", "conversion_type",
                                                           "since_previous_conversion", "self_report_as_first_touch")}
        gap_params = parse_params(gap_raw, config)
        gap_db = dark_funnel_report(session, config, gap_params, engine="database")
        gap_memory = dark_funnel_report(session, config, gap_params, engine="memory")
        for name in ("conversions", "answered", "dark", "by_channel", "first_touch_matrix", "last_touch_matrix"):
            assert gap_db[name] == gap_memory[name], name

        # The funnel: people by stage (and segment), its costs' credits, from both engines.
        funnel_raw = {k: v for k, v in gap_raw.items() if k != "conversion_type"}
        funnel_raw["model"] = "self_reported" if "self_reported" in raw["model"] else raw["model"].split(",")[-1]
        if raw["by"] in ("channel", "campaign"):
            funnel_raw["by"] = raw["by"]
        segment = raw["by"].split(",")[0]
        funnel_raw["segment"] = "self_reported" if raw["self_report_as_first_touch"] == "true" else segment
        funnel_params = parse_params(funnel_raw, config, default_models=("linear",))
        funnel_db = funnel_report(session, config, funnel_params, engine="database")
        funnel_memory = funnel_report(session, config, funnel_params, engine="memory")
        assert funnel_db["rows"] == funnel_memory["rows"]
        for got_period, want_period in zip(funnel_db["periods"], funnel_memory["periods"], strict=True):
            for name in ("sales", "revenue", "cycle_time_days", "cost_model"):
                assert got_period[name] == want_period[name], name
            got_costs = {r[funnel_params.by[0]]: r for r in got_period["costs"]}
            want_costs = {r[funnel_params.by[0]]: r for r in want_period["costs"]}
            assert got_costs.keys() == want_costs.keys()
            for key, row in want_costs.items():
                for column, value in row.items():
                    if isinstance(value, float):
                        assert got_costs[key][column] == pytest.approx(value, rel=1e-9, abs=1e-9), (key, column)
                    else:
                        assert got_costs[key][column] == value, (key, column)


@settings(max_examples=15, **DB_EXAMPLES)
@given(store=stores(), raw=report_params(), piece_rows=st.integers(1, 12))
def test_journey_pieces_are_the_journeys_cut_between_journeys(shop: Any, store: dict[str, Any], raw: dict[str, Any],
                                                              piece_rows: int) -> None:
    config = shop.config["SETTINGS"]
    with get_db(shop).Session() as session:
        write(session, store)
        params = parse_params(raw, config)
        paths = load_paths(session, config, start=params.period.start, end=params.period.end,
                           lookback_days=params.lookback_days, types=None, dims=list(ELEMENT_DIMENSIONS))
    first = params.self_report_as_first_touch
    whole = paths.journeys(self_report_as_first_touch=first)
    pieces = list(paths.journey_pieces(self_report_as_first_touch=first, rows=piece_rows))
    assert len(pieces) >= 1
    for piece in pieces[:-1]:  # whole journeys, each piece under its rows plus one path
        assert piece["position"].iloc[0] == 0 and len(piece) < piece_rows + max(piece["n_touches"])
    joined = pd.concat(pieces, ignore_index=True)
    for name in ELEMENT_DIMENSIONS:  # each piece keeps the categories it meets
        joined[name], whole[name] = joined[name].astype(object), whole[name].astype(object)
    pd.testing.assert_frame_equal(joined, whole)


@settings(max_examples=20, **DB_EXAMPLES)
@given(store=stores(), raw=report_params())
def test_paths_export_equals_the_in_memory_path_table(shop: Any, store: dict[str, Any], raw: dict[str, Any]) -> None:
    config = shop.config["SETTINGS"]
    raw = {k: v for k, v in raw.items() if k in ("from", "to", "lookback_days", "conversion_type", "by",
                                                 "since_previous_conversion", "self_report_as_first_touch")}
    with get_db(shop).Session() as session:
        write(session, store)
        params = parse_params(raw, config)
        report = paths_report(session, config, params)
        period, lookback = params.period, pd.Timedelta(days=params.lookback_days)
        types = [params.conversion_type] if params.conversion_type else None
        touches = load_touchpoints(session, config, period.start - lookback, period.end)
        history = load_conversions(session, period.start - lookback, period.end, types)
        conversions = history[history["ts"] >= period.start]
        if params.self_report_as_first_touch:
            answers = load_answers(session, config, period.start - lookback - pd.Timedelta(days=7),
                                   period.end + pd.Timedelta(days=7))
            conversions = tie_answers(conversions, answers)
        journeys = build_journeys(touches, history if params.since_previous_conversion else conversions,
                                  lookback=lookback, since_previous_conversion=params.since_previous_conversion)
        journeys = journeys[journeys["conversion_id"].isin(conversions["conversion_id"])].reset_index(drop=True)
        if params.self_report_as_first_touch:
            journeys = journeys.drop(columns=[c for c in ("answer_channel",) if c in journeys]).merge(
                conversions[["conversion_id", "answer_channel"]], on="conversion_id", how="left")
            journeys = self_report_as_first_touch(journeys)
        nulls = non_converting_journeys(load_touchpoints(session, config, period.start, period.end), history,
                                        start=period.start, end=period.end, lookback=lookback)
        by = [BY_COLUMNS[b] for b in params.by]
        expected = path_table(journeys, nulls, by) if len(journeys) or len(nulls) else \
            pd.DataFrame(columns=["path", "total_conversions", "total_conversion_value", "total_null"])
        got = pd.DataFrame(report["rows"], columns=report["columns"])
        assert list(got["path"]) == list(expected["path"])
        assert got["total_conversions"].tolist() == expected["total_conversions"].astype(int).tolist()
        assert got["total_null"].tolist() == expected["total_null"].astype(int).tolist()
        assert got["total_conversion_value"].astype(float).tolist() == pytest.approx(
            expected["total_conversion_value"].astype(float).tolist(), rel=1e-9, abs=1e-9)


@settings(max_examples=15, **DB_EXAMPLES)
@given(store=stores(), raw=report_params())
def test_time_decay_weights_per_path_add_up_to_its_credits(shop: Any, store: dict[str, Any],
                                                           raw: dict[str, Any]) -> None:
    """The intervals' time-decay replicator (per distinct path and answer) gives back the database's sums."""
    config = shop.config["SETTINGS"]
    with get_db(shop).Session() as session:
        write(session, store)
        params = parse_params({k: v for k, v in raw.items() if k not in FILTERS}, config)
        group = [BY_COLUMNS[b] for b in params.by]
        types = [params.conversion_type] if params.conversion_type else None
        answers, _ = _tied_answers(session, config, params.period, timedelta(days=params.lookback_days), types)
        window = {"start": params.period.start, "end": params.period.end, "lookback_days": params.lookback_days,
                  "types": types, "dims": group, "since_previous_conversion": params.since_previous_conversion,
                  "answers": answers}
        paths = load_paths(session, config, non_converting=True, **window)
        assert paths.stored_keys  # the key tables hold every touch's key: the touches were not read for them
        journeys = paths.journeys(self_report_as_first_touch=params.self_report_as_first_touch, non_converting=True)
        decay = time_decay_sums(session, config, half_life_days=params.half_life_days, per_path=paths,
                                self_report_as_first_touch=params.self_report_as_first_touch, **window)
        replicate = decay.replicator(journeys, group)
        credited, _ = replicate(*journey_counts(journeys))
        got = {tuple(k): c for k, c in zip(replicate.keys.itertuples(index=False), credited, strict=True) if c}
        sums = decay.sums.groupby(group, observed=True)["conversions"].sum()
        want = {(k if isinstance(k, tuple) else (k,)): c for k, c in sums.items() if c}
        assert got.keys() == want.keys()
        for key, value in want.items():
            assert got[key] == pytest.approx(value, rel=1e-9, abs=1e-12), key


def test_a_touch_at_the_lookback_bound_to_the_microsecond_is_in_the_journey(shop: Any) -> None:
    """SQLite's date functions round .999999 s up to the next second: the bound and the ages must not."""
    config = shop.config["SETTINGS"]
    conversion = BASE.replace(microsecond=999_999)
    touch = {"kind": "offline", "person": "p0", "bot": False, "link": 0, "via": "link", "source": None,
             "medium": None, "campaign": None, "host": None, "page": None, "is_touch": True,
             "offline_kind": "event", "channel": "Events", "campaign_ref": None}
    store = {"conversions": [{"person": "p0", "ts": conversion, "type": "lead", "value": 10}],
             "touches": [{**touch, "ts": conversion - timedelta(days=1)},  # exactly at the bound: in
                         {**touch, "ts": conversion - timedelta(days=1, microseconds=1), "channel": "PR"},  # out
                         {**touch, "ts": conversion - timedelta(hours=12), "channel": "Podcast"}],
             "answers": []}
    with get_db(shop).Session() as session:
        write(session, store)
        params = parse_params({"from": BASE.date().isoformat(), "to": BASE.date().isoformat(), "lookback_days": "1",
                               "model": "first_touch,time_decay", "half_life_days": "0.5"}, config)
        database = attribution_report(session, config, params, engine="database")
        memory = attribution_report(session, config, params, engine="memory")
    assert_same_credits(database, memory, ["channel"])
    rows = {(r["model"], r["channel"]): r["conversions"] for r in database["rows"]}
    assert rows[("first_touch", "Events")] == 1 and ("first_touch", "PR") not in rows
    # Ages of 24 h and 12 h with a half-life of 12 h: weights 1/4 and 1/2, normalised to 1/3 and 2/3.
    assert rows[("time_decay", "Events")] == pytest.approx(1 / 3, rel=1e-12)
