"""The cohort report page ``/reports/cohorts``: form, retention heat map, LTV per channel, churn, downloads.

The page reads the API's query parameters (checked by :func:`tracker.cohorts.params.parse_cohort_params`)
and shows the service's report: nothing here computes a metric. The heat map is an HTML table (a
header per row and column, the number in every cell, shading from CSS classes since the pages'
Content-Security-Policy allows no inline style); blank months stay blank. The LTV chart is server-side
SVG (:mod:`tracker.reports.charts`).
"""
from __future__ import annotations

import math
from typing import Any

from flask import Blueprint, current_app, render_template, request
from werkzeug.exceptions import NotFound
from werkzeug.wrappers import Response

from attribution.cohorts import LTV_DAYS
from tracker.auth.access import page_requires
from tracker.cohorts import service
from tracker.cohorts.params import BY, NONE_LABEL, CohortParams, parse_cohort_params
from tracker.config import Settings
from tracker.db import db_session
from tracker.errors import DomainError, ValidationError
from tracker.pages import csrf
from tracker.pages.views import domain_error, no_store, principal_context
from tracker.reports import charts, output

__all__ = ["HEAT_STEPS", "bp", "heat_class", "ltv_chart"]

bp = Blueprint("cohorts_pages", __name__)
bp.enable_openapi = False  # type: ignore[attr-defined]
csrf.protect(bp)  # the menu's sign-out form
bp.context_processor(principal_context)
bp.errorhandler(DomainError)(domain_error)
bp.after_request(no_store)

HEAT_STEPS = 10
PAGE_NAMES = ("from", "to", "as_of", "by", "months", "conversion_type", "channel")


def _settings() -> Settings:
    return current_app.config["SETTINGS"]  # type: ignore[no-any-return]


def heat_class(share: float | None) -> str:
    """The CSS class shading a heat-map cell: ``heat-blank`` or ``heat-0`` .. ``heat-9`` by the share (0..1).

    >>> heat_class(None), heat_class(0.0), heat_class(0.05), heat_class(0.5), heat_class(1.0)
    ('heat-blank', 'heat-0', 'heat-1', 'heat-5', 'heat-9')
    """
    if share is None or (isinstance(share, float) and math.isnan(share)):
        return "heat-blank"
    if share <= 0:
        return "heat-0"
    return f"heat-{min(HEAT_STEPS - 1, max(1, math.ceil(share * (HEAT_STEPS - 1))))}"


def ltv_chart(report: dict[str, Any]) -> charts.Chart:
    """Bars of LTV at 30, 90 and 365 days per channel (a blank LTV draws no bar)."""
    rows = report["channels"]
    names = [row["channel"] for row in rows]
    series = {f"{days} days": [row[f"ltv_{days}"] or 0.0 for row in rows] for days in LTV_DAYS}
    return charts.grouped_bars(names, series, value_label=f"revenue per customer ({report['currency']})",
                               title="Lifetime value per customer")


def _run() -> tuple[dict[str, Any], CohortParams]:
    settings = _settings()
    raw = {k: v for k, v in request.args.to_dict(flat=False).items() if k in PAGE_NAMES or k == "format"}
    unknown = [k for k in request.args if k not in PAGE_NAMES]
    if unknown:
        raise ValidationError(f"unknown parameter {unknown[0]}; this page takes: {', '.join(PAGE_NAMES)}", unknown[0])
    # An empty select ("every channel") or field sends an empty value: the default then applies.
    raw = {k: [x for x in v if x.strip()] for k, v in raw.items()}
    params = parse_cohort_params({k: v for k, v in raw.items() if v}, settings, allowed=PAGE_NAMES)
    return service.cohort_report(db_session(), settings, params), params


def _values(params: CohortParams | None) -> dict[str, Any]:
    if params is None:
        return {name: request.args.get(name, "") for name in PAGE_NAMES}
    values: dict[str, Any] = {k: v for k, v in params.as_dict().items() if k != "channel"}
    values["months"] = str(params.months)
    values["channel"] = params.channels[0] if len(params.channels) == 1 else ""
    return values


def _options(settings: Settings) -> dict[str, Any]:
    return {"by": [(b, b.replace("_", "-")) for b in BY], "conversion_types": [(t, t) for t in settings.funnel],
            "channels": [(c, c) for c in (*settings.taxonomy.channels, NONE_LABEL)]}


@bp.get("/reports/cohorts")
@page_requires("reports:read")
def cohorts() -> str | tuple[str, int]:
    settings = _settings()
    common = {"options": _options(settings), "ltv_days": LTV_DAYS, "heat_class": heat_class}
    try:
        report, params = _run()
    except ValidationError as exc:
        page = render_template("cohorts/report.html", report=None, values=_values(None),
                               errors={exc.field or "": exc.message}, **common)
        return page, exc.status
    chart = charts.inline_svg(ltv_chart(report), prefix="ltv",
                              label="Lifetime value per customer at 30, 90 and 365 days, per channel")
    return render_template("cohorts/report.html", report=report, values=_values(params), errors={},
                           query=params.query(), chart=chart, **common)


@bp.get("/reports/cohorts/cohorts.csv")
@page_requires("reports:read")
def cohorts_csv() -> Response:
    report, _ = _run()
    body, filename = output.to_csv(report, "cohorts")
    return Response(body, mimetype="text/csv", headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@bp.get("/reports/cohorts/<chart>.<any(svg, png):fmt>")
@page_requires("reports:read")
def cohorts_chart(chart: str, fmt: str) -> Response:
    if chart != "ltv":
        raise NotFound()
    report, _ = _run()
    image = charts.render(ltv_chart(report), fmt)
    parameters = report["parameters"]
    filename = f"cohorts-ltv_{parameters['from']}_{parameters['to']}.{fmt}"
    return Response(image, mimetype="image/svg+xml" if fmt == "svg" else "image/png",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})
