"""Turn spooled click lines into rows: parse user agents (cached), insert once, update aggregates."""
from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from user_agents import parse as parse_ua

from tracker.conversions.models import Conversion
from tracker.db import begin_write
from tracker.geo.lookup import MAX_CITY, normal_country
from tracker.geo.stats import update_country_stats
from tracker.people.models import Identity
from tracker.people.service import merge, new_person_id
from tracker.privacy.erasure import drop_erased
from tracker.redirects.models import Click, LinkDailyStat, LinkVisitor, OrphanVisit
from tracker.redirects.rules import MAX_RULES
from tracker.redirects.stats import update_rule_stats
from tracker.selfreports.models import SelfReport
from tracker.touchpoints.models import LandingVisit
from tracker.webhooks.events import record_clicks

# Link-preview fetchers and scripted clients that user-agents does not call bots.
PREVIEW_BOTS = re.compile(
    r"facebookexternalhit|facebookcatalog|slackbot|slack-imgproxy|twitterbot|whatsapp|linkedinbot|"
    r"discordbot|telegrambot|skypeuripreview|applebot|googlebot|google-inspectiontool|bingbot|"
    r"bingpreview|redditbot|embedly|pinterest|vkshare|iframely|mastodon|bluesky|curl/|wget/|"
    r"python-requests|python-urllib|httpx|go-http-client|libwww-perl|headlesschrome|ahrefs|semrush|"
    r"yandex|baiduspider|duckduckbot|petalbot|bytespider|gptbot|claudebot|crawler|spider",
    re.IGNORECASE)


class Device(NamedTuple):
    browser: str | None
    os: str | None
    device_type: str
    is_bot: bool


@lru_cache(maxsize=20_000)
def parse_device(user_agent: str | None) -> Device:
    """Parse a user agent into browser, OS, device type and bot flag (cached: few distinct agents)."""
    if not user_agent:
        return Device(None, None, "bot", True)
    ua = parse_ua(user_agent)
    is_bot = bool(ua.is_bot or PREVIEW_BOTS.search(user_agent))
    if is_bot:
        device_type = "bot"
    elif ua.is_tablet:
        device_type = "tablet"
    elif ua.is_mobile:
        device_type = "mobile"
    elif ua.is_pc:
        device_type = "pc"
    else:
        device_type = "other"
    return Device(ua.browser.family[:60] or None, ua.os.family[:60] or None, device_type, is_bot)


def _insert(session: Session):  # type: ignore[no-untyped-def]
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def _no_nul(value: str | None) -> str | None:
    # Header values are spooled as sent; a NUL in one (some servers pass it on) would make PostgreSQL
    # refuse the whole batch, and the drain would retry it for ever.
    return value.replace("\x00", "") if value and "\x00" in value else value


def write_batch(session: Session, records: list[dict[str, Any]], tz: ZoneInfo) -> int:
    """Insert spooled records (ignoring tids already stored) and update aggregates; commit once.

    Returns the number of clicks that were new.
    """
    insert = _insert(session)
    begin_write(session)  # SQLite: take the write lock now (see _insert_new_visitors)
    records = drop_erased(session, records)  # lines of people erased meanwhile bring nobody back
    clicks: list[dict[str, Any]] = []
    orphans: list[dict[str, Any]] = []
    ruled: dict[str, int] = {}  # tid -> redirect rule (-1: the default) of clicks on links that have rules
    for rec in records:
        ts = datetime.fromisoformat(rec["ts"])
        if ts.tzinfo is None:
            ts = ts.replace(tzinfo=UTC)
        ua = _no_nul(rec.get("ua"))
        device = parse_device(ua)
        common = {
            "tid": rec["tid"], "ts": ts, "via": rec["via"], "referrer_host": _no_nul(rec.get("ref")),
            "user_agent": ua, "ip_hash": rec.get("ip"), "is_bot": device.is_bot,
        }
        if rec.get("t") == "orphan":
            orphans.append({**common, "code": rec["code"][:200], "domain_id": rec.get("dom")})  # dom: tracker/domains
        else:
            rule = rec.get("rl")  # only clicks of links with redirect rules carry it (tracker/redirects/handler.py)
            if rule is not None:
                rule = ruled[rec["tid"]] = rule if type(rule) is int and -1 <= rule < MAX_RULES else -1
            clicks.append({
                **common, "link_id": rec["link"], "outcome": rec.get("outcome", "redirect"),
                "rule": rule if rule is not None and rule >= 0 else None,
                "visitor_id": rec.get("vid"), "browser": device.browser, "os": device.os,
                "device_type": device.device_type, "utm_source": rec.get("us"), "utm_medium": rec.get("um"),
                "utm_campaign": rec.get("uc"), "utm_term": rec.get("ut"), "utm_content": rec.get("uo"),
                # located by the handler before the address was hashed (tracker/geo); absent: unknown
                "country": normal_country(rec.get("country")),
                "city": (_no_nul(rec.get("city")) or "")[:MAX_CITY] or None,
            })
    new = 0
    # Core executemany on the tables (not ORM bulk inserts): one prepared statement, rows in a C loop.
    if orphans:
        session.execute(insert(OrphanVisit.__table__).on_conflict_do_nothing(), orphans)
    if clicks:
        # A line can come twice (a replay after a crash between commit and offset bookkeeping): only
        # tids not stored yet are inserted and counted. Segments have one reader at a time, so the
        # check cannot race with another writer of the same tid; the insert still ignores conflicts.
        by_tid = {c["tid"]: c for c in clicks}
        stored = set(session.scalars(sa.select(Click.tid).where(Click.tid.in_(list(by_tid)))))
        fresh = [c for tid, c in by_tid.items() if tid not in stored]
        _assign_people(session, insert, fresh)
        if fresh:
            session.execute(insert(Click.__table__).on_conflict_do_nothing(), fresh)
            _join_waiting(session, fresh)
        new = len(fresh)
        _update_aggregates(session, insert, fresh, tz)
        update_country_stats(session, insert, fresh, tz)  # link_country_stats, as link_daily_stats
        if ruled:  # link_rule_stats: only links with rules are counted, the others cost nothing here
            update_rule_stats(session, insert, [c for c in fresh if c["tid"] in ruled], ruled, tz)
        record_clicks(session, fresh)  # webhooks: click.recorded deliveries, in this transaction
    session.commit()
    return new


