"""Cohort API and CLI: hand-computed retention, revenue, LTV and churn on SQLite and PostgreSQL.

The data set (report time zone Europe/Oslo: +01:00 in winter, +02:00 from March 29, 2026), as of
2026-04-30 (the report ends May 1, 00:00 Oslo; January to April have ended):

- ada: Email touch Jan 5; purchases Jan 10 (100), Feb 15 (50), Apr 2 (30). Cohort 2026-01, Email.
  Answers "podcast" on Jan 11, then "email" (free text) on Mar 1: her earliest answer is Podcast.
- ben: event touch Jan 20; purchases Feb 1 00:30 Oslo (Jan 31 in UTC) (200) and Mar 1 00:10 Oslo (Feb 28 in
  UTC) (60). Cohort 2026-02 (not January), Events; the second purchase is month 1, 28 days later.
  Said "a colleague told me" (Word of mouth).
- cy: purchase Jan 20 (80), then a podcast touch Jan 25: a touch after the first purchase did not
  acquire her, so Direct. Her last purchase is more than 90 days before the end: churned.
- dag: podcast touch Jan 2, email touch Feb 3, a lead on Dec 1 (not a purchase); purchase Feb 10 (40).
  Cohort 2026-02, Podcast (his first touch ever).
- eva: purchases 2025-12-15 (10) and Jan 15 (20): her cohort is December, outside from=2026-01.
"""
from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest

from tracker.cli import main

TOUCHES = (
    "customer_key,ts,kind,channel,campaign,label\n"
    "ada@example.com,2026-01-05T10:00:00+01:00,,Email,,Newsletter\n"
    "ben@example.com,2026-01-20T10:00:00+01:00,event,,,Booth\n"
    "cy@example.com,2026-01-25T10:00:00+01:00,podcast,,,Episode\n"
    "dag@example.com,2026-01-02T10:00:00+01:00,podcast,,,Episode\n"
    "dag@example.com,2026-02-03T10:00:00+01:00,,Email,,Newsletter\n"
)


def _purchase(who: str, n: int, ts: str, value: str, kind: str = "purchase") -> dict[str, Any]:
    return {"external_id": f"{who}-{n}", "type": kind, "ts": ts, "value": value, "customer_key": f"{who}@example.com"}


CONVERSIONS = [
    _purchase("ada", 1, "2026-01-10T12:00:00+01:00", "100"), _purchase("ada", 2, "2026-02-15T12:00:00+01:00", "50"),
    _purchase("ada", 3, "2026-04-02T12:00:00+02:00", "30"),
    _purchase("ben", 1, "2026-02-01T00:30:00+01:00", "200"), _purchase("ben", 2, "2026-03-01T00:10:00+01:00", "60"),
    _purchase("cy", 1, "2026-01-20T12:00:00+01:00", "80"),
    _purchase("dag", 0, "2025-12-01T12:00:00+01:00", "0", "lead"),
    _purchase("dag", 1, "2026-02-10T12:00:00+01:00", "40"),
    _purchase("eva", 1, "2025-12-15T12:00:00+01:00", "10"), _purchase("eva", 2, "2026-01-15T12:00:00+01:00", "20"),
]
BASE = {"from": "2026-01", "to": "2026-02", "as_of": "2026-04-30", "months": "6"}


@pytest.fixture
def data(client: Any, auth: dict[str, str]) -> None:
    resp = client.post("/api/v1/touchpoints/import", data=TOUCHES.encode(),
                       headers={**auth, "Content-Type": "text/csv"})
    assert resp.status_code == 201, resp.json
    resp = client.post("/api/v1/conversions", json={"conversions": CONVERSIONS}, headers=auth)
    assert resp.status_code == 201, resp.json
    for answer in ({"option": "podcast", "customer_key": "ada@example.com", "ts": "2026-01-11T12:00:00+01:00"},
                   {"text": "email", "customer_key": "ada@example.com", "ts": "2026-03-01T12:00:00+01:00"},
                   {"text": "a colleague told me", "customer_key": "ben@example.com",
                    "ts": "2026-02-02T12:00:00+01:00"}):
        resp = client.post("/api/v1/self-reports", json=answer, headers=auth)
        assert resp.status_code == 201, resp.json


def cohorts(client: Any, auth: dict[str, str], **params: Any) -> dict[str, Any]:
    resp = client.get("/api/v1/reports/cohorts", query_string={**BASE, **params}, headers=auth)
    assert resp.status_code == 200, resp.json
    return resp.json  # type: ignore[no-any-return]


def by_key(rows: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r["cohort"], r["channel"]): r for r in rows}


