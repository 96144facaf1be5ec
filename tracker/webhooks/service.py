"""Webhook endpoints and their deliveries: validation, secrets, listing, sending again.

An endpoint is a target URL (checked against server-side request forgery, :mod:`tracker.webhooks.targets`)
and the events it wants (:data:`tracker.webhooks.events.EVENTS`). Its signing secret ``whsec_...`` (24
random bytes, base64, as Standard Webhooks prescribes) is returned once, by :func:`create_webhook` and
:func:`rotate_secret`, and never listed. Rotating takes effect at once: every later attempt, of pending
deliveries too, is signed with the new secret.

Sending again (:func:`resend`): a failed delivery starts the retry schedule afresh and a pending one is
sent at the next pass of the sender, with the same ``webhook-id``; a delivered one (answered 2xx) is
refused with 409, since it is never sent again.
"""
from __future__ import annotations

import base64
import secrets
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from tracker.config import Settings
from tracker.db import utcnow
from tracker.errors import Conflict, NotFound, ValidationError
from tracker.inputs import row_id
from tracker.webhooks.events import EVENTS, clear_cache
from tracker.webhooks.models import Webhook, WebhookDelivery
from tracker.webhooks.targets import check_target

__all__ = ["MAX_DESCRIPTION", "create_webhook", "delete_webhook", "delivery_counts", "delivery_out", "get_webhook",
           "list_deliveries", "list_webhooks", "new_secret", "resend", "rotate_secret", "update_webhook", "webhook_out"]

MAX_DESCRIPTION = 200
FIELDS = ("url", "events", "description", "disabled")
STATUSES = ("pending", "delivered", "failed")


def new_secret() -> str:
    """A new signing secret: ``whsec_`` and 24 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def _events(value: object) -> list[str]:
    if not isinstance(value, list | tuple) or not value:
        raise ValidationError(f"events must be a non-empty list, a subset of: {', '.join(EVENTS)}", "events")
    chosen: list[str] = []
    for i, event in enumerate(value):
        if not isinstance(event, str) or event.strip() not in EVENTS:
            raise ValidationError(f"unknown event {event!r}: choose from {', '.join(EVENTS)}", f"events[{i}]")
        if event.strip() not in chosen:
            chosen.append(event.strip())
    return chosen


def _apply(settings: Settings, webhook: Webhook, data: Mapping[str, Any], creating: bool) -> None:
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        raise ValidationError(f"unknown field {unknown[0]!r}: an endpoint has {', '.join(FIELDS)}", unknown[0])
    if creating or "url" in data:
        webhook.url = _checked_url(settings, data.get("url"))
    if creating or "events" in data:
        webhook.events = _events(data.get("events"))
    if "description" in data:
        description = data["description"]
        if description is None:
            description = ""
        if not isinstance(description, str) or len(description) > MAX_DESCRIPTION:
            raise ValidationError(f"description must be text of at most {MAX_DESCRIPTION} characters", "description")
        webhook.description = description.strip()
    elif creating:
        webhook.description = ""
    if "disabled" in data:
        if not isinstance(data["disabled"], bool):
            raise ValidationError("disabled must be true or false", "disabled")
        webhook.disabled = data["disabled"]
    elif creating:
        webhook.disabled = False


def _checked_url(settings: Settings, url: object) -> str:
    check_target(url, settings.webhook_allow_private_addresses)
    return str(url).strip()


def create_webhook(session: Session, settings: Settings, data: Mapping[str, Any]) -> tuple[Webhook, str]:
    """Create an endpoint; commit. Return it and its secret (shown this once).

    Raises
    ------
    ValidationError
        ``url`` is missing, not https, or resolves to an internal address; ``events`` is empty or names
        an unknown event (``events[1]``); ``description`` is too long; an unknown field is given.
    """
    webhook = Webhook()
    _apply(settings, webhook, data, creating=True)
    secret = new_secret()
    webhook.secret = secret
    session.add(webhook)
    session.commit()
    clear_cache(session)
    return webhook, secret


def get_webhook(session: Session, webhook_id: int) -> Webhook:
    number = row_id(webhook_id)  # an id past the INTEGER range is "not found", never a database error
    webhook = session.get(Webhook, number) if number is not None else None
    if webhook is None:
        raise NotFound(f"no webhook endpoint {webhook_id}", "webhook_id")
    return webhook


def list_webhooks(session: Session) -> list[Webhook]:
    return list(session.scalars(sa.select(Webhook).order_by(Webhook.id)))


def update_webhook(session: Session, settings: Settings, webhook_id: int, data: Mapping[str, Any]) -> Webhook:
    """Change an endpoint's url, events, description or disabled flag; commit (all or nothing)."""
    webhook = get_webhook(session, webhook_id)
    try:
        _apply(settings, webhook, data, creating=False)
    except ValidationError:
        session.rollback()
        raise
    webhook.updated_at = utcnow()
    session.commit()
    clear_cache(session)
    return webhook


