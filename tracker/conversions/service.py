"""Conversions sent server to server: validation, currency conversion, idempotency, identity.

A conversion is one row per (external id, type): sending the same pair again changes nothing and is
answered as a duplicate, while the same deal id may move on (lead, then opportunity, then purchase:
one row each). Its ids (``tid``, ``site_visitor_id``, ``customer_key``) are stitched to one person;
a conversion whose ids match nothing gets a person of its own and is never dropped.
"""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tracker.config import Settings
from tracker.conversions.models import Conversion
from tracker.db import begin_write, utcnow
from tracker.errors import Conflict, ValidationError
from tracker.inputs import to_utc
from tracker.people.service import resolve_ids, stitch
from tracker.selfreports.models import SelfReport
from tracker.webhooks.events import record_conversions

__all__ = ["CONVERSION_FIELDS", "MAX_BATCH", "BatchResult", "parse_conversions", "parse_timestamp",
           "create_conversions", "list_conversions"]

CONVERSION_FIELDS = ("external_id", "type", "ts", "value", "currency", "tid", "site_visitor_id", "customer_key")
MAX_BATCH = 1000
MAX_EXTERNAL_ID = 100
MAX_VALUE = Decimal("1e12")
FUTURE_SLACK = timedelta(minutes=5)  # clocks of the sending servers may run a little ahead
CENT = Decimal("0.01")


@dataclass
class Outcome:
    """One item of a batch: the stored row and whether this request ``created`` it or it was a ``duplicate``."""

    index: int
    conversion: Conversion
    status: str


@dataclass
class BatchResult:
    outcomes: list[Outcome] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    atomic: bool = True

    @property
    def committed(self) -> bool:
        return not (self.atomic and self.rejected)

    @property
    def created(self) -> int:
        return sum(1 for o in self.outcomes if o.status == "created")


def parse_conversions(body: Any) -> tuple[list[Any], bool]:
    """Return (items, is_batch) of a conversions request body; raise ValidationError.

    The API and the conversion spool (a request queued while the database is unavailable) both parse with it.
    """
    if not isinstance(body, dict):
        raise ValidationError("send a JSON object: one conversion, or {\"conversions\": [...]}", None)
    batch = "conversions" in body
    if batch:
        if set(body) - {"conversions"}:
            raise ValidationError("a batch has only the field conversions", "conversions")
        if not isinstance(body["conversions"], list):
            raise ValidationError("conversions must be a list of objects", "conversions")
    return (body["conversions"] if batch else [body]), batch


def parse_timestamp(value: object, now: datetime) -> datetime:
    if value is None or value == "":
        return now
    if not isinstance(value, str):
        raise ValidationError("ts must be an ISO 8601 time string like 2026-05-31T18:00:00+02:00", "ts")
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValidationError("ts must be an ISO 8601 time like 2026-05-31T18:00:00+02:00", "ts") from None
    if parsed.tzinfo is None:
        raise ValidationError("ts needs a UTC offset (e.g. +02:00, or Z for UTC)", "ts")
    parsed = to_utc(parsed, "ts")
    if parsed > now + FUTURE_SLACK:
        raise ValidationError("ts is in the future (more than 5 minutes ahead of the server's clock)", "ts")
    return parsed


def _value(raw: object) -> Decimal:
    if raw is None or raw == "":
        return Decimal(0)
    if isinstance(raw, bool) or not isinstance(raw, (int, float, str, Decimal)):
        raise ValidationError("value must be a number like 1250.50", "value")
    try:
        value = Decimal(str(raw).strip())
    except InvalidOperation:
        raise ValidationError("value must be a number like 1250.50", "value") from None
    if not value.is_finite() or value < 0 or value >= MAX_VALUE:
        raise ValidationError("value must be a non-negative number below 10^12", "value")
    return value.quantize(CENT, ROUND_HALF_UP)


def _currency(raw: object, settings: Settings) -> tuple[str, Decimal]:
    currency = settings.reporting_currency if raw is None or raw == "" else raw
    if not isinstance(currency, str) or not re.fullmatch(r"[A-Za-z]{3}", currency.strip()):
        raise ValidationError("currency must be a three-letter ISO 4217 code such as NOK", "currency")
    currency = currency.strip().upper()
    rate = settings.rates.get(currency)
    if rate is None:
        configured = ", ".join(sorted(settings.rates))
        raise ValidationError(
            f"no exchange rate for {currency}: send the value in {settings.reporting_currency} or configure "
            f"a rate (currency_rates, e.g. {currency}=11.60); currencies with a rate: {configured}", "currency")
    return currency, rate


