"""Identity stitching: ids seen together belong to one person, transitively.

The rule (docs/guides/site-owner.md#identity-stitching):

- A person is known by identities: the short-link visitor cookie (``visitor``), the site visitor id
  of the landing-site snippet (``site``), a customer key (``customer``; e-mail addresses are trimmed
  and lower-cased, then every key is HMAC-SHA256-hashed with the IP secret, so the raw key is never
  stored) and, for clicks without a visitor cookie, the click id (``click``).
- A click id ``tid`` names the click's person: a landing visit, conversion or self-report carrying
  it joins that person. A ``tid`` whose click is still in the spool is joined when the click is
  drained (the drain looks for landing visits, conversions and self-reports waiting on it).
- Whenever a record carries several ids (a landing visit with ``tid`` and site visitor id; a
  conversion with site visitor id and customer key; ``POST /api/v1/identify``), their people are
  merged into one: the person with the smallest id survives, and every row that carries a
  ``person_id`` (identities, clicks, landing visits, offline touches, conversions, self-reports) is
  rewritten in the same transaction. A->B and B->C therefore end as one person, earlier anonymous
  touches included, and reports read ``person_id`` straight from the rows.
- ``POST /api/v1/identify`` needs at least two ids; its ``tid`` must name a click already in the
  database (clicks reach it within seconds), since nothing else would carry the link until then.
- A record whose ids match nothing (or carries none) gets a person of its own: it is never dropped.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from tracker.conversions.models import Conversion
from tracker.db import utcnow
from tracker.errors import NotFound, ValidationError
from tracker.people.models import IDENTITY_KINDS, PERSON_ID_LENGTH, Identity
from tracker.redirects.models import Click
from tracker.selfreports.models import SelfReport
from tracker.touchpoints.models import LandingVisit, OfflineTouch

# Every table with a person_id column: a merge rewrites them all.
PERSON_TABLES = (Identity, Click, LandingVisit, OfflineTouch, Conversion, SelfReport)
MAX_KEY_LENGTH = 320  # the longest e-mail address
# Longest accepted id of each kind given to the API (the columns' widths).
ID_LIMITS = {"tid": 32, "visitor_id": 40, "site_visitor_id": 64}
ID_FIELDS = ("tid", "visitor_id", "site_visitor_id", "customer_key")


def new_person_id() -> str:
    """A new person id: 'p' and 21 random url-safe characters (126 bits)."""
    return "p" + secrets.token_urlsafe(16)[:21]


def customer_hash(key: str, secret: bytes) -> str:
    """Normalise a customer key (e-mails trimmed and lower-cased) and hash it with the service secret."""
    key = key.strip()
    if not key:
        raise ValidationError("customer_key must not be empty", "customer_key")
    if len(key) > MAX_KEY_LENGTH:
        raise ValidationError(f"customer_key is longer than {MAX_KEY_LENGTH} characters", "customer_key")
    if "@" in key:
        key = key.lower()
    return hmac.new(secret, key.encode(), hashlib.sha256).hexdigest()


def person_of_click(session: Session, tid: str) -> str | None:
    """The person of a drained click, or None (unknown, or still in the spool)."""
    return session.scalar(sa.select(Click.person_id).where(Click.tid == tid))


def stitch(session: Session, keys: Iterable[tuple[str, str]], persons: Iterable[str | None] = (),
           now: datetime | None = None) -> str:
    """Tie ``keys`` ((kind, value) identities) and ``persons`` together; return the one person id.

    Identities not seen before are added; people found through them are merged. Does not commit.
    """
    keys = {(kind, value) for kind, value in keys if value}
    for kind, _ in keys:
        if kind not in IDENTITY_KINDS:
            raise ValueError(f"unknown identity kind {kind!r}")
    found = {p for p in persons if p}
    known: set[tuple[str, str]] = set()
    if keys:
        rows = session.execute(sa.select(Identity.kind, Identity.value, Identity.person_id).where(
            sa.or_(*(sa.and_(Identity.kind == k, Identity.value == v) for k, v in keys)))).all()
        for kind, value, person in rows:
            known.add((kind, value))
            found.add(person)
    person = min(found) if found else new_person_id()
    merge(session, person, found - {person})
    missing = keys - known
    if missing:
        when = now or utcnow()
        session.add_all(Identity(kind=k, value=v, person_id=person, first_seen=when) for k, v in sorted(missing))
        session.flush()
    return person


def merge(session: Session, survivor: str, others: Iterable[str]) -> None:
    """Rewrite every row of the people ``others`` to ``survivor``."""
    others = sorted(set(others) - {survivor})
    if not others:
        return
    for model in PERSON_TABLES:
        session.execute(sa.update(model).where(model.person_id.in_(others)).values(person_id=survivor)
                        .execution_options(synchronize_session=False))


def clean_id(value: object, field: str) -> str | None:
    """Validate one given id (``tid``, ``visitor_id``, ``site_visitor_id``); None when absent or empty."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValidationError(f"{field} must be a string", field)
    value = value.strip()
    if not value:
        return None
    limit = ID_LIMITS[field]
    if len(value) > limit or not value.isprintable() or " " in value:
        raise ValidationError(f"{field} must be at most {limit} printable characters without spaces", field)
    return value


