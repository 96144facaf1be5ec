"""Redirect rules end to end with the real app (Flask test client through the WSGI Redirector): where clicks and
scans go, what the drain stores (``clicks.rule``, ``link_rule_stats``), the link's stats, webhooks, the export,
and the cached link (LinkSnapshot) with its JSON round trip. SQLite and PostgreSQL."""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa

from tracker.db import get_db
from tracker.redirects.cache import LastKnownLinks, LinkSnapshot
from tracker.redirects.models import Click, LinkRuleStat
from tracker.redirects.rules import select_rule
from tracker.webhooks.models import WebhookDelivery

IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
          "Version/17.4 Mobile/15E148 Safari/604.1")
ANDROID = ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.6367.113 "
           "Mobile Safari/537.36")
DESKTOP = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 "
           "Safari/537.36")
OSLO = "193.90.0.1"  # Norway in the bundled country table (tracker/geo)
APP_STORE = "https://apps.apple.com/no/app/expo/id123?mt=8"
PLAY = "https://play.google.com/store/apps/details?id=no.expo"
NORSK = "https://example.com/no/expo#program"
FLYER_RULES = [
    {"conditions": {"device": "ios"}, "destination": APP_STORE},
    {"conditions": {"device": ["android"]}, "destination": PLAY},
    {"conditions": {"language": ["nb", "no", "nn"]}, "destination": NORSK},
]


@pytest.fixture
def flyer(make_link: Any) -> dict[str, Any]:
    return make_link(destination="https://example.com/expo", kind="print", utm_medium="print", utm_source="flyer",
                     extra_params={"ref": "flyer"}, rules=FLYER_RULES)


def go(client: Any, code: str, ua: str = DESKTOP, lang: str | None = None, way: str = "r", query: str = "",
       ip: str = "127.0.0.1", **headers: str) -> Any:
    sent = {"User-Agent": ua, **headers}
    if lang:
        sent["Accept-Language"] = lang
    return client.get(f"/{way}/{code}{query}", headers=sent, environ_base={"REMOTE_ADDR": ip})


def where(resp: Any) -> tuple[str, dict[str, list[str]], str]:
    """(scheme://host/path, query, fragment) of a redirect."""
    assert resp.status_code == 302, resp.data
    parts = urlsplit(resp.headers["Location"])
    return f"{parts.scheme}://{parts.netloc}{parts.path}", parse_qs(parts.query), parts.fragment


def stored_clicks(session: Any) -> list[Click]:
    session.expire_all()
    return list(session.scalars(sa.select(Click).order_by(Click.ts)))


def rule_rows(session: Any) -> dict[tuple[int, int], int]:
    session.expire_all()
    return {(r.link_id, r.rule): r.clicks for r in session.scalars(sa.select(LinkRuleStat))}


def test_each_visitor_goes_where_the_first_rule_that_holds_sends_it(client: Any, flyer: dict[str, Any]) -> None:
    code = flyer["code"]
    target, query, _ = where(go(client, code, IPHONE, "nb-NO"))  # iOS rule first, though the language holds too
    assert target == "https://apps.apple.com/no/app/expo/id123"
    assert query["mt"] == ["8"] and query["ref"] == ["flyer"]  # the rule's own query, the link's extra parameters
    assert query["utm_source"] == ["flyer"] and query["utm_medium"] == ["print"] and query["utm_campaign"] == ["spring"]
    assert len(query["tid"][0]) == 20
    assert where(go(client, code, ANDROID))[0] == "https://play.google.com/store/apps/details"
    target, query, fragment = where(go(client, code, DESKTOP, "nn-NO,en;q=0.5"))
    assert target == "https://example.com/no/expo" and fragment == "program" and "tid" in query
    target, query, _ = where(go(client, code, DESKTOP, "en-GB,nb;q=0.8"))
    assert target == "https://example.com/expo" and query["ref"] == ["flyer"] and "tid" in query  # the default


