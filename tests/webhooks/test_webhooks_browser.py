"""The webhooks pages in Chromium: add an endpoint (secret shown once), a refused target, the deliveries
list with status, response code and attempts, and "Send again".

Needs the ``playwright`` package and ``/usr/bin/chromium`` (skipped with the reason otherwise); a
screenshot goes to ``test-artifacts/``.
"""
from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import sqlalchemy as sa
from browser_support import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, live_app

from tracker.db import get_db, utcnow
from tracker.webhooks.events import new_msg_id
from tracker.webhooks.models import Webhook, WebhookDelivery

pytestmark = pytest.mark.slow
TARGET = "https://93.184.216.34/hooks/crm"


@pytest.fixture
def live_server(playwright_api: Any, tmp_path: Path) -> Iterator[SimpleNamespace]:
    with live_app(tmp_path, "webhooks") as site:
        yield site


def _failed_delivery(app: Any) -> int:
    """A delivery the receiver refused seven times (as the sender leaves it)."""
    with get_db(app).Session() as s:
        hook_id = s.scalar(sa.select(Webhook.id))
        earlier = utcnow() - timedelta(hours=18)
        row = WebhookDelivery(webhook_id=hook_id, msg_id=new_msg_id(), event="link.created", payload="{}",
                              status="failed", attempts=7, response_status=503, last_error="answered 503",
                              created_at=earlier, last_attempt_at=utcnow())
        s.add(row)
        s.commit()
        return row.id


def test_webhooks_pages_in_a_browser(playwright_api: Any, live_server: SimpleNamespace) -> None:
    expect = playwright_api.expect
    ARTIFACTS.mkdir(exist_ok=True)
    problems: list[str] = []
    with playwright_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=live_server.url).new_page()
            page.on("console", lambda msg: problems.append(msg.text)
                    if msg.type == "error" and "status of 422" not in msg.text else None)
            page.on("pageerror", lambda exc: problems.append(str(exc)))

            page.goto("/webhooks")
            page.fill("#f-email", live_server.email)
            page.fill("#f-password", live_server.password)
            page.click("button:has-text('Sign in')")
            expect(page.locator("h1")).to_have_text("Webhooks")
            expect(page.locator("nav a[aria-current=page]")).to_have_text("Webhooks")

            # A target on this machine is refused, naming the field; nothing is added.
            page.fill("#f-url", "https://127.0.0.1/hook")
            page.check("input[name=events][value='link.created']")
            page.click("button:has-text('Add endpoint')")
            expect(page.locator("#webhook-error")).to_contain_text("url:")
            expect(page.locator("#webhook-error")).to_contain_text("loopback")
            expect(page.locator("#webhooks")).to_have_count(0)

            page.fill("#f-url", TARGET)
            page.click("button:has-text('Add endpoint')")
            expect(page.locator("#webhook-secret")).to_contain_text("whsec_")
            expect(page.locator("#webhooks tbody tr")).to_have_count(1)

            delivery_id = _failed_delivery(live_server.app)
            page.goto("/webhooks")
            expect(page.locator("#webhook-secret")).to_have_count(0)  # shown once
            page.click(f"#webhooks a:has-text('{TARGET}')")
            row = page.locator(f"#deliveries tr[data-delivery='{delivery_id}']")
            expect(row.locator(".status")).to_have_text("failed")
            expect(row.locator(".response")).to_have_text("503")
            expect(row.locator(".attempts")).to_have_text("7")
            page.screenshot(path=str(ARTIFACTS / "webhooks-deliveries.png"), full_page=True)

            row.locator("button:has-text('Send again')").click()
            expect(page.locator(".flash-success")).to_contain_text(f"Delivery {delivery_id}")
            row = page.locator(f"#deliveries tr[data-delivery='{delivery_id}']")
            expect(row.locator(".status")).to_have_text("pending")
            expect(row.locator(".attempts")).to_have_text("0")
        finally:
            browser.close()
    assert problems == []
    with get_db(live_server.app).Session() as s:
        d = s.get(WebhookDelivery, delivery_id)
        assert d.status == "pending" and d.next_attempt_at is not None
