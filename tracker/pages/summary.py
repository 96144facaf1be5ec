"""Per-campaign link counts and click/scan totals for the pages, read from the daily aggregates."""
from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.orm import Session

from tracker.links.models import Link
from tracker.redirects.models import LinkDailyStat

__all__ = ["campaign_totals"]


def campaign_totals(session: Session, campaign_ids: Iterable[int]) -> dict[int, dict[str, int]]:
    """Return per campaign: its number of links, human clicks, scans and bot hits.

    Two grouped queries whatever the number of links (never reads click rows). Unique visitors are
    left out on purpose: they are counted per link, so their sum over a campaign would count a
    person who used two of its links twice.
    """
    ids = list(campaign_ids)
    totals = {i: {"links": 0, "clicks": 0, "scans": 0, "bots": 0} for i in ids}
    if not ids:
        return totals
    links = session.execute(sa.select(Link.campaign_id, sa.func.count())
                            .where(Link.campaign_id.in_(ids)).group_by(Link.campaign_id))
    for campaign_id, count in links:
        totals[campaign_id]["links"] = int(count)
    stats = session.execute(
        sa.select(Link.campaign_id, LinkDailyStat.via, sa.func.sum(LinkDailyStat.clicks),
                  sa.func.sum(LinkDailyStat.bots))
        .join(Link, Link.id == LinkDailyStat.link_id)
        .where(Link.campaign_id.in_(ids))
        .group_by(Link.campaign_id, LinkDailyStat.via))
    for campaign_id, via, clicks, bots in stats:
        t = totals[campaign_id]
        t["scans" if via == "qr" else "clicks"] += int(clicks or 0)
        t["bots"] += int(bots or 0)
    return totals
