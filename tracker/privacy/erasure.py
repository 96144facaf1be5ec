"""Erasing a person: every row holding their ids, in one transaction, and tombstones for the spools.

What :func:`erase_person` removes (docs/guides/site-owner.md#privacy): the person's clicks and scans, landing visits,
offline touches, conversions, self-reports and identities, and the ``link_visitors`` rows of their
visitor ids. The daily aggregates (``link_daily_stats``: clicks, new unique visitors and bots per link
and day; ``link_country_stats``: clicks and bots per link, day and country) hold no personal data and are
kept: past counts do not change when a person is erased. A click's ``country`` and ``city`` go with its row.

Lines still in a spool (a click answered but not yet drained, a conversion accepted with 202) must not
bring the person back. Every id of the person (visitor cookie, site visitor id, customer hash, click
ids) is kept as a tombstone: SHA-256 of ``"<kind>:<value>"`` with the time of the erasure, never the
id itself. The spool writers call :func:`drop_erased`: a line carrying a tombstoned id and written
before the erasure is dropped; a click written after it by a browser still sending the erased
visitor cookie is stored as an anonymous click (no visitor), as for ``DNT: 1``. The conversion spool
calls :func:`drop_erased_conversions`: a queued conversion naming an erased customer key, site
visitor id or click id, received before the erasure, is dropped.
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from tracker.conversions.models import Conversion
from tracker.db import begin_write, utcnow
from tracker.errors import Conflict, NotFound, ValidationError
from tracker.people.models import PERSON_ID_LENGTH, Identity
from tracker.people.service import customer_hash
from tracker.privacy.models import ErasedId
from tracker.privacy.sql import one_of
from tracker.redirects.models import Click, LinkVisitor
from tracker.selfreports.models import SelfReport
from tracker.touchpoints.models import LandingVisit, OfflineTouch

__all__ = ["ERASED_KINDS", "drop_erased", "drop_erased_conversions", "erase_person", "erased", "find_person",
           "tombstone"]

# Removed per person, in this order (the counts are reported under these names).
ERASED_KINDS = ("clicks", "landing_visits", "offline_touches", "conversions", "self_reports", "identities",
                "link_visitors")
CHUNK = 5000  # ids per IN (...) list: a drain batch's click and visitor ids in one query


def tombstone(kind: str, value: str) -> str:
    """The stored form of an erased id: SHA-256 hex of ``"<kind>:<value>"``."""
    return hashlib.sha256(f"{kind}:{value}".encode()).hexdigest()


def _chunks(values: Iterable[str]) -> Iterable[list[str]]:
    values = sorted(set(values))
    for start in range(0, len(values), CHUNK):
        yield values[start:start + CHUNK]


def _lock_tombstones(session: Session, mode: str) -> None:
    """Order erasures and click drains: a drain batch holds ``SHARE``, an erasure ``SHARE ROW EXCLUSIVE``.

    An erasure waits for the drain batches in progress to commit, and batches started meanwhile wait
    for the erasure and then see its tombstones, so a click cannot be stored for a person while they
    are being erased. SQLite has one writer at a time: its write lock, taken up front, does the same.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.text(f"LOCK TABLE {ErasedId.__tablename__} IN {mode} MODE"))
    else:
        begin_write(session)


def find_person(session: Session, secret: bytes, key: str) -> str:
    """The person id named by ``key``: a person id, an e-mail or customer key, or any identity value.

    Raises
    ------
    ValidationError
        ``key`` is empty or too long.
    NotFound
        Nobody is known by it.
    Conflict
        It names several people (give the person id instead).
    """
    key = (key or "").strip()
    if not key or len(key) > 320 or not key.isprintable():
        raise ValidationError("give a person id, an e-mail address or customer key, or a visitor, site "
                              "visitor or click id (at most 320 printable characters)", "key")
    people: set[str] = set()
    if len(key) <= PERSON_ID_LENGTH:
        people.update(session.scalars(sa.select(Identity.person_id).where(Identity.person_id == key).limit(1)))
        for model in (Click, LandingVisit, Conversion, SelfReport, OfflineTouch):
            if not people:
                people.update(session.scalars(sa.select(model.person_id).where(model.person_id == key).limit(1)))
    if not people:
        values = [key] if len(key) <= 64 else []
        values.append(customer_hash(key, secret))
        people.update(session.scalars(sa.select(Identity.person_id).where(Identity.value.in_(values))))
        people.update(session.scalars(sa.select(Click.person_id).where(Click.tid == key[:32])))
        people.discard(None)  # type: ignore[arg-type]
    if not people:
        raise NotFound(f"no person is known by {key!r}", "key")
    if len(people) > 1:
        raise Conflict(f"{key!r} names {len(people)} people ({', '.join(sorted(people))}): erase them by "
                       "person id", "key")
    return people.pop()


