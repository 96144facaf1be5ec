"""The mentions report on crafted data (SQLite and PostgreSQL): days in the report time zone, channels by
the reports' rules, word of mouth from answers, filters, the lag table, CSV and the page.

Report time zone Europe/Oslo: +01:00 until 2026-03-29 01:00 UTC, +02:00 after.
"""
from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from tracker.db import get_db
from tracker.mentions import report
from tracker.touchpoints.models import LandingVisit

MAY = {"from": "2026-05-01", "to": "2026-05-31"}


def visit(session: Any, ts: datetime, *, referrer: str | None = None, source: str | None = None,
          medium: str | None = None, is_touch: bool = True, is_bot: bool = False,
          page: str = "nordlys.example/") -> None:
    number = session.scalar(sa.select(sa.func.count()).select_from(LandingVisit)) or 0
    session.add(LandingVisit(ts=ts, person_id=f"p{number}", site_visitor_id=f"s{number}", is_touch=is_touch,
                             page=page, referrer_host=referrer, utm_source=source, utm_medium=medium, is_bot=is_bot))
    session.commit()


def post(client: Any, auth: dict[str, str], mentions: list[dict[str, Any]]) -> None:
    resp = client.post("/api/v1/mentions", json=mentions, headers=auth)
    assert resp.status_code == 201, resp.json


def answer(client: Any, auth: dict[str, str], ts: str, **fields: Any) -> None:
    resp = client.post("/api/v1/self-reports", json={"ts": ts, **fields}, headers=auth)
    assert resp.status_code == 201, resp.json


def by_day(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["day"]: row for row in body["rows"]}


def test_days_channels_and_word_of_mouth(client: Any, auth: dict[str, str], session: Any) -> None:
    post(client, auth, [
        {"date": "2026-05-03", "platform": "press", "count": 1, "sentiment": 0.9, "url": "https://news.example/a"},
        {"date": "2026-05-03", "platform": "linkedin", "count": 3, "sentiment": -0.1},
        {"date": "2026-05-03", "platform": "x", "count": 6},  # unscored: not in the mean
        {"date": "2026-05-04", "platform": "trustpilot", "count": 2, "sentiment": -0.6},
        {"date": "2026-06-01", "platform": "x", "count": 50},  # outside May
    ])
    # Day boundaries in Oslo (+02:00): 21:59:59.999999 UTC is still May 3, 22:00 UTC is May 4.
    visit(session, datetime(2026, 5, 3, 21, 59, 59, 999999, tzinfo=UTC))
    visit(session, datetime(2026, 5, 3, 22, 0, tzinfo=UTC))
    visit(session, datetime(2026, 5, 3, 22, 30, tzinfo=UTC), referrer="www.google.no")
    visit(session, datetime(2026, 5, 4, 8, 0, tzinfo=UTC), referrer="duckduckgo.com")
    visit(session, datetime(2026, 5, 4, 8, 0, tzinfo=UTC), source="google", medium="organic")  # UTM rule
    visit(session, datetime(2026, 5, 4, 9, 0, tzinfo=UTC), source="newsletter", medium="email")  # Email: neither
    visit(session, datetime(2026, 5, 4, 9, 0, tzinfo=UTC), referrer="www.linkedin.com")  # Organic social
    visit(session, datetime(2026, 5, 4, 9, 0, tzinfo=UTC), is_bot=True)  # bots are left out
    visit(session, datetime(2026, 5, 4, 9, 0, tzinfo=UTC), is_touch=False)  # after a click: the click's
    visit(session, datetime(2026, 4, 30, 21, 59, tzinfo=UTC))  # April 30 in Oslo
    answer(client, auth, "2026-05-04T23:30:00+02:00", text="a colleague told me")  # free text -> Word of mouth
    answer(client, auth, "2026-05-05T00:10:00+02:00", text="a friend recommended you")
    answer(client, auth, "2026-05-05T10:00:00+02:00", option="podcast")  # not word of mouth

    resp = client.get("/api/v1/reports/mentions", query_string=MAY, headers=auth)
    assert resp.status_code == 200, resp.json
    body = resp.json
    rows = by_day(body)
    assert len(rows) == 31 and list(rows)[0] == "2026-05-01" and list(rows)[-1] == "2026-05-31"
    assert rows["2026-05-03"]["mentions"] == 10
    assert rows["2026-05-03"]["sentiment"] == pytest.approx((1 * 0.9 + 3 * -0.1) / 4)
    assert rows["2026-05-04"] == {"day": "2026-05-04", "mentions": 2, "sentiment": pytest.approx(-0.6),
                                  "direct_visits": 1, "organic_search_visits": 3, "word_of_mouth": 1}
    assert rows["2026-05-03"]["direct_visits"] == 1 and rows["2026-05-03"]["organic_search_visits"] == 0
    assert rows["2026-05-05"]["word_of_mouth"] == 1
    assert rows["2026-05-10"] == {"day": "2026-05-10", "mentions": 0, "sentiment": None, "direct_visits": 0,
                                  "organic_search_visits": 0, "word_of_mouth": 0}
    totals = body["totals"]
    assert (totals["mentions"], totals["direct_visits"], totals["organic_search_visits"], totals["word_of_mouth"]) \
        == (12, 2, 3, 2)
    assert totals["sentiment"] == pytest.approx((0.9 - 0.3 - 1.2) / 6)
    assert body["channels"] == {"direct_visits": "Direct", "organic_search_visits": "Organic search",
                                "word_of_mouth": "Word of mouth"}
    assert {p["platform"]: p["mentions"] for p in body["platforms"]} == {"x": 6, "linkedin": 3, "trustpilot": 2,
                                                                         "press": 1}
    assert len(body["lags"]) == 3 * 15 and body["parameters"]["timezone"] == "Europe/Oslo"

    only = client.get("/api/v1/reports/mentions", query_string={**MAY, "platform": "press,trustpilot"},
                      headers=auth).json
    assert by_day(only)["2026-05-03"]["mentions"] == 1 and only["totals"]["mentions"] == 3
    assert only["totals"]["direct_visits"] == 2  # the filters are the mentions'
    negative = client.get("/api/v1/reports/mentions", query_string={**MAY, "sentiment": "negative"}, headers=auth).json
    assert negative["totals"]["mentions"] == 2
    neutral = client.get("/api/v1/reports/mentions", query_string={**MAY, "sentiment": ["neutral", "unscored"]},
                         headers=auth).json
    assert by_day(neutral)["2026-05-03"]["mentions"] == 9


