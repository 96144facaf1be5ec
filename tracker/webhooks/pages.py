"""The webhooks pages (admin, marketer): endpoints with a form to add one, and each endpoint's recent
deliveries (status, response code, attempts, last error) with a button to send one again (thin)."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from tracker.auth.access import page_requires
from tracker.config import Settings
from tracker.db import db_session
from tracker.errors import Conflict, DomainError, ValidationError
from tracker.pages import csrf
from tracker.pages.views import domain_error, no_store, principal_context, too_large
from tracker.webhooks import service
from tracker.webhooks.events import EVENTS

bp = Blueprint("webhooks_pages", __name__)
bp.enable_openapi = False  # type: ignore[attr-defined]  # pages are not part of the API (see tracker.pages.views)
csrf.protect(bp)
bp.context_processor(principal_context)
bp.after_request(no_store)
bp.register_error_handler(DomainError, domain_error)
bp.register_error_handler(413, too_large)

RECENT = 100


def _settings() -> Settings:
    return current_app.config["SETTINGS"]  # type: ignore[no-any-return]


def _list_context() -> dict[str, Any]:
    session = db_session()
    hooks = service.list_webhooks(session)
    counts = service.delivery_counts(session, [h.id for h in hooks])
    return {"hooks": [service.webhook_out(h, counts[h.id]) for h in hooks], "events": EVENTS,
            "created": None, "error": None, "values": {"url": "", "description": "", "events": []}}


@bp.get("/webhooks")
@page_requires("webhooks:manage")
def index() -> str:
    return render_template("webhooks/index.html", **_list_context())


@bp.post("/webhooks")
@page_requires("webhooks:manage")
def create() -> str | tuple[str, int]:
    """Add an endpoint; the page shows its secret this once."""
    data = {"url": request.form.get("url", ""), "events": request.form.getlist("events"),
            "description": request.form.get("description", "")}
    try:
        webhook, secret = service.create_webhook(db_session(), _settings(), data)
    except ValidationError as exc:
        context = _list_context()
        context.update(error=exc, values=data)
        return render_template("webhooks/index.html", **context), exc.status
    context = _list_context()
    context["created"] = {"id": webhook.id, "url": webhook.url, "secret": secret}
    return render_template("webhooks/index.html", **context), 201


@bp.get("/webhooks/<int:webhook_id>")
@page_requires("webhooks:manage")
def endpoint(webhook_id: int) -> str:
    session = db_session()
    webhook = service.get_webhook(session, webhook_id)
    rows, total = service.list_deliveries(session, webhook_id, limit=RECENT)
    counts = service.delivery_counts(session, [webhook.id])[webhook.id]
    return render_template("webhooks/endpoint.html", hook=service.webhook_out(webhook, counts),
                           deliveries=[service.delivery_out(d) for d in rows], total=total, shown=RECENT)


@bp.post("/webhooks/deliveries/<int:delivery_id>/resend")
@page_requires("webhooks:manage")
def resend(delivery_id: int) -> Response:
    """Queue a delivery again (same webhook-id) and go back to its endpoint's page."""
    try:
        delivery = service.resend(db_session(), delivery_id)
    except Conflict as exc:
        flash(exc.message, "error")
        webhook_id = request.form.get("webhook_id", "")
        target = url_for(".endpoint", webhook_id=int(webhook_id)) if webhook_id.isdigit() else url_for(".index")
        return redirect(target)
    flash(f"Delivery {delivery.id} ({delivery.event}, {delivery.msg_id}) is queued and will be sent within "
          "a few seconds.", "success")
    return redirect(url_for(".endpoint", webhook_id=delivery.webhook_id))
