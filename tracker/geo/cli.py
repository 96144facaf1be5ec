"""``tracker geo``: which table locates clicks, how old its data is, and where given addresses are."""
from __future__ import annotations

import json

import click
from flask import current_app
from flask.cli import AppGroup

from tracker.geo import get_locator

geo_cli = AppGroup("geo", help="Country and city of clicks (geoip_database).")


@geo_cli.command("info")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def info(as_json: bool) -> None:
    """Print the source of countries (and cities) and the date of its data."""
    described = get_locator(current_app).describe()
    described.pop("cached_addresses", None)
    if as_json:
        click.echo(json.dumps(described, indent=2))
        return
    click.echo(f"source     {described['source']}\ncities     {'yes' if described['cities'] else 'no'}\n"
               f"data date  {described['data_date'] or 'unknown'}")


@geo_cli.command("lookup")
@click.argument("addresses", nargs=-1, required=True)
def lookup(addresses: tuple[str, ...]) -> None:
    """Print the country (and city) stored for clicks from each address ("-" when unknown)."""
    locate = get_locator(current_app)
    for address in addresses:
        place = locate(address)
        click.echo("\t".join([address, place.country or "-", *([place.city] if place.city else [])]))