def test_daylight_saving_change(client: Any, auth: dict[str, str], session: Any) -> None:
    visit(session, datetime(2026, 3, 28, 22, 59, tzinfo=UTC))  # 23:59 CET: March 28
    visit(session, datetime(2026, 3, 28, 23, 30, tzinfo=UTC))  # 00:30 CET: March 29
    visit(session, datetime(2026, 3, 29, 21, 59, tzinfo=UTC))  # 23:59 CEST: March 29
    visit(session, datetime(2026, 3, 29, 22, 30, tzinfo=UTC))  # 00:30 CEST: March 30
    body = client.get("/api/v1/reports/mentions", query_string={"from": "2026-03-27", "to": "2026-03-31"},
                      headers=auth).json
    assert [r["direct_visits"] for r in body["rows"]] == [0, 1, 2, 1, 0]


def test_the_lag_peak(client: Any, auth: dict[str, str], session: Any) -> None:
    start = date(2026, 5, 1)
    pattern = [0, 2, 9, 1, 0, 0, 7, 0, 3, 0, 1, 8, 0, 0, 2, 0, 5, 0, 0, 1, 0, 6, 0, 0, 0, 2, 0, 0]
    post(client, auth, [{"date": (start + timedelta(days=i)).isoformat(), "platform": "linkedin", "count": n}
                        for i, n in enumerate(pattern) if n])
    for i, n in enumerate(pattern):  # each mention brings one Direct visit two days later, at noon Oslo time
        for _ in range(n):
            visit(session, datetime.combine(start + timedelta(days=i + 2), datetime.min.time(), UTC)
                  + timedelta(hours=10))
    body = client.get("/api/v1/reports/mentions", query_string={"from": "2026-05-01", "to": "2026-05-28"},
                      headers=auth).json
    strongest = {s["series"]: s for s in body["strongest"]}
    assert strongest["direct_visits"]["lag"] == 2 and strongest["direct_visits"]["r"] == pytest.approx(1.0)
    assert strongest["direct_visits"]["n"] == 26 and strongest["direct_visits"]["p_value"] < 1e-6
    # No organic search and no answers at all: constant series, null correlations (JSON null, never NaN).
    assert strongest["word_of_mouth"] == {"series": "word_of_mouth", "channel": "Word of mouth", "lag": None,
                                          "n": None, "r": None, "p_value": None}
    lags = [r for r in body["lags"] if r["series"] == "organic_search_visits"]
    assert {r["note"] for r in lags} == {"constant"} and all(r["r"] is None for r in lags)
    direct = {r["lag"]: r for r in body["lags"] if r["series"] == "direct_visits"}
    assert direct[0]["n"] == 28 and direct[14]["n"] == 14 and abs(direct[0]["r"]) < 0.5