def validate(settings: Settings, data: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """Check and normalise one conversion (ids are checked when stitching); raise ValidationError."""
    if not isinstance(data, Mapping):
        raise ValidationError("each conversion must be a JSON object", None)
    unknown = sorted(set(data) - set(CONVERSION_FIELDS))
    if unknown:
        raise ValidationError(f"unknown field(s): {', '.join(unknown)}; allowed: {', '.join(CONVERSION_FIELDS)}",
                              unknown[0])
    external_id = data.get("external_id")
    if isinstance(external_id, int) and not isinstance(external_id, bool):
        external_id = str(external_id)
    if not isinstance(external_id, str) or not external_id.strip():
        raise ValidationError("external_id is required (your deal, order or lead id)", "external_id")
    external_id = external_id.strip()
    if len(external_id) > MAX_EXTERNAL_ID or not external_id.isprintable():
        raise ValidationError(f"external_id must be at most {MAX_EXTERNAL_ID} printable characters", "external_id")
    kind = data.get("type")
    kind = kind.strip().lower() if isinstance(kind, str) else kind
    if kind not in settings.funnel:
        raise ValidationError(f"type must be one of {', '.join(settings.funnel)}", "type")
    value = _value(data.get("value"))
    currency, rate = _currency(data.get("currency"), settings)
    return {"external_id": external_id, "type": kind, "ts": parse_timestamp(data.get("ts"), now),
            "original_value": value, "original_currency": currency,
            "value": (value * rate).quantize(CENT, ROUND_HALF_UP)}


def _record(session: Session, settings: Settings, secret: bytes, data: Mapping[str, Any],
            now: datetime) -> tuple[Conversion, str]:
    """Store one conversion (or find the stored one); flushes, does not commit."""
    clean = validate(settings, data, now)
    keys, persons, ids = resolve_ids(session, secret, dict(data))
    # Answers to "How did you hear about us?" sent earlier with this conversion's id join its person.
    persons += session.scalars(sa.select(SelfReport.person_id).where(
        SelfReport.conversion_external_id == clean["external_id"])).all()
    existing = session.scalar(sa.select(Conversion).where(Conversion.external_id == clean["external_id"],
                                                          Conversion.type == clean["type"]))
    if existing is not None:
        return existing, "duplicate"
    person = stitch(session, keys, persons, now=now)
    conversion = Conversion(**clean, person_id=person, tid=ids["tid"], site_visitor_id=ids["site_visitor_id"],
                            customer_hash=ids["customer_hash"], created_at=now)
    session.add(conversion)
    session.flush()
    return conversion, "created"


def create_conversions(session: Session, settings: Settings, secret: bytes, items: Sequence[Mapping[str, Any]],
                       *, atomic: bool = True, now: datetime | None = None) -> BatchResult:
    """Record conversions; commit once.

    ``atomic`` (default): one invalid item rejects the whole batch (nothing is written). Otherwise the
    valid items are stored and the invalid ones listed as ``{"index", "field", "message"}``.
    Raises ValidationError for an empty or oversized batch, and Conflict when a concurrent request
    kept writing the same rows (retrying the request is safe: it is idempotent).
    """
    if not items:
        raise ValidationError("no conversions given", "conversions")
    if len(items) > MAX_BATCH:
        raise ValidationError(f"at most {MAX_BATCH} conversions per request", "conversions")
    for _attempt in range(3):
        try:
            return _create(session, settings, secret, items, atomic, now or utcnow())
        except IntegrityError:
            # A concurrent request stored the same conversion or identity first (PostgreSQL): the
            # retry sees it and answers a duplicate or joins the identity.
            session.rollback()
    raise Conflict("the same conversions are being written concurrently; retry the request", None)


def _create(session: Session, settings: Settings, secret: bytes, items: Sequence[Mapping[str, Any]],
            atomic: bool, now: datetime) -> BatchResult:
    result = BatchResult(atomic=atomic)
    begin_write(session)
    for index, item in enumerate(items):
        savepoint = session.begin_nested()
        try:
            conversion, status = _record(session, settings, secret, item, now)
        except ValidationError as exc:
            savepoint.rollback()
            result.rejected.append({"index": index, "field": exc.field, "message": exc.message})
            continue
        savepoint.commit()
        result.outcomes.append(Outcome(index, conversion, status))
    if result.committed:
        record_conversions(session, [o.conversion for o in result.outcomes if o.status == "created"])  # webhooks
        session.commit()
    else:
        session.rollback()
        result.outcomes = []
    return result


def list_conversions(session: Session, settings: Settings, *, type: str | None = None,
                     from_: date | None = None, to: date | None = None, person_id: str | None = None,
                     page: int = 1, per_page: int = 100) -> tuple[list[Conversion], int]:
    """Conversions newest first; ``from_``/``to`` are inclusive days in the report time zone."""
    stmt = sa.select(Conversion)
    if type:
        stmt = stmt.where(Conversion.type == type.strip().lower())
    if from_:
        stmt = stmt.where(Conversion.ts >= datetime.combine(from_, time(), settings.tz))
    if to:
        stmt = stmt.where(Conversion.ts < datetime.combine(to + timedelta(days=1), time(), settings.tz))
    if from_ and to and to < from_:
        raise ValidationError("to is before from", "to")
    if person_id:
        stmt = stmt.where(Conversion.person_id == person_id)
    total = session.scalar(sa.select(sa.func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(stmt.order_by(Conversion.ts.desc(), Conversion.id.desc())
                           .limit(per_page).offset((page - 1) * per_page))
    return list(rows), total
