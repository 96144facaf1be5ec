"""The cohort page: the heat map and LTV table on demo-like data, in the test client and in Chromium."""
from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from browser_support import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, live_app
from test_cohorts_api import BASE, data  # noqa: F401 (the hand-computed data set's fixture)

from tracker.cohorts.pages import heat_class
from tracker.demo import load_demo


def test_page_shows_heat_map_ltv_and_csv(page_client, data):  # noqa: F811
    client = page_client("analyst")
    resp = client.get("/reports/cohorts", query_string=BASE)
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert 'id="retention-table"' in html and 'id="ltv-table"' in html and "<svg" in html
    assert f'class="num {heat_class(1.0)}" data-value="1.0"' in html
    assert 'class="num heat-blank" data-value=""' in html  # months not ended stay blank
    csv_resp = client.get("/reports/cohorts/cohorts.csv", query_string=BASE)
    assert csv_resp.status_code == 200 and len(list(csv.DictReader(io.StringIO(csv_resp.get_data(as_text=True))))) \
        == 4 * 6
    assert client.get("/reports/cohorts/ltv.svg", query_string=BASE).mimetype == "image/svg+xml"


def test_page_errors_and_roles(page_client, client):
    resp = page_client("analyst").get("/reports/cohorts", query_string={"months": "0"})
    assert resp.status_code == 422 and 'id="f-months-error"' in resp.get_data(as_text=True)
    assert page_client("marketer").get("/reports/cohorts").status_code == 403
    assert client.get("/reports/cohorts").status_code == 302  # to the sign-in form


@pytest.fixture
def live_server(playwright_api: Any, tmp_path: Path) -> Iterator[SimpleNamespace]:
    with live_app(tmp_path, "cohorts", lambda app: load_demo(app, clicks=3000, days=60, seed=7)) as site:
        yield site


@pytest.mark.slow
def test_cohort_page_in_a_browser(playwright_api: Any, live_server: SimpleNamespace) -> None:
    expect = playwright_api.expect
    ARTIFACTS.mkdir(exist_ok=True)
    problems: list[str] = []
    with playwright_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=live_server.url,
                                       accept_downloads=True).new_page()
            page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" and "422" not in msg.text
                    else None)
            page.goto("/reports/cohorts")
            page.fill("#f-email", live_server.email)
            page.fill("#f-password", live_server.password)
            page.click("button:has-text('Sign in')")
            expect(page.locator("h1")).to_have_text("Cohorts")
            heat = page.locator("#retention-table")
            expect(heat).to_be_visible()
            assert page.locator("#retention-table tr.cohort-total").count() >= 6  # a year of history
            assert page.locator("#retention-table td.heat-blank").count() > 0
            assert page.locator("#retention-table td[class*='heat-']:not(.heat-blank):not(.heat-9)").count() > 0
            expect(page.locator("#ltv-table tbody tr").first).to_be_visible()
            expect(page.locator("#chart-ltv svg")).to_be_visible()
            page.screenshot(path=str(ARTIFACTS / "cohorts-desktop.png"), full_page=True)

            # Only the Email customers, six months, by what people said.
            page.select_option("#f-channel", "Email")
            page.fill("#f-months", "6")
            page.click("button:has-text('Show report')")
            expect(page.locator("#retention-table thead th.num")).to_have_count(1 + 6 + 1)
            channels = set(page.locator("#retention-table tbody tr:not(.cohort-total)").evaluate_all(
                "rows => rows.map(r => r.dataset.channel)"))
            assert channels == {"Email"}
            with page.expect_download() as download:
                page.click("#download-cohorts-csv")
            rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
            assert rows and {r["channel"] for r in rows} == {"Email"}

            # A mistake names its field.
            page.fill("#f-months", "500")
            page.click("button:has-text('Show report')")
            expect(page.locator("#f-months-error")).to_contain_text("months must be a whole number")
        finally:
            browser.close()
    assert not problems, problems
    assert CHROMIUM.exists()
