"""``tracker report attribution|dark-funnel|paths|funnel``: the API's reports on the command line.

The options are the API's query parameters (``--from``, ``--model`` ..., repeatable where the API takes
several), checked by the same parser; the output is the API's JSON (``--format json``, default) or CSV.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import click
from flask import current_app
from flask.cli import AppGroup

from tracker.errors import DomainError
from tracker.reports import output, service
from tracker.reports.params import DEFAULT_MODELS, FUNNEL_MODELS, parse_params

report_cli = AppGroup("report", help="Attribution, dark-funnel, paths and funnel reports (JSON or CSV).")

COMMON = [
    click.option("--from", "from_", metavar="YYYY-MM-DD", help="First conversion day (report time zone)."),
    click.option("--to", metavar="YYYY-MM-DD", help="Last conversion day (inclusive); default today."),
    click.option("--conversion-type", help="A funnel type, or all (default)."),
    click.option("--lookback-days", help="Days of touches before each conversion (default 30)."),
    click.option("--since-previous-conversion", is_flag=True, default=None,
                 help="Journeys start after the person's previous conversion of the type."),
    click.option("--format", "fmt", type=click.Choice(["json", "csv"]), default="json", show_default=True),
    click.option("--output", "-o", type=click.File("w"), default="-", help="File to write (default stdout)."),
]


def _options(extra: list[Callable[..., Any]]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def apply(fn: Callable[..., Any]) -> Callable[..., Any]:
        for option in reversed([*COMMON, *extra]):
            fn = option(fn)
        return fn
    return apply


def _run(name: str, build: Callable[..., dict[str, Any]], options: dict[str, Any],
         default_models: tuple[str, ...] = DEFAULT_MODELS) -> None:
    fmt, out = options.pop("fmt"), options.pop("output")
    raw: dict[str, Any] = {}
    for key, value in options.items():
        if value is None or value == () or value is False:
            continue
        param = "from" if key == "from_" else key
        raw[param] = list(value) if isinstance(value, tuple) else "true" if value is True else value
    settings = current_app.config["SETTINGS"]
    from tracker.db import get_db
    try:
        params = parse_params(raw, settings, default_models=default_models)
        with get_db().Session() as session:
            report = build(session, settings, params)
    except DomainError as exc:
        option = "--" + (exc.field or "").replace("_", "-")
        raise click.ClickException(f"{exc.message} ({option})" if exc.field else exc.message) from None
    if report.get("retention"):  # docs/guides/site-owner.md#privacy: raw clicks before the cut-off are gone
        click.echo(f"note: {report['retention']['message']}", err=True)
    if fmt == "csv":
        body, _ = output.to_csv(report, name)
        out.write(body)
    else:
        json.dump(report, out, indent=2, ensure_ascii=False, default=str)
        out.write("\n")
    if out.name != "<stdout>":
        click.echo(f"{name} report written to {out.name}", err=True)


@report_cli.command("attribution")
@_options([
    click.option("--model", multiple=True, help="Model (repeatable; default first_touch, last_touch, linear)."),
    click.option("--by", multiple=True, help="channel (default), source, medium, campaign, link, kind."),
    click.option("--self-report-as-first-touch", is_flag=True, default=None),
    click.option("--half-life-days"), click.option("--position-first"), click.option("--position-last"),
    click.option("--markov-order", help="markov: previous values a state remembers (1-4, default 1)."),
    click.option("--intervals", is_flag=True, default=None,
                 help="Bootstrap intervals for every credited number (and where models differ)."),
    click.option("--samples", help="Bootstrap resamples with --intervals (20-2000, default 200)."),
    click.option("--channel", help="Only rows of this channel."), click.option("--source"),
    click.option("--medium"), click.option("--campaign"), click.option("--link"), click.option("--kind"),
])
def attribution_command(**options: Any) -> None:
    """Credit conversions to touchpoints with one or several models."""
    _run("attribution", service.attribution_report, options)


@report_cli.command("dark-funnel")
@_options([])
def dark_funnel_command(**options: Any) -> None:
    """What people say versus what tracking saw."""
    _run("dark-funnel", service.dark_funnel_report, options)


@report_cli.command("paths")
@_options([
    click.option("--by", multiple=True, help="channel (default), source, medium, campaign, link, kind."),
    click.option("--self-report-as-first-touch", is_flag=True, default=None),
])
def paths_command(**options: Any) -> None:
    """Distinct paths with conversions, value and non-converting journeys (ChannelAttribution's input)."""
    _run("paths", service.paths_report, options)


@report_cli.command("funnel")
@_options([
    click.option("--model", help="Model for cost per lead/acquisition and ROAS (default linear)."),
    click.option("--markov-order", help="With --model markov: the chain's order (1-4, default 1)."),
    click.option("--by", help="channel (default) or campaign: segments of the cost metrics."),
    click.option("--segment", help="Stage table per segment (channel, campaign, ..., country, self_reported)."),
    click.option("--compare-from", metavar="YYYY-MM-DD"), click.option("--compare-to", metavar="YYYY-MM-DD"),
])
def funnel_command(**options: Any) -> None:
    """Funnel stages, rates, drop-off, cycle time, costs and ROAS."""
    _run("funnel", service.funnel_report, options, FUNNEL_MODELS)


@report_cli.command("experiments")
@click.option("--experiment", help="The test: links with this experiment are its arms (one per variant).")
@click.option("--campaign", help="A campaign's slug or id: its experiment, or its links differing only in utm_content.")
@click.option("--control", help="The arm the others are compared with (default A, else the first alphabetically).")
@click.option("--from", "from_", metavar="YYYY-MM-DD", help="First exposure day (report time zone).")
@click.option("--to", metavar="YYYY-MM-DD", help="Last exposure day (inclusive); default today.")
@click.option("--conversion-type", help="A funnel type, or all; default the first funnel stage.")
@click.option("--lookback-days", help="Days after the first exposure in which a conversion counts (default 30).")
@click.option("--format", "fmt", type=click.Choice(["json", "csv"]), default="json", show_default=True)
@click.option("--output", "-o", "out", type=click.File("w"), default="-", help="File to write (default stdout).")
def experiments_command(fmt: str, out: Any, **options: Any) -> None:
    """An A/B test of link variants: rates, lift, p-value and verdict (CSV: the arm table)."""
    from tracker.experiments.cli import run_experiments
    run_experiments(options, fmt, out)


@report_cli.command("cohorts")
@click.option("--from", "from_", metavar="YYYY-MM", help="First cohort month (report time zone).")
@click.option("--to", metavar="YYYY-MM", help="Last cohort month (inclusive); default the month of --as-of.")
@click.option("--as-of", metavar="YYYY-MM-DD", help="The report's end (default today): months not ended are blank.")
@click.option("--by", help="channel (acquisition channel, default) or self_reported.")
@click.option("--months", help="Months since acquisition to show (1-120, default 12).")
@click.option("--conversion-type", help="The funnel type that counts as a purchase (default: cohort_conversion_type).")
@click.option("--channel", multiple=True, help="Only this channel (repeatable).")
@click.option("--format", "fmt", type=click.Choice(["json", "csv"]), default="json", show_default=True)
@click.option("--output", "-o", "out", type=click.File("w"), default="-", help="File to write (default stdout).")
def cohorts_command(fmt: str, out: Any, **options: Any) -> None:
    """Cohorts by first-purchase month and channel: retention, revenue per customer, LTV, churn."""
    from tracker.cohorts.cli import run_cohorts
    run_cohorts(options, fmt, out)