def test_scans_follow_the_rules_and_the_drain_records_them(client: Any, flyer: dict[str, Any], drain: Any,
                                                           session: Any, auth: dict[str, str], app: Any) -> None:
    code, link_id = flyer["code"], flyer["id"]
    visits = [("q", IPHONE, None), ("q", IPHONE, None), ("r", ANDROID, None), ("q", DESKTOP, "no"),
              ("r", DESKTOP, "de"), ("q", "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)", None)]
    tids = []
    for way, ua, lang in visits:
        resp = go(client, code, ua, lang, way=way)
        tids.append(parse_qs(urlsplit(resp.headers["Location"]).query).get("tid", [None])[0])
    assert drain() == len(visits)
    rows = stored_clicks(session)
    assert [(r.tid, r.via, r.rule) for r in rows] == [
        (tids[0], "qr", 0), (tids[1], "qr", 0), (tids[2], "link", 1), (tids[3], "qr", 2), (tids[4], "link", None),
        (tids[5], "qr", None)]  # the bot went to the default (no agent platform) and is stored with its rule
    assert rows[-1].is_bot
    # Human clicks and scans per link, day (report time zone) and rule; the bot is left out.
    assert rule_rows(session) == {(link_id, 0): 2, (link_id, 1): 1, (link_id, 2): 1, (link_id, -1): 1}
    today = datetime.now(app.config["SETTINGS"].tz).date()
    assert {r.day for r in session.scalars(sa.select(LinkRuleStat))} == {today}

    stats = client.get(f"/api/v1/links/{code}", headers=auth).json["stats"]
    assert stats["rules"] == [
        {"rule": 0, "destination": APP_STORE, "clicks": 2}, {"rule": 1, "destination": PLAY, "clicks": 1},
        {"rule": 2, "destination": NORSK, "clicks": 1},
        {"rule": None, "destination": "https://example.com/expo", "clicks": 1}]
    assert stats["scans"] + stats["clicks"] == 5 and stats["bots"] == 1

    # A replayed spool line is counted once (the drain only counts clicks it stored).
    from tracker.redirects.capture import write_batch
    with get_db(app).Session() as s:
        assert write_batch(s, [{"tid": tids[0], "ts": rows[0].ts.isoformat(), "via": "qr", "link": link_id,
                                "ua": IPHONE, "rl": 0}], app.config["SETTINGS"].tz) == 0
    assert rule_rows(session)[(link_id, 0)] == 2


def test_a_country_rule_uses_the_located_country(client: Any, make_link: Any, drain: Any, session: Any) -> None:
    link = make_link(rules=[{"conditions": {"country": ["NO", "SE"], "device": "mobile"},
                             "destination": "https://example.com/nordic-app"},
                            {"conditions": {"country": ["no"]}, "destination": "https://example.com/norge"}])
    assert where(go(client, link["code"], ANDROID, ip=OSLO))[0] == "https://example.com/nordic-app"
    assert where(go(client, link["code"], DESKTOP, ip=OSLO))[0] == "https://example.com/norge"
    assert where(go(client, link["code"], ANDROID, ip="8.8.8.8"))[0] == "https://example.com/landing"  # US
    assert where(go(client, link["code"], ANDROID))[0] == "https://example.com/landing"  # loopback: unknown
    drain()
    assert [(r.country, r.rule) for r in stored_clicks(session)] == [("NO", 0), ("NO", 1), ("US", None), (None, None)]


def test_a_query_rule_reads_the_short_links_query_string(client: Any, make_link: Any) -> None:
    link = make_link(rules=[{"conditions": {"query": {"src": "poster", "hall": None}},
                             "destination": "https://example.com/hall"}])
    assert where(go(client, link["code"], query="?src=poster&hall=b"))[0] == "https://example.com/hall"
    assert where(go(client, link["code"], query="?hall&src=poster"))[0] == "https://example.com/hall"
    assert where(go(client, link["code"], query="?src=poster"))[0] == "https://example.com/landing"
    target, query, _ = where(go(client, link["code"], query="?src=poster&hall=b&utm_source=evil&tid=x"))
    assert query["utm_source"] == ["newsletter"] and query["tid"] != ["x"]  # the query chooses, never writes


