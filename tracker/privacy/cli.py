"""``tracker people erase KEY`` and ``tracker retention purge`` (registered from ``tracker/commands.py``)."""
from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from tracker.cli_support import domain_errors
from tracker.db import get_db
from tracker.privacy import erasure, retention

__all__ = ["people_cli", "retention_cli"]

people_cli = AppGroup("people", help="People: erasure.")
retention_cli = AppGroup("retention", help="Retention of raw clicks and visits.")


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {kind.replace('_', ' ')}" for kind, n in counts.items())


@people_cli.command("erase")
@click.argument("key")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@domain_errors
def people_erase(key: str, yes: bool) -> None:
    """Erase the person known by KEY (person id, e-mail or customer key, or a visitor, site or click id)."""
    secret: bytes = current_app.extensions["tracker.redirects"]["ip_secret"]
    with get_db().Session() as session:
        person = erasure.find_person(session, secret, key)
        if not yes:
            click.confirm(f"Erase person {person} and everything recorded about them?", abort=True)
        removed = erasure.erase_person(session, person)
    click.echo(f"person {person} erased: {_counts(removed)}")


@retention_cli.command("purge")
@domain_errors
def retention_purge() -> None:
    """Delete raw clicks, scans and visits older than click_retention_days (daily aggregates are kept)."""
    settings = current_app.config["SETTINGS"]
    if settings.click_retention_days <= 0:
        click.echo("click_retention_days is 0: raw clicks are kept for ever, nothing to purge")
        return
    with get_db().Session() as session:
        counts = retention.purge(session, settings)
        since = retention.raw_clicks_since(session, settings)
    click.echo(f"purged rows before {since.isoformat() if since else '-'}: {_counts(counts)}")
