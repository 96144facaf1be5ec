"""Report API and CLI: hand-computed attribution, dark-funnel and funnel numbers on SQLite and PostgreSQL.

The data set (May 2026, report time zone Europe/Oslo, +02:00):

- ada: event touch May 2, email touch May 5, podcast touch May 9; lead May 3; purchase May 10 (300),
  answered "podcast" with the purchase's id;
- ben: print touch April 1 (read, but outside the purchase's 30-day lookback), PR touch May 15;
  purchase May 20 (100); said "a colleague told me" two days later (tied by time, Word of mouth);
- cy: purchase May 12 (50), no touch at all (journey [Direct]);
- dag: partner touch May 25; purchase June 1 at 00:30 Oslo time (May 31 in UTC): outside May.
"""
from __future__ import annotations

import csv
import io
import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tracker.cli import main

TOUCHES = (
    "customer_key,ts,kind,channel,campaign,label\n"
    "ada@example.com,2026-05-02T10:00:00+02:00,event,,oslo-expo-2026,Booth 12\n"
    "ada@example.com,2026-05-05T10:00:00+02:00,,Email,,Newsletter reply\n"
    "ada@example.com,2026-05-09T10:00:00+02:00,podcast,,,Promo code\n"
    "ben@example.com,2026-04-01T12:00:00+02:00,print,,,Poster\n"
    "ben@example.com,2026-05-15T10:00:00+02:00,pr,,,Interview\n"
    "dag@example.com,2026-05-25T10:00:00+02:00,partner,,,Reseller\n"
)
CONVERSIONS = [
    {"external_id": "deal-ada", "type": "lead", "ts": "2026-05-03T09:00:00+02:00", "customer_key": "ada@example.com"},
    {"external_id": "deal-ada", "type": "purchase", "ts": "2026-05-10T12:00:00+02:00", "value": "300",
     "customer_key": "ada@example.com"},
    {"external_id": "deal-ben", "type": "purchase", "ts": "2026-05-20T12:00:00+02:00", "value": "100",
     "customer_key": "ben@example.com"},
    {"external_id": "deal-cy", "type": "purchase", "ts": "2026-05-12T12:00:00+02:00", "value": "50",
     "customer_key": "cy@example.com"},
    {"external_id": "deal-dag", "type": "purchase", "ts": "2026-06-01T00:30:00+02:00", "value": "1000",
     "customer_key": "dag@example.com"},
]
MAY = {"from": "2026-05-01", "to": "2026-05-31"}


@pytest.fixture
def data(client: Any, auth: dict[str, str], campaign: dict[str, Any]) -> dict[str, Any]:
    resp = client.post("/api/v1/touchpoints/import", data=TOUCHES.encode(),
                       headers={**auth, "Content-Type": "text/csv"})
    assert resp.status_code == 201, resp.json
    resp = client.post("/api/v1/conversions", json={"conversions": CONVERSIONS}, headers=auth)
    assert resp.status_code == 201, resp.json
    for answer in ({"option": "podcast", "conversion_external_id": "deal-ada", "customer_key": "ada@example.com",
                    "ts": "2026-05-10T12:05:00+02:00"},
                   {"text": "a colleague told me", "customer_key": "ben@example.com",
                    "ts": "2026-05-22T12:00:00+02:00"}):
        resp = client.post("/api/v1/self-reports", json=answer, headers=auth)
        assert resp.status_code == 201, resp.json
    resp = client.post(f"/api/v1/campaigns/{campaign['id']}/costs",
                       json={"date": "2026-05-02", "amount": "1000", "channel": "Events"}, headers=auth)
    assert resp.status_code == 201, resp.json
    return campaign


def report(client: Any, auth: dict[str, str], name: str, **params: Any) -> Any:
    resp = client.get(f"/api/v1/reports/{name}", query_string=params, headers=auth)
    assert resp.status_code == 200, resp.json
    return resp