def test_hand_computed_cohorts(client, auth, data):
    body = cohorts(client, auth)
    rows = by_key(body["cohorts"])
    assert set(rows) == {("2026-01", "Email"), ("2026-01", "Direct"), ("2026-02", "Events"), ("2026-02", "Podcast")}
    ada = rows[("2026-01", "Email")]
    # January's cohort: January to April have ended (months 0-3); May and June are blank, never 0.
    assert ada["size"] == 1 and ada["months_ended"] == 4
    assert ada["customers"] == [1, 1, 0, 1, None, None]
    assert ada["retention"] == [1.0, 1.0, 0.0, 1.0, None, None]
    assert ada["revenue_per_customer"] == [100.0, 150.0, 150.0, 180.0, None, None]
    # Every January customer is at least 89 days old on May 1: LTV at 30 days only.
    assert (ada["ltv_30"], ada["ltv_90"], ada["ltv_365"]) == (100.0, None, None)
    assert (ada["churned"], ada["churn_share"]) == (0, 0.0)
    cy = rows[("2026-01", "Direct")]
    assert cy["retention"] == [1.0, 0.0, 0.0, 0.0, None, None] and cy["ltv_30"] == 80.0
    assert (cy["churned"], cy["churn_share"]) == (1, 1.0)
    ben = rows[("2026-02", "Events")]
    # Oslo's months, not UTC's: February's cohort, the March 1 purchase is month 1.
    assert ben["retention"] == [1.0, 1.0, 0.0, None, None, None] and ben["months_ended"] == 3
    assert ben["revenue_per_customer"] == [200.0, 260.0, 260.0, None, None, None]
    assert ben["ltv_30"] == 260.0 and ben["ltv_90"] is None
    dag = rows[("2026-02", "Podcast")]
    assert dag["revenue"] == [40.0, 0.0, 0.0, None, None, None] and dag["churned"] == 0

    totals = by_key(body["totals"])
    january = totals[("2026-01", "(all)")]
    assert january["size"] == 2 and january["retention"] == [1.0, 0.5, 0.0, 0.5, None, None]
    assert january["revenue_per_customer"] == [90.0, 115.0, 115.0, 130.0, None, None]
    assert january["churn_share"] == 0.5 and january["ltv_30"] == 90.0
    channels = {r["channel"]: r for r in body["channels"]}
    assert channels["Events"]["ltv_30"] == 260.0 and channels["Events"]["ltv_30_customers"] == 1
    assert channels["Direct"]["churn_share"] == 1.0 and channels["Email"]["ltv_90"] is None
    assert body["counts"] == {"customers": 4, "cohorts": 2, "channels": 4}
    assert body["parameters"] == {"from": "2026-01", "to": "2026-02", "as_of": "2026-04-30", "by": "channel",
                                  "months": 6, "conversion_type": "purchase", "channel": [], "churn_days": 90}
    assert body["timezone"] == "Europe/Oslo" and body["notes"]


def test_ltv_appears_when_every_customer_is_old_enough(client, auth, data):
    # Ages are exact (24-hour days, in UTC): a customer who bought at the very end of January (Jan 31 23:00 UTC)
    # is 90 days old only on May 1 at 23:00 UTC, an hour after the end of May 1 in Oslo (summer time).
    almost = by_key(cohorts(client, auth, as_of="2026-05-01")["cohorts"])[("2026-01", "Email")]
    assert (almost["ltv_30"], almost["ltv_90"]) == (100.0, None)
    ada = by_key(cohorts(client, auth, as_of="2026-05-02")["cohorts"])[("2026-01", "Email")]
    assert (ada["ltv_30"], ada["ltv_90"]) == (100.0, 180.0)
    # Earlier as-of: the April purchase is ignored and April has not ended.
    early = by_key(cohorts(client, auth, as_of="2026-04-29")["cohorts"])[("2026-01", "Email")]
    assert early["retention"] == [1.0, 1.0, 0.0, None, None, None] and early["churned"] == 0


def test_churn_days_setting(make_app, data, client, auth):
    strict = make_app(churn_days=30).test_client()
    rows = by_key(strict.get("/api/v1/reports/cohorts", query_string=BASE, headers=auth).json["cohorts"])
    # As of April 30, only ada (April 2) bought within the last 30 days.
    assert {k: r["churned"] for k, r in rows.items()} == {("2026-01", "Email"): 0, ("2026-01", "Direct"): 1,
                                                         ("2026-02", "Events"): 1, ("2026-02", "Podcast"): 1}


def test_first_purchase_ever_decides_the_cohort(client, auth, data):
    body = cohorts(client, auth, **{"from": "2025-12", "to": "2026-01"})
    rows = by_key(body["cohorts"])
    assert ("2025-12", "Direct") in rows and rows[("2025-12", "Direct")]["customers"][:2] == [1, 1]
    assert all(r["channel"] != "Events" for r in body["cohorts"])  # ben is February's


