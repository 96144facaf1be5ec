"""Branded codes in a real browser: upload a campaign logo, preview a link's code with a call to action.

Playwright drives Debian's chromium against the app on a live server (tests/browser_support.py); the
preview the page shows is fetched and decoded with zxing-cpp. Console errors (CSP violations among
them) fail the test. Screenshots go to ``test-artifacts/``.
"""
from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import zxingcpp
from browser_support import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, live_app
from logo_support import RED, png
from PIL import Image

pytestmark = pytest.mark.slow


@pytest.fixture
def live_server(playwright_api: Any, tmp_path: Path) -> Iterator[SimpleNamespace]:
    with live_app(tmp_path, "logos") as site:
        yield site


def test_campaign_logo_upload_and_branded_preview(playwright_api: Any, live_server: SimpleNamespace) -> None:
    expect = playwright_api.expect
    ARTIFACTS.mkdir(exist_ok=True)
    api = live_server.app.test_client()
    auth = {"Authorization": f"Bearer {live_server.key}"}
    campaign = api.post("/api/v1/campaigns", json={"name": "Oslo Expo 2026"}, headers=auth).json
    link = api.post("/api/v1/links", headers=auth, json={
        "destination": "https://example.com/expo", "campaign": campaign["slug"], "utm_source": "expo",
        "utm_medium": "print", "kind": "print", "label": "Booth flyer"}).json
    problems: list[str] = []
    with playwright_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=live_server.url).new_page()
            page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
            page.on("pageerror", lambda exc: problems.append(str(exc)))
            page.goto(f"/campaigns/{campaign['id']}")
            page.fill("#f-email", live_server.email)
            page.fill("#f-password", live_server.password)
            page.click("button:has-text('Sign in')")
            expect(page.locator("h1")).to_have_text("Oslo Expo 2026")

            # An SVG is refused with the reason; the campaign keeps no logo.
            page.set_input_files("#f-logo-file", files=[{"name": "logo.svg", "mimeType": "image/svg+xml",
                                                         "buffer": b"<svg xmlns='http://www.w3.org/2000/svg'/>"}])
            page.click("#campaign-logo-save")
            expect(page.locator(".flash-error")).to_contain_text("PNG or JPEG")
            expect(page.locator("#campaign-logo")).to_have_count(0)

            # A PNG is stored and shown; it becomes the default of the campaign's codes.
            page.set_input_files("#f-logo-file", files=[{"name": "brand.png", "mimeType": "image/png",
                                                         "buffer": png((120, 80), RED)}])
            page.click("#campaign-logo-save")
            expect(page.locator(".flash-success")).to_contain_text("Logo uploaded")
            expect(page.locator("#campaign-logo")).to_be_visible()
            assert page.evaluate("document.querySelector('#campaign-logo').naturalWidth") > 0
            expect(page.locator("#f-asset")).to_have_value("1")
            page.screenshot(path=str(ARTIFACTS / "assets-campaign-logo.png"), full_page=True)

            # The link page's preview carries the logo; a call to action is added with the form.
            page.goto(f"/links/{link['code']}")
            expect(page.locator("#f-logo option").first).to_contain_text("Default: brand.png (campaign)")
            page.fill("#f-caption", "Skann meg")
            page.click("#qr-apply")
            expect(page.locator("#f-caption")).to_have_value("Skann meg")  # the page came back with the option
            page.locator("#qr-preview").evaluate("img => img.decode()")  # waits until the image is loaded
            src = page.get_attribute("#qr-preview", "src")
            assert "caption=Skann+meg" in src
            size = page.evaluate("[document.querySelector('#qr-preview').naturalWidth, "
                                 "document.querySelector('#qr-preview').naturalHeight]")
            assert size[0] > 0 and size[1] > size[0]  # the caption band under the code
            png_href = page.get_attribute("#qr-png", "href")
            assert "caption=Skann+meg" in png_href
            image = Image.open(io.BytesIO(page.request.get(png_href).body()))
            (found,) = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
            assert found.text == link["qr_url"] and found.ec_level == "H"
            page.screenshot(path=str(ARTIFACTS / "assets-link-preview.png"), full_page=True)

            # A caption that is too long is explained at its field; the preview still shows.
            page.fill("#f-caption", "x" * 41)
            page.click("#qr-apply")
            expect(page.locator("#f-caption-error")).to_contain_text("40")
            assert page.evaluate("document.querySelector('#qr-preview').naturalWidth") > 0

            # No logo for the print sheet: choose it on the campaign page.
            page.goto(f"/campaigns/{campaign['id']}")
            page.select_option("#f-asset", "")
            page.click("#campaign-logo-save")
            expect(page.locator(".flash-success")).to_contain_text("no default logo")
            expect(page.locator("#campaign-logo")).to_have_count(0)
        finally:
            browser.close()
    assert problems == []