def test_short_period_and_csv(client: Any, auth: dict[str, str]) -> None:
    post(client, auth, [{"date": "2026-05-02", "platform": "x", "count": 4, "sentiment": 0.5}])
    body = client.get("/api/v1/reports/mentions", query_string={"from": "2026-05-01", "to": "2026-05-02"},
                      headers=auth).json
    assert {r["note"] for r in body["lags"] if r["lag"] >= 0} == {"too_short"}
    resp = client.get("/api/v1/reports/mentions", query_string={**MAY, "format": "csv"}, headers=auth)
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    assert 'filename="mentions_2026-05-01_2026-05-31.csv"' in resp.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(resp.get_data(as_text=True))))
    assert list(rows[0]) == ["day", "mentions", "sentiment", "direct_visits", "organic_search_visits",
                             "word_of_mouth"]
    assert len(rows) == 31 and rows[1] == {"day": "2026-05-02", "mentions": "4", "sentiment": "0.5",
                                           "direct_visits": "0", "organic_search_visits": "0", "word_of_mouth": "0"}
    assert rows[0]["sentiment"] == ""


@pytest.mark.parametrize("query,field", [
    ({"from": "May 1"}, "from"), ({"from": "2026-05-10", "to": "2026-05-01"}, "to"),
    ({"from": "2000-01-01", "to": "2026-05-01"}, "from"), ({"sentiment": "great"}, "sentiment"),
    ({"model": "linear"}, "model"), ({"format": "xml"}, "format"), ({"platform": "x" * 41}, "platform"),
])
def test_bad_parameters_are_named(client: Any, auth: dict[str, str], query: dict[str, str], field: str) -> None:
    resp = client.get("/api/v1/reports/mentions", query_string=query, headers=auth)
    assert resp.status_code == 422, resp.json
    assert resp.json["error"]["field"] == field


def test_default_period_is_the_last_90_days(app: Any) -> None:
    params = report.parse_params({}, app.config["SETTINGS"], today=date(2026, 5, 31))
    assert (params.period.first, params.period.last) == (date(2026, 3, 3), date(2026, 5, 31))


def test_the_page(page_client: Any, client: Any, auth: dict[str, str], session: Any) -> None:
    post(client, auth, [{"date": "2026-05-03", "platform": "press", "count": 2, "sentiment": 0.4}])
    visit(session, datetime(2026, 5, 5, 10, tzinfo=UTC))
    analyst = page_client("analyst")
    page = analyst.get("/reports/mentions", query_string=MAY)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for needle in ('id="chart-mentions"', "series-mentions-2", 'id="lags-table"', 'id="daily-table"',
                   'data-day="2026-05-03"', "download-lags-csv", "/api/v1/reports/mentions?from=2026-05-01"):
        assert needle in html, needle
    assert 'id="import-link"' not in html  # analysts read, they do not import
    lags = analyst.get("/reports/mentions/lags.csv", query_string=MAY)
    assert lags.status_code == 200 and lags.get_data(as_text=True).startswith("series,channel,lag,n,r,p_value,note")
    assert analyst.get("/reports/mentions/chart.png", query_string=MAY).data[:4] == b"\x89PNG"
    assert analyst.get("/reports/mentions/other.csv").status_code == 404
    bad = analyst.get("/reports/mentions", query_string={"sentiment": "great"})
    assert bad.status_code == 422 and "sentiment must be" in bad.get_data(as_text=True)
    assert page_client("marketer").get("/reports/mentions").status_code == 403
    assert client.get("/reports/mentions").status_code == 302  # not signed in: the sign-in form


def test_the_import_page(page_client: Any, session: Any) -> None:
    marketer = page_client("marketer")
    form = marketer.get("/mentions/import")
    assert form.status_code == 200
    html = form.get_data(as_text=True)
    token = html.split('name="csrf_token" value="')[1].split('"')[0]
    bad = marketer.post("/mentions/import", data={"csrf_token": token, "file": (io.BytesIO(
        b"date,platform,count\n2026-05-01,x,0\n2026-05-02,y,1\n"), "m.csv")}, content_type="multipart/form-data")
    assert bad.status_code == 422 and 'data-line="2"' in bad.get_data(as_text=True)
    ok = marketer.post("/mentions/import", data={"csrf_token": token, "file": (io.BytesIO(
        b"date,platform,count\n2026-05-01,x,2\n2026-05-02,y,1\n"), "m.csv")}, content_type="multipart/form-data")
    assert ok.status_code == 200 and "2 rows read: 2 new" in ok.get_data(as_text=True)
    no_token = marketer.post("/mentions/import", data={"file": (io.BytesIO(b"date,platform\n"), "m.csv")},
                             content_type="multipart/form-data")
    assert no_token.status_code == 400
    assert page_client("analyst").get("/mentions/import").status_code == 403
    with get_db(marketer.application).Session() as s:
        assert s.scalar(sa.text("SELECT count(*) FROM mentions")) == 2
