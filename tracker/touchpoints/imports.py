"""Offline touchpoint import: attendee lists, badge scans, PR mentions, podcast promo-code uses (CSV).

Each row names a person by customer key (e-mail or customer id, hashed like every customer key), a
time, a kind (event, print, podcast, pr, partner, outdoor, other) and/or a channel of the taxonomy,
and optionally a campaign (id or slug), a label and a source. Rows are validated one by one and
rejected with their CSV line number; a re-import of the same rows adds nothing (``dedupe_key``).
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from tracker.config import Settings
from tracker.db import begin_write, utcnow
from tracker.errors import ValidationError
from tracker.inputs import csv_records, header_columns, nul_field, row_id, to_utc
from tracker.links.models import Campaign
from tracker.links.urls import normalise_tag, validate_tag
from tracker.people.service import customer_hash, stitch
from tracker.touchpoints.models import OFFLINE_TOUCH_KINDS, OfflineTouch

__all__ = ["COLUMNS", "ImportResult", "decode_csv", "import_touchpoints"]

COLUMNS = ("customer_key", "ts", "kind", "channel", "campaign", "label", "source")
# Accepted header spellings (lower-cased, spaces and dashes as underscores) for each column.
ALIASES = {"email": "customer_key", "e_mail": "customer_key", "person_key": "customer_key",
           "customer": "customer_key", "time": "ts", "timestamp": "ts", "date": "ts", "utm_source": "source"}
MAX_ROWS = 100_000
MAX_LABEL = 200
MAX_CUSTOMER_KEY = 320  # the longest e-mail address
FUTURE_SLACK = timedelta(minutes=5)


@dataclass
class ImportResult:
    atomic: bool = True
    created: int = 0
    duplicates: int = 0
    rows: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)

    @property
    def committed(self) -> bool:
        return not (self.atomic and self.rejected)


def decode_csv(raw: bytes) -> str:
    """Decode an uploaded CSV (UTF-8, with or without BOM); raise ValidationError naming ``file``."""
    if not raw.strip():
        raise ValidationError("the file is empty: it needs a header row and at least one row", "file")
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ValidationError("the file is UTF-16: save it as CSV UTF-8", "file")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValidationError(f"the file is not UTF-8 text (byte {exc.start}): save it as CSV UTF-8", "file") from None


def _header(names: list[str]) -> list[str]:
    columns = header_columns(names, ALIASES)
    unknown = [c for c in columns if c not in COLUMNS]
    missing = [c for c in ("customer_key", "ts") if c not in columns]
    if missing or unknown:
        problem = (f"missing column(s) {', '.join(missing)}" if missing else
                   f"unknown column(s) {', '.join(unknown)}")
        raise ValidationError(f"the first line must be a header with the columns {', '.join(COLUMNS)} "
                              f"(kind and/or channel required; campaign, label, source optional): {problem}",
                              "file")
    if "kind" not in columns and "channel" not in columns:
        raise ValidationError("the CSV header needs a kind or a channel column", "file")
    if len(set(columns)) != len(columns):
        raise ValidationError("the CSV header names a column twice", "file")
    return columns


def parse_rows(text: str) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield (line number, row) for each record; the header is line 1 (quoted newlines counted)."""
    records = csv_records(text)
    first = next(records, None)
    if first is None:
        raise ValidationError("the CSV is empty: it needs a header row", "file")
    columns = _header(first[1])
    for line, values in records:
        if len(values) > len(columns):
            yield line, {"__error__": f"{len(values)} values but {len(columns)} header columns"}
        else:
            yield line, {c: v.strip() for c, v in zip(columns, values, strict=False) if v.strip()}


def _ts(raw: str | None, settings: Settings, now: datetime) -> datetime:
    if not raw:
        raise ValidationError("ts is required", "ts")
    try:
        if len(raw) == 10:
            parsed = datetime.combine(date.fromisoformat(raw), time(), settings.tz)
        else:
            parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise ValidationError("ts must be an ISO 8601 time like 2026-05-12T14:30:00+02:00 or a date like "
                              "2026-05-12", "ts") from None
    if parsed.tzinfo is None:  # spreadsheet times without offset: the report time zone
        parsed = parsed.replace(tzinfo=settings.tz)
    parsed = to_utc(parsed, "ts")
    if parsed > now + FUTURE_SLACK:
        raise ValidationError("ts is in the future", "ts")
    return parsed


def _campaign(session: Session, raw: str | None, cache: dict[str, int]) -> int | None:
    if not raw:
        return None
    if raw not in cache:
        number = row_id(raw)
        found = (session.scalar(sa.select(Campaign.id).where(Campaign.id == number)) if number is not None else
                 None if raw.isdigit() else
                 session.scalar(sa.select(Campaign.id).where(Campaign.slug == normalise_tag(raw))))
        if found is None:
            raise ValidationError(f"campaign {raw!r} does not exist (give its id or slug)", "campaign")
        cache[raw] = found
    return cache[raw]


