"""Pick a campaign's links for a printable sheet."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from tracker.config import Settings
from tracker.links.models import OFFLINE_KINDS, Link
from tracker.links.service import get_campaign
from tracker.qr.service import SheetItem, qr_sheet_pdf


def campaign_sheet(session: Session, settings: Settings, campaign_id: str, paper: str = "a4",
                   include_online: bool = False) -> tuple[str, bytes]:
    """Return (file name, PDF bytes) of the campaign's offline links (all links with ``include_online``)."""
    campaign = get_campaign(session, campaign_id)
    stmt = sa.select(Link).where(Link.campaign_id == campaign.id, Link.disabled.is_(False)).order_by(Link.id)
    if not include_online:
        stmt = stmt.where(Link.kind.in_(OFFLINE_KINDS))
    base = settings.public_base_url
    items = [SheetItem(url=f"{base}/q/{link.code}", label=link.label or link.code,
                       caption=f"{base}/r/{link.code}".split("://", 1)[-1])
             for link in session.scalars(stmt)]
    return f"{campaign.slug}-qr-sheet.pdf", qr_sheet_pdf(items, title=campaign.name, paper=paper)
