"""Markov, Shapley and bootstrap intervals through the service: API, CSV, CLI, pages, on SQLite and PostgreSQL.

The data: 60 people, each with one to three imported offline touches in May 2026 from a fixed cycle of
channels; every third person buys (value 100 x the number of touches). So there are converting and
non-converting journeys, enough of them for intervals.
"""
from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from accounts_support import make_key

from tracker.cli import main
from tracker.db import get_db

KINDS = ("event", "podcast", "print", "pr", "partner")
MAY = {"from": "2026-05-01", "to": "2026-05-31"}


def touches_csv(people: int) -> str:
    lines = ["customer_key,ts,kind"]
    for p in range(people):
        for k in range(1 + p % 3):
            lines.append(f"p{p}@example.com,2026-05-{2 + k + p % 7:02d}T10:00:00+02:00,{KINDS[(p + 2 * k) % 5]}")
    return "\n".join(lines) + "\n"


def conversions(people: int) -> list[dict[str, Any]]:
    return [{"external_id": f"order-{p}", "type": "purchase", "ts": "2026-05-20T12:00:00+02:00",
             "value": str(100 * (1 + p % 3)), "customer_key": f"p{p}@example.com"} for p in range(0, people, 3)]


def load(client: Any, auth: dict[str, str], people: int) -> None:
    resp = client.post("/api/v1/touchpoints/import", data=touches_csv(people).encode(),
                       headers={**auth, "Content-Type": "text/csv"})
    assert resp.status_code == 201, resp.json
    resp = client.post("/api/v1/conversions", json={"conversions": conversions(people)}, headers=auth)
    assert resp.status_code == 201, resp.json


@pytest.fixture
def data(client: Any, auth: dict[str, str]) -> None:
    load(client, auth, 60)


def get(client: Any, auth: dict[str, str], **params: Any) -> Any:
    return client.get("/api/v1/reports/attribution", query_string={**MAY, **params}, headers=auth)


def test_markov_and_shapley_credit_every_conversion_and_show_the_chain(client, auth, data):
    body = get(client, auth, model="linear,markov,shapley").json
    assert body["counts"]["conversions"] == 20
    for model in ("linear", "markov", "shapley"):
        rows = [r for r in body["rows"] if r["model"] == model]
        assert sum(r["conversions"] for r in rows) == pytest.approx(20, rel=1e-12)
        assert sum(r["value"] for r in rows) == pytest.approx(body["counts"]["value"], rel=1e-12)
        assert {r["channel"] for r in rows} <= {"Events", "Podcast", "Print", "PR", "Partner"}
    markov = body["markov"]
    assert markov["order"] == 1 and not markov["fell_back_to_linear"]
    assert 0 < markov["conversion_probability"] < 1
    assert {r["channel"] for r in markov["removal_effects"]} == {"Events", "Podcast", "Print", "PR", "Partner"}
    outgoing: dict[str, float] = {}
    for t in markov["transitions"]:
        outgoing[t["from"]] = outgoing.get(t["from"], 0.0) + t["probability"]
    assert outgoing == pytest.approx(dict.fromkeys(outgoing, 1.0), rel=1e-12)
    assert "(start)" in outgoing and "intervals" not in body and "comparison" not in body


def test_markov_order_2_has_no_transition_matrix(client, auth, data):
    body = get(client, auth, model="markov", markov_order="2").json
    assert body["markov"]["order"] == 2 and "transitions" not in body["markov"]
    assert sum(r["conversions"] for r in body["rows"]) == pytest.approx(20, rel=1e-12)


def test_intervals_are_reproducible_and_follow_the_parameters(client, auth, data):
    first = get(client, auth, model="linear,time_decay,markov,shapley", intervals="true", samples="50")
    again = get(client, auth, model="linear,time_decay,markov,shapley", intervals="true", samples="50")
    assert first.data == again.data  # seeded from the parameters: the same report, the same bytes
    body = first.json
    assert body["columns"][-4:] == ["conversions_low", "conversions_high", "value_low", "value_high"]
    assert body["intervals"]["samples"] == 50 and body["intervals"]["method"] == "bootstrap"
    for row in body["rows"]:
        assert row["conversions_low"] <= row["conversions"] <= row["conversions_high"], row
        assert row["value_low"] <= row["value"] <= row["value_high"], row
        assert row["conversions_high"] - row["conversions_low"] > 0, row  # 20 conversions are no certainty
    channels = {r["channel"] for r in body["rows"]}
    assert len(body["comparison"]) == 6 * len(channels)  # 4 models: 6 pairs, per channel
    for c in body["comparison"]:
        a = next(r for r in body["rows"] if r["model"] == c["model_a"] and r["channel"] == c["channel"])
        b = next(r for r in body["rows"] if r["model"] == c["model_b"] and r["channel"] == c["channel"])
        overlap = a["conversions_low"] <= b["conversions_high"] and b["conversions_low"] <= a["conversions_high"]
        assert c["differ"] is (not overlap)
    other = get(client, auth, model="linear,time_decay,markov,shapley", intervals="true", samples="51").json
    assert other["intervals"]["seed"] != body["intervals"]["seed"]


