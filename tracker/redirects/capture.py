"""Turn spooled click lines into rows: parse user agents (cached), insert once, update aggregates."""
from __future__ import annotations

import re
from collections import Counter
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from user_agents import parse as parse_ua

from tracker.redirects.models import Click, LinkDailyStat, LinkVisitor, OrphanVisit

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


def write_batch(session: Session, records: list[dict[str, Any]], tz: ZoneInfo) -> int:
    """Insert spooled records (ignoring tids already stored) and update aggregates; commit once.

    Returns the number of clicks that were new.
    """
    insert = _insert(session)
    clicks: list[dict[str, Any]] = []
    orphans: list[dict[str, Any]] = []
    for rec in records:
        ts = datetime.fromisoformat(rec["ts"])
        if ts.tzinfo is None:
            ts = ts.replace(tzinfo=timezone.utc)
        device = parse_device(rec.get("ua"))
        common = {
            "tid": rec["tid"], "ts": ts, "via": rec["via"], "referrer_host": rec.get("ref"),
            "user_agent": rec.get("ua"), "ip_hash": rec.get("ip"), "is_bot": device.is_bot,
        }
        if rec.get("t") == "orphan":
            orphans.append({**common, "code": rec["code"][:200]})
        else:
            clicks.append({
                **common, "link_id": rec["link"], "outcome": rec.get("outcome", "redirect"),
                "visitor_id": rec.get("vid"), "browser": device.browser, "os": device.os,
                "device_type": device.device_type, "utm_source": rec.get("us"), "utm_medium": rec.get("um"),
                "utm_campaign": rec.get("uc"), "utm_term": rec.get("ut"), "utm_content": rec.get("uo"),
            })
    new = 0
    if orphans:
        session.execute(insert(OrphanVisit).on_conflict_do_nothing(), orphans)
    if clicks:
        inserted = set(session.scalars(
            insert(Click).on_conflict_do_nothing().returning(Click.tid), clicks))
        fresh = [c for c in clicks if c["tid"] in inserted]
        new = len(fresh)
        _update_aggregates(session, insert, fresh, tz)
    session.commit()
    return new


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
        new_visitors = session.execute(
            insert(LinkVisitor).on_conflict_do_nothing().returning(
                LinkVisitor.link_id, LinkVisitor.via, LinkVisitor.visitor_id),
            rows).all()
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
