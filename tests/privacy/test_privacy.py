"""Privacy: the daily keyed IP hash, DNT/GPC, cookieless mode, person erasure (spools included), retention."""
from __future__ import annotations

import hashlib
import hmac
import threading
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa
from accounts_support import bearer, make_key, sign_in_as

from tracker.config import ConfigError, load_settings
from tracker.conversions.models import Conversion
from tracker.db import get_db, utcnow
from tracker.people.models import Identity
from tracker.privacy.erasure import drop_erased, drop_erased_conversions, erase_person, tombstone
from tracker.privacy.iphash import IpHasher
from tracker.privacy.models import ErasedId
from tracker.privacy.retention import RetentionScheduler, purge, raw_clicks_since
from tracker.redirects.capture import write_batch
from tracker.redirects.models import Click, LinkDailyStat, LinkVisitor, OrphanVisit
from tracker.selfreports.models import SelfReport
from tracker.touchpoints.models import LandingVisit, OfflineTouch

CHROME = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/124.0.0.0 Safari/537.36")
ORIGIN = "https://www.example.com"
IP = "203.0.113.9"
EMAIL = "Ola.Nordmann@example.no"


def count(session: Any, model: Any, *where: Any) -> int:
    session.expire_all()
    return session.scalar(sa.select(sa.func.count()).select_from(model).where(*where)) or 0


def tid_of(resp: Any) -> str | None:
    return parse_qs(urlsplit(resp.headers["Location"]).query).get("tid", [None])[0]


def pin_clock(monkeypatch: pytest.MonkeyPatch, when: datetime) -> None:
    monkeypatch.setattr("tracker.redirects.handler.utcnow", lambda: when)


# ---- the keyed IP hash ----------------------------------------------------------------------------

def test_ip_hash_key_changes_at_midnight_utc_and_never_keeps_one_key() -> None:
    daily, never = IpHasher("secret", "daily"), IpHasher("secret", "never")
    late = datetime(2026, 11, 30, 23, 59, 59, tzinfo=UTC)
    early = datetime(2026, 12, 1, 0, 0, 0, tzinfo=UTC)
    assert daily(IP, late) == daily(IP, late - timedelta(hours=23)) != daily(IP, early)
    assert daily(IP, late) != daily("203.0.113.10", late)
    # An offset time is the same instant: the day is the UTC day, whatever the zone.
    oslo = early.astimezone(load_settings({"secret_key": "x", "ip_hash_secret": "y"}).tz)
    assert oslo.date() == date(2026, 12, 1) and daily(IP, oslo) == daily(IP, early)
    assert never(IP, late) == never(IP, early)
    # "never" is the hash stored before rotation existed: old rows stay comparable.
    old = hmac.new(hashlib.sha256(b"secret").digest(), IP.encode(), hashlib.sha256).hexdigest()[:32]
    assert never(IP, early) == old and daily(IP, early) != old
    assert IpHasher("other", "daily")(IP, early) != daily(IP, early)
    assert daily(None) is None and daily("") is None


def test_ip_hash_rotation_setting_is_checked() -> None:
    with pytest.raises(ConfigError, match="ip_hash_rotation"):
        load_settings({"secret_key": "x", "ip_hash_secret": "y", "ip_hash_rotation": "hourly"})
    with pytest.raises(ConfigError, match="click_retention_days"):
        load_settings({"secret_key": "x", "ip_hash_secret": "y", "click_retention_days": -1})


@pytest.mark.parametrize("rotation", ["daily", "never"])
def test_redirects_store_the_day_hash(make_app, make_link, monkeypatch, rotation) -> None:
    app = make_app(ip_hash_rotation=rotation)
    client = app.test_client()
    link = make_link()
    monday = datetime(2026, 11, 30, 10, tzinfo=UTC)
    for when in (monday, monday + timedelta(hours=13), monday + timedelta(days=1)):
        pin_clock(monkeypatch, when)
        client.get(f"/r/{link['code']}", environ_base={"REMOTE_ADDR": IP})
    app.extensions["tracker.redirects"]["spool"].drain()
    with get_db(app).Session() as s:
        hashes = list(s.scalars(sa.select(Click.ip_hash).order_by(Click.ts)))
    assert hashes[0] == hashes[1]  # one UTC day
    assert (hashes[1] != hashes[2]) == (rotation == "daily")  # the next day cannot be joined to it
    assert hashes[0] == IpHasher("test-ip-secret", rotation)(IP, monday)


