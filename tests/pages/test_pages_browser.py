"""The pages in a real browser: Playwright drives Debian's chromium against the app on a live server.

Needs the ``playwright`` package and ``/usr/bin/chromium`` (``apt-get install chromium``); never
downloads a browser. Skips with the reason when either is missing. Screenshots (desktop and a narrow
phone viewport) go to ``test-artifacts/`` for people to look at; nothing compares pixels.
"""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from browser_support import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, live_app

IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
          "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1")
DESKTOP = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
           "Chrome/124.0.0.0 Safari/537.36")

pytestmark = pytest.mark.slow


@pytest.fixture
def live_server(playwright_api: Any, tmp_path: Path) -> Iterator[SimpleNamespace]:
    """The real app on 127.0.0.1 (a free port), a migrated SQLite file and one admin account."""
    with live_app(tmp_path, "pages") as site:
        yield site


def _watch(page: Any, problems: list[str]) -> None:
    """Collect console errors (CSP violations show up there) and uncaught page errors.

    The wrong password (401) and the builder's mistake (422) answer pages with error statuses on purpose;
    chromium logs those too.
    """
    expected = ("status of 401", "status of 422")

    def on_console(msg: Any) -> None:
        if msg.type == "error" and not any(s in msg.text for s in expected):
            problems.append(f"console: {msg.text}")

    page.on("console", on_console)
    page.on("pageerror", lambda exc: problems.append(f"pageerror: {exc}"))


def _no_sideways_scroll(page: Any) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"))


def test_build_a_link_and_read_the_campaign_in_a_browser(playwright_api: Any,
                                                         live_server: SimpleNamespace) -> None:
    expect = playwright_api.expect
    ARTIFACTS.mkdir(exist_ok=True)
    problems: list[str] = []
    with playwright_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            desktop = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=live_server.url)
            desktop.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
            page = desktop.new_page()
            _watch(page, problems)

            # Sign in: the pages send people to the form first.
            page.goto("/")
            expect(page).to_have_url(f"{live_server.url}/login?next=/?")
            page.fill("#f-email", live_server.email)
            page.fill("#f-password", "not the password")
            page.click("button:has-text('Sign in')")
            expect(page.locator("#login-error")).to_contain_text("do not match")
            page.screenshot(path=str(ARTIFACTS / "pages-desktop-login.png"))
            expect(page.locator("#f-email")).to_have_value(live_server.email)
            page.fill("#f-password", live_server.password)
            page.click("button:has-text('Sign in')")
            expect(page.locator("h1")).to_have_text("Campaigns")

            # A campaign from the index form.
            page.fill("#f-name", "Oslo Expo 2026")
            page.fill("#f-fallback_url", "https://example.com/expo-ended")
            page.click("button:has-text('Create campaign')")
            expect(page.locator("h1")).to_have_text("Oslo Expo 2026")
            campaign_url = page.url

            # The builder: a mistake first (kept values, message at the field), then the fix.
            page.click("a:has-text('New link in this campaign')")
            expect(page.locator("#f-campaign")).to_have_value(campaign_url.rsplit("/", 1)[1])
            page.fill("#f-destination", "example.com/expo")
            page.fill("#f-utm_source", "expo-booth")
            page.select_option("#f-utm_medium", "print")
            page.select_option("#f-kind", "print")
            page.fill("#f-label", "Booth flyer, hall B")
            page.click("button:has-text('Create link')")
            expect(page.locator("#f-destination-error")).to_contain_text("http")
            expect(page.locator("#f-label")).to_have_value("Booth flyer, hall B")
            expect(page.locator("#f-utm_medium")).to_have_value("print")
            page.screenshot(path=str(ARTIFACTS / "pages-desktop-builder-error.png"), full_page=True)
            page.fill("#f-destination", "https://example.com/expo")
            page.click("button:has-text('Create link')")

            # The result: URLs with copy buttons, the QR preview loads, copying works.
            expect(page.locator(".flash-success")).to_have_text("Link created.")
            short_url = page.input_value("#short-url")
            code = short_url.rsplit("/", 1)[1]
            assert short_url == f"{live_server.url}/r/{code}"
            assert page.input_value("#qr-url") == f"{live_server.url}/q/{code}"
            assert "utm_source=expo-booth" in page.input_value("#tracked-url")
            page.wait_for_function("document.getElementById('qr-preview').complete")
            assert page.eval_on_selector("#qr-preview", "img => img.naturalWidth") > 0
            copy = page.locator("button[data-copy='short-url']")
            copy.click()
            expect(copy).to_have_text("Copied")
            expect(page.locator("#copy-status")).to_have_text("Copied to the clipboard.")
            assert page.evaluate("navigator.clipboard.readText()") == short_url
            page.screenshot(path=str(ARTIFACTS / "pages-desktop-link.png"), full_page=True)

            # Some scans and a click (made like the API tests make them), written by the spool.
            visitors = live_server.app.test_client()
            for _ in range(3):
                visitors.get(f"/q/{code}", headers={"User-Agent": IPHONE})
            live_server.app.test_client().get(f"/r/{code}", headers={"User-Agent": DESKTOP})
            live_server.app.extensions["tracker.redirects"]["spool"].drain()

            page.goto(campaign_url)
            rows = page.locator("#campaign-links tbody tr")
            expect(rows).to_have_count(1)
            expect(rows.first.locator("td").nth(4)).to_have_text("1")   # clicks
            expect(rows.first.locator("td").nth(6)).to_have_text("3")   # scans
            expect(page.locator("#campaign-chart svg rect.bar-scans")).to_have_count(1)
            expect(page.locator("#campaign-chart svg rect.bar-clicks")).to_have_count(1)
            assert page.locator("#campaign-chart svg").get_attribute("role") == "img"
            assert page.eval_on_selector("#campaign-chart rect.bar-scans",
                                         "r => r.getBoundingClientRect().height") > 0
            page.screenshot(path=str(ARTIFACTS / "pages-desktop-campaign.png"), full_page=True)
            page.goto("/")
            page.screenshot(path=str(ARTIFACTS / "pages-desktop-index.png"), full_page=True)

            # A phone: same session, narrow viewport; nothing may make the page scroll sideways.
            phone = browser.new_context(viewport={"width": 375, "height": 740}, device_scale_factor=2,
                                        is_mobile=True, has_touch=True, base_url=live_server.url,
                                        storage_state=desktop.storage_state())
            mobile = phone.new_page()
            _watch(mobile, problems)
            pages = [(campaign_url, "campaign"), (f"/links/{code}", "link"), ("/links/new", "builder"),
                     ("/", "index")]
            for path, name in pages:
                mobile.goto(path)
                assert _no_sideways_scroll(mobile), f"{path} scrolls sideways on a phone"
                mobile.screenshot(path=str(ARTIFACTS / f"pages-mobile-{name}.png"), full_page=True)
            mobile.goto(f"/links/{code}")
            mobile.wait_for_function("document.getElementById('qr-preview').complete")
            assert mobile.eval_on_selector("#qr-preview", "img => img.naturalWidth") > 0

            # Sign out from the nav.
            page.click("button:has-text('Sign out')")
            expect(page.locator(".flash-success")).to_have_text("You are signed out.")
        finally:
            browser.close()
    assert problems == []
