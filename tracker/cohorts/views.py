"""Cohort API: ``GET /api/v1/reports/cohorts`` as JSON or CSV (thin: parse, call the service, serialize)."""
from __future__ import annotations

from typing import Any

from apiflask import APIBlueprint, Schema
from flask import Response, current_app, request

from tracker.auth.access import requires
from tracker.cohorts import service
from tracker.cohorts.params import parse_cohort_params
from tracker.config import Settings
from tracker.db import db_session
from tracker.errors import ValidationError
from tracker.reports import output
from tracker.reports.views import _field, query_names

__all__ = ["CohortQuery", "bp"]

bp = APIBlueprint("cohorts", __name__, url_prefix="/api/v1/reports", tag="Cohorts")


class CohortQuery(Schema):
    from_ = _field("First cohort, a month YYYY-MM (report time zone); default: 11 months before `to`",
                   data_key="from")
    to = _field("Last cohort (YYYY-MM, inclusive); default: the month of `as_of`")
    as_of = _field("The report's end, a day YYYY-MM-DD (default today): later purchases are ignored, months not "
                   "ended by then are blank (null), churn is measured then")
    by = _field("channel (default: the acquisition channel, first touch at or before the first purchase) or "
                "self_reported (the customer's earliest answer; `(none)` without one)")
    months = _field("Months since acquisition to show (1-120, default 12)")
    conversion_type = _field("The funnel type that counts as a purchase (default: setting cohort_conversion_type)")
    channel = _field("Only these channels (repeated or comma-separated)")
    format = _field("json (default) or csv: one row per cohort x channel x month since acquisition; blank months "
                    "are empty cells")


@bp.get("/cohorts")
@requires("reports:read")
@bp.input(CohortQuery, location="query", arg_name="query")
@bp.doc(description="Customers by the month of their first purchase (cohort) and acquisition channel: per month "
        "since acquisition the customers still buying, the retention share and cumulative revenue per customer; "
        "LTV at 30/90/365 days, churned customers (no purchase for `churn_days`) and their share. Months that "
        "have not ended are null, never 0. Also pooled per cohort (`totals`) and per channel (`channels`).")
def cohorts(query: dict[str, Any]) -> Any:
    """Cohorts and lifetime value"""
    settings: Settings = current_app.config["SETTINGS"]
    fmt = (request.args.get("format") or "json").lower()
    if fmt not in ("json", "csv"):
        raise ValidationError("format must be json or csv", "format")
    params = parse_cohort_params(request.args.to_dict(flat=False), settings, allowed=query_names(CohortQuery))
    report = service.cohort_report(db_session(), settings, params)
    if fmt == "csv":
        body, filename = output.to_csv(report, "cohorts")
        return Response(body, mimetype="text/csv",
                        headers={"Content-Disposition": f'attachment; filename="{filename}"'})
    return report
