"""The mentions report page in Chromium on the demo data: sign in, filter, read the chart and the lag table.

Needs the ``playwright`` package and ``/usr/bin/chromium`` (skipped with the reason otherwise); a
screenshot goes to ``test-artifacts/``. The demo's press article lifts Direct visits two days later,
so the lag table's strongest Direct correlation is at lag 2.
"""
from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from browser_support import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, live_app

from tracker.demo import load_demo

pytestmark = pytest.mark.slow


@pytest.fixture
def live_server(playwright_api: Any, tmp_path: Path) -> Iterator[SimpleNamespace]:
    with live_app(tmp_path, "mentions", lambda app: load_demo(app, clicks=3000, days=60, seed=7)) as site:
        yield site


def test_mentions_page_in_a_browser(playwright_api: Any, live_server: SimpleNamespace) -> None:
    expect = playwright_api.expect
    ARTIFACTS.mkdir(exist_ok=True)
    problems: list[str] = []
    today = datetime.now(live_server.app.config["SETTINGS"].tz).date()
    with playwright_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=live_server.url,
                                          accept_downloads=True)
            page = context.new_page()
            # The form's mistake answers 422 on purpose; anything else in the console (a CSP violation) is a problem.
            page.on("console", lambda msg: problems.append(msg.text)
                    if msg.type == "error" and "status of 422" not in msg.text else None)
            page.on("pageerror", lambda exc: problems.append(str(exc)))

            page.goto("/reports/mentions")
            page.fill("#f-email", live_server.email)
            page.fill("#f-password", live_server.password)
            page.click("button:has-text('Sign in')")
            expect(page.locator("h1")).to_have_text("Brand mentions")

            page.fill("#f-from", (today - timedelta(days=65)).isoformat())
            page.fill("#f-to", today.isoformat())
            page.click("button:has-text('Show report')")
            expect(page.locator("#chart-mentions svg")).to_be_visible()
            assert page.locator("#chart-mentions [id^=series-mentions-]").count() == 66
            expect(page.locator("#lags-table tbody tr")).to_have_count(15)
            direct = page.locator("#strongest-lags li[data-series=direct_visits]")
            expect(direct).to_have_attribute("data-lag", "2")
            expect(direct).to_contain_text("strongest at lag 2 days")
            expect(page.locator("#lags-table tr[data-lag='2'] td[data-series=direct_visits] .badge")) \
                .to_have_text("strongest")
            expect(page.locator("#platform-totals [data-platform=press]")).to_contain_text("press 1")
            page.screenshot(path=str(ARTIFACTS / "mentions-report.png"), full_page=True)

            # Only the press article: one mention on one day.
            page.check("#f-platform-press")
            page.click("button:has-text('Show report')")
            expect(page.locator("#chart-mentions")).to_contain_text("1 mentions")
            cells = page.locator("#daily-table tbody td:nth-child(2)[data-value='1']")
            expect(cells).to_have_count(1)

            with page.expect_download() as info:
                page.click("#download-lags-csv")
            assert info.value.suggested_filename.startswith("mentions-lags_")
            # A mistake in the address is shown next to the form, not as a crash.
            page.goto("/reports/mentions?sentiment=great")
            expect(page.locator("#report-error")).to_contain_text("sentiment must be")
        finally:
            browser.close()
    assert problems == [], problems
