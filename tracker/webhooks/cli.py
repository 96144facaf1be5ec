"""``tracker webhooks list|add|deliver`` (thin: the service and the sender do the work)."""
from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from tracker.cli_support import domain_errors, open_session
from tracker.db import get_db
from tracker.webhooks import service
from tracker.webhooks.events import EVENTS
from tracker.webhooks.sender import TIMEOUT, deliver_due

webhooks_cli = AppGroup("webhooks", help="Webhook endpoints and their deliveries (docs/guides/webhooks.md).")


@webhooks_cli.command("list")
def list_webhooks() -> None:
    """List the endpoints with their deliveries by status."""
    with open_session() as session:
        hooks = service.list_webhooks(session)
        counts = service.delivery_counts(session, [h.id for h in hooks])
    if not hooks:
        click.echo("no webhook endpoints")
    for h in hooks:
        c = counts[h.id]
        state = " (disabled)" if h.disabled else ""
        click.echo(f"{h.id}\t{h.url}{state}\t{','.join(h.events)}\tpending {c.get('pending', 0)}, "
                   f"delivered {c.get('delivered', 0)}, failed {c.get('failed', 0)}")


@webhooks_cli.command("add")
@click.argument("url")
@click.option("--event", "events", multiple=True, required=True, type=click.Choice(list(EVENTS)),
              help="An event the endpoint wants (repeat for several).")
@click.option("--description", default="")
@domain_errors
def add_webhook(url: str, events: tuple[str, ...], description: str) -> None:
    """Add an endpoint; prints its signing secret (shown this once)."""
    with open_session() as session:
        webhook, secret = service.create_webhook(session, current_app.config["SETTINGS"],
                                                 {"url": url, "events": list(events), "description": description})
    click.echo(f"webhook {webhook.id} for {webhook.url}")
    click.echo(f"secret: {secret}  (shown this once; verify the webhook-signature header with it)")


@webhooks_cli.command("deliver")
@click.option("--timeout", type=click.FloatRange(0.1, 60), default=TIMEOUT, show_default=True,
              help="Seconds to wait for each receiver's answer.")
def deliver(timeout: float) -> None:
    """Send the deliveries that are due, once, and exit (for cron, or when no app server runs)."""
    settings = current_app.config["SETTINGS"]
    totals = {"claimed": 0, "delivered": 0, "pending": 0, "failed": 0, "superseded": 0}
    while True:
        counts = deliver_due(get_db().Session, settings.webhook_allow_private_addresses, timeout=timeout)
        for name, n in counts.items():
            totals[name] += n
        if counts["claimed"] == 0:
            break
    click.echo(f"attempted {totals['claimed']}: delivered {totals['delivered']}, to retry {totals['pending']}, "
               f"failed {totals['failed']}")


@webhooks_cli.command("delete")
@click.argument("webhook_id", type=int)
@domain_errors
def delete_webhook(webhook_id: int) -> None:
    """Delete an endpoint and its deliveries."""
    with open_session() as session:
        service.delete_webhook(session, webhook_id)
    click.echo(f"webhook {webhook_id} deleted")