def test_collect_and_its_rate_limit_use_the_day_hash(make_app) -> None:
    app = make_app(landing_origins=(ORIGIN,), collect_rate_limit="2 per minute")
    client = app.test_client()
    body = {"type": "visit", "site_visitor_id": "3f9a0c1d2e4b5a69788796a5b4c3d2e1", "url": f"{ORIGIN}/"}
    answers = [client.post("/collect", json=body, headers={"Origin": ORIGIN}, environ_base={"REMOTE_ADDR": IP})
               for _ in range(3)]
    assert [a.status_code for a in answers] == [204, 204, 429]
    with get_db(app).Session() as s:
        stored = set(s.scalars(sa.select(LandingVisit.ip_hash)))
    assert stored == {IpHasher("test-ip-secret", "daily")(IP)}


# ---- Do Not Track / Global Privacy Control --------------------------------------------------------

@pytest.mark.parametrize("header", [{"DNT": "1"}, {"Sec-GPC": "1"}])
@pytest.mark.parametrize("via", ["r", "q"])
def test_dnt_and_gpc_redirect_and_count_without_cookie_tid_or_visitor(app, make_link, drain, session, auth,
                                                                       header, via) -> None:
    link = make_link(destination="https://example.com/landing?ref=poster")
    client = app.test_client()
    client.set_cookie("trk_vid", "an-earlier-visitor-id", domain="localhost")  # even a known browser
    resp = client.get(f"/{via}/{link['code']}", headers={"User-Agent": CHROME, **header},
                      environ_base={"REMOTE_ADDR": IP})
    assert resp.status_code == 302
    assert "Set-Cookie" not in resp.headers
    location = urlsplit(resp.headers["Location"])
    query = parse_qs(location.query)
    assert "tid" not in query and "tid=" not in resp.headers["Location"]
    assert location.netloc == "example.com" and query["ref"] == ["poster"] and query["utm_source"] == ["newsletter"]
    assert drain() == 1
    (row,) = session.scalars(sa.select(Click))
    assert row.visitor_id is None and not row.is_bot  # counted as a human click, tied to no visitor
    assert count(session, LinkVisitor) == 0
    assert count(session, Identity, Identity.kind == "visitor") == 0
    stats = client.get(f"/api/v1/links/{link['code']}", headers=auth).json["stats"]
    scans = via == "q"
    assert stats["scans" if scans else "clicks"] == 1 and stats["unique_scans" if scans else "unique_clicks"] == 0


@pytest.mark.parametrize("value", ["0", "", "yes"])
def test_other_dnt_values_are_tracked_as_usual(client, make_link, value) -> None:
    resp = client.get(f"/r/{make_link()['code']}", headers={"DNT": value, "Sec-GPC": value})
    assert resp.headers["Set-Cookie"].startswith("trk_vid=") and tid_of(resp)


@pytest.mark.parametrize("header", [{"DNT": "1"}, {"Sec-GPC": "1"}])
def test_collect_with_dnt_counts_the_visit_and_ties_nothing(make_app, make_link, header) -> None:
    app = make_app(landing_origins=(ORIGIN,))
    client = app.test_client()
    tid = tid_of(client.get(f"/r/{make_link()['code']}"))
    site = "3f9a0c1d2e4b5a69788796a5b4c3d2e1"
    headers = {"Origin": ORIGIN, **header}
    visit = {"type": "visit", "site_visitor_id": site, "url": f"{ORIGIN}/pricing", "tid": tid}
    assert client.post("/collect", json=visit, headers=headers).status_code == 204
    identify = {"type": "identify", "site_visitor_id": site, "customer_key": EMAIL}
    assert client.post("/collect", json=identify, headers=headers).status_code == 204
    event = {"type": "event", "site_visitor_id": site, "event": "lead"}
    assert client.post("/collect", json=event, headers=headers).status_code == 204
    with get_db(app).Session() as s:
        (row,) = s.scalars(sa.select(LandingVisit))
        assert row.tid is None and row.site_visitor_id != site and row.is_touch
        assert s.scalar(sa.select(sa.func.count()).select_from(Conversion)) == 0
        assert set(s.scalars(sa.select(Identity.kind))) == {"site"}  # the one-off id only
        assert s.scalar(sa.select(Identity.value)) == row.site_visitor_id


