"""Self-reported answers: validate, tie to a person, store; derive channels; manage analysts' rules.

An answer is an option of ``config/answers.toml`` and/or free text (at most :data:`MAX_TEXT`
characters). Its channel is never stored: it is derived whenever it is read (:func:`channel_of`),
from the option, else from the free text through the configured phrases and the analysts' rules
(:mod:`tracker.selfreports.answers`), so a rule added today re-maps last year's answers too.

The ids an answer comes with (``tid``, ``site_visitor_id``, ``visitor_id``, ``customer_key`` and
``conversion_external_id``) are stitched to one person like every other record; an answer given with
a conversion's external id joins that conversion's person (and a conversion sent later with that id
joins the answer's person). An answer without any id gets a person of its own: it is kept.

Submissions are idempotent on ``submission_id`` (the /ask form's one-time token, or the API
caller's own id): the same id again stores nothing and is answered as a duplicate.
"""
from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tracker.config import Settings
from tracker.conversions.models import Conversion
from tracker.conversions.service import MAX_EXTERNAL_ID, parse_timestamp
from tracker.db import begin_write, utcnow
from tracker.errors import Conflict, NotFound, ValidationError
from tracker.inputs import row_id
from tracker.people.service import resolve_ids, stitch
from tracker.selfreports.answers import LANGUAGES, OTHER, Match, Matcher, fold
from tracker.selfreports.models import AnswerRule, SelfReport
from tracker.webhooks.events import record_answers

__all__ = ["ANSWER_FIELDS", "FORM_MAX_AGE", "MAX_TEXT", "Answer", "Recorded", "add_rule", "answers_with_channels",
           "channel_of", "delete_rule", "form_token", "list_answers", "list_rules", "matcher", "open_form_token",
           "record_answer", "unmatched_texts"]

MAX_TEXT = 500
MAX_PHRASE = 200
MAX_SUBMISSION_ID = 64
FORM_MAX_AGE = timedelta(days=2)  # how long a shown /ask form can still be sent
ANSWER_FIELDS = ("option", "text", "language", "ts", "conversion_external_id", "tid", "site_visitor_id",
                 "visitor_id", "customer_key", "submission_id")
_FORM_SALT = "tracker.selfreports.ask-form"


@dataclass(frozen=True)
class Recorded:
    """What a submission became: the stored answer and whether it was ``created`` or a ``duplicate``."""

    report: SelfReport
    status: str


@dataclass(frozen=True)
class Answer:
    """A stored answer with its derived channel and, for free text, the phrase that decided it."""

    report: SelfReport
    channel: str
    match: Match | None


# ---- the /ask form's token -----------------------------------------------------------------------

def _serializer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.secret_key, salt=_FORM_SALT)


def form_token(settings: Settings, ids: Mapping[str, str | None]) -> str:
    """Sign the ids a shown form ties its answer to, with a one-time submission id."""
    payload = {k: v for k, v in ids.items() if v}
    payload["submission_id"] = "ask:" + secrets.token_urlsafe(16)
    return _serializer(settings).dumps(payload)


def open_form_token(settings: Settings, token: str | None) -> dict[str, str]:
    """Return the ids signed into ``token``; raise ValidationError naming ``form_token``."""
    if not token:
        raise ValidationError("the form token is missing: reload the page and answer again", "form_token")
    try:
        payload = _serializer(settings).loads(token, max_age=int(FORM_MAX_AGE.total_seconds()))
    except SignatureExpired:
        raise ValidationError("this form has expired: reload the page and answer again", "form_token") from None
    except BadSignature:
        raise ValidationError("the form token is not valid: reload the page and answer again", "form_token") from None
    if not isinstance(payload, dict) or not all(isinstance(v, str) for v in payload.values()):
        raise ValidationError("the form token is not valid: reload the page and answer again", "form_token")
    return payload


# ---- recording -----------------------------------------------------------------------------------

def _optional_string(data: Mapping[str, Any], name: str, limit: int) -> str | None:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValidationError(f"{name} must be a string", name)
    value = value.strip()
    if len(value) > limit:
        raise ValidationError(f"{name} must be at most {limit} characters", name)
    return value or None