def test_dnt_and_head_get_the_rules_location_without_tid(client: Any, flyer: dict[str, Any], drain: Any,
                                                         session: Any) -> None:
    code = flyer["code"]
    target, query, _ = where(go(client, code, IPHONE, DNT="1"))
    assert target == "https://apps.apple.com/no/app/expo/id123" and "tid" not in query and "utm_source" in query
    assert "Set-Cookie" not in go(client, code, ANDROID, **{"Sec-GPC": "1"}).headers
    head = client.head(f"/q/{code}", headers={"User-Agent": ANDROID})
    assert head.status_code == 302
    parts = urlsplit(head.headers["Location"])
    assert parts.netloc == "play.google.com" and "tid" not in parse_qs(parts.query)
    head = client.head(f"/r/{code}", headers={"User-Agent": DESKTOP, "Accept-Language": "nb"})
    assert urlsplit(head.headers["Location"]).path == "/no/expo"
    assert drain() == 2  # the two GETs; HEAD records nothing
    assert [r.rule for r in stored_clicks(session)] == [0, 1]


def test_disabled_and_expired_links_ignore_their_rules(client: Any, auth: dict[str, str], campaign: dict[str, Any],
                                                       make_link: Any, drain: Any, session: Any) -> None:
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    expired = make_link(campaign=campaign["slug"], expires_at=past, rules=FLYER_RULES)
    assert go(client, expired["code"], IPHONE).headers["Location"] == "https://example.com/expo-ended"
    assert client.head(f"/r/{expired['code']}", headers={"User-Agent": IPHONE}).headers["Location"] == \
        "https://example.com/expo-ended"
    gone = make_link(destination="https://example.com/other", rules=FLYER_RULES)
    assert client.patch(f"/api/v1/links/{gone['code']}", json={"disabled": True}, headers=auth).status_code == 200
    assert go(client, gone["code"], IPHONE).status_code == 410
    drain()
    assert [(r.outcome, r.rule) for r in stored_clicks(session)] == [("fallback", None), ("gone", None)]
    assert rule_rows(session) == {}  # rules did not send these visits


def test_links_without_rules_leave_no_rule_rows(client: Any, make_link: Any, drain: Any, session: Any,
                                                app: Any) -> None:
    link = make_link()
    go(client, link["code"], IPHONE)
    spooled = [json.loads(line) for path in app.config["SETTINGS"].spool_path.glob("clicks-*.jsonl")
               for line in path.read_text().splitlines()]
    assert spooled and all("rl" not in record for record in spooled)  # the spool line is as before rules
    drain()
    assert [r.rule for r in stored_clicks(session)] == [None] and rule_rows(session) == {}


def test_changed_rules_are_followed_at_once_and_counted_from_then(client: Any, auth: dict[str, str],
                                                                   flyer: dict[str, Any], drain: Any,
                                                                   session: Any) -> None:
    code = flyer["code"]
    assert where(go(client, code, IPHONE))[0].startswith("https://apps.apple.com/")  # cached now
    resp = client.patch(f"/api/v1/links/{code}", json={"rules": [
        {"conditions": {"device": "mobile"}, "destination": "https://example.com/m"}]}, headers=auth)
    assert resp.status_code == 200, resp.json
    assert where(go(client, code, IPHONE))[0] == "https://example.com/m"
    drain()
    assert [r.rule for r in stored_clicks(session)] == [0, 0]
    stats = client.get(f"/api/v1/links/{code}", headers=auth).json["stats"]["rules"]
    # Counted by day since the change: the click before the change, the same day, counts too (documented).
    assert stats == [{"rule": 0, "destination": "https://example.com/m", "clicks": 2},
                     {"rule": None, "destination": "https://example.com/expo", "clicks": 0}]
    client.patch(f"/api/v1/links/{code}", json={"rules": []}, headers=auth)
    assert where(go(client, code, IPHONE))[0] == "https://example.com/expo"


def test_clicks_before_the_day_the_rules_changed_are_not_counted(flyer: dict[str, Any], app: Any, session: Any,
                                                                 client: Any, auth: dict[str, str]) -> None:
    today = datetime.now(app.config["SETTINGS"].tz).date()
    with get_db(app).Session() as s:
        s.add_all([LinkRuleStat(link_id=flyer["id"], day=today - timedelta(days=1), rule=0, clicks=7),
                   LinkRuleStat(link_id=flyer["id"], day=today, rule=0, clicks=2),
                   LinkRuleStat(link_id=flyer["id"], day=today, rule=-1, clicks=3)])
        s.commit()
    stats = client.get(f"/api/v1/links/{flyer['code']}", headers=auth).json["stats"]["rules"]
    assert [(r["rule"], r["clicks"]) for r in stats] == [(0, 2), (1, 0), (2, 0), (None, 3)]