def test_snippet_honours_dnt_gpc_and_cookieless(make_app) -> None:
    default = make_app().test_client().get("/t.js").text
    assert "var COOKIELESS = false;" in default
    assert "navigator" in default and "globalPrivacyControl" in default and "doNotTrack" in default
    cookieless_app = make_app(cookieless=True)
    served = cookieless_app.test_client().get("/t.js")
    assert "var COOKIELESS = true;" in served.text and "var COOKIELESS = false;" not in served.text
    assert served.headers["ETag"] != make_app().test_client().get("/t.js").headers["ETag"]


# ---- cookieless -----------------------------------------------------------------------------------

def test_cookieless_sets_no_cookie_and_counts_visitors_within_a_day(make_app, make_link, monkeypatch, auth) -> None:
    app = make_app(cookieless=True)
    client = app.test_client()
    client.set_cookie("trk_vid", "an-earlier-visitor-id", domain="localhost")  # ignored: no cookies used
    link = make_link()
    monday = datetime(2026, 11, 30, 9, tzinfo=UTC)
    answers = []
    for when, ip in ((monday, IP), (monday + timedelta(hours=5), IP), (monday, "198.51.100.1"),
                     (monday + timedelta(days=1), IP)):
        pin_clock(monkeypatch, when)
        answers.append(client.get(f"/r/{link['code']}", headers={"User-Agent": CHROME},
                                  environ_base={"REMOTE_ADDR": ip}))
    assert all(a.status_code == 302 and "Set-Cookie" not in a.headers and tid_of(a) for a in answers)
    app.extensions["tracker.redirects"]["spool"].drain()
    with get_db(app).Session() as s:
        vids = list(s.scalars(sa.select(Click.visitor_id).order_by(Click.ts, Click.ip_hash)))
    assert "an-earlier-visitor-id" not in vids and all(v.startswith("c.") for v in vids)
    assert vids.count(IpHasher("test-ip-secret").visitor(IP, CHROME, monday)) == 2  # one browser, one day
    assert len(set(vids)) == 3  # another address, and the next day, are other visitors
    stats = client.get(f"/api/v1/links/{link['code']}", headers=auth).json["stats"]
    assert stats["clicks"] == 4 and stats["unique_clicks"] == 3


# ---- erasure --------------------------------------------------------------------------------------

def _person_everywhere(app: Any, client: Any, auth: dict[str, str], link: dict[str, Any], drain: Any) -> dict[str, Any]:
    """A person with a click, a landing visit, an identity chain, a conversion, a self-report, an offline touch."""
    browser = app.test_client()
    resp = browser.get(f"/r/{link['code']}", headers={"User-Agent": CHROME})
    tid, vid = tid_of(resp), resp.headers["Set-Cookie"].split(";")[0].split("=", 1)[1]
    browser.get(f"/q/{link['code']}", headers={"User-Agent": CHROME})
    drain()
    site = "a1b2c3d4e5f60718293a4b5c6d7e8f90"
    assert client.post("/api/v1/identify", json={"tid": tid, "site_visitor_id": site, "customer_key": EMAIL},
                       headers=auth).status_code == 200
    assert client.post("/api/v1/conversions", json={"external_id": "order-1", "type": "purchase", "value": 100,
                                                    "customer_key": EMAIL}, headers=auth).status_code == 201
    assert client.post("/api/v1/self-reports", json={"option": "other", "text": "a podcast",
                                                     "customer_key": EMAIL}, headers=auth).status_code == 201
    csv = f"customer_key,ts,kind,label\n{EMAIL},2026-11-01T10:00:00+00:00,event,Oslo Expo\n"
    assert client.post("/api/v1/touchpoints/import", data=csv.encode(),
                       headers={**auth, "Content-Type": "text/csv"}).status_code == 201
    with get_db(app).Session() as s:
        person = s.scalar(sa.select(Click.person_id).where(Click.tid == tid))
        s.add(LandingVisit(ts=utcnow(), person_id=person, site_visitor_id=site, tid=tid, is_touch=False,
                           page="www.example.com/"))
        s.commit()
    return {"person": person, "tid": tid, "vid": vid, "site": site, "browser": browser}


