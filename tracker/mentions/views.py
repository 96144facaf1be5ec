"""Brand mentions API: record (JSON), import (CSV), list, delete, and the mentions report (thin)."""
from __future__ import annotations

from typing import Any

from apiflask import APIBlueprint, Schema
from apiflask.fields import Integer, String
from apiflask.validators import Length, Range
from flask import Response, current_app, request

from tracker.auth.access import requires
from tracker.config import Settings
from tracker.db import db_session
from tracker.errors import ValidationError
from tracker.mentions import report, service
from tracker.reports import output
from tracker.touchpoints.imports import decode_csv

bp = APIBlueprint("mentions", __name__, url_prefix="/api/v1", tag="Brand mentions")

MAX_PARAM_LENGTH = 500


def _settings() -> Settings:
    return current_app.config["SETTINGS"]  # type: ignore[no-any-return]


def _field(description: str, **kwargs: Any) -> String:
    return String(metadata={"description": description}, validate=Length(0, MAX_PARAM_LENGTH), **kwargs)


class MentionsQuery(Schema):
    from_ = _field("First day (YYYY-MM-DD, report time zone); default: 89 days before `to`", data_key="from")
    to = _field("Last day, inclusive; default: today")
    platform = _field("Only these platforms (comma-separated or repeated; default all)")
    sentiment = _field("Only mentions whose sentiment is positive (>= 0.2), neutral (between), negative (<= -0.2) "
                       "or unscored; several comma-separated")


class ReportQuery(MentionsQuery):
    format = _field("json (default) or csv (the daily table)")


class ListQuery(MentionsQuery):
    page = Integer(load_default=1, validate=Range(1, 100_000))
    per_page = Integer(load_default=100, validate=Range(1, 1000))


def _raw(names: tuple[str, ...]) -> dict[str, list[str]]:
    return {k: v for k, v in request.args.to_dict(flat=False).items() if k in names}


@bp.post("/mentions")
@requires("mentions:write")
@bp.doc(description=(
    "Send one mention object, a JSON array of them, or `{\"mentions\": [...]}` (at most "
    f"{service.MAX_BATCH}). A mention: `date` (YYYY-MM-DD), `platform` (a lower-case slug such as press, linkedin, "
    "trustpilot), `count` (whole number >= 1, default 1), optional `sentiment` (-1..1), `url` (http/https) and "
    "`note`. Idempotent per (date, platform, url): a stored key gets the new count, sentiment and note "
    "(`updated`), the same values change nothing (`unchanged`). All or nothing: one bad mention rejects the "
    "request with 422 naming the field (`mentions[3].sentiment`), `error.rejected` lists every problem. 201 when "
    "a mention was inserted, else 200."),
    responses={201: "Inserted", 200: "Nothing new", 422: "Invalid mention(s)", 409: "Written concurrently"})
def record() -> Any:
    """Record brand mentions (one or a list)"""
    items, many = service.parse_body(request.get_json(silent=True))
    outcome = service.record_mentions(db_session(), _settings(), items, many=many)
    body = {**outcome.as_dict(), "items": outcome.items}
    if not many:
        body["status"] = outcome.items[0]["status"]
    return body, 201 if outcome.inserted else 200


@bp.post("/mentions/import")
@requires("mentions:write")
@bp.doc(description=(
    "Send the CSV as the body (`Content-Type: text/csv`) or as the multipart field `file` (UTF-8, a BOM is fine). "
    "Header: " + ", ".join(service.COLUMNS) + " (date and platform required; count defaults to 1). All or nothing: "
    "one bad row rejects the file with 422; the message names the line and column, `error.rejected` lists "
    "`{line, field, message}` for every bad row. Importing the same file again changes nothing. 201 when a "
    "mention was inserted, else 200."),
    responses={201: "Inserted", 200: "Nothing new", 422: "Bad rows or unreadable file"})
def import_file() -> Any:
    """Import brand mentions from a CSV file"""
    settings = _settings()
    upload = request.files.get("file")
    if upload is None and request.mimetype == "multipart/form-data":
        raise ValidationError("send the CSV as the multipart field file", "file")
    raw = upload.read(settings.max_upload_bytes + 1) if upload else request.get_data(cache=False)
    if len(raw) > settings.max_upload_bytes:
        raise ValidationError(f"the CSV is larger than {settings.max_upload_bytes} bytes", "file")
    outcome = service.import_csv(db_session(), settings, decode_csv(raw))
    return outcome.as_dict(), 201 if outcome.inserted else 200


@bp.get("/mentions")
@requires("reports:read")
@bp.input(ListQuery, location="query", arg_name="query")
@bp.doc(description="Stored mentions, newest day first, with the report's filters; `total` counts all matches.")
def list_all(query: dict[str, Any]) -> Any:
    """List brand mentions"""
    params = report.parse_params(_raw(("from", "to", "platform", "sentiment")), _settings())
    page, per_page = query["page"], query["per_page"]
    rows, total = service.list_mentions(db_session(), first=params.period.first, last=params.period.last,
                                        platforms=params.platforms, sentiments=params.sentiments,
                                        limit=per_page, offset=(page - 1) * per_page)
    return {"items": [service.mention_out(m) for m in rows], "total": total, "page": page, "per_page": per_page,
            "parameters": params.as_dict()}


@bp.delete("/mentions/<int:mention_id>")
@requires("mentions:write")
@bp.doc(responses={204: "Deleted", 404: "No such mention"})
def delete(mention_id: int) -> Any:
    """Delete one stored mention"""
    service.delete_mention(db_session(), mention_id)
    return Response(status=204)


@bp.get("/reports/mentions")
@requires("reports:read")
@bp.input(ReportQuery, location="query", arg_name="query")
@bp.doc(tags=["Reports"], description=(
    "Per day (report time zone, every day of the period): mentions (sum of counts) and their count-weighted mean "
    "sentiment, Direct and Organic-search landing visits (touches, bots excluded, channels by the reports' rules) "
    "and self-reported word of mouth; `lags`: Pearson correlation of mentions on day t with each series on day "
    "t + lag (0..14) with `n` and `p_value` (null with a `note` when a side is constant or too short); "
    "`strongest`: the lag with the largest |r| per series. A dark-funnel signal, never a touchpoint of a person."))
def mentions_report(query: dict[str, Any]) -> Any:
    """Brand mentions report"""
    settings = _settings()
    raw = request.args.to_dict(flat=False)
    fmt = (request.args.get("format") or "json").lower()
    if fmt not in ("json", "csv"):
        raise ValidationError("format must be json or csv", "format")
    params = report.parse_params(raw, settings)
    data = report.mentions_report(db_session(), settings, params)
    if fmt == "csv":
        body, filename = output.to_csv(data, "mentions")
        return Response(body, mimetype="text/csv",
                        headers={"Content-Disposition": f'attachment; filename="{filename}"'})
    return data
