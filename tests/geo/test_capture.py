"""Countries end to end: captured at the redirect and /collect, counted, shown, exported, segmented, erased."""
from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa
from geo_support import BERLIN_V6, OSLO_V4

from tracker.db import get_db
from tracker.geo.stats import UNKNOWN_KEY
from tracker.redirects.models import Click, LinkCountryStat, LinkDailyStat
from tracker.reports.params import FUNNEL_MODELS, parse_params
from tracker.reports.service import funnel_report
from tracker.touchpoints.models import LandingVisit

CHROME = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/124.0.0.0 Safari/537.36")
BOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
NORWAY = "193.90.0.1"        # RIPE NCC, Norway (bundled table)
USA = "8.8.8.8"
NORWAY_V6 = "2a02:2121::1"
PROXY = "10.0.0.1"
ORIGIN = "https://www.example.com"


def hit(client, path, address, ua=CHROME, proxied=False):
    environ = {"REMOTE_ADDR": PROXY, "HTTP_X_FORWARDED_FOR": f"198.51.100.66, {address}"} if proxied else \
        {"REMOTE_ADDR": address}
    resp = client.get(path, headers={"User-Agent": ua}, environ_base=environ)
    assert resp.status_code == 302
    return parse_qs(urlsplit(resp.headers["Location"]).query).get("tid", [None])[0]


def country_stats(app):
    with get_db(app).Session() as s:
        return sorted((r.via, r.country, r.clicks, r.bots) for r in s.scalars(sa.select(LinkCountryStat)))


def stored_clicks(app):
    with get_db(app).Session() as s:
        return {c.tid: (c.country, c.city) for c in s.scalars(sa.select(Click))}


def test_behind_a_trusted_proxy_the_forwarded_address_is_located(make_app):
    app = make_app(trusted_proxy_count=1)
    client = app.test_client()
    link = _link(app)
    tid = hit(client, f"/r/{link}", NORWAY, proxied=True)
    spooled = list(app.config["SETTINGS"].spool_path.glob("clicks-*.jsonl"))
    line = json.loads(spooled[0].read_text().splitlines()[-1])
    assert line["country"] == "NO" and "city" not in line
    assert NORWAY not in spooled[0].read_text() and PROXY not in spooled[0].read_text()  # no raw address
    app.extensions["tracker.redirects"]["spool"].drain()
    assert stored_clicks(app) == {tid: ("NO", None)}
    with get_db(app).Session() as s:
        for row in s.execute(sa.select(Click.__table__)).all():
            assert all(NORWAY not in str(v) for v in row)


def test_without_a_trusted_proxy_the_forwarded_header_is_ignored(make_app):
    app = make_app()
    link = _link(app)
    tid = hit(app.test_client(), f"/r/{link}", NORWAY, proxied=True)  # REMOTE_ADDR is the private proxy
    app.extensions["tracker.redirects"]["spool"].drain()
    assert stored_clicks(app) == {tid: (None, None)}


def _link(app, campaign=None):
    from tracker.links.service import create_link
    with get_db(app).Session() as s:
        data = {"destination": "https://example.com/landing", "utm_source": "poster", "utm_medium": "print",
                "utm_campaign": "expo"}
        if campaign:
            data["campaign"] = campaign
        return create_link(s, app.config["SETTINGS"], data).code


def test_clicks_and_scans_are_counted_per_country(app, client, make_link, drain, auth):
    link = make_link()
    code = link["code"]
    hit(client, f"/r/{code}", NORWAY)
    hit(client, f"/q/{code}", NORWAY_V6)
    hit(client, f"/q/{code}", NORWAY)
    hit(client, f"/r/{code}", USA)
    hit(client, f"/r/{code}", "127.0.0.1")
    hit(client, f"/r/{code}", NORWAY, ua=BOT)
    assert drain() == 6
    assert country_stats(app) == [("link", UNKNOWN_KEY, 1, 0), ("link", "NO", 1, 1), ("link", "US", 1, 0),
                                  ("qr", "NO", 2, 0)]
    with get_db(app).Session() as s:  # the daily aggregate agrees
        daily = s.execute(sa.select(sa.func.sum(LinkDailyStat.clicks), sa.func.sum(LinkDailyStat.bots))).one()
    assert tuple(daily) == (5, 1)

    body = client.get(f"/api/v1/links/{code}", headers=auth).json
    assert body["stats"]["countries"] == [
        {"country": "NO", "clicks": 1, "scans": 2, "bots": 1},
        {"country": "US", "clicks": 1, "scans": 0, "bots": 0},
        {"country": None, "clicks": 1, "scans": 0, "bots": 0},
    ]
    listed = client.get("/api/v1/links", headers=auth).json["items"]
    assert listed[0]["stats"]["countries"] == body["stats"]["countries"]


