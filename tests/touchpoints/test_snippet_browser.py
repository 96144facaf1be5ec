"""The landing-site snippet in real headless Chromium, cross-origin as in production.

The service runs on one port, a demo landing page on another; the page embeds ``/t.js`` with a plain
script tag. A short-link click (``/r/<code>``) leads to the page, which sends its visit, then
``tracker.identify`` and ``tracker.event`` run on the page. The rows in the database must tie the
click, the site visitor, the customer key and the lead to one person. Runs on SQLite and PostgreSQL.

Needs the ``playwright`` package and ``/usr/bin/chromium``; skips with the reason when either is
missing (never downloads a browser).
"""
from __future__ import annotations

from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa
from browser_support import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, DESKTOP

from tracker.conversions.models import Conversion
from tracker.db import get_db
from tracker.people.models import Identity
from tracker.people.service import customer_hash
from tracker.redirects.models import Click
from tracker.selfreports.models import SelfReport
from tracker.touchpoints.models import LandingVisit

pytestmark = pytest.mark.slow


def test_snippet_cross_origin_in_chromium(playwright_api: Any, sites: SimpleNamespace) -> None:
    app = sites.app
    api = app.test_client()
    auth = {"Authorization": f"Bearer {sites.key}"}
    resp = api.post("/api/v1/links", headers=auth, json={
        "destination": f"{sites.landing}/offer", "utm_source": "newsletter", "utm_medium": "email",
        "utm_campaign": "spring"})
    assert resp.status_code == 201, resp.json
    code = resp.json["code"]

    problems: list[str] = []
    with playwright_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            # Headless Chromium says "HeadlessChrome", which the bot flag rightly catches: look like a person.
            page = browser.new_page(user_agent=DESKTOP)
            page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
            page.on("pageerror", lambda exc: problems.append(str(exc)))
            # A real click: the short link redirects to the landing page with tid and the UTM values.
            page.goto(f"{sites.service}/r/{code}")
            landed = urlsplit(page.url)
            assert f"{landed.scheme}://{landed.netloc}" == sites.landing
            query = parse_qs(landed.query)
            tid = query["tid"][0]
            assert query["utm_source"] == ["newsletter"]
            page.wait_for_function("window.tracker && window.tracker.ready")
            assert page.evaluate("window.tracker.ready") is True
            svid = page.evaluate("window.tracker.siteVisitorId")
            assert svid == page.evaluate("localStorage.getItem('trk_svid')")
            assert page.evaluate("tracker.identify('ada@example.com')") is True
            assert page.evaluate("tracker.event('lead')") is True
            # Outside the funnel: refused, and the page can read that (CORS headers on errors too).
            assert page.evaluate("tracker.event('purchased-something')") is False
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "snippet-landing-page.png"))

            # The visitor comes back later without a tid: same site visitor id, a new touch.
            page.goto(f"{sites.landing}/pricing")
            page.wait_for_function("window.tracker && window.tracker.ready")
            assert page.evaluate("window.tracker.ready") is True
            assert page.evaluate("window.tracker.siteVisitorId") == svid
        finally:
            browser.close()

    # The refused event logs one 422 in the console; nothing else may go wrong.
    assert [p for p in problems if "422" not in p] == []
    assert not any(r.startswith("OPTIONS ") for r in sites.requests)  # text/plain: no preflight
    assert sum(r == "POST /collect" for r in sites.requests) == 5

    app.extensions["tracker.redirects"]["spool"].drain()
    secret = app.extensions["tracker.redirects"]["ip_secret"]
    with get_db(app).Session() as s:
        [click] = s.scalars(sa.select(Click)).all()
        visits = s.scalars(sa.select(LandingVisit).order_by(LandingVisit.id)).all()
        idents = {(i.kind, i.value): i.person_id for i in s.scalars(sa.select(Identity))}
        [lead] = s.scalars(sa.select(Conversion)).all()
    assert click.tid == tid
    assert [(v.tid, v.is_touch, v.page) for v in visits] == [
        (tid, False, "127.0.0.1/offer"), (None, True, "127.0.0.1/pricing")]
    assert (visits[0].utm_source, visits[0].utm_medium, visits[0].utm_campaign) == ("newsletter", "email", "spring")
    assert all(v.site_visitor_id == svid and not v.is_bot for v in visits)
    assert ("site", svid) in idents and ("customer", customer_hash("ada@example.com", secret)) in idents
    assert (lead.type, lead.value) == ("lead", 0)
    people = {click.person_id, lead.person_id, *(v.person_id for v in visits), *idents.values()}
    assert len(people) == 1, people


def test_ask_form_in_an_iframe_of_a_landing_site(playwright_api: Any, sites: SimpleNamespace) -> None:
    """/ask answers inside a cross-origin iframe; a site not in landing_origins may not frame it."""
    with playwright_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(user_agent=DESKTOP, viewport={"width": 520, "height": 800})
            page.goto(f"{sites.landing}/thanks")
            survey = page.frame_locator("iframe")
            survey.get_by_role("heading", name="Hvordan hørte du om oss?").wait_for()
            survey.get_by_label("Annet").check()
            survey.get_by_label("Fortell med dine egne ord").fill("Hørte det på en podkast")
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "ask-form-in-iframe.png"))
            survey.get_by_role("button", name="Send").click()
            survey.get_by_role("heading", name="Takk!").wait_for()
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "ask-in-iframe.png"))

            # The same page on another origin (localhost is not 127.0.0.1): the browser refuses the frame.
            other = sites.landing.replace("127.0.0.1", "localhost")
            blocked = browser.new_page(user_agent=DESKTOP)
            blocked.goto(f"{other}/thanks")
            blocked.wait_for_timeout(500)
            frame = blocked.frames[1]
            assert "Hvordan" not in frame.content()
        finally:
            browser.close()

    with get_db(sites.app).Session() as s:
        [report] = s.scalars(sa.select(SelfReport)).all()
    assert (report.option, report.text, report.language, report.via) == ("other", "Hørte det på en podkast", "no",
                                                                         "page")
    assert (report.site_visitor_id, report.conversion_external_id) == ("site-visitor-0123456789", "order-1001")