def _other_person(client: Any, auth: dict[str, str], link: dict[str, Any], drain: Any) -> None:
    client.get(f"/r/{link['code']}")
    drain()
    assert client.post("/api/v1/conversions", json={"external_id": "order-2", "type": "lead",
                                                    "customer_key": "kari@example.no"}, headers=auth).status_code == 201


def _assert_gone(session: Any, who: dict[str, Any]) -> None:
    person = who["person"]
    for model in (Click, LandingVisit, OfflineTouch, Conversion, SelfReport, Identity):
        assert count(session, model, model.person_id == person) == 0, model
    assert count(session, LinkVisitor, LinkVisitor.visitor_id == who["vid"]) == 0
    assert count(session, Identity, Identity.value.in_([who["vid"], who["site"], who["tid"]])) == 0
    assert count(session, Click, Click.visitor_id == who["vid"]) == 0


def test_erase_via_api_removes_everything_and_keeps_aggregates(app, client, auth, make_link, drain, session) -> None:
    link = make_link()
    who = _person_everywhere(app, client, auth, link, drain)
    _other_person(client, auth, link, drain)
    session.expire_all()
    stats_before = sorted(tuple(r) for r in session.execute(sa.select(LinkDailyStat.via, LinkDailyStat.clicks,
                                                                      LinkDailyStat.uniques)))
    resp = client.delete(f"/api/v1/people/{who['person']}", headers=auth)
    assert resp.status_code == 200, resp.json
    assert resp.json == {"person_id": who["person"], "removed": {
        "clicks": 2, "landing_visits": 1, "offline_touches": 1, "conversions": 1, "self_reports": 1,
        "identities": 3, "link_visitors": 2}}  # identities: visitor cookie, site visitor id, customer key
    _assert_gone(session, who)
    # Someone else is untouched; the anonymous daily counts stay as they were.
    assert count(session, Click) == 1 and count(session, Conversion) == 1 and count(session, LinkVisitor) == 1
    stats_after = sorted(tuple(r) for r in session.execute(sa.select(LinkDailyStat.via, LinkDailyStat.clicks,
                                                                     LinkDailyStat.uniques)))
    assert stats_after == stats_before
    # Tombstones hold hashes, never the ids themselves.
    stored = set(session.scalars(sa.select(ErasedId.hash)))
    assert tombstone("visitor", who["vid"]) in stored and tombstone("click", who["tid"]) in stored
    assert not any(v in h for h in stored for v in (who["vid"], who["tid"], who["site"]))

    again = client.delete(f"/api/v1/people/{who['person']}", headers=auth)
    assert again.status_code == 404 and again.json["error"]["code"] == "not_found"


def test_erase_unknown_person_is_404_and_needs_a_key(client, auth) -> None:
    resp = client.delete("/api/v1/people/pnobodyatall0000000000", headers=auth)
    assert resp.status_code == 404
    assert resp.json["error"] == {"code": "not_found", "message": "person pnobodyatall0000000000 does not exist",
                                  "field": "person_id"}
    assert client.delete("/api/v1/people/pnobodyatall0000000000").status_code == 401


@pytest.mark.parametrize("role", ["marketer", "staff", "analyst", "ingest"])
def test_only_admins_may_erase(app, client, auth, make_link, drain, session, role) -> None:
    who = _person_everywhere(app, client, auth, make_link(), drain)
    with get_db(app).Session() as s:
        key = make_key(s, role)
    resp = client.delete(f"/api/v1/people/{who['person']}", headers=bearer(key))
    assert resp.status_code == 403 and resp.json["error"]["code"] == "forbidden"
    assert count(session, Click, Click.person_id == who["person"]) == 2


@pytest.mark.parametrize("key", ["email", "person", "visitor", "site", "tid"])
def test_erase_via_cli_by_any_key(app, client, auth, make_link, drain, session, key) -> None:
    who = _person_everywhere(app, client, auth, make_link(), drain)
    value = {"email": "  " + EMAIL.lower(), "person": who["person"], "visitor": who["vid"], "site": who["site"],
             "tid": who["tid"]}[key]
    result = app.test_cli_runner().invoke(args=["people", "erase", "--yes", "--", value])  # ids may start with -
    assert result.exit_code == 0, result.output
    assert f"person {who['person']} erased: 2 clicks, 1 landing visits" in result.output
    _assert_gone(session, who)