def test_intervals_as_csv(client, auth, data):
    resp = get(client, auth, model="shapley", intervals="true", samples="20", format="csv")
    rows = list(csv.DictReader(io.StringIO(resp.get_data(as_text=True))))
    assert list(rows[0]) == ["model", "channel", "conversions", "value", "share", "conversions_low",
                             "conversions_high", "value_low", "value_high"]
    assert all(float(r["conversions_low"]) <= float(r["conversions_high"]) for r in rows)


def test_intervals_need_enough_journeys(client, auth):
    load(client, auth, 6)  # 6 people: 2 conversions, 4 non-converting journeys
    resp = get(client, auth, model="linear", intervals="true")
    assert resp.status_code == 422
    assert resp.json["error"]["field"] == "intervals" and "at least 20 journeys" in resp.json["error"]["message"]


def test_shapley_refuses_journeys_past_the_player_cap(make_app):
    app = make_app(shapley_max_players=2)
    client = app.test_client()
    with get_db(app).Session() as session:
        auth = {"Authorization": f"Bearer {make_key(session, 'admin')}"}
    load(client, auth, 60)  # people with three touches have three channels
    resp = get(client, auth, model="shapley")
    assert resp.status_code == 422 and resp.json["error"]["field"] == "model"
    assert "shapley_max_players" in resp.json["error"]["message"]
    assert get(client, auth, model="markov").status_code == 200


def test_funnel_cost_metrics_under_markov(client, auth, data):
    resp = client.get("/api/v1/reports/funnel", query_string={**MAY, "model": "markov"}, headers=auth)
    assert resp.status_code == 200, resp.json
    period = resp.json["periods"][0]
    assert period["cost_model"] == "markov"
    assert sum(r["purchases"] or 0 for r in period["costs"]) == pytest.approx(20, rel=1e-12)


def test_cli_gives_intervals_and_names_bad_options(runner, client, auth, data):
    out = runner.invoke(main, ["report", "attribution", "--from", MAY["from"], "--to", MAY["to"], "--model", "markov",
                               "--intervals", "--samples", "20", "--format", "csv"])
    assert out.exit_code == 0, out.output
    assert out.output.splitlines()[0].endswith("conversions_low,conversions_high,value_low,value_high")
    bad = runner.invoke(main, ["report", "attribution", "--model", "markov", "--markov-order", "7"])
    assert bad.exit_code == 1 and "(--markov-order)" in bad.output
    bad = runner.invoke(main, ["report", "attribution", "--intervals", "--samples", "3000"])
    assert bad.exit_code == 1 and "between 20 and 2000" in bad.output and "(--samples)" in bad.output


def test_attribution_page_shows_the_chain_the_intervals_and_the_model_guide(signed_in, data):
    query = {**MAY, "model": ["linear", "markov"], "intervals": "true", "samples": "20"}
    page = signed_in.get("/reports/attribution", query_string=query).get_data(as_text=True)
    for marker in ('id="markov-panel"', 'id="removal-effects"', 'id="chart-transitions"', 'id="model-differences"',
                   'id="model-guide"', 'class="muted small interval"', 'id="credits-interval-linear"'):
        assert marker in page, marker
    assert "removal effect" in page and "Treats channels as players" in page
    svg = signed_in.get("/reports/attribution/transitions.svg", query_string=query)
    assert svg.status_code == 200 and svg.mimetype == "image/svg+xml"
    plain = signed_in.get("/reports/attribution/transitions.svg", query_string={**MAY, "model": "linear"})
    assert plain.status_code == 404  # no Markov model, no transition matrix


def test_models_json_is_the_same_over_two_calls(client, auth, data):
    one = get(client, auth, model="markov,shapley", markov_order="3").json
    two = get(client, auth, model="markov,shapley", markov_order="3").json
    assert json.dumps(one, sort_keys=True) == json.dumps(two, sort_keys=True)