def test_click_recorded_webhooks_carry_the_rule(client: Any, auth: dict[str, str], flyer: dict[str, Any],
                                                drain: Any, app: Any) -> None:
    hook = client.post("/api/v1/webhooks", json={"url": "https://93.184.216.34/hooks", "events": ["click.recorded"]},
                       headers=auth)
    assert hook.status_code == 201, hook.json
    go(client, flyer["code"], ANDROID, way="q")
    go(client, flyer["code"], DESKTOP)
    drain()
    with get_db(app).Session() as s:
        payloads = [json.loads(d.payload) for d in s.scalars(sa.select(WebhookDelivery).order_by(WebhookDelivery.id))]
    assert [(p["data"]["via"], p["data"]["rule"]) for p in payloads] == [("qr", 1), ("link", None)]


def test_the_clicks_export_has_a_rule_column(runner: Any, client: Any, flyer: dict[str, Any], drain: Any,
                                             tmp_path: Path, app: Any) -> None:
    go(client, flyer["code"], IPHONE)
    go(client, flyer["code"], DESKTOP)
    drain()
    day = datetime.now(app.config["SETTINGS"].tz).date().isoformat()
    out = tmp_path / "clicks.csv"
    result = runner.invoke(args=["export", "clicks", "--from", day, "--to", day, "-o", str(out)])
    assert result.exit_code == 0, result.output
    header, *lines = out.read_text().splitlines()
    assert header.split(",")[-1] == "rule"
    assert [line.split(",")[-1] for line in lines] == ["0", ""]
    jsonl = runner.invoke(args=["export", "clicks", "--from", day, "--to", day, "--format", "jsonl"])
    assert [json.loads(line)["rule"] for line in jsonl.output.splitlines()] == [0, None]


def test_the_cached_link_holds_compiled_rules_and_survives_json(app: Any, flyer: dict[str, Any],
                                                                tmp_path: Path) -> None:
    cache = app.extensions["tracker.redirects"]["cache"]
    snapshot = cache.get(flyer["code"])
    assert len(snapshot.rules) == 3
    assert snapshot.rules[0].devices == frozenset({"ios"}) and snapshot.rules[2].languages == frozenset({"nb", "no",
                                                                                                         "nn"})
    assert snapshot.rules[1].location_before_tid.startswith("https://play.google.com/store/apps/details?id=no.expo&")
    assert snapshot.rules[1].location_before_tid.endswith("tid=") and snapshot.rules[2].location_after_tid == "#program"
    assert "tid" not in snapshot.rules[2].tracked_location and "#program" in snapshot.rules[2].tracked_location
    copy = LinkSnapshot.from_json(snapshot.to_json())
    assert copy == snapshot and copy.rules == snapshot.rules
    environ = {"HTTP_USER_AGENT": ANDROID}
    assert select_rule(copy.rules, environ, None) == select_rule(snapshot.rules, environ, None) == 1
    # The last-known-links file (a worker started during an outage) serves the same rules.
    known = LastKnownLinks(tmp_path / "last-known.sqlite")
    assert known.save("flyer", snapshot, 1.0)
    assert known.load("flyer") == (snapshot, 1.0)
    # A file written before rules existed still reads: no rules.
    old = json.loads(snapshot.to_json())
    del old["rules"]
    assert LinkSnapshot.from_json(json.dumps(old)).rules == ()


def test_a_link_served_from_the_last_known_file_keeps_its_rules(make_app: Any, make_link: Any, tmp_path: Path) -> None:
    """A worker that starts while the database is down redirects by the rules it finds in the file."""
    link = make_link(rules=FLYER_RULES)
    first = make_app()
    assert where(go(first.test_client(), link["code"], IPHONE))[0].startswith("https://apps.apple.com/")
    down = make_app(database_url=f"sqlite:///{tmp_path / 'missing' / 'none.db'}", lookup_timeout_seconds=0.2)
    target, query, _ = where(go(down.test_client(), link["code"], ANDROID))
    assert target == "https://play.google.com/store/apps/details" and query["tid"]
    assert down.extensions["tracker.redirects"]["cache"].failures >= 1  # it did come from the file