def test_a_replayed_spool_line_is_counted_once(app, client, make_link, drain):
    link = make_link()
    hit(client, f"/r/{link['code']}", NORWAY)
    spool = app.extensions["tracker.redirects"]["spool"]
    (segment,) = app.config["SETTINGS"].spool_path.glob("clicks-*.jsonl")
    record = json.loads(segment.read_text().splitlines()[0])
    drain()
    spool.writer([record])  # the same line again, as after a crash between commit and bookkeeping
    assert country_stats(app) == [("link", "NO", 1, 0)]


def test_a_city_database_stores_the_city(make_app, city_mmdb):
    app = make_app(geoip_database=str(city_mmdb))
    client = app.test_client()
    link = _link(app)
    oslo = hit(client, f"/q/{link}", OSLO_V4)
    berlin = hit(client, f"/r/{link}", BERLIN_V6)
    other = hit(client, f"/r/{link}", USA)  # not in the file
    app.extensions["tracker.redirects"]["spool"].drain()
    assert stored_clicks(app) == {oslo: ("NO", "Oslo"), berlin: ("DE", "Berlin"), other: (None, None)}


def test_a_landing_visit_gets_country_and_city(make_app, city_mmdb):
    app = make_app(landing_origins=(ORIGIN,), geoip_database=str(city_mmdb))
    client = app.test_client()
    for address, svid in ((OSLO_V4, "a" * 32), ("192.168.0.2", "b" * 32)):
        resp = client.post("/collect", json={"type": "visit", "site_visitor_id": svid, "url": f"{ORIGIN}/pricing"},
                           headers={"Origin": ORIGIN, "User-Agent": CHROME}, environ_base={"REMOTE_ADDR": address})
        assert resp.status_code == 204
    with get_db(app).Session() as s:
        visits = {v.site_visitor_id: (v.country, v.city) for v in s.scalars(sa.select(LandingVisit))}
    assert visits == {"a" * 32: ("NO", "Oslo"), "b" * 32: (None, None)}


def test_off_stores_no_country(make_app):
    app = make_app(geoip_database="off")
    link = _link(app)
    tid = hit(app.test_client(), f"/r/{link}", NORWAY)
    app.extensions["tracker.redirects"]["spool"].drain()
    assert stored_clicks(app) == {tid: (None, None)}
    assert country_stats(app) == [("link", UNKNOWN_KEY, 1, 0)]


def test_the_clicks_export_has_country_and_city(make_app, city_mmdb):
    app = make_app(geoip_database=str(city_mmdb))
    link = _link(app)
    client = app.test_client()
    hit(client, f"/r/{link}", OSLO_V4)
    hit(client, f"/r/{link}", "127.0.0.1")
    app.extensions["tracker.redirects"]["spool"].drain()
    today = date.today()
    runner = app.test_cli_runner()
    args = ["export", "clicks", "--from", (today - timedelta(days=1)).isoformat(), "--to",
            (today + timedelta(days=1)).isoformat()]
    result = runner.invoke(args=args)
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.output)))
    assert "country" in rows[0] and "city" in rows[0]
    assert sorted((r["country"], r["city"]) for r in rows) == [("", ""), ("NO", "Oslo")]
    result = runner.invoke(args=[*args, "--format", "jsonl"])
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert sorted((r["country"] or "", r["city"] or "") for r in lines) == [("", ""), ("NO", "Oslo")]


def test_geo_commands(make_app, city_mmdb):
    runner = make_app().test_cli_runner()
    info = runner.invoke(args=["geo", "info", "--json"])
    assert info.exit_code == 0 and json.loads(info.output)["source"].startswith("iptocc")
    looked = runner.invoke(args=["geo", "lookup", NORWAY, "10.0.0.1"])
    assert looked.output.splitlines() == [f"{NORWAY}\tNO", "10.0.0.1\t-"]
    runner = make_app(geoip_database=str(city_mmdb)).test_cli_runner()
    assert runner.invoke(args=["geo", "lookup", OSLO_V4]).output == f"{OSLO_V4}\tNO\tOslo\n"
    assert "cities     yes" in runner.invoke(args=["geo", "info"]).output


def test_pages_show_countries_to_whoever_sees_the_campaign(app, client, auth, campaign, make_link, drain,
                                                           page_client):
    link = make_link(campaign=campaign["slug"])
    hit(client, f"/r/{link['code']}", NORWAY)
    hit(client, f"/q/{link['code']}", USA)
    hit(client, f"/q/{link['code']}", USA)
    drain()
    other = client.post("/api/v1/campaigns", json={"name": "Elsewhere"}, headers=auth).json
    for role, campaigns in (("admin", None), ("marketer", None), ("staff", [campaign["slug"]])):
        pages = page_client(role, campaigns)
        for path in (f"/links/{link['code']}", f"/campaigns/{campaign['id']}"):
            html = pages.get(path).get_data(as_text=True)
            assert 'id="' in html and "countries-table" in html, (role, path)
            assert "United States of America" in html and "Norway" in html
            assert 'data-country="US" data-value="2"' in html  # the chart's bar
    staff_elsewhere = page_client("staff", [other["slug"]])
    assert staff_elsewhere.get(f"/campaigns/{campaign['id']}").status_code in (403, 404)
    assert staff_elsewhere.get(f"/links/{link['code']}").status_code in (403, 404)


