"""The public redirects: statuses, what a click records, bots, privacy, and what cannot move a redirect."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa

from tracker.redirects.models import Click, LinkDailyStat, OrphanVisit

IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
          "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1")
DESKTOP = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
           "Chrome/124.0.0.0 Safari/537.36")


def clicks(session):
    session.expire_all()
    return list(session.scalars(sa.select(Click).order_by(Click.ts)))


def test_click_redirects_with_tid_and_records_everything(client, make_link, drain, session):
    link = make_link(destination="https://example.com/landing?ref=poster&x=1")
    resp = client.get(f"/r/{link['code']}", headers={"User-Agent": DESKTOP, "Referer": "https://news.example.org/a?b"},
                      environ_base={"REMOTE_ADDR": "203.0.113.9"})
    assert resp.status_code == 302
    location = urlsplit(resp.headers["Location"])
    query = parse_qs(location.query)
    assert location.netloc == "example.com" and location.path == "/landing"
    assert query["ref"] == ["poster"] and query["x"] == ["1"]  # the destination's own query survives
    assert query["utm_source"] == ["newsletter"] and query["utm_medium"] == ["email"]
    tid = query["tid"][0]
    assert resp.headers["Cache-Control"].startswith("no-store")
    cookie = resp.headers["Set-Cookie"]
    assert cookie.startswith("trk_vid=") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Max-Age=34128000" in cookie and "Expires" not in cookie  # 395 days from each click

    assert drain() == 1
    (row,) = clicks(session)
    assert row.tid == tid
    assert row.link_id == link["id"] and row.via == "link" and row.outcome == "redirect"
    assert row.ts.tzinfo is not None and abs(row.ts - datetime.now(UTC)) < timedelta(minutes=1)
    assert row.visitor_id == cookie.split(";")[0].split("=", 1)[1]
    assert row.referrer_host == "news.example.org"
    assert row.user_agent == DESKTOP
    assert row.browser == "Chrome" and row.os == "Windows" and row.device_type == "pc" and not row.is_bot
    assert row.utm_source == "newsletter" and row.utm_medium == "email" and row.utm_campaign == "spring"
    assert row.ip_hash and len(row.ip_hash) == 32 and "203.0.113.9" not in row.ip_hash


def test_raw_ip_is_never_stored(client, make_link, drain, session, app):
    link = make_link()
    client.get(f"/r/{link['code']}", environ_base={"REMOTE_ADDR": "198.51.100.77"})
    client.get("/r/doesnotexist", environ_base={"REMOTE_ADDR": "198.51.100.77"})
    drain()
    for table in (Click.__table__, OrphanVisit.__table__):
        for row in session.execute(sa.select(table)).all():
            assert all("198.51.100.77" not in str(v) for v in row)
    spool_dir = app.config["SETTINGS"].spool_path
    assert all("198.51.100.77" not in p.read_text() for p in spool_dir.glob("*.jsonl"))


def test_scan_is_told_apart_and_uniques_count_visitors(client, make_link, drain, session, auth):
    link = make_link(kind="print", utm_medium="print", utm_source="poster", label="Poster")
    code = link["code"]
    phone = {"User-Agent": IPHONE}
    client.get(f"/q/{code}", headers=phone)          # scan, new visitor (cookie set in the client)
    client.get(f"/q/{code.upper()}", headers=phone)  # same visitor again; codes are case-insensitive
    client.get(f"/r/{code}", headers=phone)          # a click by the same visitor
    drain()
    rows = clicks(session)
    assert [r.via for r in rows] == ["qr", "qr", "link"]
    assert len({r.visitor_id for r in rows}) == 1
    assert rows[0].device_type == "mobile" and rows[0].os == "iOS"
    stats = client.get(f"/api/v1/links/{code}", headers=auth).json["stats"]
    assert stats == {"clicks": 1, "unique_clicks": 1, "scans": 2, "unique_scans": 1, "bots": 0,
                     "countries": [{"country": None, "clicks": 1, "scans": 2, "bots": 0}],  # loopback: unknown
                     "rules": []}  # no redirect rules (tests/rules)


@pytest.mark.parametrize("agent", [
    "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
    "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "WhatsApp/2.23.20.0",
    "curl/8.5.0",
    "",
])
def test_bots_and_previews_are_recorded_but_flagged(client, make_link, drain, session, auth, agent):
    link = make_link()
    resp = client.get(f"/r/{link['code']}", headers={"User-Agent": agent})
    assert resp.status_code == 302
    drain()
    (row,) = clicks(session)
    assert row.is_bot and row.device_type == "bot"
    stats = client.get(f"/api/v1/links/{link['code']}", headers=auth).json["stats"]
    assert stats["clicks"] == 0 and stats["bots"] == 1


def test_head_is_not_a_click(client, make_link, drain, session):
    link = make_link()
    resp = client.head(f"/r/{link['code']}")
    assert resp.status_code == 302 and "tid=" not in resp.headers["Location"]
    assert drain() == 0 and clicks(session) == []


def test_unknown_code_is_404_page_and_orphan_visit(client, drain, session):
    resp = client.get("/q/zzzzzz", headers={"User-Agent": IPHONE, "Referer": "https://t.co/x"})
    assert resp.status_code == 404
    assert resp.mimetype == "text/html" and b"zzzzzz" in resp.data
    drain()
    (orphan,) = session.scalars(sa.select(OrphanVisit)).all()
    assert orphan.code == "zzzzzz" and orphan.via == "qr" and orphan.referrer_host == "t.co"


def test_expired_link_goes_to_campaign_fallback(client, auth, campaign, make_link, drain, session):
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    link = make_link(campaign=campaign["slug"], expires_at=past)
    resp = client.get(f"/r/{link['code']}")
    assert resp.status_code == 302
    assert resp.headers["Location"] == "https://example.com/expo-ended"
    drain()
    assert clicks(session)[0].outcome == "fallback"


def test_disabled_link_without_fallback_is_410(client, auth, make_link, drain, session, app):
    link = make_link()
    client.patch(f"/api/v1/links/{link['code']}", json={"disabled": True}, headers=auth)
    resp = client.get(f"/r/{link['code']}")
    assert resp.status_code == 410 and resp.mimetype == "text/html"
    drain()
    assert clicks(session)[0].outcome == "gone"


def test_patched_destination_is_followed(client, auth, make_link):
    link = make_link()
    client.get(f"/r/{link['code']}")  # fills the cache
    client.patch(f"/api/v1/links/{link['code']}", json={"destination": "https://example.com/v2"}, headers=auth)
    assert urlsplit(client.get(f"/r/{link['code']}").headers["Location"]).path == "/v2"


def test_no_parameter_or_header_moves_a_redirect(client, make_link):
    link = make_link(destination="https://example.com/landing")
    resp = client.get(f"/r/{link['code']}?next=https://evil.example/&url=https://evil.example/&tid=forged",
                      headers={"Host": "evil.example", "X-Forwarded-Host": "evil.example",
                               "X-Original-URL": "/r/other", "Referer": "https://evil.example/"})
    location = urlsplit(resp.headers["Location"])
    assert location.netloc == "example.com"
    assert parse_qs(location.query)["tid"] != ["forged"]
    assert "evil" not in resp.headers["Location"]


def test_trusted_hosts_refuse_other_hosts(make_app, make_link):
    app = make_app(trusted_hosts="go.example.com")
    client = app.test_client()
    assert client.get("/r/abcdef", headers={"Host": "evil.example"}).status_code == 400
    assert client.get("/r/abcdef", headers={"Host": "go.example.com"}).status_code == 404


def test_ip_hash_uses_trusted_proxy_only(make_app, make_link, session):
    app = make_app(trusted_proxy_count=1)
    link = make_link()
    client = app.test_client()
    for forwarded in ("192.0.2.1", "192.0.2.1", "192.0.2.2"):
        client.get(f"/r/{link['code']}", headers={"X-Forwarded-For": forwarded},
                   environ_base={"REMOTE_ADDR": "10.0.0.1"})
    app.extensions["tracker.redirects"]["spool"].drain()
    hashes = [c.ip_hash for c in clicks(session)]
    assert hashes[0] == hashes[1] != hashes[2]


def test_every_click_gets_a_unique_tid(client, make_link, drain, session):
    link = make_link()
    tids = {parse_qs(urlsplit(client.get(f"/r/{link['code']}").headers["Location"]).query)["tid"][0]
            for _ in range(50)}
    assert len(tids) == 50
    drain()
    assert {c.tid for c in clicks(session)} == tids


def test_daily_aggregates_match_rows(client, make_link, drain, session):
    link = make_link()
    for agent in (IPHONE, DESKTOP, "curl/8"):
        client.get(f"/r/{link['code']}", headers={"User-Agent": agent})
    drain()
    (stat,) = session.scalars(sa.select(LinkDailyStat)).all()
    assert (stat.clicks, stat.uniques, stat.bots) == (2, 1, 1)  # one cookie jar: one visitor


def test_head_mirrors_get_without_recording(client, auth, make_link, drain, session):
    link = make_link()
    client.patch(f"/api/v1/links/{link['code']}", json={"disabled": True}, headers=auth)
    assert client.head(f"/r/{link['code']}").status_code == 410
    assert client.head("/q/zzzzzz").status_code == 404
    assert drain() == 0


def test_other_methods_are_refused(client, make_link, drain):
    link = make_link()
    resp = client.post(f"/r/{link['code']}")
    assert resp.status_code == 405 and resp.headers["Allow"] == "GET, HEAD"
    assert drain() == 0


def test_international_destination_is_sent_as_an_ascii_uri(client, make_link):
    link = make_link(destination="https://bøker.example/søk?q=blåbær#topp")
    location = client.get(f"/r/{link['code']}").headers["Location"]
    assert location.isascii()
    parts = urlsplit(location)
    assert parts.netloc == "bøker.example".encode("idna").decode() and parts.fragment == "topp"
    assert parse_qs(parts.query)["q"] == ["blåbær"] and "tid" in parse_qs(parts.query)


def test_returning_visitor_keeps_the_cookie(client, make_link, drain, session):
    link = make_link()
    first = client.get(f"/r/{link['code']}")
    assert "Set-Cookie" in first.headers
    again = client.get(f"/q/{link['code']}")
    assert "Set-Cookie" not in again.headers
    drain()
    assert len({c.visitor_id for c in clicks(session)}) == 1
