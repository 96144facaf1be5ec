"""Experiment report API: ``/api/v1/reports/experiments`` as JSON or CSV, and the list of tests (thin)."""
from __future__ import annotations

from typing import Any

from apiflask import APIBlueprint, Schema
from apiflask.fields import String
from apiflask.validators import Length
from flask import Response, current_app, request

from tracker.auth.access import requires
from tracker.config import Settings
from tracker.db import db_session
from tracker.errors import ValidationError
from tracker.experiments.service import experiment_report, list_experiments, parse_experiment_params
from tracker.reports import output

# Its own tag: APIFlask lists each blueprint's tag once per blueprint, and a second "Reports" is a duplicate.
bp = APIBlueprint("experiments", __name__, url_prefix="/api/v1/reports", tag="Experiments")


def _settings() -> Settings:
    return current_app.config["SETTINGS"]  # type: ignore[no-any-return]


def _field(description: str) -> String:
    return String(metadata={"description": description}, validate=Length(0, 500))


class ExperimentQuery(Schema):
    experiment = _field("The test: links with this `experiment` are its arms, one per `variant`. Give this or "
                        "`campaign`.")
    campaign = _field("A campaign's slug or id: its experiment, or (with none marked) its links that differ only "
                      "in utm_content, one arm per utm_content")
    control = _field("The arm the others are compared with; default variant A, else the first arm alphabetically")
    from_ = String(data_key="from", validate=Length(0, 500), metadata={
        "description": "First exposure day (YYYY-MM-DD, report time zone); default: 29 days before `to`"})
    to = _field("Last exposure day, inclusive; default: today")
    conversion_type = _field("The conversion that counts (a funnel type, or `all`); default: the first funnel "
                             "stage")
    lookback_days = _field("Days after a person's first exposure in which a conversion counts (0-365, default 30)")
    format = _field("json (default) or csv (the arm table)")


@bp.get("/experiments")
@requires("reports:read")
@bp.input(ExperimentQuery, location="query", arg_name="query")
@bp.doc(description="An A/B test of link variants: per arm the exposures (human clicks and scans), people "
        "(counted in the arm of their first exposure only), people converting within the lookback, the rate with "
        "its 95 % Wilson interval, value per exposure; against the control the relative lift with its interval "
        "and the p-value (two arms: two-proportion z-test; more: chi-square, then z-tests with Holm's "
        "correction); the verdict, or `not enough data` with the people per arm still needed for 80 % power.",
        responses={404: "No such experiment or campaign (`error.field` names it)",
                   422: "A parameter is wrong (`error.field` names it)"})
def experiments(query: dict[str, Any]) -> Any:
    """Experiment (A/B test) report"""
    settings = _settings()
    fmt = (request.args.get("format") or "json").lower()
    if fmt not in ("json", "csv"):
        raise ValidationError("format must be json or csv", "format")
    params = parse_experiment_params(request.args.to_dict(flat=False), settings)
    report = experiment_report(db_session(), settings, params)
    if fmt == "csv":
        body, _ = output.to_csv(report, "experiment")
        name = report["experiment"] or report["campaign"] or "experiment"
        filename = f"experiment-{name}_{report['parameters']['from']}_{report['parameters']['to']}.csv"
        return Response(body, mimetype="text/csv",
                        headers={"Content-Disposition": f'attachment; filename="{filename}"'})
    return report


@bp.get("/experiments/list")
@requires("reports:read")
@bp.doc(description="The tests a report can be asked for: explicit experiments (`experiment`) and campaigns whose "
        "links differ only in utm_content (`campaign`), each with its arms.")
def experiments_list() -> Any:
    """List experiments"""
    return {"items": list_experiments(db_session())}
