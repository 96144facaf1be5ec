"""Click and scan counts read from the daily aggregates (never from the click rows), and the per-rule counts."""
from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session

from tracker.links.models import Link
from tracker.redirects.models import LinkDailyStat, LinkRuleStat

EMPTY = {"clicks": 0, "unique_clicks": 0, "scans": 0, "unique_scans": 0, "bots": 0}


def link_totals(session: Session, link_ids: Iterable[int]) -> dict[int, dict[str, int]]:
    """Return per link: human clicks, unique clickers, scans, unique scanners, and bot hits."""
    ids = list(link_ids)
    totals: dict[int, dict[str, int]] = {i: dict(EMPTY) for i in ids}
    if not ids:
        return totals
    rows = session.execute(
        sa.select(LinkDailyStat.link_id, LinkDailyStat.via, sa.func.sum(LinkDailyStat.clicks),
                  sa.func.sum(LinkDailyStat.uniques), sa.func.sum(LinkDailyStat.bots))
        .where(LinkDailyStat.link_id.in_(ids)).group_by(LinkDailyStat.link_id, LinkDailyStat.via))
    for link_id, via, clicks, uniques, bots in rows:
        t = totals[link_id]
        if via == "qr":
            t["scans"] += int(clicks)
            t["unique_scans"] += int(uniques)
        else:
            t["clicks"] += int(clicks)
            t["unique_clicks"] += int(uniques)
        t["bots"] += int(bots)
    return totals


def daily_series(session: Session, *, link_id: int | None = None, campaign_id: int | None = None,
                 today: date, days: int = 30) -> list[dict[str, Any]]:
    """Return one row per day (oldest first, gaps filled with zeros) of clicks and scans.

    ``today`` is the last day, in the report time zone the aggregates' days are counted in.
    """
    start = today - timedelta(days=days - 1)
    stmt = (sa.select(LinkDailyStat.day, LinkDailyStat.via, sa.func.sum(LinkDailyStat.clicks),
                      sa.func.sum(LinkDailyStat.uniques))
            .where(LinkDailyStat.day >= start, LinkDailyStat.day <= today)
            .group_by(LinkDailyStat.day, LinkDailyStat.via))
    if link_id is not None:
        stmt = stmt.where(LinkDailyStat.link_id == link_id)
    if campaign_id is not None:
        stmt = stmt.where(LinkDailyStat.link_id.in_(sa.select(Link.id).where(Link.campaign_id == campaign_id)))
    by_day: dict[date, dict[str, int]] = defaultdict(lambda: {"clicks": 0, "scans": 0, "uniques": 0})
    for day, via, clicks, uniques in session.execute(stmt):
        by_day[day]["scans" if via == "qr" else "clicks"] += int(clicks)
        by_day[day]["uniques"] += int(uniques)
    return [{"day": (start + timedelta(days=i)).isoformat(), **by_day[start + timedelta(days=i)]}
            for i in range(days)]


def update_rule_stats(session: Session, insert: Any, clicks: Sequence[Mapping[str, Any]], rules: Mapping[str, int],
                      tz: ZoneInfo) -> None:
    """Add new clicks of links with redirect rules to ``link_rule_stats`` (the click drain, in its transaction).

    ``clicks``: rows as the drain inserts them; ``rules``: tid -> the rule that sent the click (-1: the
    link's own destination). Human clicks and scans together (bots are left out), per link, day in the
    report time zone (the day ``link_daily_stats`` counts them on) and rule.
    """
    counts: Counter[tuple[int, date, int]] = Counter(
        (c["link_id"], c["ts"].astimezone(tz).date(), rules[c["tid"]]) for c in clicks if not c["is_bot"])
    if not counts:
        return
    stmt = insert(LinkRuleStat)
    stmt = stmt.on_conflict_do_update(index_elements=["link_id", "day", "rule"],
                                      set_={"clicks": LinkRuleStat.clicks + stmt.excluded.clicks})
    # Sorted keys: concurrent drains (PostgreSQL) lock the rows in one order, so they cannot deadlock.
    session.execute(stmt, [{"link_id": k[0], "day": k[1], "rule": k[2], "clicks": n}
                           for k, n in sorted(counts.items())])


def rule_stats(session: Session, links: Sequence[Link], tz: ZoneInfo) -> dict[int, list[dict[str, Any]]]:
    """Per link id: one row per redirect rule and one for the default, with its human clicks and scans.

    Each row: ``rule`` (the rule's index; None for the link's own destination, last), ``destination``
    and ``clicks``, counted on the days since the rules last changed (``rules_changed_at``, its day in
    the report time zone, that day included: clicks of the rules before the change on that day count
    too). Links without rules get an empty list. One query for all the links given.
    """
    out: dict[int, list[dict[str, Any]]] = {link.id: [] for link in links}
    ruled = [link for link in links if link.rules]
    if not ruled:
        return out
    since = {link.id: (link.rules_changed_at or link.created_at).astimezone(tz).date() for link in ruled}
    rows = session.execute(
        sa.select(LinkRuleStat.link_id, LinkRuleStat.rule, sa.func.sum(LinkRuleStat.clicks))
        .where(sa.or_(*(sa.and_(LinkRuleStat.link_id == link_id, LinkRuleStat.day >= day)
                        for link_id, day in since.items())))
        .group_by(LinkRuleStat.link_id, LinkRuleStat.rule))
    counted = {(link_id, rule): int(clicks) for link_id, rule, clicks in rows}
    for link in ruled:
        out[link.id] = [{"rule": i, "destination": rule["destination"], "clicks": counted.get((link.id, i), 0)}
                        for i, rule in enumerate(link.rules)]
        out[link.id].append({"rule": None, "destination": link.destination, "clicks": counted.get((link.id, -1), 0)})
    return out
