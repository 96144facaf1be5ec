"""JSON API for server-to-server conversions (thin: parse, call the service, serialize)."""
from __future__ import annotations

from typing import Any

from apiflask import APIBlueprint
from flask import current_app, request

from tracker.auth.access import requires
from tracker.config import Settings
from tracker.conversions import service
from tracker.conversions.models import Conversion
from tracker.conversions.schemas import AtomicQuery, ConversionFilter, ConversionOut, ConversionPage
from tracker.conversions.spool import conversion_queue
from tracker.db import db_session
from tracker.errors import ValidationError

bp = APIBlueprint("conversions", __name__, url_prefix="/api/v1", tag="Conversions")


def _settings() -> Settings:
    return current_app.config["SETTINGS"]  # type: ignore[no-any-return]


def conversion_out(conversion: Conversion, settings: Settings) -> dict[str, Any]:
    return {"id": conversion.id, "external_id": conversion.external_id, "type": conversion.type,
            "ts": conversion.ts, "value": str(conversion.value), "currency": settings.reporting_currency,
            "original_value": str(conversion.original_value), "original_currency": conversion.original_currency,
            "person_id": conversion.person_id, "tid": conversion.tid, "site_visitor_id": conversion.site_visitor_id,
            "has_customer_key": conversion.customer_hash is not None,
            "created_at": conversion.created_at}


def _dump(conversion: Conversion, settings: Settings) -> dict[str, Any]:
    return ConversionOut().dump(conversion_out(conversion, settings))  # type: ignore[no-any-return]


@bp.post("/conversions")
@requires("conversions:write")
@bp.input(AtomicQuery, location="query", arg_name="query")
@bp.doc(description=(
    "Send one conversion object, or `{\"conversions\": [...]}` (at most "
    f"{service.MAX_BATCH}). Idempotent on (external_id, type): a pair already stored changes nothing "
    "and is answered with status `duplicate`. One object: 201 with the conversion and `status` "
    "(200 for a duplicate). A batch: `items` with `index`, `status` and the conversion; 201 if anything "
    "was created, else 200. With `atomic=true` (default) one invalid item rejects the batch (422, "
    "nothing stored, `error.rejected` lists `{index, field, message}`); with `atomic=false` valid items "
    "are stored and invalid ones listed in `rejected`. While the database is unavailable, a key used "
    "here within `offline_key_seconds` gets 202 `{status: queued, queued, sid}`: the conversions "
    "(checked as far as possible without the database) are stored once it is back; other keys get 503."),
    responses={201: "Created", 200: "Nothing new (duplicates)", 202: "Queued (database unavailable)",
               422: "Invalid conversion(s)", 503: "Database unavailable"})
def create_conversions(query: dict[str, Any]) -> Any:
    """Record conversions (single or batch)"""
    settings = _settings()
    items, batch = service.parse_conversions(request.get_json(silent=True))
    # This key may queue conversions while the database is unavailable (tracker/conversions/spool.py).
    conversion_queue().remember_key(request)
    secret = current_app.extensions["tracker.redirects"]["ip_secret"]
    result = service.create_conversions(db_session(), settings, secret, items,
                                        atomic=query["atomic"] or not batch)
    if not batch:
        if result.rejected:
            problem = result.rejected[0]
            raise ValidationError(problem["message"], problem["field"])
        outcome = result.outcomes[0]
        return ({**_dump(outcome.conversion, settings), "status": outcome.status},
                201 if outcome.status == "created" else 200)
    if not result.committed:
        raise ValidationError(f"{len(result.rejected)} of {len(items)} conversions are invalid; nothing was stored "
                              "(see rejected, or send atomic=false to store the valid ones)",
                              "conversions", rejected=result.rejected)
    return ({"atomic": result.atomic, "created": result.created,
             "duplicates": sum(1 for o in result.outcomes if o.status == "duplicate"),
             "items": [{"index": o.index, "status": o.status, "conversion": _dump(o.conversion, settings)}
                       for o in result.outcomes],
             "rejected": result.rejected},
            201 if result.created else 200)


@bp.get("/conversions")
@requires("conversions:read")
@bp.input(ConversionFilter, location="query", arg_name="query")
@bp.output(ConversionPage)
def list_conversions(query: dict[str, Any]) -> dict[str, Any]:
    """List conversions, newest first (from/to: days in the report time zone)"""
    settings = _settings()
    rows, total = service.list_conversions(db_session(), settings, type=query.get("type"),
                                           from_=query.get("from_"), to=query.get("to"),
                                           person_id=query.get("person_id"), page=query["page"],
                                           per_page=query["per_page"])
    return {"items": [conversion_out(c, settings) for c in rows], "total": total, "page": query["page"],
            "per_page": query["per_page"]}