def _assign_people(session: Session, insert: Any, clicks: list[dict[str, Any]]) -> None:
    """Set ``person_id`` on new clicks: the person of the visitor cookie, a new person otherwise.

    A click without a visitor cookie is a person of its own, known by its click id.
    """
    vids = {c["visitor_id"] for c in clicks if c["visitor_id"]}
    people: dict[str, str] = {}
    if vids:
        people = {value: person for value, person in session.execute(
            sa.select(Identity.value, Identity.person_id).where(Identity.kind == "visitor",
                                                                Identity.value.in_(vids)))}
    new_identities = []
    for c in sorted(clicks, key=lambda c: c["ts"]):
        key = ("visitor", c["visitor_id"]) if c["visitor_id"] else ("click", c["tid"])
        person = people.get(key[1]) if key[0] == "visitor" else None
        if person is None:
            person = people[key[1]] = new_person_id()
            new_identities.append({"kind": key[0], "value": key[1], "person_id": person, "first_seen": c["ts"]})
        c["person_id"] = person
    if new_identities:
        session.execute(insert(Identity.__table__).on_conflict_do_nothing(), new_identities)


def _join_waiting(session: Session, clicks: list[dict[str, Any]]) -> None:
    """Landing visits, conversions and self-reports that arrived with a click's ``tid`` before the
    click left the spool: their people are merged into the click's person now."""
    person_of = {c["tid"]: c["person_id"] for c in clicks}
    for model in (LandingVisit, Conversion, SelfReport):
        rows = session.execute(sa.select(model.tid, model.person_id).where(model.tid.in_(list(person_of)))).all()
        for tid, person in rows:
            if person != person_of[tid]:
                survivor = min(person, person_of[tid])
                merge(session, survivor, {person, person_of[tid]})
                person_of = {t: (survivor if p in (person, person_of[tid]) else p) for t, p in person_of.items()}


def _insert_new_visitors(session: Session, insert: Any, rows: list[dict[str, Any]]) -> list[tuple[int, str, str]]:
    """Insert (link, via, visitor) rows not seen before; return the keys that were new.

    PostgreSQL says which rows it inserted (``RETURNING`` skips the conflicts), exact under concurrent
    drains. SQLite does that row by row and slowly; there the batch holds the database's write lock
    (``begin_write``), so reading which keys exist and then inserting the others is just as exact.
    """
    if session.get_bind().dialect.name == "postgresql":
        return [tuple(r) for r in session.execute(  # type: ignore[misc]
            insert(LinkVisitor).on_conflict_do_nothing().returning(
                LinkVisitor.link_id, LinkVisitor.via, LinkVisitor.visitor_id), rows)]
    keys = {(r["link_id"], r["via"], r["visitor_id"]) for r in rows}
    known = {tuple(row) for row in session.execute(
        sa.select(LinkVisitor.link_id, LinkVisitor.via, LinkVisitor.visitor_id)
        .where(LinkVisitor.visitor_id.in_({k[2] for k in keys})))}
    fresh = [k for k in keys if k not in known]
    if fresh:
        session.execute(insert(LinkVisitor.__table__).on_conflict_do_nothing(),
                        [{"link_id": k[0], "via": k[1], "visitor_id": k[2]} for k in fresh])
    return fresh


def _update_aggregates(session: Session, insert: Any, fresh: list[dict[str, Any]], tz: ZoneInfo) -> None:
    counts: Counter[tuple[int, Any, str, str]] = Counter()
    first_seen: dict[tuple[int, str, str], Any] = {}
    for c in sorted(fresh, key=lambda c: c["ts"]):
        day = c["ts"].astimezone(tz).date()
        if c["is_bot"]:
            counts[(c["link_id"], day, c["via"], "bots")] += 1
            continue
        counts[(c["link_id"], day, c["via"], "clicks")] += 1
        if c["visitor_id"]:
            first_seen.setdefault((c["link_id"], c["via"], c["visitor_id"]), day)
    if first_seen:
        rows = [{"link_id": k[0], "via": k[1], "visitor_id": k[2]} for k in first_seen]
        new_visitors = _insert_new_visitors(session, insert, rows)
        for link_id, via, visitor_id in new_visitors:
            counts[(link_id, first_seen[(link_id, via, visitor_id)], via, "uniques")] += 1
    per_day: dict[tuple[int, Any, str], dict[str, int]] = {}
    for (link_id, day, via, what), n in counts.items():
        per_day.setdefault((link_id, day, via), {"clicks": 0, "uniques": 0, "bots": 0})[what] += n
    if not per_day:
        return
    stmt = insert(LinkDailyStat)
    stmt = stmt.on_conflict_do_update(
        index_elements=["link_id", "day", "via"],
        set_={name: getattr(LinkDailyStat, name) + getattr(stmt.excluded, name)
              for name in ("clicks", "uniques", "bots")})
    session.execute(stmt, [{"link_id": k[0], "day": k[1], "via": k[2], **v} for k, v in sorted(per_day.items())])