def test_erase_cli_unknown_key_and_refusal(app, client, auth, make_link, drain) -> None:
    runner = app.test_cli_runner()
    result = runner.invoke(args=["people", "erase", "nobody@example.no", "--yes"])
    assert result.exit_code != 0 and "no person is known by 'nobody@example.no' (key)" in result.output
    who = _person_everywhere(app, client, auth, make_link(), drain)
    declined = runner.invoke(args=["people", "erase", EMAIL], input="n\n")
    assert declined.exit_code != 0
    with get_db(app).Session() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(Click).where(Click.person_id == who["person"])) == 2


def test_spooled_lines_do_not_bring_an_erased_person_back(app, client, auth, make_link, drain, session) -> None:
    link = make_link()
    who = _person_everywhere(app, client, auth, link, drain)
    spool = app.extensions["tracker.redirects"]["spool"]
    # A click of the person answered but still in the spool when they are erased:
    in_flight = who["browser"].get(f"/r/{link['code']}", headers={"User-Agent": CHROME})
    assert in_flight.status_code == 302
    drained_line = {"tid": who["tid"], "ts": (utcnow() - timedelta(minutes=5)).isoformat(), "via": "link",
                    "link": link["id"], "vid": None, "ua": CHROME}
    assert client.delete(f"/api/v1/people/{who['person']}", headers=auth).status_code == 200
    assert spool.drain() == 1
    _assert_gone(session, who)
    assert count(session, Click) == 0
    # A line drained before the erasure and written again (a replay after a crash) is dropped too.
    with get_db(app).Session() as s:
        assert write_batch(s, [drained_line], app.config["SETTINGS"].tz) == 0
    assert count(session, Click) == 0 and count(session, Identity) == 0

    # After the erasure the browser still sends the old cookie: its clicks count, tied to nobody.
    later = who["browser"].get(f"/r/{link['code']}", headers={"User-Agent": CHROME})
    assert later.status_code == 302
    spool.drain()
    (row,) = session.scalars(sa.select(Click))
    assert row.visitor_id is None and row.tid == tid_of(later)
    _assert_gone(session, who)


def test_conversion_spool_lines_of_an_erased_person_are_dropped(app, client, auth, make_link, drain,
                                                                session) -> None:
    who = _person_everywhere(app, client, auth, make_link(), drain)
    secret = app.extensions["tracker.redirects"]["ip_secret"]
    before = (utcnow() - timedelta(seconds=30)).isoformat()
    lines = [
        {"sid": "a", "received": before, "atomic": False, "items": [
            {"external_id": "o-9", "type": "lead", "customer_key": EMAIL.upper()},
            {"external_id": "o-10", "type": "lead", "customer_key": "kari@example.no"}]},
        {"sid": "b", "received": before, "atomic": True, "items": [
            {"external_id": "o-11", "type": "lead", "site_visitor_id": who["site"]}]},
        {"sid": "c", "received": before, "atomic": True, "items": [
            {"external_id": "o-12", "type": "lead", "tid": who["tid"]}]},
    ]
    assert drop_erased_conversions(session, secret, lines) == lines  # nobody erased yet
    erase_person(session, who["person"])
    later = (utcnow() + timedelta(seconds=1)).isoformat()
    kept = drop_erased_conversions(session, secret, [*lines, {**lines[1], "sid": "d", "received": later}])
    assert [(k["sid"], [i["external_id"] for i in k["items"]]) for k in kept] == [("a", ["o-10"]), ("d", ["o-11"])]


# ---- retention ------------------------------------------------------------------------------------

def _click_line(link_id: int, ts: datetime, n: int, vid: str | None = None) -> dict[str, Any]:
    return {"tid": f"ret{n:017d}", "ts": ts.isoformat(), "via": "link", "link": link_id, "vid": vid or f"v{n}",
            "ua": CHROME, "ip": "0" * 32, "outcome": "redirect"}


