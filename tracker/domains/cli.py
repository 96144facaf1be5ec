"""``tracker domains add|list|delete`` (thin: the service validates; errors exit non-zero with the message)."""
from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from tracker.cli_support import domain_errors, open_session
from tracker.domains import service

domains_cli = AppGroup("domains", help="Short-link domains beside public_base_url's host (docs/guides/site-owner.md).")


@domains_cli.command("add")
@click.argument("host")
@click.option("--not-found-url", help="Where unknown codes on this host go (302); default: the 404 page.")
@click.option("--scheme", type=click.Choice(service.SCHEMES), default="https", show_default=True,
              help="Scheme of the domain's short URLs and QR codes.")
@domain_errors
def add_domain(host: str, not_found_url: str | None, scheme: str) -> None:
    """Add a short-link domain HOST (e.g. go.brand.no): point its DNS and proxy at this service first."""
    with open_session() as session:
        domain = service.create_domain(session, current_app.config["SETTINGS"],
                                       {"host": host, "scheme": scheme, "not_found_url": not_found_url})
        click.echo(f"added {domain.scheme}://{domain.host}/"
                   + (f" (unknown codes go to {domain.not_found_url})" if domain.not_found_url else ""))


@domains_cli.command("list")
def list_domains() -> None:
    """List the short-link domains, the default one first, with their links and not-found URLs."""
    settings = current_app.config["SETTINGS"]
    with open_session() as session:
        counts = service.link_counts(session)
        rows = [service.domain_out(None, settings, counts.get(None, 0))]
        rows += [service.domain_out(d, settings, counts.get(d.id, 0)) for d in service.list_domains(session)]
    for row in rows:
        default = " (default)" if row["default"] else ""
        click.echo(f"{row['scheme']}://{row['host']}{default}\t{row['links']} link(s)\t"
                   f"not found: {row['not_found_url'] or '404 page'}")


@domains_cli.command("delete")
@click.argument("host")
@domain_errors
def delete_domain(host: str) -> None:
    """Delete a short-link domain that no link uses."""
    with open_session() as session:
        service.delete_domain(session, host)
    click.echo(f"deleted {host}")
