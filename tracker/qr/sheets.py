"""Pick a campaign's links for a printable sheet."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from tracker.config import Settings
from tracker.domains.service import qr_url, short_url
from tracker.links.models import OFFLINE_KINDS, Link
from tracker.links.service import get_campaign
from tracker.qr.branding import DEFAULT, default_logo_id, logo_image, logo_override
from tracker.qr.service import SheetItem, parse_caption, qr_sheet_pdf


def campaign_sheet(session: Session, settings: Settings, campaign_id: str, paper: str = "a4",
                   include_online: bool = False, logo: object = None, caption: object = None) -> tuple[str, bytes]:
    """Return (file name, PDF bytes) of the campaign's offline links (all links with ``include_online``).

    Each code carries its link's logo, else the campaign's (``logo``: an asset id for every code, or
    ``none`` for no logo); ``caption`` is a call to action printed under every code.
    """
    campaign = get_campaign(session, campaign_id)
    chosen = logo_override(session, logo)
    call_to_action = parse_caption(caption)
    stmt = sa.select(Link).where(Link.campaign_id == campaign.id, Link.disabled.is_(False)).order_by(Link.id)
    if not include_online:
        stmt = stmt.where(Link.kind.in_(OFFLINE_KINDS))
    items = []
    for link in session.scalars(stmt):  # each code on its link's short-link domain (tracker/domains)
        asset_id = default_logo_id(link, campaign) if chosen is DEFAULT else chosen
        items.append(SheetItem(url=qr_url(link, settings), label=link.label or link.code,
                               caption=short_url(link, settings).split("://", 1)[-1],
                               logo=logo_image(session, asset_id),  # type: ignore[arg-type]
                               call_to_action=call_to_action))
    return f"{campaign.slug}-qr-sheet.pdf", qr_sheet_pdf(items, title=campaign.name, paper=paper)