def test_retention_purge_keeps_aggregates_and_reports_say_so(make_app, make_link, auth) -> None:
    app = make_app(click_retention_days=30)
    client, runner = app.test_client(), app.test_cli_runner()
    link = make_link()
    now = utcnow()
    settings = app.config["SETTINGS"]
    lines = [_click_line(link["id"], now - timedelta(days=40 + n % 3), n) for n in range(7)]
    lines += [_click_line(link["id"], now - timedelta(days=2), 100 + n) for n in range(3)]
    orphan = {"tid": "orphan0000000000000a", "ts": (now - timedelta(days=50)).isoformat(), "via": "qr",
              "t": "orphan", "code": "zzzzzz"}
    db = get_db(app)
    with db.Session() as s:
        write_batch(s, [*lines, orphan], settings.tz)
        s.add(LandingVisit(ts=now - timedelta(days=45), person_id="pold", site_visitor_id="x" * 16, page="e.com/"))
        s.add(LandingVisit(ts=now - timedelta(days=1), person_id="pnew", site_visitor_id="y" * 16, page="e.com/"))
        s.commit()
        stats = sorted(tuple(r) for r in s.execute(sa.select(LinkDailyStat.day, LinkDailyStat.clicks,
                                                             LinkDailyStat.uniques)))
        assert raw_clicks_since(s, settings) is not None  # configured: reports warn even before a purge

    result = runner.invoke(args=["retention", "purge"])
    assert result.exit_code == 0, result.output
    assert "7 clicks, 1 orphan visits, 1 landing visits" in result.output
    with db.Session() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(Click)) == 3
        assert s.scalar(sa.select(sa.func.count()).select_from(OrphanVisit)) == 0
        assert list(s.scalars(sa.select(LandingVisit.person_id))) == ["pnew"]
        assert sorted(tuple(r) for r in s.execute(sa.select(LinkDailyStat.day, LinkDailyStat.clicks,
                                                            LinkDailyStat.uniques))) == stats
        assert s.scalar(sa.select(sa.func.count()).select_from(LinkVisitor)) == 10  # uniques stay exact
        assert purge(s, settings) == {"clicks": 0, "orphan_visits": 0, "landing_visits": 0}
    assert client.get(f"/api/v1/links/{link['code']}", headers=auth).json["stats"]["clicks"] == 10

    today = now.astimezone(settings.tz).date()
    old = client.get(f"/api/v1/reports/attribution?from={today - timedelta(days=60)}&to={today}", headers=auth)
    assert old.status_code == 200, old.json
    note = old.json["retention"]
    cut = (now - timedelta(days=30)).astimezone(settings.tz).date().isoformat()
    assert note["raw_clicks_since_day"] == cut and f"before {cut} are not available" in note["message"]
    recent = f"from={today - timedelta(days=5)}&to={today}&lookback_days=0"
    for path in ("attribution", "dark-funnel", "funnel"):
        assert "retention" not in client.get(f"/api/v1/reports/{path}?{recent}", headers=auth).json, path
        wide = client.get(f"/api/v1/reports/{path}?from={today - timedelta(days=10)}&to={today}", headers=auth)
        assert wide.json["retention"]["raw_clicks_since_day"] == cut, path  # the 30-day lookback reaches it
    cli = runner.invoke(args=["report", "attribution", "--from", str(today - timedelta(days=60)), "--format", "csv"])
    assert cli.exit_code == 0 and f"note: Clicks, scans and landing visits before {cut}" in cli.output
    sign_in_as(client, "analyst")
    page = client.get(f"/reports/attribution?from={today - timedelta(days=60)}&to={today}")
    assert page.status_code == 200 and 'id="report-retention"' in page.text
    assert f"before {cut} are not available" in page.text
    recent_page = client.get(f"/reports/funnel?{recent}")
    assert recent_page.status_code == 200 and 'id="report-retention"' not in recent_page.text


def test_no_retention_keeps_everything_and_adds_no_note(app, client, auth, make_link, session) -> None:
    link = make_link()
    with get_db(app).Session() as s:
        write_batch(s, [_click_line(link["id"], utcnow() - timedelta(days=4000), 1)], app.config["SETTINGS"].tz)
    result = app.test_cli_runner().invoke(args=["retention", "purge"])
    assert result.exit_code == 0 and "kept for ever" in result.output
    assert count(session, Click) == 1
    assert "retention" not in client.get("/api/v1/reports/attribution?from=2015-01-01&to=2015-02-01",
                                         headers=auth).json


