"""``tracker mentions import FILE``: import brand mentions from a CSV file (all or nothing)."""
from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from tracker.cli_support import open_session
from tracker.errors import DomainError
from tracker.mentions import service
from tracker.touchpoints.imports import decode_csv

mentions_cli = AppGroup("mentions", help="Brand mentions (social listening, reviews, press).")


@mentions_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_mentions(file: Path) -> None:
    """Import brand mentions from a CSV file.

    Columns: date, platform, count, sentiment, url, note (date and platform required). Idempotent per
    (date, platform, url): a stored key gets the file's count, sentiment and note. One bad row imports
    nothing: every bad line is listed on stderr and the command exits 1.
    """
    settings = current_app.config["SETTINGS"]
    with file.open("rb") as fh:
        raw = fh.read(settings.max_upload_bytes + 1)
    if len(raw) > settings.max_upload_bytes:
        raise click.ClickException(f"{file} is larger than {settings.max_upload_bytes} bytes (max_upload_bytes)")
    try:
        with open_session() as session:
            outcome = service.import_csv(session, settings, decode_csv(raw))
    except DomainError as exc:
        rejected = exc.extra.get("rejected") or []
        for problem in rejected:
            where = f" ({problem['field']})" if problem["field"] else ""
            click.echo(f"{file}:{problem['line']}: {problem['message']}{where}", err=True)
        if rejected:
            raise click.ClickException(f"{len(rejected)} bad row(s): nothing imported") from None
        line = exc.extra.get("line")
        where = f":{line}" if line else ""
        raise click.ClickException(f"{file}{where}: {exc.message}") from None
    click.echo(f"{outcome.rows} row(s): {outcome.inserted} inserted, {outcome.updated} updated, "
               f"{outcome.unchanged} unchanged")