def validate(settings: Settings, data: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """Check and normalise one answer (ids are checked when stitching); raise ValidationError."""
    if not isinstance(data, Mapping):
        raise ValidationError("send the answer as a JSON object", None)
    unknown = sorted(set(data) - set(ANSWER_FIELDS))
    if unknown:
        raise ValidationError(f"unknown field(s): {', '.join(unknown)}; allowed: {', '.join(ANSWER_FIELDS)}",
                              unknown[0])
    option = _optional_string(data, "option", 40)
    if option is not None:
        option = option.lower()
        if option != "other" and settings.answers.option(option) is None:
            keys = ", ".join([o.key for o in settings.answers.options] + ["other"])
            raise ValidationError(f"option {option!r} is not a configured answer; choose one of {keys}", "option")
    text = _optional_string(data, "text", MAX_TEXT)
    if text is not None and not text.replace("\n", " ").isprintable():
        raise ValidationError("text must be plain text (no control characters)", "text")
    if option in (None, "other") and not text:
        raise ValidationError("give an option, or free text for 'other'", "text" if option else "option")
    language = (_optional_string(data, "language", 2) or "en").lower()
    if language not in LANGUAGES:
        raise ValidationError(f"language must be one of {', '.join(LANGUAGES)}", "language")
    external_id = data.get("conversion_external_id")
    if isinstance(external_id, int) and not isinstance(external_id, bool):
        external_id = str(external_id)
    external_id = _optional_string({"conversion_external_id": external_id}, "conversion_external_id",
                                   MAX_EXTERNAL_ID)
    submission = _optional_string(data, "submission_id", MAX_SUBMISSION_ID)
    return {"option": option, "text": text, "language": language, "ts": parse_timestamp(data.get("ts"), now),
            "conversion_external_id": external_id, "submission_id": submission}


def record_answer(session: Session, settings: Settings, secret: bytes, data: Mapping[str, Any], *,
                  via: str, now: datetime | None = None) -> Recorded:
    """Validate, stitch and store one answer; commit.

    Raises
    ------
    ValidationError
        A field is missing, malformed or unknown (the error names it).
    Conflict
        The same submission is being written concurrently (retrying is safe).
    """
    now = now or utcnow()
    clean = validate(settings, data, now)
    for _attempt in range(3):
        try:
            return _record(session, secret, data, clean, via, now)
        except IntegrityError:
            session.rollback()  # the same submission or identity was stored concurrently: look again
    raise Conflict("the same answer is being written concurrently; retry the request", None)


def _record(session: Session, secret: bytes, data: Mapping[str, Any], clean: dict[str, Any], via: str,
            now: datetime) -> Recorded:
    begin_write(session)
    if clean["submission_id"]:
        existing = session.scalar(sa.select(SelfReport).where(SelfReport.submission_id == clean["submission_id"]))
        if existing is not None:
            session.rollback()
            return Recorded(existing, "duplicate")
    keys, persons, ids = resolve_ids(session, secret, dict(data))
    if clean["conversion_external_id"]:
        persons += session.scalars(sa.select(Conversion.person_id).where(
            Conversion.external_id == clean["conversion_external_id"])).all()
    person = stitch(session, keys, persons, now=now)
    report = SelfReport(**clean, person_id=person, tid=ids["tid"], site_visitor_id=ids["site_visitor_id"],
                        customer_hash=ids["customer_hash"], via=via)
    session.add(report)
    session.flush()
    record_answers(session, [report])  # webhooks: answer.recorded deliveries, in this transaction
    session.commit()
    return Recorded(report, "created")


# ---- channels ------------------------------------------------------------------------------------

def matcher(session: Session, settings: Settings) -> Matcher:
    """The free-text matcher in force: the configured phrases plus the analysts' rules."""
    rules = session.execute(sa.select(AnswerRule.phrase, AnswerRule.channel).order_by(AnswerRule.id)).all()
    return settings.answers.matcher([(phrase, channel) for phrase, channel in rules])


def channel_of(settings: Settings, report: SelfReport, match_with: Matcher) -> Answer:
    """Derive the channel of one stored answer."""
    option = settings.answers.option(report.option)
    if option is not None:
        return Answer(report, option.channel, None)
    found = match_with.match(report.text)
    return Answer(report, found.channel if found else OTHER, found)


def _day_bounds(settings: Settings, from_: date | None, to: date | None) -> list[sa.ColumnElement[bool]]:
    if from_ and to and to < from_:
        raise ValidationError("to is before from", "to")
    where = []
    if from_:
        where.append(SelfReport.ts >= datetime.combine(from_, time(), settings.tz))
    if to:
        where.append(SelfReport.ts < datetime.combine(to + timedelta(days=1), time(), settings.tz))
    return where


def answers_with_channels(session: Session, settings: Settings, *, from_: date | None = None,
                          to: date | None = None, person_id: str | None = None) -> list[Answer]:
    """Every answer in the period (days in the report time zone), newest first, with its channel."""
    stmt = sa.select(SelfReport).where(*_day_bounds(settings, from_, to))
    if person_id:
        stmt = stmt.where(SelfReport.person_id == person_id)
    match_with = matcher(session, settings)
    rows = session.scalars(stmt.order_by(SelfReport.ts.desc(), SelfReport.id.desc()))
    return [channel_of(settings, report, match_with) for report in rows]


def list_answers(session: Session, settings: Settings, *, from_: date | None = None, to: date | None = None,
                 channel: str | None = None, person_id: str | None = None, page: int = 1,
                 per_page: int = 100) -> tuple[list[Answer], int]:
    """A page of answers, newest first, optionally only those whose derived channel is ``channel``."""
    if channel is not None and channel not in settings.taxonomy.channels:
        raise ValidationError(f"channel must be one of {', '.join(settings.taxonomy.channels)}", "channel")
    answers = answers_with_channels(session, settings, from_=from_, to=to, person_id=person_id)
    if channel is not None:
        answers = [a for a in answers if a.channel == channel]
    start = (page - 1) * per_page
    return answers[start:start + per_page], len(answers)


def unmatched_texts(session: Session, settings: Settings, *, limit: int = 200) -> list[dict[str, Any]]:
    """Free-text answers that map to Other, grouped by folded text (shown as last spelt), most frequent first."""
    groups: dict[str, dict[str, Any]] = {}
    for answer in answers_with_channels(session, settings):
        if answer.channel != OTHER or answer.match is not None or not answer.report.text:
            continue
        key = fold(answer.report.text)
        group = groups.setdefault(key, {"text": answer.report.text, "count": 0, "last_ts": answer.report.ts,
                                        "language": answer.report.language})
        group["count"] += 1
    return sorted(groups.values(), key=lambda g: (-g["count"], -g["last_ts"].timestamp(), g["text"]))[:limit]


# ---- analysts' rules -----------------------------------------------------------------------------

def list_rules(session: Session) -> list[AnswerRule]:
    """The analysts' rules, oldest first."""
    return list(session.scalars(sa.select(AnswerRule).order_by(AnswerRule.id)))


def add_rule(session: Session, settings: Settings, phrase: object, channel: object,
             now: datetime | None = None) -> AnswerRule:
    """Store the rule "free text matching ``phrase`` means ``channel``"; commit.

    Raises
    ------
    ValidationError
        The phrase is empty, too long or has no letters or digits, or the channel is not in the taxonomy.
    Conflict
        A rule for the same (folded) phrase exists: delete it first to change its channel.
    """
    if not isinstance(phrase, str) or not phrase.strip():
        raise ValidationError("phrase is required (words that, in an answer, mean the channel)", "phrase")
    if len(phrase) > MAX_PHRASE:
        raise ValidationError(f"phrase must be at most {MAX_PHRASE} characters", "phrase")
    folded = fold(phrase)
    if not folded:
        raise ValidationError("phrase needs at least one letter or digit", "phrase")
    if channel not in settings.taxonomy.channels:
        raise ValidationError(f"channel must be one of {', '.join(settings.taxonomy.channels)}", "channel")
    existing = session.scalar(sa.select(AnswerRule).where(AnswerRule.phrase == folded))
    if existing is not None:
        raise Conflict(f"a rule for {folded!r} exists (channel {existing.channel}, id {existing.id}); delete it "
                       "first to change it", "phrase", rule_id=existing.id)
    rule = AnswerRule(phrase=folded, channel=channel, created_at=now or utcnow())
    session.add(rule)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise Conflict(f"a rule for {folded!r} was just added", "phrase") from None
    return rule


def delete_rule(session: Session, rule_id: int) -> None:
    """Delete one analyst's rule; commit. Raise NotFound for an unknown id."""
    rule = session.get(AnswerRule, rule_id) if row_id(rule_id) is not None else None
    if rule is None:
        raise NotFound(f"answer rule {rule_id} does not exist", "rule_id")
    session.delete(rule)
    session.commit()
