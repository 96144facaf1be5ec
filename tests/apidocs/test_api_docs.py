"""The browsable API reference at /docs/api: Swagger UI from the flask-swagger-ui wheel, for signed-in people.

In a real browser (Debian's chromium, skipped with the reason when missing): sign in, open the page from
the menu, authorize with an API key and try a call; the page logs no console error (a CSP violation
would) and talks to 127.0.0.1 only.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from browser_support import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, live_app


def test_the_page_and_its_assets_are_for_signed_in_people(client, signed_in, auth):
    anonymous = client.application.test_client()
    resp = anonymous.get("/docs/api/")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]
    assert anonymous.get("/docs/api/openapi.json").status_code == 302

    page = signed_in.get("/docs/api/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'src="/docs/api/assets/swagger-ui-bundle.js"' in html and 'src="/static/api-docs.js"' in html
    assert 'data-spec="/docs/api/openapi.json"' in html
    assert "<script>" not in html  # no inline script: the page keeps the strict CSP
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert 'href="/docs/api/" aria-current="page">API</a>' in html  # in the menu, marked as the current page

    with signed_in.get("/docs/api/assets/swagger-ui-bundle.js") as bundle:  # a file answer: closed after use
        assert bundle.status_code == 200 and bundle.mimetype in ("application/javascript", "text/javascript")
        assert b"SwaggerUIBundle" in bundle.data
    with signed_in.get("/docs/api/assets/swagger-ui.css") as css:
        assert css.mimetype == "text/css"
    for name in ("index.html", "..%2Fsetup.py", "swagger-initializer.js"):
        assert signed_in.get(f"/docs/api/assets/{name}").status_code == 404

    spec = signed_in.get("/docs/api/openapi.json").json
    assert spec["openapi"].startswith("3.") and "/api/v1/reports/attribution" in spec["paths"]
    assert spec == client.get("/api/openapi.json", headers=auth).json  # the document API keys get


def test_the_menu_links_to_the_reference(signed_in):
    assert 'href="/docs/api/">API</a>' in signed_in.get("/").get_data(as_text=True)


@pytest.mark.slow
def test_try_a_call_with_a_key_in_a_browser(playwright_api: Any, tmp_path: Path) -> None:
    problems: list[str] = []
    hosts: set[str] = set()
    with live_app(tmp_path, "apidocs") as site, playwright_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=site.url)
            context.on("request", lambda request: hosts.add(urlsplit(request.url).hostname or request.url))
            page = context.new_page()
            page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
            page.on("pageerror", lambda exc: problems.append(str(exc)))
            page.goto("/login")
            page.fill("#f-email", site.email)
            page.fill("#f-password", site.password)
            page.click("button:has-text('Sign in')")
            page.click("nav[aria-label=Main] a:has-text('API')")
            page.wait_for_selector(".swagger-ui .opblock")
            assert page.locator(".opblock").count() >= 30
            page.click("button.authorize")
            page.fill(".modal-ux input", site.key)
            page.click(".modal-ux button.authorize")
            page.click(".modal-ux button.btn-done")
            page.locator(".opblock-get:has-text('/api/v1/campaigns')").first.click()
            page.click(".opblock.is-open button.try-out__btn")
            page.click(".opblock.is-open button.execute")
            status = page.locator(".opblock.is-open .live-responses-table .response .response-col_status").first
            playwright_api.expect(status).to_have_text("200")
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "api-docs.png"))
        finally:
            browser.close()
    assert problems == []
    assert hosts == {"127.0.0.1"}
