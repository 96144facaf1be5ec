"""The experiment report (API, CSV, CLI) on SQLite and PostgreSQL, over crafted clicks whose answer is known.

The test ``flyer`` (May 2026, report time zone Europe/Oslo):

- arm A (link a): people a1..a4 click once each; a1 clicks again; a bot clicks twice (left out); x clicks A on
  May 3 and B on May 4 (counted in A only: the first-arm rule); a5 clicks on June 1 (outside May).
  a1 becomes a lead 2 days after the click (counts); a2 40 days after (outside the 30-day lookback); a3 the day
  before the click (before the exposure); a4 only buys (not a lead).
- arm B (link b): b1..b3 click once; b1 is a lead a day later (value 0) and buys (500); b2 is a lead twice in the
  window (one converter, two conversions); b3 never converts.

So A: 6 exposures (a1 x2, a2, a3, a4, x), 5 people, 1 converter; B: 4 exposures (b1..b3, x), 3 people, 2 converters.
"""
from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from statsmodels.stats.proportion import proportion_confint

from tracker.experiments.service import ARM_COLUMNS

MAY = {"from": "2026-05-01", "to": "2026-05-31"}


def at(day: int, hour: float = 12.0) -> datetime:
    """A time in May 2026 (UTC): ``at(3, 10.5)`` is 3 May 10:30."""
    return datetime(2026, 5, day, tzinfo=UTC) + timedelta(hours=hour)


@pytest.fixture
def flyer(make_link: Any, campaign: dict[str, Any], add_clicks: Any, add_conversions: Any) -> dict[str, Any]:
    a = make_link(campaign=campaign["slug"], utm_content="flyer-a", experiment="flyer", variant="A", kind="print")
    b = make_link(campaign=campaign["slug"], utm_content="flyer-b", experiment="flyer", variant="B", kind="print")
    add_clicks(a["id"], [("a1", at(2)), ("a1", at(5)), ("a2", at(2)), ("a3", at(2)), ("a4", at(2)),
                         ("x", at(3)), ("a5", at(1, 0) + timedelta(days=31))], via="qr")
    add_clicks(a["id"], [("bot", at(2)), ("bot", at(3))], bot=True)
    add_clicks(b["id"], [("b1", at(2)), ("b2", at(2)), ("b3", at(2)), ("x", at(4))])
    add_conversions([("a1", at(4), "lead", 0), ("a2", at(2) + timedelta(days=40), "lead", 0),
                     ("a3", at(1), "lead", 0), ("a4", at(3), "purchase", 900),
                     ("b1", at(3), "lead", 0), ("b1", at(9), "purchase", 500),
                     ("b2", at(3), "lead", 0), ("b2", at(20), "lead", 0), ("bot", at(4), "lead", 0)])
    return {"a": a, "b": b}


def _get(client: Any, auth: dict[str, str], **params: Any) -> Any:
    return client.get("/api/v1/reports/experiments", query_string={**MAY, **params}, headers=auth)


def test_counts_rates_and_the_first_arm_rule(client: Any, auth: dict[str, str], flyer: dict[str, Any]) -> None:
    resp = _get(client, auth, experiment="flyer")
    assert resp.status_code == 200, resp.json
    report = resp.json
    arms = {row["arm"]: row for row in report["arms"]}
    assert [row["arm"] for row in report["arms"]] == ["A", "B"]
    assert {k: arms["A"][k] for k in ("exposures", "people", "converters", "conversions", "value")} == \
        {"exposures": 6, "people": 5, "converters": 1, "conversions": 1, "value": 0.0}
    assert {k: arms["B"][k] for k in ("exposures", "people", "converters", "conversions", "value")} == \
        {"exposures": 4, "people": 3, "converters": 2, "conversions": 3, "value": 0.0}
    assert arms["A"]["links"] == flyer["a"]["code"] and arms["A"]["is_control"] and report["control"] == "A"
    assert arms["B"]["rate"] == pytest.approx(2 / 3)
    assert (arms["B"]["rate_low"], arms["B"]["rate_high"]) == pytest.approx(proportion_confint(2, 3, method="wilson"))
    assert arms["B"]["lift"] == pytest.approx((2 / 3) / (1 / 5) - 1)
    assert arms["B"]["lift_low"] < arms["B"]["lift"] < arms["B"]["lift_high"]
    assert report["test"]["method"] == "two-proportion z-test" and 0 < report["test"]["p_value"] < 1
    assert report["comparisons"][0]["arm"] == "B" and report["comparisons"][0]["p_value"] == arms["B"]["p_value"]
    # 10 exposures, 3 converters: far below 100 per arm and 10 overall.
    assert report["verdict"] == "not enough data" and report["enough_data"] is False
    assert report["not_enough_data_because"] == ["fewer than 100 exposures in A, B",
                                                 "fewer than 10 conversions over all arms (3)"]
    assert report["sample_size"]["needed_per_arm"] > 5 and report["sample_size"]["for_arm"] == "B"
    assert report["sample_size"]["more_needed"] == report["sample_size"]["needed_per_arm"] - 3
    assert "counts in the first one only" in report["notes"][0] and "1 person saw more than one arm" in \
        report["notes"][0]
    assert report["parameters"]["conversion_type"] == "lead" and report["parameters"]["lookback_days"] == 30