def erase_person(session: Session, person_id: str, now: datetime | None = None) -> dict[str, int]:
    """Delete every row of ``person_id`` and tombstone their ids; commit once.

    Returns the number of rows removed per kind (:data:`ERASED_KINDS`).

    Raises
    ------
    NotFound
        No row carries ``person_id``.
    """
    if len(person_id) > PERSON_ID_LENGTH or not person_id.isprintable():
        raise NotFound(f"person {person_id[:PERSON_ID_LENGTH]!r} does not exist", "person_id")
    _lock_tombstones(session, "SHARE ROW EXCLUSIVE")
    now = now or utcnow()
    identities = session.execute(sa.select(Identity.kind, Identity.value).where(
        Identity.person_id == person_id)).all()
    clicks = session.execute(sa.select(Click.tid, Click.visitor_id).where(Click.person_id == person_id)).all()
    ids: set[tuple[str, str]] = {(kind, value) for kind, value in identities}
    ids.update(("click", tid) for tid, _ in clicks)
    ids.update(("visitor", vid) for _, vid in clicks if vid)
    for model in (LandingVisit, Conversion, SelfReport):
        chash_column = getattr(model, "customer_hash", sa.null())
        for site, chash, tid in session.execute(sa.select(model.site_visitor_id, chash_column, model.tid)
                                                .where(model.person_id == person_id)):
            ids.update(pair for pair in (("site", site), ("customer", chash), ("click", tid)) if pair[1])
    ids.update(("customer", chash) for chash in session.scalars(
        sa.select(OfflineTouch.customer_hash).where(OfflineTouch.person_id == person_id)))

    counts = dict.fromkeys(ERASED_KINDS, 0)
    for name, model in (("clicks", Click), ("landing_visits", LandingVisit), ("offline_touches", OfflineTouch),
                        ("conversions", Conversion), ("self_reports", SelfReport), ("identities", Identity)):
        counts[name] = session.execute(sa.delete(model).where(model.person_id == person_id)
                                       .execution_options(synchronize_session=False)).rowcount
    visitors = [value for kind, value in ids if kind == "visitor"]
    for chunk in _chunks(visitors):
        gone = sa.delete(LinkVisitor).where(one_of(session, LinkVisitor.visitor_id, chunk))
        counts["link_visitors"] += session.execute(gone.execution_options(synchronize_session=False)).rowcount
    if not any(counts.values()):
        session.rollback()
        raise NotFound(f"person {person_id} does not exist", "person_id")
    if ids:
        insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
        rows = [{"hash": tombstone(kind, value), "erased_at": now} for kind, value in sorted(ids)]
        stmt = insert(ErasedId)
        # Erased again (the same id came back after an earlier erasure): the later time counts.
        stmt = stmt.on_conflict_do_update(index_elements=["hash"], set_={"erased_at": stmt.excluded.erased_at})
        for start in range(0, len(rows), CHUNK):
            session.execute(stmt, rows[start:start + CHUNK])
    session.commit()
    return counts


def erased(session: Session, ids: Iterable[tuple[str, str]]) -> dict[tuple[str, str], datetime]:
    """Which of the (kind, value) ids belong to an erased person: id -> time of the erasure.

    For spool writers (the click drain uses :func:`drop_erased`): one indexed lookup per 5,000 ids,
    after one that finds the table empty while nobody has been erased.
    """
    if session.scalar(sa.select(ErasedId.hash).limit(1)) is None:
        return {}  # nobody erased: no hashing at all
    by_hash = {tombstone(kind, value): (kind, value) for kind, value in ids if value}
    found: dict[tuple[str, str], datetime] = {}
    for chunk in _chunks(by_hash):
        match = one_of(session, ErasedId.hash, chunk)
        for digest, when in session.execute(sa.select(ErasedId.hash, ErasedId.erased_at).where(match)):
            found[by_hash[digest]] = when
    return found


def drop_erased(session: Session, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Click spool lines minus those of erased people (see the module docstring).

    A line whose click id was erased (a replay of a line already drained, then erased) is dropped; a
    line whose visitor was erased is dropped if written before the erasure, and stored without its
    visitor if written after it.
    """
    # A line with a visitor is checked by its visitor (erasing a click tombstones its visitor too), a
    # line without one by its click id: one id per line, and repeat visitors only once.
    ids = {("visitor", rec["vid"]) if rec.get("vid") else ("click", rec["tid"])
           for rec in records if rec.get("t") != "orphan"}
    _lock_tombstones(session, "SHARE")  # until the batch commits
    found = erased(session, ids)
    if not found:
        return records
    kept = []
    for rec in records:
        if rec.get("t") == "orphan":
            kept.append(rec)
            continue
        if ("click", rec["tid"]) in found:
            continue
        when = found.get(("visitor", rec.get("vid") or ""))
        if when is not None:
            ts = datetime.fromisoformat(rec["ts"])
            if (ts if ts.tzinfo else ts.replace(tzinfo=UTC)) <= when:
                continue
            rec = {**rec, "vid": None}
        kept.append(rec)
    return kept


def _item_ids(item: dict[str, Any], secret: bytes) -> list[tuple[str, str]]:
    """The identity ids a spooled conversion names (its customer key hashed as stored)."""
    ids = [(kind, item[name]) for kind, name in (("site", "site_visitor_id"), ("click", "tid"))
           if isinstance(item.get(name), str) and item[name].strip()]
    key = item.get("customer_key")
    if isinstance(key, str) and key.strip():
        try:
            ids.append(("customer", customer_hash(key, secret)))
        except ValidationError:  # the service refuses it on its own (and dead-letters it)
            pass
    return ids


def drop_erased_conversions(session: Session, secret: bytes, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Conversion spool lines minus the conversions of people erased after the line was received.

    A line is ``{"sid", "received", "atomic", "items": [conversion, ...]}`` (tracker/conversions/spool.py);
    items naming an erased id are taken out, and a line left without items is dropped. Takes the
    tombstones' lock for the session's transaction: write the kept conversions in the same one.
    """
    _lock_tombstones(session, "SHARE")
    ids = [pair for rec in records for item in rec["items"] if isinstance(item, dict)
           for pair in _item_ids(item, secret)]
    found = erased(session, ids)
    if not found:
        return records
    kept = []
    for rec in records:
        received = datetime.fromisoformat(rec["received"])
        received = received if received.tzinfo else received.replace(tzinfo=UTC)
        items = [item for item in rec["items"] if not isinstance(item, dict) or not any(
            pair in found and found[pair] >= received for pair in _item_ids(item, secret))]
        if items:
            kept.append({**rec, "items": items})
    return kept
