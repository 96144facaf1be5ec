"""The brand mentions pages: the report ``/reports/mentions`` and the CSV upload ``/mentions/import`` (thin).

The report page reads the API's query parameters (checked by :func:`tracker.mentions.report.parse_params`)
and shows the report dict the API returns: the chart, the lag table and the daily table, with CSV
and chart downloads of the same numbers. The upload page is for the roles with ``mentions:write``
(marketers among them, who do not read reports).
"""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Blueprint, current_app, render_template, request
from werkzeug.exceptions import NotFound
from werkzeug.wrappers import Response

from tracker.auth.access import page_requires
from tracker.config import Settings
from tracker.db import db_session
from tracker.errors import DomainError, ValidationError
from tracker.mentions import report, service
from tracker.mentions.charts import LABELS, mentions_chart
from tracker.mentions.models import Mention
from tracker.pages import csrf
from tracker.pages.views import domain_error, no_store, principal_context, too_large
from tracker.reports import output
from tracker.reports.charts import Chart, inline_svg, render
from tracker.touchpoints.imports import decode_csv

bp = Blueprint("mentions_pages", __name__)
bp.enable_openapi = False  # type: ignore[attr-defined]  # pages are not part of the API (see tracker.pages.views)
csrf.protect(bp)
bp.context_processor(principal_context)
bp.after_request(no_store)
bp.register_error_handler(DomainError, domain_error)
bp.register_error_handler(413, too_large)

TABLES = ("daily", "lags")
SENTIMENT_LABELS = {"positive": "positive (≥ 0.2)", "neutral": "neutral", "negative": "negative (≤ −0.2)",
                    "unscored": "no sentiment"}


def _settings() -> Settings:
    return current_app.config["SETTINGS"]  # type: ignore[no-any-return]


def _run() -> tuple[dict[str, Any], report.MentionsParams]:
    raw = {k: v for k, v in request.args.to_dict(flat=False).items() if k != "format"}
    params = report.parse_params(raw, _settings())
    return report.mentions_report(db_session(), _settings(), params), params


def _query(params: report.MentionsParams) -> list[tuple[str, str]]:
    """The parameters in force with explicit dates, for downloads and the API URL."""
    pairs = [("from", params.period.first.isoformat()), ("to", params.period.last.isoformat())]
    if params.platforms:
        pairs.append(("platform", ",".join(params.platforms)))
    if params.sentiments:
        pairs.append(("sentiment", ",".join(params.sentiments)))
    return pairs


def _chart(data: dict[str, Any]) -> Chart:
    p = data["parameters"]
    return mentions_chart(data["rows"], title=f"Mentions and what followed, {p['from']} to {p['to']} "
                                              f"({p['timezone']})")


def _known_platforms() -> list[str]:
    stored = db_session().scalars(sa.select(Mention.platform).distinct().order_by(Mention.platform).limit(200))
    return sorted(set(stored) | set(service.PLATFORMS))


@bp.get("/reports/mentions")
@page_requires("reports:read")
def report_page() -> str | tuple[str, int]:
    common = {"platforms": _known_platforms(), "sentiments": SENTIMENT_LABELS, "labels": LABELS}
    raw = request.args.to_dict(flat=False)
    try:
        data, params = _run()
    except ValidationError as exc:
        values = {k: ",".join(v) for k, v in raw.items()}
        chosen = {"platform": [p for v in raw.get("platform", []) for p in v.split(",") if p],
                  "sentiment": [s for v in raw.get("sentiment", []) for s in v.split(",") if s]}
        return render_template("mentions/report.html", report=None, values=values, chosen=chosen,
                               errors={exc.field or "": exc.message}, **common), exc.status
    values = {"from": params.period.first.isoformat(), "to": params.period.last.isoformat()}
    chosen = {"platform": list(params.platforms), "sentiment": list(params.sentiments)}
    svg = inline_svg(_chart(data), prefix="mentions", label="Mentions per day above Direct visits, Organic-search "
                                                           "visits and word-of-mouth answers per day")
    return render_template("mentions/report.html", report=data, values=values, chosen=chosen, errors={},
                           query=_query(params), chart=svg, **common)


@bp.get("/reports/mentions/<table>.csv")
@page_requires("reports:read")
def report_csv(table: str) -> Response:
    if table not in TABLES:
        raise NotFound()
    data, _ = _run()
    body, filename = (output.to_csv(data, "mentions") if table == "daily" else
                      output.to_csv(report.lags_csv_report(data), "mentions-lags"))
    return Response(body, mimetype="text/csv", headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@bp.get("/reports/mentions/chart.<any(svg, png):fmt>")
@page_requires("reports:read")
def report_chart(fmt: str) -> Response:
    data, _ = _run()
    p = data["parameters"]
    return Response(render(_chart(data), fmt), mimetype="image/svg+xml" if fmt == "svg" else "image/png",
                    headers={"Content-Disposition": f'attachment; filename="mentions_{p["from"]}_{p["to"]}.{fmt}"'})


@bp.route("/mentions/import", methods=["GET", "POST"])
@page_requires("mentions:write")
def import_page() -> str | tuple[str, int]:
    """Upload a CSV of mentions; show what it did, or every bad line (nothing is written then)."""
    context: dict[str, Any] = {"columns": service.COLUMNS, "result": None, "error": None, "rejected": [],
                               "platforms": service.PLATFORMS}
    if request.method == "GET":
        return render_template("mentions/import.html", **context)
    settings = _settings()
    upload = request.files.get("file")
    try:
        if upload is None or not upload.filename:
            raise ValidationError("choose a CSV file to upload", "file")
        raw = upload.read(settings.max_upload_bytes + 1)
        if len(raw) > settings.max_upload_bytes:
            raise ValidationError(f"the CSV is larger than {settings.max_upload_bytes:,} bytes", "file")
        context["result"] = service.import_csv(db_session(), settings, decode_csv(raw)).as_dict()
    except ValidationError as exc:
        context["error"] = exc.message
        context["rejected"] = exc.extra.get("rejected", [])
        return render_template("mentions/import.html", **context), exc.status
    return render_template("mentions/import.html", **context)