def test_lookback_conversion_type_and_value(client: Any, auth: dict[str, str], flyer: dict[str, Any]) -> None:
    longer = {r["arm"]: r for r in _get(client, auth, experiment="flyer", lookback_days="60").json["arms"]}
    assert longer["A"]["converters"] == 2  # a2's lead 40 days after the click
    purchases = {r["arm"]: r for r in _get(client, auth, experiment="flyer", conversion_type="purchase").json["arms"]}
    assert (purchases["A"]["converters"], purchases["A"]["value"]) == (1, 900.0)  # a4
    assert (purchases["B"]["converters"], purchases["B"]["value"]) == (1, 500.0)  # b1
    assert purchases["B"]["value_per_exposure"] == pytest.approx(500 / 4)
    every = {r["arm"]: r for r in _get(client, auth, experiment="flyer", conversion_type="all").json["arms"]}
    assert (every["A"]["converters"], every["B"]["converters"], every["B"]["conversions"]) == (2, 2, 4)
    zero = {r["arm"]: r for r in _get(client, auth, experiment="flyer", lookback_days="0").json["arms"]}
    assert zero["A"]["converters"] == zero["B"]["converters"] == 0


def test_period_moves_people(client: Any, auth: dict[str, str], flyer: dict[str, Any]) -> None:
    # From May 4 (Oslo) only a1's second click and x's click on B are in: x is now B's.
    arms = {r["arm"]: r for r in _get(client, auth, experiment="flyer", **{"from": "2026-05-04"}).json["arms"]}
    assert (arms["A"]["exposures"], arms["A"]["people"], arms["B"]["exposures"], arms["B"]["people"]) == (1, 1, 1, 1)
    june = {r["arm"]: r for r in _get(client, auth, experiment="flyer", **{"from": "2026-06-01",
                                                                           "to": "2026-06-30"}).json["arms"]}
    assert june["A"]["people"] == 1 and june["B"]["people"] == 0


def test_control_parameter_and_campaign(client: Any, auth: dict[str, str], flyer: dict[str, Any],
                                        campaign: dict[str, Any]) -> None:
    report = _get(client, auth, experiment="flyer", control="b").json
    assert report["control"] == "B" and report["arms"][0]["lift"] == pytest.approx((1 / 5) / (2 / 3) - 1)
    by_campaign = _get(client, auth, campaign=campaign["slug"]).json
    assert by_campaign["experiment"] == "flyer" and by_campaign["arms_named_by"] == "variant"


def test_implicit_arms_from_utm_content(client: Any, auth: dict[str, str], make_link: Any, add_clicks: Any,
                                        add_conversions: Any) -> None:
    client.post("/api/v1/campaigns", json={"name": "Posters"}, headers=auth)
    red = make_link(campaign="posters", utm_content="red", utm_medium="print", utm_source="bus")
    blue = make_link(campaign="posters", utm_content="blue", utm_medium="print", utm_source="bus")
    make_link(campaign="posters", utm_content="other", utm_medium="print", utm_source="tram")  # not an arm
    add_clicks(red["id"], [(f"r{i}", at(3)) for i in range(4)])
    add_clicks(blue["id"], [(f"b{i}", at(3)) for i in range(2)])
    add_conversions([("r0", at(4), "lead", 0)])
    report = _get(client, auth, campaign="posters").json
    assert report["arms_named_by"] == "utm_content" and report["experiment"] is None
    assert [(r["arm"], r["people"], r["converters"]) for r in report["arms"]] == [("blue", 2, 0), ("red", 4, 1)]
    assert report["control"] == "blue"  # no variant A: the first arm alphabetically
    listed = client.get("/api/v1/reports/experiments/list", headers=auth).json["items"]
    assert {"experiment": None, "campaign": "posters", "label": "Posters (utm_content)",
            "arms": ["blue", "red"]} in listed


