"""Journeys: the end-to-end story of one person, ordering, the API and the page."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import sqlalchemy as sa
from accounts_support import sign_in_as

from tracker.people.journey import person_journey
from tracker.redirects.models import Click
from tracker.selfreports.models import SelfReport
from tracker.touchpoints.models import LandingVisit


def scan(app, code):
    resp = app.test_client().get(f"/q/{code}")
    assert resp.status_code == 302
    return parse_qs(urlsplit(resp.headers["Location"]).query)["tid"][0]


def sign_in(client, api_key):
    sign_in_as(client, "admin")


def test_anonymous_scan_then_landing_then_conversion_days_later_is_one_journey(
        app, client, auth, api_key, campaign, make_link, drain, session):
    link = make_link(campaign=campaign["slug"], kind="print", utm_source="oslo-expo", utm_medium="poster",
                     label="Poster A")
    tid = scan(app, link["code"])
    drain()
    three_days_ago = datetime.now(UTC) - timedelta(days=3)
    session.execute(sa.update(Click).where(Click.tid == tid).values(ts=three_days_ago))
    session.commit()

    # the landing page saw the scan's tid with its own site visitor id
    landed = client.post("/api/v1/identify", json={"tid": tid, "site_visitor_id": "site-77"}, headers=auth)
    assert landed.status_code == 200, landed.json
    # an unrelated visitor converts too (must not join)
    client.post("/api/v1/conversions", json={"external_id": "other", "type": "lead", "site_visitor_id": "site-9"},
                headers=auth)
    # days later the CRM reports the purchase with the customer key and the site visitor id
    bought = client.post("/api/v1/conversions", json={
        "external_id": "deal-42", "type": "purchase", "value": "4990", "ts": datetime.now(UTC).isoformat(),
        "customer_key": "kari@example.no", "site_visitor_id": "site-77"}, headers=auth)
    assert bought.status_code == 201
    person = bought.json["person_id"]
    assert person == landed.json["person_id"]

    resp = client.get(f"/api/v1/people/{person}/journey", headers=auth)
    assert resp.status_code == 200
    items = resp.json["items"]
    assert [i["kind"] for i in items] == ["scan", "conversion"]
    first, last = items
    assert first["id"] == tid and first["detail"]["link_code"] == link["code"]
    assert first["detail"]["campaign"] == campaign["slug"] and first["detail"]["via"] == "qr"
    assert first["channel"] == "Print" and first["is_touch"] is True
    assert last["detail"]["external_id"] == "deal-42" and last["detail"]["value"] == "4990.00"

    sign_in(client, api_key)
    page = client.get(f"/people/{person}")
    assert page.status_code == 200
    assert page.text.count('data-kind="') == 2
    assert page.text.index('data-kind="scan"') < page.text.index('data-kind="conversion"')
    assert "deal-42" in page.text and link["code"] in page.text
    found = client.get("/people?q=Kari@Example.no")
    assert found.status_code == 302 and found.headers["Location"] == f"/people/{person}"
    listing = client.get("/people")
    assert f'href="/people/{person}"' in listing.text
    missing = client.get("/people?q=nobody@example.no")
    assert missing.status_code == 200 and "No person is known" in missing.text


def test_all_kinds_in_deterministic_order(app, client, auth, make_link, drain, session):
    link = make_link()
    resp = client.get(f"/r/{link['code']}")
    tid = parse_qs(urlsplit(resp.headers["Location"]).query)["tid"][0]
    drain()
    person = session.scalar(sa.select(Click.person_id).where(Click.tid == tid))
    ts = datetime(2026, 5, 1, 12, tzinfo=UTC)
    session.execute(sa.update(Click).values(ts=ts))
    session.add_all([
        LandingVisit(ts=ts, person_id=person, site_visitor_id="s", tid=tid, is_touch=False, page="example.com/"),
        LandingVisit(ts=ts - timedelta(hours=1), person_id=person, site_visitor_id="s", utm_source="google",
                     utm_medium="cpc"),
        LandingVisit(ts=ts - timedelta(hours=2), person_id=person, site_visitor_id="s",
                     referrer_host="www.google.com"),
        SelfReport(ts=ts + timedelta(days=1), person_id=person, option="podcast", text="hørte det på en podkast",
                   via="api"),
    ])
    session.commit()
    csv = f"customer_key,ts,kind\nc-1,{ts.isoformat()},event\n"
    assert client.post("/api/v1/touchpoints/import", data=csv, headers={**auth, "Content-Type": "text/csv"}
                       ).status_code == 201
    conv = client.post("/api/v1/conversions", json={"external_id": "x", "type": "lead", "ts": ts.isoformat(),
                                                    "tid": tid, "customer_key": "c-1"}, headers=auth).json
    assert conv["person_id"] <= person
    person = conv["person_id"]  # the click's and the imported customer's people merged: the smaller id survives
    session.expire_all()
    assert session.scalar(sa.select(Click.person_id).where(Click.tid == tid)) == person

    items = person_journey(session, app.config["SETTINGS"], person)
    assert [(i["kind"], i.get("channel")) for i in items] == [
        ("landing_visit", "Organic search"), ("landing_visit", "Paid search"),
        ("click", "Email"), ("conversion", None), ("landing_visit", "Direct"), ("offline", "Events"),
        ("self_report", "Podcast")]
    assert [i["is_touch"] for i in items] == [True, True, True, False, False, True, False]
    assert person_journey(session, app.config["SETTINGS"], person) == items


def test_unknown_person_is_404(client, auth, api_key):
    resp = client.get("/api/v1/people/pNOBODY/journey", headers=auth)
    assert resp.status_code == 404 and resp.json["error"]["field"] == "person_id"
    assert client.get("/api/v1/people/pNOBODY/journey").status_code == 401
    sign_in(client, api_key)
    assert client.get("/people/pNOBODY").status_code == 404


def test_journey_page_needs_sign_in(client):
    resp = client.get("/people/pSomeone")
    assert resp.status_code == 302 and resp.headers["Location"].startswith("/login")