def test_self_reported_split(client, auth, data):
    rows = by_key(cohorts(client, auth, by="self_reported")["cohorts"])
    assert set(rows) == {("2026-01", "Podcast"), ("2026-01", "(none)"), ("2026-02", "Word of mouth"),
                         ("2026-02", "(none)")}
    assert rows[("2026-01", "Podcast")]["revenue_per_customer"][:4] == [100.0, 150.0, 150.0, 180.0]


def test_channel_filter_and_conversion_type(client, auth, data):
    body = cohorts(client, auth, channel="Email,Direct")
    assert {r["channel"] for r in body["cohorts"]} == {"Email", "Direct"}
    assert [t["size"] for t in body["totals"]] == [2]
    leads = cohorts(client, auth, conversion_type="lead", **{"from": "2025-12"})
    # dag's lead (Dec 1) came before any of his touches: Direct.
    assert [(r["cohort"], r["channel"], r["size"]) for r in leads["cohorts"]] == [("2025-12", "Direct", 1)]


def test_no_customers_gives_empty_tables(client, auth):
    body = cohorts(client, auth)
    assert body["cohorts"] == [] and body["totals"] == [] and body["channels"] == [] and body["rows"] == []


def test_csv_one_row_per_cohort_channel_month_with_empty_blanks(client, auth, data):
    resp = client.get("/api/v1/reports/cohorts", query_string={**BASE, "format": "csv"}, headers=auth)
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    assert 'filename="cohorts_2026-01_2026-02.csv"' in resp.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(resp.get_data(as_text=True))))
    assert list(rows[0]) == ["cohort", "channel", "size", "month", "customers", "retention", "revenue",
                             "revenue_per_customer", "ltv_30", "ltv_90", "ltv_365", "churned", "churn_share"]
    assert len(rows) == 4 * 6
    ada = [r for r in rows if r["channel"] == "Email"]
    assert [r["retention"] for r in ada] == ["1.0", "1.0", "0.0", "1.0", "", ""]
    assert ada[0]["ltv_90"] == "" and ada[0]["ltv_30"] == "100.0"


@pytest.mark.parametrize("params,field", [
    ({"from": "2026-13"}, "from"), ({"from": "2026-01-05"}, "from"), ({"to": "May"}, "to"),
    ({"from": "2026-03", "to": "2026-02"}, "to"), ({"to": "2026-06"}, "to"), ({"as_of": "2026-02-30"}, "as_of"),
    ({"by": "campaign"}, "by"), ({"months": "0"}, "months"), ({"months": "1.5"}, "months"),
    ({"months": "121"}, "months"), ({"conversion_type": "refund"}, "conversion_type"),
    ({"channel": "Carrier pigeon"}, "channel"), ({"format": "xml"}, "format"),
    ({"lookback_days": "3"}, "lookback_days"),
    ({"from": "2000-01"}, "from"), ({"from": "x" * 600}, "from"),
])
def test_bad_input_names_the_field(client, auth, params, field):
    resp = client.get("/api/v1/reports/cohorts", query_string={**BASE, **params}, headers=auth)
    assert 400 <= resp.status_code < 500, resp.json
    error = resp.json["error"]
    # The service's errors name the field; the schema's length check (APIFlask) lists it under detail.
    assert error.get("field") == field or field in error.get("detail", {}).get("query", {}), resp.json


@pytest.mark.parametrize("role,status", [("admin", 200), ("analyst", 200), ("marketer", 403), ("staff", 403),
                                         ("ingest", 403), (None, 401)])
def test_roles(client, role_key, role, status):
    headers = {"Authorization": f"Bearer {role_key(role)}"} if role else {}
    assert client.get("/api/v1/reports/cohorts", query_string=BASE, headers=headers).status_code == status


def test_cli_json_csv_and_bad_input(runner, data):
    result = runner.invoke(main, args=["report", "cohorts", "--from", "2026-01", "--to", "2026-02", "--as-of",
                                       "2026-04-30", "--months", "6"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert by_key(body["cohorts"])[("2026-01", "Email")]["retention"] == [1.0, 1.0, 0.0, 1.0, None, None]
    result = runner.invoke(main, args=["report", "cohorts", "--from", "2026-01", "--to", "2026-02", "--as-of",
                                       "2026-04-30", "--by", "self_reported", "--channel", "Podcast",
                                       "--format", "csv"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.output)))
    assert {r["channel"] for r in rows} == {"Podcast"} and len(rows) == 12
    bad = runner.invoke(main, args=["report", "cohorts", "--months", "0"])
    assert bad.exit_code == 1 and "months must be a whole number from 1 to 120 (--months)" in bad.output
    bad = runner.invoke(main, args=["report", "cohorts", "--from", "2026-1"])
    assert bad.exit_code == 1 and "(--from)" in bad.output
