"""``DELETE /api/v1/people/<person_id>``: erase a person (thin: parse, call the service, serialize)."""
from __future__ import annotations

from typing import Any

from apiflask import APIBlueprint, Schema
from apiflask.fields import Integer, Nested, String

from tracker.auth.access import requires
from tracker.db import db_session
from tracker.privacy import erasure

bp = APIBlueprint("privacy", __name__, url_prefix="/api/v1", tag="Privacy")


class RemovedOut(Schema):
    clicks = Integer()
    landing_visits = Integer()
    offline_touches = Integer()
    conversions = Integer()
    self_reports = Integer()
    identities = Integer()
    link_visitors = Integer()


class ErasedOut(Schema):
    person_id = String()
    removed = Nested(RemovedOut)


@bp.delete("/people/<person_id>")
@requires("people:erase")  # admin only
@bp.output(ErasedOut)
@bp.doc(description="Erase a person: their clicks and scans, landing visits, offline touches, conversions, "
                    "self-reports, identities and `link_visitors` rows, in one transaction. Their ids are kept "
                    "only as hashed tombstones so that lines still in the spools are dropped when drained. "
                    "Daily aggregates (counts per link and day) are kept. Answers the rows removed per kind; "
                    "404 when no row carries the person id.",
        responses={404: "No such person"})
def erase(person_id: str) -> dict[str, Any]:
    """Erase a person everywhere"""
    return {"person_id": person_id, "removed": erasure.erase_person(db_session(), person_id)}
