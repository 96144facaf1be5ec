"""Brand mentions in: validation, the API's JSON, CSV files, listing and deleting (docs/guides/marketer.md).

A mention row is (date, platform, count, sentiment, url, note):

- ``date``: the day of the mentions, ``YYYY-MM-DD`` (a calendar day as the listening tool reports
  it, no time zone); from 2000-01-01 to tomorrow in the report time zone.
- ``platform``: a free lower-case slug (``press``, ``linkedin``, ``trustpilot``, ``podcast`` ...):
  listening tools name their sources in many ways, so any slug of letters, digits, ``.``, ``_``
  and ``-`` up to 40 characters is accepted; it is trimmed, lower-cased and spaces become dashes.
  :data:`PLATFORMS` are the suggestions the pages offer.
- ``count``: how many mentions, a whole number from 1 to 1,000,000; 1 when left out (one article).
- ``sentiment``: optional, from -1 (negative) to 1 (positive).
- ``url``: optional ``http(s)`` address of the post or article; ``""`` when none.
- ``note``: optional, at most 500 characters.

Rows are idempotent per (date, platform, url). A row whose key is stored already **replaces** the
stored count, sentiment and note (the newest export wins: listening tools revise counts as posts
come in); the same values again change nothing (``unchanged``). One request or file is written all
or nothing: a bad row rejects it with the field (``mentions[3].sentiment``) or the CSV line and
column named, and a key given twice in one request or file is refused (sum the counts, or give each
post its URL). The select-then-write runs in one transaction (SQLite takes its write lock first); a
concurrent writer of the same new key on PostgreSQL gets 409 and may send again.
"""
from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tracker.config import Settings
from tracker.db import begin_write, utcnow
from tracker.errors import Conflict, NotFound, ValidationError
from tracker.inputs import csv_records, header_columns, nul_field, row_id
from tracker.mentions.models import Mention

__all__ = ["COLUMNS", "MAX_BATCH", "MAX_ROWS", "PLATFORMS", "SENTIMENTS", "MentionRow", "Outcome", "delete_mention",
           "import_csv", "list_mentions", "mention_out", "parse_body", "record_mentions", "sentiment_filter",
           "validate_mention"]

PLATFORMS = ("press", "blog", "podcast", "linkedin", "x", "facebook", "instagram", "tiktok", "youtube", "reddit",
             "forum", "trustpilot", "g2", "review", "newsletter", "other")
COLUMNS = ("date", "platform", "count", "sentiment", "url", "note")
FIELDS = frozenset(COLUMNS) | {"day"}
# Accepted CSV header spellings (lower-cased, spaces and dashes as underscores) for each column.
ALIASES = {"day": "date", "source": "platform", "mentions": "count", "link": "url", "comment": "note"}
MAX_PLATFORM = 40
MAX_URL = 2000
MAX_NOTE = 500
MAX_COUNT = 1_000_000
MAX_BATCH = 1000  # mentions per JSON request
MAX_ROWS = 100_000  # rows per CSV file
FIRST_DAY = date(2000, 1, 1)
PLATFORM_RE = re.compile(r"[a-z0-9][a-z0-9._-]*")
# Sentiment bands of the report's filter: |sentiment| below NEUTRAL_BAND is neutral.
NEUTRAL_BAND = 0.2
SENTIMENTS = ("positive", "neutral", "negative", "unscored")


@dataclass(frozen=True)
class MentionRow:
    """A validated mention, keyed by (day, platform, url)."""

    day: date
    platform: str
    count: int
    sentiment: float | None
    url: str
    note: str

    @property
    def key(self) -> tuple[date, str, str]:
        return self.day, self.platform, self.url


@dataclass
class Outcome:
    """What a request or file did: rows ``inserted``, ``updated`` (same key, new values) and ``unchanged``."""

    rows: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    items: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "inserted": self.inserted, "updated": self.updated, "unchanged": self.unchanged}


# ---- validation ------------------------------------------------------------------------------------

def _day(value: object, today: date) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str) and value.strip():
        try:
            parsed = date.fromisoformat(value.strip())
        except ValueError:
            raise ValidationError("date must be a day like 2026-05-31 (YYYY-MM-DD)", "date") from None
        if len(value.strip()) != 10:
            raise ValidationError("date must be a day like 2026-05-31 (YYYY-MM-DD)", "date")
    elif value is None or value == "":
        raise ValidationError("date is required (YYYY-MM-DD)", "date")
    else:
        raise ValidationError("date must be a text like 2026-05-31", "date")
    if parsed < FIRST_DAY:
        raise ValidationError(f"date must be {FIRST_DAY.isoformat()} or later", "date")
    if parsed > today + timedelta(days=1):
        raise ValidationError("date is in the future", "date")
    return parsed


