"""Webhooks API: endpoints (create, list, read, change, delete, rotate the secret) and their deliveries (thin)."""
from __future__ import annotations

from typing import Any

from apiflask import APIBlueprint, Schema
from apiflask.fields import Boolean, Integer, List, String
from apiflask.validators import Length, OneOf, Range
from flask import Response, current_app

from tracker.auth.access import requires
from tracker.config import Settings
from tracker.db import db_session
from tracker.webhooks import service
from tracker.webhooks.events import EVENTS
from tracker.webhooks.targets import MAX_URL

bp = APIBlueprint("webhooks", __name__, url_prefix="/api/v1", tag="Webhooks")

EVENT_LIST = ", ".join(f"`{name}` ({what})" for name, what in EVENTS.items())


def _settings() -> Settings:
    return current_app.config["SETTINGS"]  # type: ignore[no-any-return]


class WebhookIn(Schema):
    url = String(required=True, validate=Length(1, MAX_URL), metadata={
        "description": "Where events are POSTed: https, resolving to public addresses only (unless the setting "
                       "webhook_allow_private_addresses is true); redirects are not followed"})
    events = List(String(validate=Length(1, 40)), required=True, validate=Length(1, len(EVENTS)),
                  metadata={"description": f"The events wanted: {EVENT_LIST}"})
    description = String(validate=Length(0, service.MAX_DESCRIPTION), metadata={"description": "A note for people"})
    disabled = Boolean(metadata={"description": "true: no new deliveries, and queued ones wait (default false)"})


class WebhookPatch(WebhookIn):
    url = String(validate=Length(1, MAX_URL), metadata={"description": "New target (checked as on create)"})
    events = List(String(validate=Length(1, 40)), validate=Length(1, len(EVENTS)),
                  metadata={"description": "New list of events (replaces the old one)"})


class DeliveryQuery(Schema):
    status = String(validate=OneOf(service.STATUSES), metadata={"description": "pending, delivered or failed"})
    page = Integer(load_default=1, validate=Range(1, 100_000))
    per_page = Integer(load_default=50, validate=Range(1, 500))


@bp.post("/webhooks")
@requires("webhooks:manage")
@bp.input(WebhookIn, arg_name="data")
@bp.doc(description=(
    "Register an endpoint. The answer holds `secret` (`whsec_...`), shown this once: keep it to verify the "
    "`webhook-signature` header (Standard Webhooks). The URL's host is resolved now and refused (422, field "
    "`url`) when it is not https or resolves to a loopback, private, link-local, multicast, reserved or "
    "metadata address; an unknown event is refused naming it (`events[1]`)."),
    responses={201: "Created (with the secret)", 422: "Bad url, events or description"})
def create(data: dict[str, Any]) -> Any:
    """Create a webhook endpoint"""
    webhook, secret = service.create_webhook(db_session(), _settings(), data)
    return {**service.webhook_out(webhook), "secret": secret}, 201


@bp.get("/webhooks")
@requires("webhooks:manage")
@bp.doc(description="Every endpoint (never its secret) with its deliveries counted by status.")
def list_all() -> Any:
    """List webhook endpoints"""
    session = db_session()
    hooks = service.list_webhooks(session)
    counts = service.delivery_counts(session, [h.id for h in hooks])
    return {"items": [service.webhook_out(h, counts[h.id]) for h in hooks], "events": EVENTS}


@bp.get("/webhooks/<int:webhook_id>")
@requires("webhooks:manage")
@bp.doc(responses={404: "No such endpoint"})
def get(webhook_id: int) -> Any:
    """Read one webhook endpoint"""
    session = db_session()
    webhook = service.get_webhook(session, webhook_id)
    return service.webhook_out(webhook, service.delivery_counts(session, [webhook.id])[webhook.id])


@bp.patch("/webhooks/<int:webhook_id>")
@requires("webhooks:manage")
@bp.input(WebhookPatch, arg_name="data")
@bp.doc(description="Change url, events, description or disabled; fields left out stay. All or nothing.",
        responses={404: "No such endpoint", 422: "Bad field (named)"})
def update(webhook_id: int, data: dict[str, Any]) -> Any:
    """Change a webhook endpoint"""
    return service.webhook_out(service.update_webhook(db_session(), _settings(), webhook_id, data))


@bp.delete("/webhooks/<int:webhook_id>")
@requires("webhooks:manage")
@bp.doc(responses={204: "Deleted with its deliveries", 404: "No such endpoint"})
def delete(webhook_id: int) -> Any:
    """Delete a webhook endpoint and its deliveries"""
    service.delete_webhook(db_session(), webhook_id)
    return Response(status=204)


@bp.post("/webhooks/<int:webhook_id>/rotate-secret")
@requires("webhooks:manage")
@bp.doc(description="A new `secret`, shown this once; every later attempt is signed with it.",
        responses={404: "No such endpoint"})
def rotate(webhook_id: int) -> Any:
    """Rotate a webhook endpoint's signing secret"""
    webhook, secret = service.rotate_secret(db_session(), webhook_id)
    return {**service.webhook_out(webhook), "secret": secret}


@bp.get("/webhooks/<int:webhook_id>/deliveries")
@requires("webhooks:manage")
@bp.input(DeliveryQuery, location="query", arg_name="query")
@bp.doc(description="The endpoint's deliveries, newest first: status (pending, delivered, failed), attempts, "
                    "the last answer's status code and error, and when the next attempt is due.",
        responses={404: "No such endpoint"})
def deliveries(webhook_id: int, query: dict[str, Any]) -> Any:
    """List a webhook endpoint's deliveries"""
    page, per_page = query["page"], query["per_page"]
    rows, total = service.list_deliveries(db_session(), webhook_id, status=query.get("status"), limit=per_page,
                                          offset=(page - 1) * per_page)
    return {"items": [service.delivery_out(d) for d in rows], "total": total, "page": page, "per_page": per_page}


@bp.post("/webhook-deliveries/<int:delivery_id>/resend")
@requires("webhooks:manage")
@bp.doc(description="Send a pending or failed delivery again at once, with the same `webhook-id` (a failed one "
                    "gets the whole retry schedule again). A delivery answered 2xx is never sent again: 409.",
        responses={404: "No such delivery", 409: "Already delivered"})
def resend(delivery_id: int) -> Any:
    """Send a webhook delivery again"""
    return service.delivery_out(service.resend(db_session(), delivery_id)), 202