def test_a_clear_winner(add_clicks: Any, add_conversions: Any, client: Any, auth: dict[str, str],
                        make_link: Any) -> None:
    a = make_link(experiment="cta", variant="A", utm_content="cta-a")
    b = make_link(experiment="cta", variant="B", utm_content="cta-b")
    add_clicks(a["id"], [(f"pa{i}", at(2, i / 100)) for i in range(300)])
    add_clicks(b["id"], [(f"pb{i}", at(2, i / 100)) for i in range(300)])
    add_conversions([(f"pa{i}", at(3), "lead", 0) for i in range(15)] +
                    [(f"pb{i}", at(3), "lead", 0) for i in range(45)])
    report = _get(client, auth, experiment="cta").json
    assert report["verdict"] == "B beats A" and report["winner"] == "B" and report["enough_data"]
    assert report["test"]["p_value"] < 0.001 and report["arms"][1]["lift"] == pytest.approx(2.0)


def test_csv_is_the_arm_table(client: Any, auth: dict[str, str], flyer: dict[str, Any]) -> None:
    resp = _get(client, auth, experiment="flyer", format="csv")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    assert 'filename="experiment-flyer_2026-05-01_2026-05-31.csv"' in resp.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(resp.get_data(as_text=True))))
    assert list(rows[0]) == ARM_COLUMNS
    assert [(r["arm"], r["exposures"], r["people"], r["converters"]) for r in rows] == [("A", "6", "5", "1"),
                                                                                          ("B", "4", "3", "2")]
    assert rows[0]["lift"] == "" and rows[0]["is_control"] == "True"


@pytest.mark.parametrize(("role", "status"), [(None, 401), ("marketer", 403), ("staff", 403), ("ingest", 403),
                                              ("analyst", 200), ("admin", 200)])
def test_roles(client: Any, role_key: Any, flyer: dict[str, Any], role: str | None, status: int) -> None:
    headers = {"Authorization": f"Bearer {role_key(role)}"} if role else {}
    for path in ("/api/v1/reports/experiments", "/api/v1/reports/experiments/list"):
        resp = client.get(path, query_string={"experiment": "flyer"} if path.endswith("experiments") else {},
                          headers=headers)
        assert resp.status_code == status, (path, resp.json)


@pytest.mark.parametrize(("params", "status", "field"), [
    ({}, 422, "experiment"),
    ({"experiment": "flyer", "campaign": "oslo-expo-2026"}, 422, "campaign"),
    ({"experiment": "nope"}, 404, "experiment"),
    ({"campaign": "nope"}, 404, "campaign"),
    ({"campaign": "oslo-expo-2026", "from": "May 1"}, 422, "from"),
    ({"experiment": "flyer", "to": "2026-04-01"}, 422, "to"),
    ({"experiment": "flyer", "lookback_days": "999"}, 422, "lookback_days"),
    ({"experiment": "flyer", "conversion_type": "signup"}, 422, "conversion_type"),
    ({"experiment": "flyer", "control": "Z"}, 422, "control"),
    ({"experiment": "flyer", "format": "xml"}, 422, "format"),
    ({"experiment": "flyer", "model": "linear"}, 422, "model"),
])
def test_bad_input_names_the_field(client: Any, auth: dict[str, str], flyer: dict[str, Any], params: dict[str, str],
                                   status: int, field: str) -> None:
    resp = client.get("/api/v1/reports/experiments", query_string={**MAY, **params} if params else {},
                      headers=auth)
    assert resp.status_code == status, resp.json
    assert resp.json["error"]["field"] == field, resp.json


def test_a_campaign_without_a_test_and_a_one_arm_experiment(client: Any, auth: dict[str, str], make_link: Any,
                                                            campaign: dict[str, Any]) -> None:
    resp = _get(client, auth, campaign=campaign["slug"])
    assert resp.status_code == 422 and resp.json["error"]["field"] == "campaign"
    make_link(experiment="solo", variant="A")
    resp = _get(client, auth, experiment="solo")
    assert resp.status_code == 422 and "one arm" in resp.json["error"]["message"]


def test_cli(runner: Any, flyer: dict[str, Any], tmp_path: Any) -> None:
    result = runner.invoke(args=["report", "experiments", "--experiment", "flyer", "--from", "2026-05-01",
                                 "--to", "2026-05-31"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert [r["people"] for r in report["arms"]] == [5, 3] and report["verdict"] == "not enough data"
    target = tmp_path / "arms.csv"
    result = runner.invoke(args=["report", "experiments", "--experiment", "flyer", "--from", "2026-05-01",
                                 "--to", "2026-05-31", "--format", "csv", "-o", str(target)])
    assert result.exit_code == 0 and target.read_text().startswith(",".join(ARM_COLUMNS))
    bad = runner.invoke(args=["report", "experiments", "--experiment", "flyer", "--lookback-days", "-1"])
    assert bad.exit_code != 0 and "(--lookback-days)" in bad.output
    missing = runner.invoke(args=["report", "experiments", "--experiment", "nope"])
    assert missing.exit_code != 0 and "(--experiment)" in missing.output
    assert "experiments" in runner.invoke(args=["report", "--help"]).output