def dedupe_key(chash: str, ts: datetime, kind: str, channel: str | None, campaign_id: int | None,
               label: str | None) -> str:
    """Hash of what makes two imported touches the same (the source is not part of it)."""
    key = [chash, ts.isoformat(), kind, channel, campaign_id, label]
    return hashlib.sha256(json.dumps(key, ensure_ascii=False).encode()).hexdigest()


def _touch(session: Session, settings: Settings, secret: bytes, row: dict[str, str], now: datetime,
           campaigns: dict[str, int]) -> OfflineTouch:
    """Validate one row into an (unsaved) OfflineTouch without its person."""
    key = row.get("customer_key")
    if not key:
        raise ValidationError("customer_key is required (an e-mail address or customer id)", "customer_key")
    if len(key) > MAX_CUSTOMER_KEY:
        raise ValidationError(f"customer_key is longer than {MAX_CUSTOMER_KEY} characters", "customer_key")
    chash = customer_hash(key, secret)
    ts = _ts(row.get("ts"), settings, now)
    kind = (row.get("kind") or "").lower()
    channel = row.get("channel")
    if not kind and not channel:
        raise ValidationError(f"give a kind ({', '.join(OFFLINE_TOUCH_KINDS)}) or a channel", "kind")
    if kind and kind not in OFFLINE_TOUCH_KINDS:
        raise ValidationError(f"kind must be one of {', '.join(OFFLINE_TOUCH_KINDS)}", "kind")
    if channel is not None:
        by_lower = {c.lower(): c for c in settings.taxonomy.channels}
        if channel.lower() not in by_lower:
            raise ValidationError(f"channel must be one of {', '.join(settings.taxonomy.channels)}", "channel")
        channel = by_lower[channel.lower()]
    label = row.get("label")
    if label is not None and len(label) > MAX_LABEL:
        raise ValidationError(f"label is longer than {MAX_LABEL} characters", "label")
    source = validate_tag(row.get("source"), "source")
    campaign_id = _campaign(session, row.get("campaign"), campaigns)
    kind = kind or "other"
    return OfflineTouch(dedupe_key=dedupe_key(chash, ts, kind, channel, campaign_id, label), ts=ts,
                        customer_hash=chash, kind=kind, channel=channel, campaign_id=campaign_id,
                        utm_source=source, label=label, imported_at=now)


def import_touchpoints(session: Session, settings: Settings, secret: bytes, text: str, *, atomic: bool = True,
                       now: datetime | None = None) -> ImportResult:
    """Import offline touches from CSV text; commit once (nothing when ``atomic`` and a row is bad).

    Rejected rows come back as ``{"line", "field", "message"}``; rows already imported (same
    ``dedupe_key``, from an earlier import or earlier in this file) count as ``duplicates``.
    Raises ValidationError (field ``file``) when the file itself cannot be read.
    """
    now = now or utcnow()
    rows = list(parse_rows(text))
    if not rows:
        raise ValidationError("the CSV has a header but no rows", "file")
    if len(rows) > MAX_ROWS:
        raise ValidationError(f"at most {MAX_ROWS} rows per file", "file")
    result = ImportResult(atomic=atomic, rows=len(rows))
    campaigns: dict[str, int] = {}
    seen: set[str] = set()
    begin_write(session)
    for line, row in rows:
        if "__error__" in row:
            result.rejected.append({"line": line, "field": None, "message": row["__error__"]})
            continue
        nul = nul_field(row)
        if nul is not None:  # PostgreSQL text cannot hold NUL
            result.rejected.append({"line": line, "field": nul, "message": f"{nul} contains a NUL character"})
            continue
        try:
            touch = _touch(session, settings, secret, row, now, campaigns)
        except ValidationError as exc:
            result.rejected.append({"line": line, "field": exc.field, "message": exc.message})
            continue
        if atomic and result.rejected:
            continue  # nothing will be written: only validate the remaining rows
        if touch.dedupe_key in seen or session.scalar(
                sa.select(OfflineTouch.id).where(OfflineTouch.dedupe_key == touch.dedupe_key)):
            result.duplicates += 1
            continue
        seen.add(touch.dedupe_key)
        # Validation is done, so nothing below raises a domain error: no savepoint is needed.
        touch.person_id = stitch(session, [("customer", touch.customer_hash)], now=now)
        session.add(touch)
        session.flush()
        result.created += 1
    if result.committed:
        session.commit()
    else:
        session.rollback()
        result.created = 0
        result.duplicates = 0
    return result
