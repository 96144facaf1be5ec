"""The redirect rules editor in a real browser (Debian's chromium): add two rules, reorder, save, see them; a bad
rule shows its error beside the field; no Content-Security-Policy complaint; the live server then redirects by
the saved rules."""
from __future__ import annotations

import http.client
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from browser_support import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, live_app

from tracker.db import get_db
from tracker.links.service import create_link

IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
          "Version/17.4 Mobile/15E148 Safari/604.1")


def _link(app: Any) -> None:
    with get_db(app).Session() as s:
        app.config["RULES_TEST_CODE"] = create_link(s, app.config["SETTINGS"], {
            "destination": "https://example.com/expo", "utm_source": "flyer", "utm_medium": "print",
            "utm_campaign": "expo", "kind": "print", "label": "Expo flyer"}).code


def _location(base: str, path: str, headers: dict[str, str]) -> str:
    parts = urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        conn.request("GET", path, headers=headers)
        resp = conn.getresponse()
        resp.read()
        assert resp.status == 302, resp.status
        return resp.getheader("Location") or ""
    finally:
        conn.close()


def test_add_reorder_save_and_a_bad_rule_in_a_browser(playwright_api: Any, tmp_path: Path) -> None:
    expect = playwright_api.expect
    ARTIFACTS.mkdir(exist_ok=True)
    problems: list[str] = []
    with live_app(tmp_path, "rules", prepare=_link) as site, playwright_api.sync_playwright() as pw:
        code = site.app.config["RULES_TEST_CODE"]
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=site.url)
            page = context.new_page()
            # (The refused save answers 422 on purpose; Chromium logs every 4xx document as a console error.)
            page.on("console", lambda msg: problems.append(msg.text)
                    if msg.type == "error" and "status of 422" not in msg.text else None)
            page.on("pageerror", lambda exc: problems.append(str(exc)))
            page.goto("/login")
            page.fill("#f-email", site.email)
            page.fill("#f-password", site.password)
            page.click("button:has-text('Sign in')")
            page.goto(f"/links/{code}")
            expect(page.locator("#rules-none")).to_be_visible()
            rows = page.locator("#rule-rows fieldset.rule-row")
            expect(rows).to_have_count(1)  # the blank rule

            # Rule 1: iPhones and iPads to the App Store (the blank rule the page starts with).
            first = rows.nth(0)
            first.get_by_label("iPhone / iPad").check()
            first.get_by_label("Destination URL").fill("https://apps.apple.com/no/app/expo/id123")
            # Rule 2, added with the button: Norwegian browsers to the Norwegian page; then moved first.
            page.click("#add-rule")
            expect(rows).to_have_count(2)
            second = rows.nth(1)
            expect(second.locator("legend").first).to_have_text("Rule 2")
            second.get_by_label("Browser language").fill("nb, no, nn")
            second.get_by_label("Destination URL").fill("https://example.com/no/expo")
            second.get_by_role("button", name="Move up").click()
            expect(rows.nth(0).get_by_label("Browser language")).to_have_value("nb, no, nn")
            expect(rows.nth(0).locator("input[name$='-position']")).to_have_value("1")
            expect(rows.nth(1).locator("input[name$='-position']")).to_have_value("2")
            page.click("#save-rules")

            expect(page.locator(".flash-success")).to_contain_text("Redirect rules saved.")
            table = page.locator("#rules-table tbody tr")
            expect(table).to_have_count(3)
            expect(table.nth(0)).to_contain_text("Language: nb, no, nn")
            expect(table.nth(0)).to_contain_text("https://example.com/no/expo")
            expect(table.nth(1)).to_contain_text("Device: iPhone / iPad")
            expect(table.nth(2)).to_contain_text("Otherwise")
            expect(rows).to_have_count(3)  # the two rules and a blank one
            page.locator("#rules").screenshot(path=str(ARTIFACTS / "rules-editor-saved.png"))

            # A bad rule: its error is shown beside its field, and nothing is saved.
            page.click("#add-rule")
            bad = rows.nth(3)
            bad.get_by_label("Country").fill("NO, XX")
            bad.get_by_label("Destination URL").fill("https://example.com/nordic")
            page.click("#save-rules")
            error = page.locator("fieldset.rule-row .field-error")
            expect(error).to_have_count(1)
            expect(error).to_contain_text("'XX' is not an ISO 3166-1 alpha-2 country code")
            field = page.locator("fieldset.rule-row input[aria-invalid='true']")
            expect(field).to_have_value("NO, XX")
            expect(page.locator("#rules-errors")).to_be_visible()
            expect(page.locator("#rules-table tbody tr")).to_have_count(3)  # the saved rules, unchanged
            page.locator("#rules").screenshot(path=str(ARTIFACTS / "rules-editor-error.png"))
            page.set_viewport_size({"width": 390, "height": 844})  # a phone: nothing wider than the screen
            assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
            context.close()
        finally:
            browser.close()
        # The live server redirects by the rules saved in the browser.
        assert _location(site.url, f"/q/{code}", {"User-Agent": IPHONE}).startswith(
            "https://apps.apple.com/no/app/expo/id123?")
        assert _location(site.url, f"/q/{code}", {"User-Agent": IPHONE, "Accept-Language": "nb-NO"}).startswith(
            "https://example.com/no/expo?")
    assert not problems, problems