def _platform(value: object) -> str:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ValidationError("platform is required (for example press, linkedin, trustpilot)", "platform")
    if not isinstance(value, str):
        raise ValidationError("platform must be a text", "platform")
    slug = re.sub(r"\s+", "-", value.strip().lower())
    if len(slug) > MAX_PLATFORM:
        raise ValidationError(f"platform is longer than {MAX_PLATFORM} characters", "platform")
    if not PLATFORM_RE.fullmatch(slug):
        raise ValidationError("platform may hold only letters a-z, digits, '.', '_' and '-' (for example press, "
                              "linkedin, trustpilot)", "platform")
    return slug


def _count(value: object) -> int:
    if value is None or value == "":
        return 1
    if isinstance(value, str):
        text = value.strip()
        if not re.fullmatch(r"[0-9]{1,7}", text):
            raise ValidationError(f"count must be a whole number from 1 to {MAX_COUNT:,}", "count")
        number = int(text)
    elif isinstance(value, int) and not isinstance(value, bool):
        number = value
    else:
        raise ValidationError(f"count must be a whole number from 1 to {MAX_COUNT:,}", "count")
    if not 1 <= number <= MAX_COUNT:
        raise ValidationError(f"count must be a whole number from 1 to {MAX_COUNT:,}", "count")
    return number