def resolve_ids(session: Session, secret: bytes, data: dict[str, object]) -> tuple[
        list[tuple[str, str]], list[str | None], dict[str, str | None]]:
    """Validate the ids in ``data``; return (identity keys, people found by tid, cleaned values).

    ``customer_key`` is hashed here (``cleaned["customer_hash"]``); the raw key is never returned.
    """
    tid = clean_id(data.get("tid"), "tid")
    visitor = clean_id(data.get("visitor_id"), "visitor_id")
    site = clean_id(data.get("site_visitor_id"), "site_visitor_id")
    raw_key = data.get("customer_key")
    if raw_key is not None and not isinstance(raw_key, str):
        raise ValidationError("customer_key must be a string (an e-mail address or a customer id)", "customer_key")
    chash = customer_hash(raw_key, secret) if raw_key is not None and raw_key.strip() else None
    keys = [(kind, value) for kind, value in (("visitor", visitor), ("site", site), ("customer", chash)) if value]
    persons = [person_of_click(session, tid)] if tid else []
    return keys, persons, {"tid": tid, "visitor_id": visitor, "site_visitor_id": site, "customer_hash": chash}


def identify(session: Session, secret: bytes, data: dict[str, object]) -> str:
    """Link two or more ids (tid, visitor_id, site_visitor_id, customer_key) to one person; commit.

    Raises
    ------
    ValidationError
        Fewer than two ids, a malformed id, or a ``tid`` no recorded click has (yet).
    """
    keys, persons, cleaned = resolve_ids(session, secret, data)
    given = sum(1 for name in ("tid", "visitor_id", "site_visitor_id", "customer_hash") if cleaned[name])
    if given < 2:
        raise ValidationError("give at least two of tid, visitor_id, site_visitor_id, customer_key", None)
    if cleaned["tid"] and not persons[0]:
        raise ValidationError("no recorded click has this tid (yet: clicks reach the database within "
                              "seconds of the redirect; retry shortly)", "tid")
    person = stitch(session, keys, persons)
    session.commit()
    return person


def require_person(session: Session, person_id: str) -> str:
    """Return ``person_id`` if any row carries it; raise NotFound otherwise."""
    if len(person_id) <= PERSON_ID_LENGTH:
        for model in PERSON_TABLES:
            if session.scalar(sa.select(model.person_id).where(model.person_id == person_id).limit(1)):
                return person_id
    raise NotFound(f"person {person_id} does not exist", "person_id")


def person_of_customer(session: Session, secret: bytes, key: str) -> str | None:
    """The person known by a customer key (e-mail or id), or None."""
    return session.scalar(sa.select(Identity.person_id).where(
        Identity.kind == "customer", Identity.value == customer_hash(key, secret)))
