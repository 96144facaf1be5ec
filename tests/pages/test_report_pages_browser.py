"""The report pages in a real browser: Playwright drives Debian's chromium against demo data on a live server.

Needs the ``playwright`` package and ``/usr/bin/chromium``; never downloads a browser and skips with
the reason when either is missing. Full-page screenshots (desktop and phone) go to ``test-artifacts/``
for people to look at; nothing compares pixels. The page may talk to 127.0.0.1 only, and must log no
console error (a CSP violation shows up there).
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

DEMO_CLICKS = 3000
DEMO_DAYS = 60

pytestmark = pytest.mark.slow


@pytest.fixture
def live_server(playwright_api: Any, tmp_path: Path) -> Iterator[SimpleNamespace]:
    """The real app on 127.0.0.1 (a free port) with the demo data set, a migrated SQLite file and one API key."""
    with live_app(tmp_path, "reports", lambda app: load_demo(app, clicks=DEMO_CLICKS, days=DEMO_DAYS, seed=7)) as site:
        yield site


def _watch(page: Any, problems: list[str]) -> None:
    """Collect console errors and uncaught page errors (the form's mistake answers 422 on purpose)."""
    def on_console(msg: Any) -> None:
        if msg.type == "error" and "status of 422" not in msg.text:
            problems.append(f"console: {msg.text}")

    page.on("console", on_console)
    page.on("pageerror", lambda exc: problems.append(f"pageerror: {exc}"))


def _count(page: Any, selector: str) -> int:
    return int(page.locator(selector).count())


def test_report_pages_in_a_browser(playwright_api: Any, live_server: SimpleNamespace) -> None:
    expect = playwright_api.expect
    ARTIFACTS.mkdir(exist_ok=True)
    problems: list[str] = []
    hosts: set[str] = set()
    today = datetime.now(live_server.app.config["SETTINGS"].tz).date()
    window = {"from": (today - timedelta(days=DEMO_DAYS + 30)).isoformat()}  # all the demo data
    with playwright_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            desktop = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=live_server.url,
                                          accept_downloads=True)
            desktop.on("request", lambda request: hosts.add(urlsplit(request.url).hostname or request.url))
            page = desktop.new_page()
            _watch(page, problems)

            # Sign in on the way to the reports.
            page.goto("/reports")
            expect(page).to_have_url(f"{live_server.url}/login?next=/reports?")
            page.fill("#f-email", live_server.email)
            page.fill("#f-password", live_server.password)
            page.click("button:has-text('Sign in')")
            expect(page.locator("h1")).to_have_text("Attribution")
            expect(page.locator("nav[aria-label=Main] a[aria-current=page]")).to_have_text("Reports")

            # Attribution over the demo window, four models.
            page.fill("#f-from", window["from"])
            page.check("#f-model-time_decay")
            page.click("button:has-text('Show report')")
            expect(page.locator("#credits-table")).to_be_visible()
            assert "model=time_decay" in page.url
            rows = _count(page, "#credits-table tbody tr")
            assert rows >= 5
            bars = min(rows, 15)
            for model in ("first-touch", "last-touch", "linear", "time-decay"):
                expect(page.locator(f"#chart-credits svg g[id^='series-{model}-']")).to_have_count(bars)
            assert page.locator("#chart-credits svg").get_attribute("role") == "img"
            first_bar = page.eval_on_selector("#series-first-touch-0", "g => g.getBoundingClientRect().width")
            assert first_bar > 0
            # The chart keeps its colours under the CSP (presentation attributes, not style).
            fill = page.eval_on_selector("#series-linear-0 path", "p => getComputedStyle(p).fill")
            assert fill == "rgb(0, 158, 115)"
            page.screenshot(path=str(ARTIFACTS / "reports-desktop-attribution.png"), full_page=True)

            # The CSV link downloads what the table shows.
            with page.expect_download() as info:
                page.click("#download-credits-csv")
            download = info.value
            assert download.suggested_filename == f"attribution_{window['from']}_{today}.csv"
            table = list(csv.DictReader(io.StringIO(Path(download.path()).read_text())))
            assert list(table[0]) == ["model", "channel", "conversions", "value", "share"]
            assert {r["model"] for r in table} == {"first_touch", "last_touch", "linear", "time_decay"}
            shown = page.locator("#credits-table tbody tr").first.get_attribute("data-category")
            assert shown in {r["channel"] for r in table}
            with page.expect_download() as info:
                page.click("#download-credits-png")
            assert Path(info.value.path()).read_bytes().startswith(b"\x89PNG\r\n\x1a\n")

            # A mistake: the message sits at the field and the form keeps the value.
            page.fill("#f-lookback_days", "999")
            page.click("button:has-text('Show report')")
            expect(page.locator("#f-lookback_days-error")).to_contain_text("between 0 and 365")
            expect(page.locator("#f-lookback_days")).to_have_value("999")
            expect(page.locator("#report-error")).to_be_visible()
            assert _count(page, "#chart-credits") == 0
            page.screenshot(path=str(ARTIFACTS / "reports-desktop-attribution-error.png"), full_page=True)

            # The data-driven models with intervals: whiskers on every bar, the Markov chain, where models differ.
            page.fill("#f-lookback_days", "30")
            page.check("#f-model-markov")
            page.check("#f-model-shapley")
            page.check("#f-intervals")
            page.click("button:has-text('Show report')")
            expect(page.locator("#markov-panel")).to_be_visible(timeout=60_000)  # 200 resamples of 6 models
            assert "model=markov" in page.url and "intervals=true" in page.url
            models = ("first-touch", "last-touch", "linear", "time-decay", "markov", "shapley")
            for model in models:
                expect(page.locator(f"#chart-credits svg g[id='credits-interval-{model}']")).to_have_count(1)
            low = page.locator("#credits-table td[data-model=markov][data-column=conversions]").first
            assert float(low.get_attribute("data-low")) <= float(low.get_attribute("data-value")) <= float(
                low.get_attribute("data-high"))
            states = _count(page, "#removal-effects tbody tr")
            assert states >= 5
            assert _count(page, "#chart-transitions svg g[id^='cell-transitions-']") >= states * states
            assert _count(page, "#differences-table tbody tr") >= 5
            assert _count(page, "#differences-table td[data-differ]") == _count(
                page, "#differences-table tbody tr") * len(models) * (len(models) - 1) // 2
            expect(page.locator("#model-guide dt.in-report")).to_have_count(len(models))
            page.screenshot(path=str(ARTIFACTS / "reports-desktop-attribution-models.png"), full_page=True)

            # Funnel with a comparison period: a bar per stage and period.
            page.click(".report-tabs a:has-text('Funnel')")
            expect(page.locator("h1")).to_have_text("Funnel")
            # The last 30 days against the 30 before.
            page.fill("#f-from", (today - timedelta(days=29)).isoformat())
            page.fill("#f-to", today.isoformat())
            page.fill("#f-compare_from", (today - timedelta(days=59)).isoformat())
            page.fill("#f-compare_to", (today - timedelta(days=30)).isoformat())
            page.click("button:has-text('Show report')")
            expect(page.locator("#funnel-stages tbody tr")).to_have_count(8)
            for period in ("current", "previous"):
                expect(page.locator(f"#chart-funnel svg g[id^='series-{period}-']")).to_have_count(4)
            assert _count(page, "#funnel-costs-current tbody tr") >= 3
            page.screenshot(path=str(ARTIFACTS / "reports-desktop-funnel.png"), full_page=True)

            # Dark funnel: the heat maps have a cell per (said, tracked) pair.
            page.click(".report-tabs a:has-text('Dark funnel')")
            expect(page.locator("h1")).to_have_text("Dark funnel")
            page.fill("#f-from", window["from"])
            page.click("button:has-text('Show report')")
            assert _count(page, "#dark-by-channel tbody tr") >= 2
            for name in ("first-touch", "last-touch"):
                said = _count(page, f"#matrix-{name} tbody tr")
                tracked = _count(page, f"#matrix-{name} thead th") - 1
                assert said >= 2 and tracked >= 2
                expect(page.locator(f"#chart-{name} svg g[id^='cell-{name}-']")).to_have_count(said * tracked)
            page.screenshot(path=str(ARTIFACTS / "reports-desktop-dark-funnel.png"), full_page=True)
            with page.expect_download() as info:
                page.click("#download-first-touch-svg")
            assert b"cell-first-touch-0-0" in Path(info.value.path()).read_bytes()

            # A phone: same session; the page never scrolls sideways (charts and tables scroll in their box).
            phone = browser.new_context(viewport={"width": 375, "height": 740}, device_scale_factor=2,
                                        is_mobile=True, has_touch=True, base_url=live_server.url,
                                        storage_state=desktop.storage_state())
            phone.on("request", lambda request: hosts.add(urlsplit(request.url).hostname or request.url))
            mobile = phone.new_page()
            _watch(mobile, problems)
            for name in ("attribution", "funnel", "dark-funnel"):
                mobile.goto(f"/reports/{name}?from={window['from']}")
                expect(mobile.locator(".report-chart svg").first).to_be_visible()
                assert mobile.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), name
                mobile.screenshot(path=str(ARTIFACTS / f"reports-mobile-{name}.png"), full_page=True)
        finally:
            browser.close()
    assert problems == []
    assert hosts == {"127.0.0.1"}
