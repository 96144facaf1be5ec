"""JSON API for identities, journeys and the offline touchpoint import (thin: parse, call, serialize)."""
from __future__ import annotations

from typing import Any

from apiflask import APIBlueprint, Schema
from apiflask.fields import AwareDateTime, Boolean, Dict, Integer, List, Nested, String
from apiflask.validators import Length
from flask import current_app, request

from tracker.auth.access import requires
from tracker.config import Settings
from tracker.db import db_session
from tracker.errors import ValidationError
from tracker.people import service
from tracker.people.journey import person_journey
from tracker.touchpoints import imports

bp = APIBlueprint("people", __name__, url_prefix="/api/v1", tag="People and journeys")


class IdentifyIn(Schema):
    tid = String(validate=Length(0, 32), metadata={"description": "Click id (from the landing URL)"})
    visitor_id = String(validate=Length(0, 40), metadata={"description": "Short-link visitor cookie (trk_vid)"})
    site_visitor_id = String(validate=Length(0, 64), metadata={"description": "Site snippet's visitor id"})
    customer_key = String(validate=Length(0, 320),
                          metadata={"description": "E-mail or customer id; hashed, never stored raw"})


class IdentifyOut(Schema):
    person_id = String()


class JourneyItem(Schema):
    kind = String()
    id = String()
    ts = AwareDateTime()
    channel = String(allow_none=True)
    is_touch = Boolean()
    detail = Dict(metadata={"description": "Fields of the item's kind"})


class JourneyOut(Schema):
    person_id = String()
    items = List(Nested(JourneyItem))


class ImportQuery(Schema):
    atomic = Boolean(load_default=True)


class ImportRejection(Schema):
    line = Integer()
    field = String(allow_none=True)
    message = String()


class ImportOut(Schema):
    atomic = Boolean()
    committed = Boolean()
    rows = Integer()
    created = Integer()
    duplicates = Integer()
    rejected = List(Nested(ImportRejection))


def _settings() -> Settings:
    return current_app.config["SETTINGS"]  # type: ignore[no-any-return]


def _secret() -> bytes:
    return current_app.extensions["tracker.redirects"]["ip_secret"]  # type: ignore[no-any-return]


def journey_out(person_id: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    common = ("kind", "id", "ts", "channel", "is_touch")
    return {"person_id": person_id, "items": [
        {"kind": i["kind"], "id": str(i["id"]), "ts": i["ts"], "channel": i.get("channel"),
         "is_touch": i["is_touch"], "detail": {k: v for k, v in i.items() if k not in common}} for i in items]}


@bp.post("/identify")
@requires("identify")
@bp.input(IdentifyIn, arg_name="data")
@bp.output(IdentifyOut)
@bp.doc(description="Tie two or more ids to one person (transitively: people already known by any of "
                    "them are merged, earlier anonymous touches included). A `tid` must name a click "
                    "already recorded (422 otherwise: retry a few seconds later).")
def identify(data: dict[str, Any]) -> dict[str, Any]:
    """Link ids seen together to one person"""
    return {"person_id": service.identify(db_session(), _secret(), data)}


@bp.get("/people/<person_id>/journey")
@requires("people:read")
@bp.output(JourneyOut)
def journey(person_id: str) -> dict[str, Any]:
    """A person's clicks, scans, landing visits, offline touches, self-reports and conversions in time order"""
    return journey_out(person_id, person_journey(db_session(), _settings(), person_id))


@bp.post("/touchpoints/import")
@requires("imports")
@bp.input(ImportQuery, location="query", arg_name="query")
@bp.output(ImportOut)
@bp.doc(description="Send the CSV as the body (`Content-Type: text/csv`) or as the multipart field `file`. "
                    "Columns: " + ", ".join(imports.COLUMNS) + " (customer_key and ts required; kind "
                    "and/or channel). With `atomic=true` (default) one bad row rejects the file (422, "
                    "nothing written); with `atomic=false` good rows are imported and bad ones listed "
                    "with their line numbers. Rows imported before count as duplicates. 201 when touches were "
                    "created, 200 when there was nothing new.",
        responses={422: "Rows were rejected (atomic) or the file cannot be read"})
def import_touchpoints(query: dict[str, Any]) -> Any:
    """Import offline touchpoints from a CSV file"""
    settings = _settings()
    upload = request.files.get("file")
    if upload is None and request.mimetype == "multipart/form-data":
        raise ValidationError("send the CSV as the multipart field file", "file")
    raw = upload.read(settings.max_upload_bytes + 1) if upload else request.get_data(cache=False)
    if len(raw) > settings.max_upload_bytes:
        raise ValidationError(f"the CSV is larger than {settings.max_upload_bytes} bytes", "file")
    result = imports.import_touchpoints(db_session(), settings, _secret(), imports.decode_csv(raw),
                                        atomic=query["atomic"])
    body = {"atomic": result.atomic, "committed": result.committed, "rows": result.rows,
            "created": result.created, "duplicates": result.duplicates, "rejected": result.rejected}
    return body, (422 if not result.committed else 201 if result.created else 200)