def credits(body: dict[str, Any], model: str, key: str = "channel") -> dict[str, tuple[float, float]]:
    return {row[key]: (round(row["conversions"], 9), round(row["value"], 9))
            for row in body["rows"] if row["model"] == model}


def test_first_last_linear_side_by_side(client, auth, data):
    body = report(client, auth, "attribution", conversion_type="purchase", **MAY).json
    assert credits(body, "first_touch") == {"Events": (1, 300), "PR": (1, 100), "Direct": (1, 50)}
    assert credits(body, "last_touch") == {"Podcast": (1, 300), "PR": (1, 100), "Direct": (1, 50)}
    third = round(1 / 3, 9)
    assert credits(body, "linear") == {"Events": (third, 100), "Email": (third, 100), "Podcast": (third, 100),
                                       "PR": (1, 100), "Direct": (1, 50)}
    assert body["parameters"]["models"] == ["first_touch", "last_touch", "linear"]
    assert body["parameters"]["from"] == "2026-05-01" and body["parameters"]["lookback_days"] == 30
    assert body["timezone"] == "Europe/Oslo" and body["currency"] == "NOK"
    assert any(rule["channel"] == "Events" for rule in body["taxonomy"]["rules"])
    # dag's purchase is June 1 in Oslo (May 31 in UTC): not in May. ben's April touch is read (it is in
    # the window's reach: May 1 - 30 days) but before his lookback: touches_read counts the journeys' touches.
    assert body["counts"] == {"conversions": 3, "value": 450.0, "no_touch": 1, "with_answer": 0,
                              "touches_read": 4, "answers_read": 0}
    shares = {row["channel"]: row["share"] for row in body["rows"] if row["model"] == "first_touch"}
    assert shares == pytest.approx({"Events": 1 / 3, "PR": 1 / 3, "Direct": 1 / 3})


def test_every_model_credits_all_conversions_and_value(client, auth, data):
    models = "first_touch,last_touch,last_non_direct,linear,time_decay,position_based,self_reported"
    body = report(client, auth, "attribution", model=models, **MAY).json
    for model in models.split(","):
        rows = [r for r in body["rows"] if r["model"] == model]
        assert sum(r["conversions"] for r in rows) == pytest.approx(4)  # ada's lead too
        assert sum(r["value"] for r in rows) == pytest.approx(450)


def test_self_reported_model_states_its_fallback(client, auth, data):
    body = report(client, auth, "attribution", model="self_reported", conversion_type="purchase", **MAY).json
    # ada said podcast (tied by id); ben's answer came two days later (tied by time); cy fell back to last touch.
    assert credits(body, "self_reported") == {"Podcast": (1, 300), "Word of mouth": (1, 100), "Direct": (1, 50)}
    assert body["counts"]["self_reported_fell_back"] == 1
    assert body["counts"]["self_reported_fallback_model"] == "last_touch"
    assert body["counts"]["with_answer"] == 2


def test_self_report_as_first_touch_lets_linear_credit_the_dark_channel(client, auth, data):
    body = report(client, auth, "attribution", model="linear", conversion_type="purchase",
                  self_report_as_first_touch="true", **MAY).json
    assert credits(body, "linear") == {"Podcast": (0.5, 150), "Events": (0.25, 75), "Email": (0.25, 75),
                                       "Word of mouth": (0.5, 50), "PR": (0.5, 50), "Direct": (1, 50)}


def test_by_campaign_and_kind_and_filters(client, auth, data):
    body = report(client, auth, "attribution", model="first_touch", by="campaign,kind",
                  conversion_type="purchase", **MAY).json
    rows = {(r["campaign"], r["kind"]): r["conversions"] for r in body["rows"]}
    # Missing values are named (GA4): the PR touch has no campaign, the [Direct] journey none of them.
    assert rows == {("oslo-expo-2026", "event"): 1, ("(not set)", "pr"): 1, ("(direct)", "(none)"): 1}
    filtered = report(client, auth, "attribution", model="linear", by="kind", kind="event", **MAY).json
    assert [(r["kind"], round(r["conversions"], 6)) for r in filtered["rows"]] == [("event", round(1 + 1 / 3, 6))]


