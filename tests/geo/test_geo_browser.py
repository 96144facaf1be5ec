"""The countries card in a real browser (Debian's chromium): table, chart, no CSP complaint, readable on a phone."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from browser_support import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, DESKTOP, live_app

from tracker.db import get_db
from tracker.links.service import create_link

VISITS = [("r", "193.90.0.1"), ("q", "193.90.0.1"), ("q", "2a02:2121::1"), ("r", "8.8.8.8"), ("q", "127.0.0.1")]


def _clicks(app: Any) -> None:
    with get_db(app).Session() as s:
        code = create_link(s, app.config["SETTINGS"], {
            "destination": "https://example.com/expo", "utm_source": "expo-booth", "utm_medium": "print",
            "utm_campaign": "expo", "label": "Booth flyer"}).code
    app.config["GEO_TEST_CODE"] = code
    for way, address in VISITS:
        client = app.test_client()
        assert client.get(f"/{way}/{code}", headers={"User-Agent": DESKTOP},
                          environ_base={"REMOTE_ADDR": address}).status_code == 302
    app.extensions["tracker.redirects"]["spool"].drain()


def test_the_link_page_shows_countries_in_a_browser(playwright_api: Any, tmp_path: Path) -> None:
    expect = playwright_api.expect
    ARTIFACTS.mkdir(exist_ok=True)
    problems: list[str] = []
    with live_app(tmp_path, "geo", prepare=_clicks) as site, playwright_api.sync_playwright() as pw:
        code = site.app.config["GEO_TEST_CODE"]
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            for name, viewport in (("desktop", {"width": 1280, "height": 900}),
                                   ("phone", {"width": 390, "height": 844})):
                context = browser.new_context(viewport=viewport, base_url=site.url)
                page = context.new_page()
                page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
                page.on("pageerror", lambda exc: problems.append(str(exc)))
                page.goto("/login")
                page.fill("#f-email", site.email)
                page.fill("#f-password", site.password)
                page.click("button:has-text('Sign in')")
                page.goto(f"/links/{code}")
                table = page.locator("#link-countries-table tbody tr")
                expect(table).to_have_count(3)
                expect(table.nth(0)).to_contain_text("Norway")
                assert table.nth(0).locator("td").all_inner_texts()[1:4] == ["1", "2", "3"]
                expect(table.nth(1)).to_contain_text("United States of America")
                expect(table.nth(2)).to_contain_text("Unknown")
                bars = page.locator("#link-countries-chart rect.bar")
                expect(bars).to_have_count(4)  # Norway: clicks and scans; US: clicks; unknown: scans
                norway = page.locator("#link-countries-chart g[data-country='NO'] rect.bar-clicks")
                assert norway.bounding_box()["width"] > 0
                page.locator("#link-countries").scroll_into_view_if_needed()
                page.screenshot(path=str(ARTIFACTS / f"geo-{name}-link-countries.png"), full_page=True)
                assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
                context.close()
        finally:
            browser.close()
    assert not problems, problems
