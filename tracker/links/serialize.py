"""Turn links and campaigns into the API's dictionaries."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.orm import Session

from attribution.channels import assign_channels
from tracker.config import Settings
from tracker.domains.service import host_of_domain, qr_url, short_url
from tracker.geo.stats import countries_by_link
from tracker.links.models import Campaign, Link
from tracker.links.service import tracked_url
from tracker.redirects.stats import link_totals, rule_stats


def link_urls(link: Link, settings: Settings) -> dict[str, str]:
    """The link's short and QR URLs on its domain (tracker/domains), and its tracked URL."""
    return {"short_url": short_url(link, settings), "qr_url": qr_url(link, settings),
            "tracked_url": tracked_url(link)}


def links_out(session: Session, settings: Settings, links: Sequence[Link],
              history: bool = False) -> list[dict[str, Any]]:
    """Serialize links with their URLs, derived channel and click/scan totals."""
    if not links:
        return []
    totals = link_totals(session, [link.id for link in links])
    countries = countries_by_link(session, [link.id for link in links])  # link_country_stats, one query
    per_rule = rule_stats(session, links, settings.tz)  # link_rule_stats, one query for the links with rules
    channels = assign_channels(
        pd.DataFrame({"utm_source": [lk.utm_source for lk in links], "utm_medium": [lk.utm_medium for lk in links]}),
        settings.taxonomy.as_dict())
    out = []
    for link, channel in zip(links, channels, strict=False):
        item: dict[str, Any] = {
            "id": link.id, "code": link.code, "domain": host_of_domain(link.domain, settings),
            "default_domain": link.domain is None, **link_urls(link, settings), "destination": link.destination,
            "campaign": link.campaign.slug if link.campaign else None, "campaign_id": link.campaign_id,
            "utm_source": link.utm_source, "utm_medium": link.utm_medium, "utm_campaign": link.utm_campaign,
            "utm_term": link.utm_term, "utm_content": link.utm_content, "extra_params": link.extra_params or {},
            "kind": link.kind, "label": link.label, "experiment": link.experiment, "variant": link.variant,
            "logo": link.logo_asset_id,
            "expires_at": link.expires_at, "disabled": link.disabled,
            "channel": channel, "created_at": link.created_at,
            "rules": link.rules or [], "rules_changed_at": link.rules_changed_at,
            "stats": {**totals[link.id], "countries": countries[link.id], "rules": per_rule[link.id]},
        }
        if history:
            item["history"] = [{"destination": h.destination, "changed_at": h.changed_at} for h in link.history]
        out.append(item)
    return out


def campaign_out(session: Session, campaign: Campaign) -> dict[str, Any]:
    count = session.scalar(sa.select(sa.func.count()).select_from(Link).where(Link.campaign_id == campaign.id))
    return {
        "id": campaign.id, "name": campaign.name, "slug": campaign.slug, "description": campaign.description,
        "start_date": campaign.start_date, "end_date": campaign.end_date, "fallback_url": campaign.fallback_url,
        "logo": campaign.logo_asset_id,
        "created_at": campaign.created_at, "link_count": count or 0,
        "costs": [{"id": c.id, "date": c.date, "amount": str(c.amount), "currency": c.currency,
                   "channel": c.channel} for c in campaign.costs],
    }
