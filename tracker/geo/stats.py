"""``link_country_stats``: clicks and scans per link, day, way and country, kept and read like the daily stats.

The click drain (:func:`tracker.redirects.capture.write_batch`) calls :func:`update_country_stats` in
its transaction with the clicks that were new, so a replayed spool line is counted once. Unknown
countries are counted under :data:`UNKNOWN_KEY` (``"--"``). Human clicks and bot hits are counted
apart, as in ``link_daily_stats``. The rows hold no personal data: erasing a person and the
retention purge keep them, as they keep the daily stats (docs/guides/site-owner.md#privacy).
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session

from tracker.geo.lookup import country_name, normal_country
from tracker.links.models import Link
from tracker.redirects.models import LinkCountryStat

__all__ = ["UNKNOWN_KEY", "country_rows", "countries_by_link", "update_country_stats"]

UNKNOWN_KEY = "--"


def update_country_stats(session: Session, insert: Any, clicks: list[dict[str, Any]], tz: ZoneInfo) -> None:
    """Add new click rows (dicts as ``write_batch`` inserts them) to ``link_country_stats``."""
    counts: Counter[tuple[int, date, str, str, str]] = Counter()
    for c in clicks:
        day = c["ts"].astimezone(tz).date()
        counts[(c["link_id"], day, c["via"], c.get("country") or UNKNOWN_KEY, "bots" if c["is_bot"] else "clicks")] += 1
    rows: dict[tuple[int, date, str, str], dict[str, int]] = {}
    for (link_id, day, via, country, what), n in counts.items():
        rows.setdefault((link_id, day, via, country), {"clicks": 0, "bots": 0})[what] += n
    if not rows:
        return
    stmt = insert(LinkCountryStat)
    stmt = stmt.on_conflict_do_update(
        index_elements=["link_id", "day", "via", "country"],
        set_={name: getattr(LinkCountryStat, name) + getattr(stmt.excluded, name) for name in ("clicks", "bots")})
    # Sorted keys: concurrent drains (PostgreSQL) lock the rows in one order, so they cannot deadlock.
    session.execute(stmt, [{"link_id": k[0], "day": k[1], "via": k[2], "country": k[3], **v}
                           for k, v in sorted(rows.items())])


def _rows(session: Session, where: list[sa.ColumnElement[bool]], by_link: bool,
          since: date | None = None) -> list[tuple[Any, ...]]:
    columns = [LinkCountryStat.link_id] if by_link else []
    stmt = (sa.select(*columns, LinkCountryStat.country, LinkCountryStat.via, sa.func.sum(LinkCountryStat.clicks),
                      sa.func.sum(LinkCountryStat.bots))
            .where(*where).group_by(*columns, LinkCountryStat.country, LinkCountryStat.via))
    if since is not None:
        stmt = stmt.where(LinkCountryStat.day >= since)
    return [tuple(row) for row in session.execute(stmt)]


def _table(rows: Iterable[tuple[str, str, int, int]]) -> list[dict[str, Any]]:
    """Per country: clicks, scans, their total and bot hits; most first, unknown last."""
    by: dict[str, dict[str, Any]] = {}
    for key, via, clicks, bots in rows:
        code = normal_country(key)
        item = by.setdefault(code or UNKNOWN_KEY, {"country": code, "name": country_name(code), "clicks": 0,
                                                   "scans": 0, "total": 0, "bots": 0})
        item["scans" if via == "qr" else "clicks"] += int(clicks or 0)
        item["total"] += int(clicks or 0)
        item["bots"] += int(bots or 0)
    return sorted(by.values(), key=lambda r: (r["country"] is None, -r["total"], -r["bots"], r["name"]))


def country_rows(session: Session, *, link_id: int | None = None, campaign_id: int | None = None,
                 since: date | None = None) -> list[dict[str, Any]]:
    """Clicks and scans per country of one link or of a campaign's links (all days, or from ``since``).

    Each row: ``country`` (alpha-2, None for unknown), ``name``, ``clicks``, ``scans``, ``total`` (both)
    and ``bots``; the most visited country first, unknown last.
    """
    if (link_id is None) == (campaign_id is None):
        raise ValueError("give link_id or campaign_id")
    where = [LinkCountryStat.link_id == link_id] if link_id is not None else [
        LinkCountryStat.link_id.in_(sa.select(Link.id).where(Link.campaign_id == campaign_id))]
    return _table(_rows(session, where, by_link=False, since=since))  # type: ignore[arg-type]


def countries_by_link(session: Session, link_ids: Iterable[int]) -> dict[int, list[dict[str, Any]]]:
    """Per link id: its :func:`country_rows` without ``name`` and ``total`` (for the API), in one query."""
    ids = list(link_ids)
    grouped: dict[int, list[tuple[str, str, int, int]]] = {i: [] for i in ids}
    if ids:
        for link_id, country, via, clicks, bots in _rows(session, [LinkCountryStat.link_id.in_(ids)], by_link=True):
            grouped[link_id].append((country, via, clicks, bots))
    return {i: [{k: r[k] for k in ("country", "clicks", "scans", "bots")} for r in _table(rows)]
            for i, rows in grouped.items()}