def _sentiment(value: object) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise ValidationError("sentiment must be a number from -1 (negative) to 1 (positive)", "sentiment")
    try:
        number = float(value.strip().replace(",", ".") if isinstance(value, str) else value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValidationError("sentiment must be a number from -1 (negative) to 1 (positive)", "sentiment") from None
    if not math.isfinite(number) or not -1 <= number <= 1:
        raise ValidationError("sentiment must be a number from -1 (negative) to 1 (positive)", "sentiment")
    return number


def _url(value: object) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValidationError("url must be a text", "url")
    text = value.strip()
    if not text:
        return ""
    if len(text) > MAX_URL:
        raise ValidationError(f"url is longer than {MAX_URL} characters", "url")
    try:
        parts = urlsplit(text)
        host = parts.hostname
    except ValueError:
        raise ValidationError("url must be an http(s) address like https://example.com/article", "url") from None
    if parts.scheme.lower() not in ("http", "https") or not host or any(c.isspace() for c in text):
        raise ValidationError("url must be an http(s) address like https://example.com/article", "url")
    return text


def _note(value: object) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValidationError("note must be a text", "note")
    text = value.strip()
    if len(text) > MAX_NOTE:
        raise ValidationError(f"note is longer than {MAX_NOTE} characters", "note")
    return text


def validate_mention(raw: Mapping[str, Any], today: date) -> MentionRow:
    """Check one mention (JSON object or CSV row); raise ValidationError naming the field.

    ``day`` is accepted for ``date``; unknown fields are refused.
    """
    if not isinstance(raw, Mapping):
        raise ValidationError("a mention is an object with date, platform, count, sentiment, url and note", None)
    unknown = sorted(set(raw) - FIELDS)
    if unknown:
        raise ValidationError(f"unknown field {unknown[0]}; a mention has {', '.join(COLUMNS)}", unknown[0])
    if "day" in raw and "date" in raw:
        raise ValidationError("give date or day, not both", "day")
    nul = nul_field(dict(raw))
    if nul is not None:
        raise ValidationError(f"{nul} contains a NUL character", nul)
    return MentionRow(day=_day(raw.get("date", raw.get("day")), today), platform=_platform(raw.get("platform")),
                      count=_count(raw.get("count")), sentiment=_sentiment(raw.get("sentiment")),
                      url=_url(raw.get("url")), note=_note(raw.get("note")))


def parse_body(body: Any) -> tuple[list[Any], bool]:
    """Return (items, is_list) of a request body: one mention, a JSON array, or ``{"mentions": [...]}``."""
    if isinstance(body, list):
        items, many = body, True
    elif isinstance(body, dict) and "mentions" in body:
        if set(body) - {"mentions"}:
            raise ValidationError("a list of mentions is {\"mentions\": [...]} with no other field", "mentions")
        if not isinstance(body["mentions"], list):
            raise ValidationError("mentions must be a list of objects", "mentions")
        items, many = body["mentions"], True
    elif isinstance(body, dict):
        items, many = [body], False
    else:
        raise ValidationError("send JSON: one mention object, a list of them, or {\"mentions\": [...]}", None)
    if many and not items:
        raise ValidationError("mentions is empty: send at least one mention", "mentions")
    if len(items) > MAX_BATCH:
        raise ValidationError(f"at most {MAX_BATCH} mentions per request (import larger sets as CSV)", "mentions")
    return items, many


def _today(settings: Settings) -> date:
    return datetime.now(settings.tz).date()


# ---- writing -----------------------------------------------------------------------------------------

def _write(session: Session, rows: Sequence[MentionRow]) -> Outcome:
    """Insert new keys, replace changed ones, count the rest; commit once (rows are valid and keys distinct)."""
    outcome = Outcome(rows=len(rows))
    begin_write(session)
    stored: dict[tuple[date, str, str], Mention] = {}
    if rows:
        days = [r.day for r in rows]
        platforms = sorted({r.platform for r in rows})
        # The stored rows of the span and platforms: a superset of the keys, read in one statement.
        for i in range(0, len(platforms), 500):
            for mention in session.scalars(sa.select(Mention).where(
                    Mention.day >= min(days), Mention.day <= max(days), Mention.platform.in_(platforms[i:i + 500]))):
                stored[(mention.day, mention.platform, mention.url)] = mention
    now = utcnow()
    new: list[dict[str, Any]] = []
    for index, row in enumerate(rows):
        found = stored.get(row.key)
        if found is None:
            new.append({"day": row.day, "platform": row.platform, "count": row.count, "sentiment": row.sentiment,
                        "url": row.url, "note": row.note, "created_at": now})
            status = "inserted"
        elif (found.count, found.sentiment, found.note) == (row.count, row.sentiment, row.note):
            status = "unchanged"
        else:
            found.count, found.sentiment, found.note = row.count, row.sentiment, row.note
            status = "updated"
        setattr(outcome, status, getattr(outcome, status) + 1)
        outcome.items.append({"index": index, "status": status})
    try:
        if new:
            session.execute(sa.insert(Mention), new)
        session.commit()
    except IntegrityError:
        session.rollback()
        raise Conflict("another request wrote some of these mentions at the same time; send them again "
                       "(a repeat changes nothing that is stored already)", "mentions") from None
    return outcome


def _repeats(keys: Iterable[tuple[tuple[date, str, str], int]]) -> list[tuple[int, int]]:
    """(position, first position) for every key given again; positions are item indexes or CSV lines."""
    first: dict[tuple[date, str, str], int] = {}
    repeats = []
    for key, position in keys:
        if key in first:
            repeats.append((position, first[key]))
        else:
            first[key] = position
    return repeats


REPEAT = "repeats the date, platform and url of {} (sum the counts into one row, or give each post its url)"


def record_mentions(session: Session, settings: Settings, items: Sequence[Any], *, many: bool = True,
                    today: date | None = None) -> Outcome:
    """Validate and store mentions from the API, all or nothing; commit once.

    Raises ValidationError naming the first bad field as ``mentions[<index>].<field>`` (``<field>``
    alone when ``many`` is False); ``rejected`` lists every problem as ``{index, field, message}``.
    """
    today = today or _today(settings)
    rows: list[MentionRow] = []
    rejected: list[dict[str, Any]] = []
    for index, raw in enumerate(items):
        try:
            rows.append(validate_mention(raw, today))
        except ValidationError as exc:
            name = exc.field if not many else f"mentions[{index}]" + (f".{exc.field}" if exc.field else "")
            rejected.append({"index": index, "field": name, "message": exc.message})
    if not rejected:
        rejected = [{"index": i, "field": f"mentions[{i}].url", "message": REPEAT.format(f"mentions[{j}]")}
                    for i, j in _repeats((r.key, i) for i, r in enumerate(rows))]
    if rejected:
        first = rejected[0]
        more = f" ({len(rejected)} problems; see rejected)" if len(rejected) > 1 else ""
        raise ValidationError(f"{first['field'] or 'body'}: {first['message']}; nothing was stored{more}",
                              first["field"], rejected=rejected)
    return _write(session, rows)


def _header(names: list[str]) -> list[str]:
    columns = header_columns(names, ALIASES)
    unknown = [c for c in columns if c not in COLUMNS]
    missing = [c for c in ("date", "platform") if c not in columns]
    if missing or unknown:
        problem = (f"missing column(s) {', '.join(missing)}" if missing else f"unknown column(s) {', '.join(unknown)}")
        raise ValidationError(f"line 1 must be a header with the columns {', '.join(COLUMNS)} (date and platform "
                              f"required; count defaults to 1): {problem}", "file", line=1)
    if len(set(columns)) != len(columns):
        raise ValidationError("the CSV header (line 1) names a column twice", "file", line=1)
    return columns


def import_csv(session: Session, settings: Settings, text: str, *, today: date | None = None) -> Outcome:
    """Import mentions from CSV text (UTF-8, header line first), all or nothing; commit once.

    Raises ValidationError: the file cannot be read (field ``file``), or rows are bad: the message
    names the first line and column, ``rejected`` lists every problem as ``{line, field, message}``
    (line 1 is the header, quoted line breaks counted).
    """
    today = today or _today(settings)
    records = csv_records(text)
    first = next(records, None)
    if first is None:
        raise ValidationError("the CSV is empty: it needs a header row", "file")
    columns = _header(first[1])
    rows: list[tuple[int, MentionRow]] = []
    rejected: list[dict[str, Any]] = []
    count = 0
    for line, values in records:
        count += 1
        if count > MAX_ROWS:
            raise ValidationError(f"at most {MAX_ROWS:,} rows per file", "file")
        if len(values) > len(columns):
            rejected.append({"line": line, "field": None,
                             "message": f"{len(values)} values but {len(columns)} header columns"})
            continue
        raw = {c: v for c, v in zip(columns, values, strict=False)}
        try:
            rows.append((line, validate_mention(raw, today)))
        except ValidationError as exc:
            rejected.append({"line": line, "field": exc.field, "message": exc.message})
    if not count:
        raise ValidationError("the CSV has a header but no rows", "file")
    if not rejected:
        rejected = [{"line": line, "field": "url", "message": REPEAT.format(f"line {earlier}")}
                    for line, earlier in _repeats((r.key, line) for line, r in rows)]
    if rejected:
        first_problem = rejected[0]
        column = f" ({first_problem['field']})" if first_problem["field"] else ""
        more = f"; {len(rejected)} bad rows (see rejected)" if len(rejected) > 1 else ""
        raise ValidationError(f"line {first_problem['line']}{column}: {first_problem['message']}; nothing was "
                              f"imported{more}", first_problem["field"] or "file", line=first_problem["line"],
                              rejected=rejected)
    return _write(session, [r for _, r in rows])


# ---- reading -----------------------------------------------------------------------------------------

def sentiment_filter(column: Any, bands: Sequence[str]) -> sa.ColumnElement[bool]:
    """SQL condition: the sentiment falls in one of ``bands`` (positive, neutral, negative, unscored)."""
    conditions = {
        "positive": column >= NEUTRAL_BAND,
        "neutral": sa.and_(column > -NEUTRAL_BAND, column < NEUTRAL_BAND),
        "negative": column <= -NEUTRAL_BAND,
        "unscored": column.is_(None),
    }
    return sa.or_(*(conditions[b] for b in bands))


def list_mentions(session: Session, *, first: date | None = None, last: date | None = None,
                  platforms: Sequence[str] = (), sentiments: Sequence[str] = (), limit: int = 100,
                  offset: int = 0) -> tuple[list[Mention], int]:
    """Stored mentions, newest day first (then platform, url), and how many match in all."""
    where: list[sa.ColumnElement[bool]] = []
    if first is not None:
        where.append(Mention.day >= first)
    if last is not None:
        where.append(Mention.day <= last)
    if platforms:
        where.append(Mention.platform.in_(list(platforms)))
    if sentiments:
        where.append(sentiment_filter(Mention.sentiment, sentiments))
    total = session.scalar(sa.select(sa.func.count()).select_from(Mention).where(*where)) or 0
    rows = session.scalars(sa.select(Mention).where(*where).order_by(
        Mention.day.desc(), Mention.platform, Mention.url).limit(limit).offset(offset))
    return list(rows), int(total)


def mention_out(mention: Mention) -> dict[str, Any]:
    return {"id": mention.id, "date": mention.day.isoformat(), "platform": mention.platform, "count": mention.count,
            "sentiment": mention.sentiment, "url": mention.url or None, "note": mention.note or None,
            "created_at": mention.created_at.isoformat()}


def delete_mention(session: Session, mention_id: object) -> None:
    """Delete one stored mention by id; NotFound when there is none."""
    number = row_id(mention_id)
    mention = session.get(Mention, number) if number is not None else None
    if mention is None:
        raise NotFound(f"no mention with id {mention_id}", "mention_id")
    session.delete(mention)
    session.commit()