def test_lookback_and_since_previous_conversion(client, auth, data):
    short = report(client, auth, "attribution", model="first_touch", conversion_type="purchase",
                   lookback_days="3", **MAY).json
    assert credits(short, "first_touch") == {"Podcast": (1, 300), "Direct": (2, 150)}
    # With every type, ada's lead (May 3) ends the purchase journey's reach back only with the option.
    both = report(client, auth, "attribution", model="first_touch", since_previous_conversion="true", **MAY).json
    assert credits(both, "first_touch")["Events"] == (2, 300)  # types differ: the lead does not cut the purchase


def test_csv_download(client, auth, data):
    resp = report(client, auth, "attribution", model="linear", format="csv", **MAY)
    assert resp.mimetype == "text/csv"
    assert 'filename="attribution_2026-05-01_2026-05-31.csv"' in resp.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(resp.get_data(as_text=True))))
    assert list(rows[0]) == ["model", "channel", "conversions", "value", "share"]
    assert sum(float(r["value"]) for r in rows) == pytest.approx(450)


def test_dark_funnel(client, auth, data):
    body = report(client, auth, "dark-funnel", conversion_type="purchase", **MAY).json
    assert (body["conversions"], body["answered"], body["dark"]) == (3, 2, 1)
    assert body["answer_rate"] == pytest.approx(2 / 3) and body["dark_share"] == pytest.approx(0.5)
    assert body["by_channel"] == [
        {"self_reported_channel": "Podcast", "answered": 1, "dark": 0, "dark_share": 0.0},
        {"self_reported_channel": "Word of mouth", "answered": 1, "dark": 1, "dark_share": 1.0}]
    assert body["first_touch_matrix"] == {"rows": ["Podcast", "Word of mouth"], "columns": ["Events", "PR"],
                                          "cells": [[1, 0], [0, 1]]}
    assert body["last_touch_matrix"]["columns"] == ["PR", "Podcast"]
    csv_text = report(client, auth, "dark-funnel", format="csv", **MAY).get_data(as_text=True)
    assert csv_text.splitlines()[0] == "self_reported_channel,answered,dark,dark_share"


def test_funnel_stages_costs_and_comparison(client, auth, data):
    body = report(client, auth, "funnel", compare_from="2026-04-01", compare_to="2026-04-30", **MAY).json
    assert body["stages"] == ["entry", "lead", "opportunity", "purchase"]
    may, april = body["periods"]
    # Entry: ada, ben, dag (touches in May) and cy (bought, so reached every stage before too).
    assert [(s["stage"], s["people"]) for s in may["stages"]] == [
        ("entry", 4), ("lead", 3), ("opportunity", 3), ("purchase", 3)]
    assert may["stages"][1]["rate"] == pytest.approx(75) and may["stages"][1]["drop_off"] == pytest.approx(25)
    assert may["overall_rate"] == pytest.approx(75)
    assert may["sales"] == 3 and may["revenue"] == 450 and may["average_sale_value"] == pytest.approx(150)
    # First touch ever to purchase: ada 8 days 2 hours (May 2 10:00 -> May 10 12:00), ben 49 days
    # (April 1 -> May 20, his poster is before the period but is his first touch); cy has no touch.
    days = (8 + 2 / 24 + 49) / 2
    assert may["cycle_time_days"] == {"buyers": 3, "with_touch": 2, "median_days": pytest.approx(days),
                                      "mean_days": pytest.approx(days)}
    events = next(row for row in may["costs"] if row["channel"] == "Events")
    assert events["cost"] == 1000 and events["leads"] == 1 and events["cost_per_lead"] == 1000
    assert events["purchases"] == pytest.approx(1 / 3) and events["revenue"] == pytest.approx(100)
    assert events["cost_per_acquisition"] == pytest.approx(3000) and events["roas"] == pytest.approx(0.1)
    assert april["period"] == {"from": "2026-04-01", "to": "2026-04-30"}
    assert [(s["stage"], s["people"]) for s in april["stages"]][0] == ("entry", 1)  # ben's poster
    assert {row["period"] for row in body["rows"]} == {"current", "previous"}


