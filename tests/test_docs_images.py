"""Screenshots of the real pages for the docs site: Playwright drives Debian's chromium against demo data.

The test signs in to the app on a live server, walks the pages the guides show (campaigns, the link
builder, a link with its QR code, the campaign's print sheet, the reports, the answers, a person's
journey, the public ``/ask`` form) and checks that each one rendered. Every picture is one 1280 x 800
viewport (the print sheet: its first PDF page drawn by pypdfium2), so the files stay small.

Where the pictures go: ``docs/images/`` only when ``TRACKER_DOCS_IMAGES`` is set (``make docs-images``),
otherwise ``test-artifacts/docs-images/`` as the other browser tests do, so an ordinary test run never
changes the docs. Needs the ``playwright`` package and ``/usr/bin/chromium``; never downloads a browser
and skips with the reason when either is missing.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

import pytest
from browser_support import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, live_app

from tracker.demo import load_demo

DOCS_IMAGES = Path(__file__).resolve().parent.parent / "docs" / "images"
VIEWPORT = {"width": 1280, "height": 800}
MAX_BYTES = 400_000  # each picture is committed: keep it a viewport, not a whole page
DEMO_CLICKS = 3000
DEMO_DAYS = 60
CAMPAIGN = "Oslo Expo 2026"  # the demo's event campaign: offline links, scans, a print sheet

pytestmark = pytest.mark.slow


def images_folder() -> Path:
    """``docs/images`` when ``TRACKER_DOCS_IMAGES`` is set, else a folder of ``test-artifacts``."""
    folder = DOCS_IMAGES if os.environ.get("TRACKER_DOCS_IMAGES") else ARTIFACTS / "docs-images"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def live_server(playwright_api: Any, tmp_path: Path) -> Iterator[SimpleNamespace]:
    """The real app on 127.0.0.1 (a free port) with the demo data set and one admin account."""
    with live_app(tmp_path, "docs", lambda app: load_demo(app, clicks=DEMO_CLICKS, days=DEMO_DAYS, seed=7)) as site:
        yield site


class Camera:
    """Save viewport screenshots of a page, each scrolled to the part the docs show."""

    def __init__(self, page: Any, folder: Path, saved: list[Path]) -> None:
        self.page = page
        self.folder = folder
        self.saved = saved  # every picture written, for the size checks at the end

    def shoot(self, name: str, selector: str | None = None) -> None:
        """Scroll ``selector`` (if given) to the top of the viewport and save the viewport as ``name``.png."""
        if selector is not None:
            self.page.locator(selector).first.evaluate(  # a little of the page above it, as a margin
                "el => { el.scrollIntoView({block: 'start'}); window.scrollBy(0, -16); }")
        else:
            self.page.evaluate("window.scrollTo(0, 0)")
        path = self.folder / f"{name}.png"
        self.page.screenshot(path=str(path), animations="disabled", caret="hide")
        self.saved.append(path)


def _watch(page: Any, problems: list[str]) -> None:
    """Collect console errors (CSP violations show up there), uncaught page errors and failed answers.

    A failed answer is logged to the console without its URL, so it is checked by its response instead;
    the browser's own ``/favicon.ico`` request (``/ask`` names no icon) is not the page's.
    """
    def on_console(msg: Any) -> None:
        if msg.type == "error" and not msg.text.startswith("Failed to load resource"):
            problems.append(f"console: {msg.text}")

    def on_response(response: Any) -> None:
        if response.status >= 400 and urlsplit(response.url).path != "/favicon.ico":
            problems.append(f"{response.status}: {response.url}")

    page.on("console", on_console)
    page.on("response", on_response)
    page.on("pageerror", lambda exc: problems.append(f"pageerror: {exc}"))


def _print_sheet_png(pdf: bytes, path: Path) -> None:
    """Draw the first page of a print sheet PDF as a PNG about 800 pixels high."""
    pdfium = pytest.importorskip("pypdfium2", reason="pypdfium2 is not installed (pip install -e '.[test]')")
    document = pdfium.PdfDocument(pdf)
    try:
        page = document[0]
        scale = 800 / page.get_height()  # points to pixels
        page.render(scale=scale).to_pil().convert("RGB").save(path, optimize=True)
    finally:
        document.close()


def test_docs_images(playwright_api: Any, live_server: SimpleNamespace) -> None:
    expect = playwright_api.expect
    folder = images_folder()
    problems: list[str] = []
    hosts: set[str] = set()
    saved: list[Path] = []
    today = datetime.now(live_server.app.config["SETTINGS"].tz).date()
    since = (today - timedelta(days=DEMO_DAYS + 30)).isoformat()  # all the demo data
    with playwright_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport=VIEWPORT, base_url=live_server.url)
            context.on("request", lambda request: hosts.add(urlsplit(request.url).hostname or request.url))
            page = context.new_page()
            _watch(page, problems)
            camera = Camera(page, folder, saved)

            # Sign in.
            page.goto("/")
            expect(page.locator("#f-email")).to_be_visible()
            page.fill("#f-email", live_server.email)
            camera.shoot("sign-in")
            page.fill("#f-password", live_server.password)
            page.click("button:has-text('Sign in')")
            expect(page.locator("h1")).to_have_text("Campaigns")
            expect(page.locator("#campaigns tbody tr").first).to_be_visible()
            camera.shoot("campaigns")

            # The event campaign: its links with clicks and scans, the chart, the print sheet.
            page.click(f"#campaigns a:has-text('{CAMPAIGN}')")
            expect(page.locator("h1")).to_have_text(CAMPAIGN)
            expect(page.locator("#campaign-links tbody tr").first).to_be_visible()
            camera.shoot("campaign")
            campaign_url = page.url

            # The link builder, filled in as a marketer would, then the new link with its QR code.
            page.click("a:has-text('New link in this campaign')")
            page.fill("#f-destination", "https://example.com/expo/stand")
            page.fill("#f-utm_source", "expo-stand")
            page.select_option("#f-utm_medium", "event")
            page.select_option("#f-kind", "event")
            page.fill("#f-label", "Stand B12 roll-up")
            camera.shoot("link-builder")
            page.click("button:has-text('Create link')")
            expect(page.locator(".flash-success")).to_have_text("Link created.")
            page.wait_for_function("document.getElementById('qr-preview').complete")
            assert page.eval_on_selector("#qr-preview", "img => img.naturalWidth") > 0
            camera.shoot("link")

            # The campaign's print sheet, as the campaign page's button downloads it.
            sheet = page.request.get(f"{campaign_url}/sheet.pdf?paper=a4")
            assert sheet.ok and sheet.headers["content-type"] == "application/pdf"
            body = sheet.body()
            assert body.startswith(b"%PDF")
            _print_sheet_png(body, folder / "qr-sheet.png")
            saved.append(folder / "qr-sheet.png")

            # Attribution with the data-driven models and intervals: the chart, then the Markov panel.
            models = ("first_touch", "last_touch", "linear", "markov", "shapley")
            page.goto(f"/reports/attribution?from={since}&" + "&".join(f"model={m}" for m in models)
                      + "&intervals=true")
            expect(page.locator("h1")).to_have_text("Attribution")
            expect(page.locator("#credits-table")).to_be_visible()
            expect(page.locator("#chart-credits svg g[id='credits-interval-markov']")).to_have_count(1)
            camera.shoot("report-attribution")
            camera.shoot("report-credits", "#report-counts")
            expect(page.locator("#differences-table")).to_be_visible()
            camera.shoot("report-differences", "#model-differences")
            expect(page.locator("#markov-panel")).to_be_visible()
            assert page.locator("#removal-effects tbody tr").count() >= 5
            camera.shoot("report-markov", "#markov-panel")
            expect(page.locator("#model-guide dt.in-report")).to_have_count(len(models))

            # The funnel, the last 30 days against the 30 before.
            page.goto(f"/reports/funnel?from={(today - timedelta(days=29)).isoformat()}&to={today.isoformat()}"
                      f"&compare_from={(today - timedelta(days=59)).isoformat()}"
                      f"&compare_to={(today - timedelta(days=30)).isoformat()}")
            expect(page.locator("h1")).to_have_text("Funnel")
            expect(page.locator("#chart-funnel svg")).to_be_visible()
            camera.shoot("report-funnel", "#chart-funnel")

            # The dark funnel: what people said against what tracking saw.
            page.goto(f"/reports/dark-funnel?from={since}")
            expect(page.locator("h1")).to_have_text("Dark funnel")
            assert page.locator("#dark-by-channel tbody tr").count() >= 2
            expect(page.locator("#chart-first-touch svg")).to_be_visible()
            camera.shoot("report-dark-funnel", "#report-counts")

            # The demo's flyer A/B test, the cohorts' retention heat map, brand mentions beside Direct visits.
            page.goto(f"/reports/experiments?experiment=expo-flyer&from={since}")
            expect(page.locator("h1")).to_have_text("Experiments")
            expect(page.locator("#verdict")).to_be_visible()
            expect(page.locator("#chart-rates svg")).to_be_visible()
            camera.shoot("report-experiments", "#verdict")
            page.goto("/reports/cohorts")
            expect(page.locator("h1")).to_have_text("Cohorts")
            assert page.locator("#retention-table tbody tr").count() >= 3
            camera.shoot("report-cohorts", "#retention-table")
            page.goto(f"/reports/mentions?from={since}")
            expect(page.locator("h1")).to_have_text("Brand mentions")
            expect(page.locator("#chart-mentions svg")).to_be_visible()
            camera.shoot("report-mentions", "#chart-mentions")

            # The answers to "How did you hear about us?": unmatched free text and the rules. Whether the demo's few
            # dozen answers hold an unmatched one depends on the hour, so two are sent as a survey would send them.
            api = live_server.app.test_client()
            for n, text in enumerate(["my dentist mentioned you", "saw it on the tram"]):
                answer = api.post("/api/v1/self-reports", headers={"Authorization": f"Bearer {live_server.key}"},
                                  json={"text": text, "language": "en", "submission_id": f"docs-{n}"})
                assert answer.status_code == 201, answer.get_json()
            page.goto("/answers")
            expect(page.locator("#unmatched tbody tr").first).to_be_visible()
            camera.shoot("answers", "section[aria-labelledby=unmatched-heading]")

            # A person's journey, from the recent conversions on the people page.
            page.goto("/people")
            page.locator("#conversions tbody tr a[href^='/people/']").first.click()
            expect(page.locator("#journey tbody tr").first).to_be_visible()
            camera.shoot("journey")

            # The browsable API reference over the service's own OpenAPI document.
            page.goto("/docs/api/")
            expect(page.locator("#swagger-ui .opblock").first).to_be_visible(timeout=15_000)
            camera.shoot("api-docs")

            # The public form people answer (no session needed), in English.
            public = browser.new_context(viewport=VIEWPORT, base_url=live_server.url)
            public.on("request", lambda request: hosts.add(urlsplit(request.url).hostname or request.url))
            ask = public.new_page()
            _watch(ask, problems)
            ask.goto("/ask?lang=en")
            expect(ask.locator("form")).to_be_visible()
            Camera(ask, folder, saved).shoot("ask")
        finally:
            browser.close()
    assert problems == []
    assert hosts == {"127.0.0.1"}
    for path in saved:
        size = path.stat().st_size
        assert path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n"), path
        assert 0 < size < MAX_BYTES, f"{path.name} is {size:,} bytes (at most {MAX_BYTES:,} for the docs)"