def rotate_secret(session: Session, webhook_id: int) -> tuple[Webhook, str]:
    """Give an endpoint a new secret; commit. Return it and the secret (shown this once)."""
    webhook = get_webhook(session, webhook_id)
    secret = new_secret()
    webhook.secret = secret
    webhook.updated_at = utcnow()
    session.commit()
    return webhook, secret


def delete_webhook(session: Session, webhook_id: int) -> None:
    """Delete an endpoint and its deliveries (sent or not); commit."""
    webhook = get_webhook(session, webhook_id)
    session.execute(sa.delete(WebhookDelivery).where(WebhookDelivery.webhook_id == webhook.id))
    session.delete(webhook)
    session.commit()
    clear_cache(session)


def list_deliveries(session: Session, webhook_id: int, *, status: str | None = None, limit: int = 50,
                    offset: int = 0) -> tuple[list[WebhookDelivery], int]:
    """An endpoint's deliveries, newest first, and how many there are (``status`` filters)."""
    webhook = get_webhook(session, webhook_id)
    stmt = sa.select(WebhookDelivery).where(WebhookDelivery.webhook_id == webhook.id)
    if status is not None:
        if status not in STATUSES:
            raise ValidationError(f"status must be one of {', '.join(STATUSES)}", "status")
        stmt = stmt.where(WebhookDelivery.status == status)
    total = session.scalar(sa.select(sa.func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(stmt.order_by(WebhookDelivery.id.desc()).limit(limit).offset(offset))
    return list(rows), total


def resend(session: Session, delivery_id: int) -> WebhookDelivery:
    """Queue a delivery to be sent at once with the same ``webhook-id``; commit.

    Raises NotFound for an unknown id and Conflict for a delivery already answered 2xx.
    """
    number = row_id(delivery_id)
    delivery = session.get(WebhookDelivery, number) if number is not None else None
    if delivery is None:
        raise NotFound(f"no webhook delivery {delivery_id}", "delivery_id")
    if delivery.status == "delivered":
        raise Conflict("this delivery was answered 2xx and is never sent again (receivers drop repeats of "
                       "its webhook-id)", "delivery_id")
    if delivery.status == "failed":
        delivery.attempts = 0  # a fresh retry schedule
    delivery.status = "pending"
    delivery.next_attempt_at = utcnow()
    session.commit()
    return delivery


def webhook_out(webhook: Webhook, counts: Mapping[str, int] | None = None) -> dict[str, Any]:
    """The API's view of an endpoint (never the secret)."""
    out: dict[str, Any] = {"id": webhook.id, "url": webhook.url, "description": webhook.description,
                           "events": list(webhook.events or ()), "disabled": webhook.disabled,
                           "created_at": webhook.created_at, "updated_at": webhook.updated_at}
    if counts is not None:
        out["deliveries"] = {s: counts.get(s, 0) for s in STATUSES}
    return out


def delivery_counts(session: Session, webhook_ids: list[int]) -> dict[int, dict[str, int]]:
    """Deliveries per endpoint and status."""
    counts: dict[int, dict[str, int]] = {wid: {} for wid in webhook_ids}
    if webhook_ids:
        for wid, status, n in session.execute(
                sa.select(WebhookDelivery.webhook_id, WebhookDelivery.status, sa.func.count())
                .where(WebhookDelivery.webhook_id.in_(webhook_ids))
                .group_by(WebhookDelivery.webhook_id, WebhookDelivery.status)):
            counts[wid][status] = n
    return counts


def delivery_out(delivery: WebhookDelivery) -> dict[str, Any]:
    return {"id": delivery.id, "webhook_id": delivery.webhook_id, "msg_id": delivery.msg_id,
            "event": delivery.event, "status": delivery.status, "attempts": delivery.attempts,
            "response_status": delivery.response_status, "last_error": delivery.last_error,
            "created_at": delivery.created_at, "last_attempt_at": delivery.last_attempt_at,
            "next_attempt_at": delivery.next_attempt_at, "delivered_at": delivery.delivered_at}
