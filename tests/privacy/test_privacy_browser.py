"""Cookieless mode and Global Privacy Control in real headless Chromium: nothing stored in the browser.

Reuses the two-origin set-up of the snippet's browser test (the ``sites`` fixture of ``conftest.py``: the
tracker on one port, a landing page on another); ``app_overrides`` adds settings to its app. Skips with the
reason without playwright or ``/usr/bin/chromium``.
"""
from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa
from browser_support import CHROMIUM, CHROMIUM_ARGS, DESKTOP

from tracker.db import get_db
from tracker.people.models import Identity
from tracker.redirects.models import Click
from tracker.touchpoints.models import LandingVisit

pytestmark = pytest.mark.slow

# What a browser with Global Privacy Control looks like to pages and servers (Chromium has no switch).
GPC_SCRIPT = "Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', {get: () => true});"


@pytest.fixture
def app_overrides() -> dict[str, Any]:
    return {}


@pytest.fixture
def make_app(make_app: Callable[..., Any], app_overrides: dict[str, Any]) -> Callable[..., Any]:
    return lambda **kw: make_app(**{**kw, **app_overrides})


@pytest.fixture(name="sites")
def live_sites(sites: SimpleNamespace, app_overrides: dict[str, Any]) -> SimpleNamespace:
    """The tracker (with ``app_overrides``) and a landing site, from conftest.py's ``sites``."""
    return sites


def _link(live: SimpleNamespace) -> str:
    resp = live.app.test_client().post("/api/v1/links", headers={"Authorization": f"Bearer {live.key}"}, json={
        "destination": f"{live.landing}/offer", "utm_source": "newsletter", "utm_medium": "email",
        "utm_campaign": "spring"})
    assert resp.status_code == 201, resp.json
    return resp.json["code"]


def _stored(page: Any) -> dict[str, Any]:
    return page.evaluate("({cookie: document.cookie, storage: localStorage.length, svid: tracker.siteVisitorId})")


def _browse(playwright_api: Any, live: SimpleNamespace, code: str, gpc: bool) -> dict[str, Any]:
    """Follow the short link, let the snippet run on two pages; return what the browser kept."""
    with playwright_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(user_agent=DESKTOP, extra_http_headers={"Sec-GPC": "1"} if gpc else {})
            if gpc:
                context.add_init_script(GPC_SCRIPT)
            page = context.new_page()
            page.goto(f"{live.service}/r/{code}")
            landed = parse_qs(urlsplit(page.url).query)
            page.wait_for_function("window.tracker && window.tracker.ready")
            assert page.evaluate("window.tracker.ready") is True  # the visit is sent and counted
            first = _stored(page)
            identified = page.evaluate("tracker.identify('ada@example.com')")
            page.goto(f"{live.landing}/pricing")
            page.wait_for_function("window.tracker && window.tracker.ready")
            second = _stored(page)
            cookies = context.cookies()
        finally:
            browser.close()
    return {"tid": landed.get("tid", [None])[0], "first": first, "second": second, "identified": identified,
            "cookies": cookies}


@pytest.mark.parametrize("app_overrides", [{"cookieless": True}])
def test_cookieless_stores_nothing_in_the_browser(playwright_api: Any, sites: SimpleNamespace) -> None:
    seen = _browse(playwright_api, sites, _link(sites), gpc=False)
    assert seen["cookies"] == []  # neither trk_vid on the service nor trk_svid on the landing site
    assert seen["first"]["storage"] == seen["second"]["storage"] == 0 and seen["first"]["cookie"] == ""
    assert seen["first"]["svid"] != seen["second"]["svid"]  # one page view only
    assert seen["tid"] and seen["identified"] is True
    sites.app.extensions["tracker.redirects"]["spool"].drain()
    with get_db(sites.app).Session() as s:
        [click] = s.scalars(sa.select(Click)).all()
        visits = s.scalars(sa.select(LandingVisit).order_by(LandingVisit.id)).all()
    assert click.tid == seen["tid"] and click.visitor_id.startswith("c.")
    assert [v.tid for v in visits] == [seen["tid"], None]  # the click id still ties click and visit


def test_gpc_browser_is_counted_but_not_tracked(playwright_api: Any, sites: SimpleNamespace) -> None:
    seen = _browse(playwright_api, sites, _link(sites), gpc=True)
    assert seen["tid"] is None and seen["cookies"] == []
    assert seen["first"]["storage"] == seen["second"]["storage"] == 0 and seen["first"]["cookie"] == ""
    assert seen["identified"] is False  # identify() sends nothing
    sites.app.extensions["tracker.redirects"]["spool"].drain()
    with get_db(sites.app).Session() as s:
        [click] = s.scalars(sa.select(Click)).all()
        visits = s.scalars(sa.select(LandingVisit)).all()
        kinds = set(s.scalars(sa.select(Identity.kind)))
    assert click.visitor_id is None and not click.is_bot
    assert len(visits) == 2 and all(v.tid is None for v in visits)
    assert "customer" not in kinds and "visitor" not in kinds
