"""The public collect endpoint and the snippet file: CORS, limits, validation, stitching, channels."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa

from tracker.config import load_settings
from tracker.conversions.models import Conversion
from tracker.db import get_db
from tracker.people.models import Identity
from tracker.people.service import customer_hash
from tracker.redirects.models import Click
from tracker.touchpoints.collect import landing_channel, referrer_channel
from tracker.touchpoints.models import LandingVisit

ORIGIN = "https://www.example.com"
SVID = "3f9a0c1d2e4b5a69788796a5b4c3d2e1"
CHROME = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/124.0.0.0 Safari/537.36")
BOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
CLIENT_IP = "203.0.113.77"


@pytest.fixture
def landing_app(make_app: Callable[..., Any]) -> Any:
    return make_app(landing_origins=(ORIGIN,))


@pytest.fixture
def lclient(landing_app: Any) -> Any:
    return landing_app.test_client()


def post(client: Any, body: Any, origin: str | None = ORIGIN, ua: str = CHROME, **kw: Any) -> Any:
    headers = {"User-Agent": ua}
    if origin:
        headers["Origin"] = origin
    return client.post("/collect", json=body, headers=headers, environ_base={"REMOTE_ADDR": CLIENT_IP}, **kw)


def visit(**fields: Any) -> dict[str, Any]:
    return {"type": "visit", "site_visitor_id": SVID, "url": "https://www.example.com/pricing", **fields}


def rows(app: Any, model: Any) -> list[Any]:
    with get_db(app).Session() as s:
        return list(s.scalars(sa.select(model)))


def click_tid(client: Any, code: str) -> str:
    resp = client.get(f"/r/{code}", headers={"User-Agent": CHROME})
    assert resp.status_code == 302
    return parse_qs(urlsplit(resp.headers["Location"]).query)["tid"][0]


# --- the snippet -----------------------------------------------------------------------------------

def test_snippet_is_cacheable_javascript(lclient: Any) -> None:
    resp = lclient.get("/t.js")
    assert resp.status_code == 200
    assert resp.mimetype == "text/javascript"
    assert "max-age=3600" in resp.headers["Cache-Control"] and "public" in resp.headers["Cache-Control"]
    assert b"/collect" in resp.data and b"getRandomValues" in resp.data
    again = lclient.get("/t.js", headers={"If-None-Match": resp.headers["ETag"]})
    assert again.status_code == 304


# --- CORS ------------------------------------------------------------------------------------------

def test_allowed_origin_is_echoed(lclient: Any) -> None:
    resp = post(lclient, visit())
    assert resp.status_code == 204
    assert resp.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "Origin" in resp.headers["Vary"]
    assert "Access-Control-Allow-Credentials" not in resp.headers


@pytest.mark.parametrize("origin", ["https://evil.example.net", "null", "http://www.example.com", None])
def test_other_origins_are_refused(lclient: Any, landing_app: Any, origin: str | None) -> None:
    resp = post(lclient, visit(), origin=origin)
    assert resp.status_code == 403
    assert resp.json["error"]["field"] == "origin"
    assert "Access-Control-Allow-Origin" not in resp.headers
    assert rows(landing_app, LandingVisit) == []


def test_preflight(lclient: Any) -> None:
    ok = lclient.options("/collect", headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST",
                                              "Access-Control-Request-Headers": "content-type"})
    assert ok.status_code == 204
    assert ok.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert ok.headers["Access-Control-Allow-Methods"] == "POST"
    assert ok.headers["Access-Control-Allow-Headers"].lower() == "content-type"
    assert int(ok.headers["Access-Control-Max-Age"]) > 0
    denied = lclient.options("/collect", headers={"Origin": "https://evil.example.net",
                                                  "Access-Control-Request-Method": "POST"})
    assert denied.status_code == 403
    assert denied.json["error"]["field"] == "origin"
    assert "Access-Control-Allow-Origin" not in denied.headers


def test_no_landing_origins_configured_refuses_everything(client: Any) -> None:
    resp = post(client, visit())
    assert resp.status_code == 403 and resp.json["error"]["field"] == "origin"


def test_text_plain_body_is_accepted(lclient: Any, landing_app: Any) -> None:
    import json
    resp = lclient.post("/collect", data=json.dumps(visit()), content_type="text/plain;charset=UTF-8",
                        headers={"Origin": ORIGIN, "User-Agent": CHROME})
    assert resp.status_code == 204
    assert len(rows(landing_app, LandingVisit)) == 1


# --- limits and validation -------------------------------------------------------------------------

def test_rate_limit_per_ip(make_app: Callable[..., Any]) -> None:
    app = make_app(landing_origins=(ORIGIN,), collect_rate_limit="3 per minute")
    client = app.test_client()
    assert [post(client, visit()).status_code for _ in range(3)] == [204, 204, 204]
    resp = post(client, visit())
    assert resp.status_code == 429
    assert resp.json["error"]["code"] == "rate_limited"
    assert "3 per minute" in resp.json["error"]["message"]
    assert int(resp.headers["Retry-After"]) > 0
    assert resp.headers["Access-Control-Allow-Origin"] == ORIGIN  # the page can read why
    other = client.post("/collect", json=visit(), headers={"Origin": ORIGIN, "User-Agent": CHROME},
                        environ_base={"REMOTE_ADDR": "198.51.100.9"})
    assert other.status_code == 204
    assert len(rows(app, LandingVisit)) == 4


def test_body_size_and_media_type(lclient: Any) -> None:
    big = post(lclient, visit(utm_term="x" * 5000))
    assert big.status_code == 413
    form = lclient.post("/collect", data={"type": "visit"}, headers={"Origin": ORIGIN})
    assert form.status_code == 415
    broken = lclient.post("/collect", data="{not json", content_type="text/plain",
                          headers={"Origin": ORIGIN})
    assert broken.status_code == 422
    array = post(lclient, [visit()])
    assert array.status_code == 422


@pytest.mark.parametrize(("body", "field"), [
    ({"type": "pageview", "site_visitor_id": SVID}, "type"),
    ({"site_visitor_id": SVID, "url": "https://www.example.com/"}, "type"),
    (visit(site_visitor_id=None), "site_visitor_id"),
    (visit(site_visitor_id="short"), "site_visitor_id"),
    (visit(site_visitor_id="a" * 65), "site_visitor_id"),
    (visit(site_visitor_id="has space in it 1234"), "site_visitor_id"),
    (visit(site_visitor_id=12345678901234567), "site_visitor_id"),
    (visit(tid="not-a-tid"), "tid"),
    (visit(tid="<script>alert(1)</script>"), "tid"),
    (visit(url=None), "url"),
    (visit(url="javascript:alert(1)"), "url"),
    (visit(url="ftp://www.example.com/x"), "url"),
    (visit(url="/relative/path"), "url"),
    (visit(referrer="data:text/html,hi"), "referrer"),
    (visit(utm_source="s" * 101), "utm_source"),
    (visit(utm_campaign="line\nbreak"), "utm_campaign"),
    (visit(utm_medium=["email"]), "utm_medium"),
    (visit(value=100), "value"),
    (visit(customer_key="ada@example.com"), "customer_key"),
    ({"type": "identify", "site_visitor_id": SVID}, "customer_key"),
    ({"type": "identify", "site_visitor_id": SVID, "customer_key": "a" * 400}, "customer_key"),
    ({"type": "identify", "site_visitor_id": SVID, "customer_key": "x", "url": "https://a.b/"}, "url"),
    ({"type": "event", "site_visitor_id": SVID, "event": "purchased"}, "event"),
    ({"type": "event", "site_visitor_id": SVID, "event": "lead", "value": 10}, "value"),
    ({"type": "event", "site_visitor_id": SVID}, "event"),
])
def test_validation_names_the_field(lclient: Any, landing_app: Any, body: dict[str, Any], field: str) -> None:
    resp = post(lclient, body)
    assert resp.status_code == 422, resp.json
    assert resp.json["error"]["field"] == field
    assert resp.json["error"]["message"]
    assert resp.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert rows(landing_app, LandingVisit) == [] and rows(landing_app, Identity) == []


def test_event_outside_the_funnel_uses_the_configured_funnel(make_app: Callable[..., Any]) -> None:
    app = make_app(landing_origins=(ORIGIN,), funnel=("signup", "purchase"))
    client = app.test_client()
    assert post(client, {"type": "event", "site_visitor_id": SVID, "event": "lead"}).status_code == 422
    assert post(client, {"type": "event", "site_visitor_id": SVID, "event": "signup"}).status_code == 204


# --- what a visit becomes --------------------------------------------------------------------------

def test_visit_without_tid_is_a_touch_with_raw_inputs(lclient: Any, landing_app: Any) -> None:
    resp = post(lclient, visit(url="https://www.example.com/pricing?email=ada@example.com",
                               referrer="https://www.google.no/search?q=secret",
                               utm_source="Newsletter", utm_medium="email", utm_campaign="spring"))
    assert resp.status_code == 204
    [v] = rows(landing_app, LandingVisit)
    assert v.is_touch is True and v.tid is None
    assert v.page == "www.example.com/pricing"  # no query string kept
    assert v.referrer_host == "www.google.no"  # host only
    assert (v.utm_source, v.utm_medium, v.utm_campaign) == ("Newsletter", "email", "spring")
    assert v.is_bot is False
    [ident] = rows(landing_app, Identity)
    assert (ident.kind, ident.value, ident.person_id) == ("site", SVID, v.person_id)
    settings = landing_app.config["SETTINGS"]
    assert landing_channel(v, settings.taxonomy) == "Email"


def test_internal_navigation_is_not_a_new_touch(lclient: Any, landing_app: Any) -> None:
    post(lclient, visit(referrer="https://www.example.com/"))
    post(lclient, visit(referrer="https://example.com/blog", utm_source="linkedin", utm_medium="social"))
    first, second = sorted(rows(landing_app, LandingVisit), key=lambda v: v.id)
    assert first.is_touch is False  # a page view after another page of the site
    assert second.is_touch is True  # UTM values make it a new contact
    assert first.person_id == second.person_id


def test_visit_with_tid_of_a_drained_click_only_links(lclient: Any, landing_app: Any,
                                                      make_link: Callable[..., Any]) -> None:
    # make_link posts with the default app's client; the landing app shares the database.
    link = make_link()
    tid = click_tid(lclient, link["code"])
    landing_app.extensions["tracker.redirects"]["spool"].drain()
    [click] = rows(landing_app, Click)
    assert post(lclient, visit(tid=tid, utm_source="newsletter", utm_medium="email")).status_code == 204
    [v] = rows(landing_app, LandingVisit)
    assert v.is_touch is False and v.tid == tid
    assert v.person_id == click.person_id
    site = [i for i in rows(landing_app, Identity) if i.kind == "site"]
    assert site[0].person_id == click.person_id


def test_visit_with_tid_before_the_drain_ends_in_one_person(lclient: Any, landing_app: Any,
                                                            make_link: Callable[..., Any]) -> None:
    link = make_link()
    tid = click_tid(lclient, link["code"])
    assert rows(landing_app, Click) == []  # still in the spool
    assert post(lclient, visit(tid=tid)).status_code == 204
    [v] = rows(landing_app, LandingVisit)
    assert v.is_touch is False and v.tid == tid  # the click (not yet written) will be the touch
    assert post(lclient, {"type": "identify", "site_visitor_id": SVID,
                          "customer_key": "ada@example.com"}).status_code == 204
    landing_app.extensions["tracker.redirects"]["spool"].drain()
    [click] = rows(landing_app, Click)
    [v] = rows(landing_app, LandingVisit)
    people = {click.person_id, v.person_id, *(i.person_id for i in rows(landing_app, Identity))}
    assert len(people) == 1


def test_identify_ties_site_visitor_and_customer(lclient: Any, landing_app: Any) -> None:
    post(lclient, visit())
    other = "0123456789abcdef0123456789abcdef"
    post(lclient, visit(site_visitor_id=other))  # the same customer on a second device
    for svid in (SVID, other):
        resp = post(lclient, {"type": "identify", "site_visitor_id": svid, "customer_key": " Ada@Example.com "})
        assert resp.status_code == 204
    idents = {(i.kind, i.value): i.person_id for i in rows(landing_app, Identity)}
    secret = landing_app.extensions["tracker.redirects"]["ip_secret"]
    chash = customer_hash("ada@example.com", secret)
    assert set(idents) == {("site", SVID), ("site", other), ("customer", chash)}
    assert len(set(idents.values())) == 1
    assert {v.person_id for v in rows(landing_app, LandingVisit)} == set(idents.values())
    assert all("ada" not in i.value.lower() for i in rows(landing_app, Identity))


def test_event_is_a_value_free_conversion_once(lclient: Any, landing_app: Any) -> None:
    post(lclient, visit())
    for _ in range(2):
        assert post(lclient, {"type": "event", "site_visitor_id": SVID, "event": "lead"}).status_code == 204
    [conv] = rows(landing_app, Conversion)
    [v] = rows(landing_app, LandingVisit)
    assert (conv.type, conv.value, conv.external_id) == ("lead", 0, f"site:{SVID}")
    assert conv.person_id == v.person_id and conv.site_visitor_id == SVID


def test_bots_are_flagged(lclient: Any, landing_app: Any) -> None:
    post(lclient, visit(), ua=BOT)
    [v] = rows(landing_app, LandingVisit)
    assert v.is_bot is True and v.user_agent == BOT


def test_no_raw_ip_is_stored(lclient: Any, landing_app: Any) -> None:
    post(lclient, visit())
    [v] = rows(landing_app, LandingVisit)
    assert v.ip_hash and len(v.ip_hash) == 32 and CLIENT_IP not in v.ip_hash
    with get_db(landing_app).engine.connect() as conn:
        for table in ("landing_visits", "identities"):
            for row in conn.execute(sa.text(f"SELECT * FROM {table}")):
                assert all(CLIENT_IP not in str(value) for value in row)


# --- channels (pure, no database) ------------------------------------------------------------------

TAXONOMY = load_settings({"secret_key": "x", "ip_hash_secret": "y"}).taxonomy


@pytest.mark.parametrize(("fields", "channel"), [
    ({"utm_source": "google", "utm_medium": "cpc", "referrer_host": "www.facebook.com"}, "Paid search"),
    ({"utm_source": "newsletter", "utm_medium": "EMAIL"}, "Email"),
    ({"utm_source": "someone", "utm_medium": "carrier-pigeon"}, "Other"),
    ({"referrer_host": "www.google.no"}, "Organic search"),
    ({"referrer_host": "duckduckgo.com"}, "Organic search"),
    ({"referrer_host": "www.bing.com"}, "Organic search"),
    ({"referrer_host": "l.facebook.com"}, "Organic social"),
    ({"referrer_host": "www.linkedin.com"}, "Organic social"),
    ({"referrer_host": "t.co"}, "Organic social"),
    ({"referrer_host": "blog.partner.example"}, "Referral"),
    ({"referrer_host": "microsoft.com"}, "Referral"),  # not t.co
    ({"referrer_host": "www.example.com"}, "Direct"),  # same site: ignored
    ({"referrer_host": "shop.example.com"}, "Direct"),
    ({}, "Direct"),
    ({"utm_campaign": "spring"}, "Direct"),  # a campaign alone says nothing about the channel
])
def test_landing_channel(fields: dict[str, Any], channel: str) -> None:
    row = {"utm_source": None, "utm_medium": None, "referrer_host": None, "page": "www.example.com/pricing",
           **fields}
    assert landing_channel(row, TAXONOMY) == channel


def test_taxonomy_referrers_win_over_built_in_lists() -> None:
    assert referrer_channel("news.ycombinator.com", (("ycombinator.com", "Organic social"),)) == "Organic social"
    assert referrer_channel("www.google.com", (("google.", "Paid search"),)) == "Paid search"
    assert referrer_channel(None) is None
