"""Click and scan counts read from the daily aggregates (never from the click rows)."""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from tracker.links.models import Link
from tracker.redirects.models import LinkDailyStat

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
