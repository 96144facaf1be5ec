"""``tracker report experiments``: the experiment report on the command line (registered in the report group)."""
from __future__ import annotations

import json
from typing import IO, Any

import click
from flask import current_app

from tracker.cli_support import open_session
from tracker.errors import DomainError
from tracker.experiments.service import experiment_report, parse_experiment_params
from tracker.reports import output

__all__ = ["run_experiments"]


def run_experiments(options: dict[str, Any], fmt: str, out: IO[str]) -> None:
    """Parse the options as the API's query, run the report, write JSON or the arm table as CSV.

    A wrong option is a message naming it (``--experiment``) and exit status 1.
    """
    raw = {("from" if key == "from_" else key): value for key, value in options.items() if value not in (None, "")}
    settings = current_app.config["SETTINGS"]
    try:
        params = parse_experiment_params(raw, settings)
        with open_session() as session:
            report = experiment_report(session, settings, params)
    except DomainError as exc:
        option = "--" + (exc.field or "").replace("_", "-")
        raise click.ClickException(f"{exc.message} ({option})" if exc.field else exc.message) from None
    if fmt == "csv":
        body, _ = output.to_csv(report, "experiment")
        out.write(body)
    else:
        json.dump(report, out, indent=2, ensure_ascii=False, default=str)
        out.write("\n")
    if out.name != "<stdout>":
        click.echo(f"experiment report written to {out.name} (verdict: {report['verdict']})", err=True)