def test_funnel_segmented_by_first_touch_channel(client, auth, data):
    body = report(client, auth, "funnel", segment="channel", **MAY).json
    entry = {s["segment"]: s["people"] for s in body["periods"][0]["stages"] if s["stage"] == "entry"}
    assert entry == {"Events": 1, "PR": 1, "Partner": 1, "(none)": 1}
    by_answer = report(client, auth, "funnel", segment="self_reported", **MAY).json
    lead = {s["segment"]: s["people"] for s in by_answer["periods"][0]["stages"] if s["stage"] == "lead"}
    assert lead == {"Podcast": 1, "Word of mouth": 1, "(none)": 1}


def test_a_click_is_one_touch_and_its_landing_visit_none(make_app, auth_for, make_link_for):
    app = make_app(landing_origins=("https://www.example.com",))
    client, auth = app.test_client(), auth_for(app)
    link = make_link_for(client, auth)
    resp = client.get(f"/r/{link['code']}", headers={"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/125.0"})
    tid = parse_qs(urlsplit(resp.headers["Location"]).query)["tid"][0]
    app.extensions["tracker.redirects"]["spool"].drain()
    svid = "0123456789abcdef0123456789abcdef"
    visit = {"type": "visit", "site_visitor_id": svid, "url": "https://www.example.com/landing", "tid": tid}
    assert client.post("/collect", json=visit, headers={"Origin": "https://www.example.com"}).status_code == 204
    later = {"type": "visit", "site_visitor_id": svid, "url": "https://www.example.com/pricing",
             "referrer": "https://www.google.com/"}
    assert client.post("/collect", json=later, headers={"Origin": "https://www.example.com"}).status_code == 204
    resp = client.post("/api/v1/conversions", json={"external_id": "x1", "type": "lead", "site_visitor_id": svid},
                       headers=auth)
    assert resp.status_code == 201
    body = client.get("/api/v1/reports/attribution", query_string={"model": "first_touch,last_touch"},
                      headers=auth).json
    assert credits(body, "first_touch") == {"Email": (1, 0)}   # the click (utm_medium email)
    assert credits(body, "last_touch") == {"Organic search": (1, 0)}  # the later visit from Google
    assert body["counts"]["touches_read"] == 2  # the click and the Google visit; the tid visit is no touch


@pytest.fixture
def auth_for():
    from accounts_support import bearer, make_key

    from tracker.db import get_db

    def make(app: Any) -> dict[str, str]:
        with get_db(app).Session() as s:
            return bearer(make_key(s, "admin"))
    return make


@pytest.fixture
def make_link_for():
    def make(client: Any, auth: dict[str, str]) -> dict[str, Any]:
        resp = client.post("/api/v1/links", json={"destination": "https://www.example.com/landing",
                                                  "utm_source": "newsletter", "utm_medium": "email",
                                                  "utm_campaign": "spring"}, headers=auth)
        assert resp.status_code == 201, resp.json
        return resp.json
    return make


@pytest.mark.parametrize(("name", "params", "field"), [
    ("attribution", {"model": "bayes"}, "model"),
    ("attribution", {"model": "markov", "markov_order": "9"}, "markov_order"),
    ("attribution", {"model": "linear", "intervals": "true", "samples": "5"}, "samples"),
    ("attribution", {"from": "2026-02-30"}, "from"),
    ("attribution", {"by": "weather"}, "by"),
    ("attribution", {"format": "xml"}, "format"),
    ("attribution", {"segment": "channel"}, "segment"),
    ("dark-funnel", {"model": "linear"}, "model"),
    ("funnel", {"model": "linear,first_touch"}, "model"),
    ("funnel", {"by": "kind"}, "by"),
    ("funnel", {"conversion_type": "lead"}, "conversion_type"),
    ("funnel", {"compare_from": "2026-05-01", "compare_to": "2026-04-01"}, "compare_to"),
    ("paths", {"model": "linear"}, "model"),
    ("paths", {"by": "weather"}, "by"),
    ("paths", {"lookback_days": "400"}, "lookback_days"),
])
def test_bad_parameters_are_422_naming_the_field(client, auth, name, params, field):
    resp = client.get(f"/api/v1/reports/{name}", query_string=params, headers=auth)
    assert resp.status_code == 422, resp.json
    assert resp.json["error"]["field"] == field


