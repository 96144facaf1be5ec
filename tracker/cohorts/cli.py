"""``tracker report cohorts``: the cohort report on the command line (the API's parameters, JSON or CSV).

Bad input prints the message naming the option and exits with status 1; nothing is written to the output.
"""
from __future__ import annotations

import json
from typing import Any

import click
from flask import current_app

from tracker.cohorts import service
from tracker.cohorts.params import parse_cohort_params
from tracker.errors import DomainError
from tracker.reports import output

__all__ = ["run_cohorts"]


def run_cohorts(options: dict[str, Any], fmt: str, out: Any) -> None:
    """Parse the options as the API parses its query, run the report, write it to ``out``."""
    raw: dict[str, Any] = {}
    for key, value in options.items():
        if value is None or value == ():
            continue
        raw["from" if key == "from_" else key] = list(value) if isinstance(value, tuple) else value
    settings = current_app.config["SETTINGS"]
    from tracker.db import get_db
    try:
        params = parse_cohort_params(raw, settings)
        with get_db().Session() as session:
            report = service.cohort_report(session, settings, params)
    except DomainError as exc:
        option = "--" + (exc.field or "").replace("_", "-")
        raise click.ClickException(f"{exc.message} ({option})" if exc.field else exc.message) from None
    if report.get("retention"):  # docs/guides/site-owner.md#privacy: raw clicks before the cut-off are gone
        click.echo(f"note: {report['retention']['message']}", err=True)
    if fmt == "csv":
        body, _ = output.to_csv(report, "cohorts")
        out.write(body)
    else:
        json.dump(report, out, indent=2, ensure_ascii=False, default=str)
        out.write("\n")
    if out.name != "<stdout>":
        click.echo(f"cohorts report written to {out.name}", err=True)