def test_erasure_removes_the_clicks_and_keeps_the_country_counts(app, client, make_link, drain, runner):
    link = make_link()
    tid = hit(client, f"/r/{link['code']}", NORWAY)
    drain()
    result = runner.invoke(args=["people", "erase", "--yes", tid])
    assert result.exit_code == 0, result.output
    assert stored_clicks(app) == {}
    assert country_stats(app) == [("link", "NO", 1, 0)]  # no personal data: kept, as link_daily_stats


def test_retention_purges_old_clicks_and_keeps_the_country_counts(make_app):
    app = make_app(click_retention_days=1)
    link = _link(app)
    hit(app.test_client(), f"/r/{link}", NORWAY)
    app.extensions["tracker.redirects"]["spool"].drain()
    with get_db(app).Session() as s:
        s.execute(sa.update(Click).values(ts=datetime.now(UTC) - timedelta(days=3)))
        s.commit()
    result = app.test_cli_runner().invoke(args=["retention", "purge"])
    assert result.exit_code == 0, result.output
    assert stored_clicks(app) == {}
    assert country_stats(app) == [("link", "NO", 1, 0)]


# ---- the funnel's country segment ----------------------------------------------------------------

@pytest.fixture
def funnel_data(make_app):
    app = make_app(landing_origins=(ORIGIN,))
    client = app.test_client()
    link = _link(app)
    people, browsers = {}, {}
    for name, address in (("ada", NORWAY), ("ben", NORWAY), ("cy", USA), ("dee", "127.0.0.1")):
        browsers[name] = app.test_client()  # a visitor cookie each: four people
        people[name] = hit(browsers[name], f"/r/{link}", address)
    app.extensions["tracker.redirects"]["spool"].drain()
    # ada later arrives from the US: her first touch (Norway) decides
    hit(browsers["ada"], f"/r/{link}", USA)
    app.extensions["tracker.redirects"]["spool"].drain()
    from accounts_support import make_key
    with get_db(app).Session() as s:
        key = make_key(s, "admin")
    auth = {"Authorization": f"Bearer {key}"}
    for external, name, kind in (("a1", "ada", "lead"), ("a2", "ada", "purchase"), ("c1", "cy", "lead")):
        resp = client.post("/api/v1/conversions", json={"external_id": external, "type": kind,
                                                         "tid": people[name]}, headers=auth)
        assert resp.status_code == 201, resp.json
    resp = client.post("/api/v1/conversions", json={"external_id": "z1", "type": "lead", "customer_key": "z@x.no"},
                       headers=auth)  # a lead without any touch
    assert resp.status_code == 201, resp.json
    return app, client, auth


def test_the_funnel_segments_people_by_their_first_touch_country(funnel_data):
    app, client, auth = funnel_data
    today = datetime.now(app.config["SETTINGS"].tz).date().isoformat()  # the report time zone's day
    resp = client.get("/api/v1/reports/funnel", query_string={"segment": "country", "from": today, "to": today},
                      headers=auth)
    assert resp.status_code == 200, resp.json
    stages = resp.json["periods"][0]["stages"]
    table = {(s["segment"], s["stage"]): s["people"] for s in stages}
    assert {k: v for k, v in table.items() if k[1] == "entry"} == {
        ("NO", "entry"): 2, ("US", "entry"): 1, ("(not set)", "entry"): 1, ("(none)", "entry"): 1}
    assert table[("NO", "lead")] == 1 and table[("US", "lead")] == 1 and table[("NO", "purchase")] == 1
    assert table[("(none)", "lead")] == 1

    settings = app.config["SETTINGS"]
    params = parse_params({"segment": "country", "from": today, "to": today}, settings, default_models=FUNNEL_MODELS)
    with get_db(app).Session() as s:
        database = funnel_report(s, settings, params)["periods"][0]["stages"]
        memory = funnel_report(s, settings, params, engine="memory")["periods"][0]["stages"]
    assert database == memory  # the in-memory reference agrees


def test_an_unknown_segment_names_the_field(client, auth):
    resp = client.get("/api/v1/reports/funnel", query_string={"segment": "city"}, headers=auth)
    assert resp.status_code == 422 and resp.json["error"]["field"] == "segment"
    assert "country" in resp.json["error"]["message"]