def test_the_daily_purge_runs_once_a_day_across_processes(make_app, make_link, tmp_path) -> None:
    app = make_app(click_retention_days=1)
    link = make_link()
    db = get_db(app)
    settings = app.config["SETTINGS"]
    with db.Session() as s:
        write_batch(s, [_click_line(link["id"], utcnow() - timedelta(days=3), n) for n in range(3)], settings.tz)
    first = RetentionScheduler(db.Session, settings, tmp_path / "retention.lock")
    second = RetentionScheduler(db.Session, settings, tmp_path / "retention.lock")
    assert first.run_once() == {"clicks": 3, "orphan_visits": 0, "landing_visits": 0}
    assert second.run_once() is None  # purged within the day by another process
    assert second.run_once(now=utcnow() + timedelta(days=1)) == {"clicks": 0, "orphan_visits": 0,
                                                                  "landing_visits": 0}


def test_spool_drain_thread_starts_the_daily_purge(make_app, make_link) -> None:
    app = make_app(click_retention_days=1, SPOOL_BACKGROUND=True)
    link = make_link()
    with get_db(app).Session() as s:
        write_batch(s, [_click_line(link["id"], utcnow() - timedelta(days=3), 1)], app.config["SETTINGS"].tz)
    spool = app.extensions["tracker.redirects"]["spool"]
    try:
        assert app.test_client().get(f"/r/{link['code']}").status_code == 302
        deadline = utcnow() + timedelta(seconds=20)
        while utcnow() < deadline:
            with get_db(app).Session() as s:
                tids = set(s.scalars(sa.select(Click.tid)))
            if len(tids) == 1 and "ret00000000000000001" not in tids:
                break
            time.sleep(0.05)
        assert len(tids) == 1 and "ret00000000000000001" not in tids
    finally:
        spool.stop()
        app.extensions["tracker.redirects"]["retention"].stop()


@pytest.mark.parametrize("person_id", ["p" * 23, "p%07x", "%E2%80%8Bp"])
def test_erase_malformed_person_ids_are_404(client, auth, person_id) -> None:
    resp = client.delete(f"/api/v1/people/{person_id}", headers=auth)
    assert resp.status_code == 404 and resp.json["error"]["field"] == "person_id"


def test_erase_cli_refuses_a_key_with_control_characters(app) -> None:
    result = app.test_cli_runner().invoke(args=["people", "erase", "ola\x00@example.no", "--yes"])
    assert result.exit_code != 0 and "printable characters) (key)" in result.output


def test_an_erasure_waits_for_a_drain_batch_in_progress(app, client, auth, make_link, drain, session) -> None:
    """A drain batch that found nobody erased commits before the erasure reads, so its click is erased too."""
    link = make_link()
    who = _person_everywhere(app, client, auth, link, drain)
    line = {"tid": "inflight000000000001", "ts": utcnow().isoformat(), "via": "link", "link": link["id"],
            "vid": who["vid"], "ua": CHROME}
    db = get_db(app)
    erased_counts: list[dict[str, int]] = []
    with db.Session() as batch:
        assert drop_erased(batch, [line]) == [line]  # the batch's check: nobody erased yet
        batch.add(Click(tid=line["tid"], ts=utcnow(), link_id=link["id"], via="link", outcome="redirect",
                        visitor_id=who["vid"], person_id=who["person"]))
        batch.flush()

        def erase() -> None:
            with db.Session() as other:
                erased_counts.append(erase_person(other, who["person"]))

        worker = threading.Thread(target=erase)
        worker.start()
        worker.join(0.5)
        assert worker.is_alive()  # the erasure waits for the batch in progress
        batch.commit()
    worker.join(30)
    assert not worker.is_alive() and erased_counts[0]["clicks"] == 3  # the batch's click included
    _assert_gone(session, who)
    assert count(session, Click) == 0


def test_purge_works_in_batches_and_drops_the_click_identities(make_app, make_link) -> None:
    app = make_app(click_retention_days=10)
    link = make_link()
    settings = app.config["SETTINGS"]
    old = utcnow() - timedelta(days=11)
    lines = [{**_click_line(link["id"], old, n), "vid": None} for n in range(5)]  # no cookie: click identities
    with get_db(app).Session() as s:
        write_batch(s, [*lines, _click_line(link["id"], utcnow(), 9)], settings.tz)
        assert s.scalar(sa.select(sa.func.count()).select_from(Identity).where(Identity.kind == "click")) == 5
        assert purge(s, settings, batch=2) == {"clicks": 5, "orphan_visits": 0, "landing_visits": 0}
        assert s.scalar(sa.select(sa.func.count()).select_from(Identity).where(Identity.kind == "click")) == 0
        assert list(s.scalars(sa.select(Click.tid))) == ["ret00000000000000009"]
