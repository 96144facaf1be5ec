"""The experiment report page in Chromium: sign in, pick the demo's flyer test, see the verdict, table and chart.

Needs the ``playwright`` package and ``/usr/bin/chromium`` (skips with the reason otherwise; never downloads a
browser). Screenshots go to ``test-artifacts/`` for people to look at; nothing compares pixels.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

import pytest
from browser_support import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, live_app

from tracker.demo import load_demo
from tracker.experiments.service import ARM_COLUMNS

pytestmark = pytest.mark.slow
VERDICTS = ("B beats A", "A beats B", "no significant difference", "not enough data")


@pytest.fixture
def live_server(playwright_api: Any, tmp_path: Path) -> Iterator[SimpleNamespace]:
    with live_app(tmp_path, "experiments", lambda app: load_demo(app, clicks=6000, days=60, seed=7)) as site:
        yield site


def test_experiment_page_in_a_browser(playwright_api: Any, live_server: SimpleNamespace) -> None:
    expect = playwright_api.expect
    ARTIFACTS.mkdir(exist_ok=True)
    problems: list[str] = []
    hosts: set[str] = set()
    start = (datetime.now(live_server.app.config["SETTINGS"].tz).date() - timedelta(days=90)).isoformat()
    with playwright_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=live_server.url,
                                          accept_downloads=True)
            context.on("request", lambda request: hosts.add(urlsplit(request.url).hostname or request.url))
            page = context.new_page()
            page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error"
                    and "status of 4" not in msg.text else None)
            page.on("pageerror", lambda exc: problems.append(str(exc)))

            page.goto("/reports/experiments")
            page.fill("#f-email", live_server.email)
            page.fill("#f-password", live_server.password)
            page.click("button:has-text('Sign in')")
            expect(page.locator("h1")).to_have_text("Experiments")

            # The demo's flyer test is in the select; pick it over the whole demo window.
            page.select_option("#f-test", "experiment:expo-flyer")
            page.fill("#f-from", start)
            page.click("#show-report")
            expect(page.locator("#verdict")).to_be_visible()
            assert "test=experiment%3Aexpo-flyer" in page.url
            verdict = page.locator("#verdict").get_attribute("data-verdict")
            assert verdict in VERDICTS
            expect(page.locator("#verdict-heading")).to_have_text(f"Verdict: {verdict}")
            assert len(page.locator("#verdict-text").inner_text()) > 40
            expect(page.locator("#arms-table tbody tr")).to_have_count(2)
            expect(page.locator("#arms-table tbody tr[data-arm=A] .badge")).to_have_text("control")
            # The chart: one bar per arm with its interval whisker, drawn (not blocked by the CSP).
            expect(page.locator("#chart-rates svg g[id^='series-']")).to_have_count(2)
            expect(page.locator("#chart-rates svg g[id$='interval-conversion-rate']")).to_have_count(1)
            width = page.eval_on_selector("#chart-rates svg g[id^='series-']", "g => g.getBoundingClientRect().width")
            assert width > 0
            page.screenshot(path=str(ARTIFACTS / "experiments-desktop.png"), full_page=True)

            # The CSV download is the arm table the page shows.
            with page.expect_download() as info:
                page.click("#download-arms-csv")
            rows = list(csv.DictReader(io.StringIO(Path(info.value.path()).read_text())))
            assert list(rows[0]) == ARM_COLUMNS and [r["arm"] for r in rows] == ["A", "B"]
            shown = page.locator("#arms-table tbody tr[data-arm=B] td").first.get_attribute("data-value")
            assert shown == rows[1]["exposures"]

            # A mistake: the message sits at the field, no report.
            page.fill("#f-control", "Z")
            page.click("#show-report")
            expect(page.locator("#f-control-error")).to_contain_text("not an arm")
            assert page.locator("#verdict").count() == 0

            # From a link of the test, its page leads to the report.
            page.goto("/reports/experiments")
            expect(page.locator("#f-test option[value='experiment:expo-flyer']")).to_have_count(1)
        finally:
            browser.close()
    assert problems == []
    assert hosts <= {"127.0.0.1"}