@pytest.mark.parametrize("name", ["attribution", "dark-funnel", "funnel", "paths"])
def test_reports_need_a_key(client, name):
    resp = client.get(f"/api/v1/reports/{name}")
    assert resp.status_code == 401 and resp.json["error"]["code"] == "unauthorized"


def test_empty_window(client, auth):
    body = report(client, auth, "attribution", **MAY).json
    assert body["rows"] == [] and body["counts"]["conversions"] == 0
    gap = report(client, auth, "dark-funnel", **MAY).json
    assert gap["answer_rate"] is None and gap["dark_share"] is None
    funnel = report(client, auth, "funnel", **MAY).json
    assert [s["people"] for s in funnel["periods"][0]["stages"]] == [0, 0, 0, 0]


def test_cli_reports(runner, data, tmp_path):
    result = runner.invoke(main, ["report", "attribution", "--model", "linear", "--by", "channel",
                                  "--from", "2026-05-01", "--to", "2026-05-31", "--conversion-type", "purchase",
                                  "--format", "csv"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.output)))
    assert {r["channel"] for r in rows} == {"Events", "Email", "Podcast", "PR", "Direct"}
    out = tmp_path / "funnel.json"
    result = runner.invoke(main, ["report", "funnel", "--from", "2026-05-01", "--to", "2026-05-31", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["periods"][0]["sales"] == 3
    gap = runner.invoke(main, ["report", "dark-funnel", "--from", "2026-05-01", "--to", "2026-05-31"])
    # ada's answer carries the deal id, so it is tied to her lead too, whose journey (May 2 expo) lacks Podcast.
    assert gap.exit_code == 0 and json.loads(gap.output)["dark"] == 2
    bad = runner.invoke(main, ["report", "attribution", "--model", "bayes"])
    assert bad.exit_code == 1 and "model 'bayes' is not one of" in bad.output and "(--model)" in bad.output


def test_paths_export_is_channelattributions_input(client, auth, runner, data):
    """Distinct paths with conversions, value and non-converting journeys; CSV with ';' as ChannelAttribution's."""
    body = report(client, auth, "paths", conversion_type="purchase", **MAY).json
    assert body["columns"] == ["path", "total_conversions", "total_conversion_value", "total_null"]
    rows = {r["path"]: (r["total_conversions"], r["total_conversion_value"]) for r in body["rows"]}
    assert rows["Events > Email > Podcast"] == (1, 300.0) and rows["PR"] == (1, 100.0)
    assert rows["Direct"] == (1, 50.0)  # the purchase without a tracked touch
    assert sum(r["total_conversions"] for r in body["rows"]) == body["counts"]["conversions"] == 3
    assert all(r["total_null"] >= 0 for r in body["rows"]) and body["counts"]["paths"] == len(body["rows"])
    text = report(client, auth, "paths", conversion_type="purchase", format="csv", **MAY).data.decode()
    assert text.splitlines()[0] == "path;total_conversions;total_conversion_value;total_null"
    assert "Events > Email > Podcast;1;300.0;" in text
    result = runner.invoke(main, ["report", "paths", "--from", "2026-05-01", "--to", "2026-05-31",
                                  "--conversion-type", "purchase", "--format", "csv"])
    assert result.exit_code == 0 and result.output == text
    bad = runner.invoke(main, ["report", "paths", "--by", "weather"])
    assert bad.exit_code == 1 and "(--by)" in bad.output
