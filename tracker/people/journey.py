"""A person's journey: every click, scan, landing visit, offline touch, self-report and conversion.

Items are plain dicts with ``kind`` (``click``, ``scan``, ``landing_visit``, ``offline``,
``self_report``, ``conversion``), ``id`` and ``ts``, ordered by ``(ts, kind, id)`` so equal
timestamps always come out in the same order. Landing visits that carried the ``tid`` of a recorded
click have ``is_touch`` false: they only linked identities (the click is the touch).
"""
from __future__ import annotations

from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.orm import Session

from attribution.channels import channel_of
from attribution.selfreports import tie_answers
from tracker.config import Settings
from tracker.conversions.models import Conversion
from tracker.domains.models import Domain
from tracker.links.models import Campaign, Link
from tracker.people.service import require_person
from tracker.redirects.models import Click
from tracker.selfreports import service as answers
from tracker.selfreports.models import SelfReport
from tracker.touchpoints.collect import landing_channel
from tracker.touchpoints.models import LandingVisit, OfflineTouch

__all__ = ["JOURNEY_KINDS", "person_journey"]

JOURNEY_KINDS = ("click", "scan", "landing_visit", "offline", "self_report", "conversion")
MAX_ITEMS = 5000  # per kind: a person with more is a bot or a shared device


def person_journey(session: Session, settings: Settings, person_id: str) -> list[dict[str, Any]]:
    """Return the person's items in time order; raise NotFound for an unknown person."""
    require_person(session, person_id)
    taxonomy = settings.taxonomy.as_dict()
    items: list[dict[str, Any]] = []

    clicks = session.execute(
        sa.select(Click, Link.code, Campaign.slug, Domain.host).join(Link, Click.link_id == Link.id)
        .outerjoin(Campaign, Link.campaign_id == Campaign.id).outerjoin(Domain, Link.domain_id == Domain.id)
        .where(Click.person_id == person_id).order_by(Click.ts, Click.tid).limit(MAX_ITEMS))
    for click, code, campaign, host in clicks:
        items.append({
            "kind": "scan" if click.via == "qr" else "click", "id": click.tid, "ts": click.ts,
            "via": click.via, "link_code": code, "link_domain": host, "campaign": campaign, "outcome": click.outcome,
            "utm_source": click.utm_source, "utm_medium": click.utm_medium, "utm_campaign": click.utm_campaign,
            "utm_term": click.utm_term, "utm_content": click.utm_content, "is_bot": click.is_bot,
            "channel": channel_of(click.utm_source, click.utm_medium, taxonomy), "is_touch": True,
        })

    for visit in session.scalars(sa.select(LandingVisit).where(LandingVisit.person_id == person_id)
                                 .order_by(LandingVisit.ts, LandingVisit.id).limit(MAX_ITEMS)):
        items.append({
            "kind": "landing_visit", "id": visit.id, "ts": visit.ts, "page": visit.page, "tid": visit.tid,
            "referrer_host": visit.referrer_host, "utm_source": visit.utm_source, "utm_medium": visit.utm_medium,
            "utm_campaign": visit.utm_campaign, "is_bot": visit.is_bot, "is_touch": visit.is_touch,
            "channel": landing_channel(visit, settings.taxonomy),
        })

    touches = session.execute(
        sa.select(OfflineTouch, Campaign.slug).outerjoin(Campaign, OfflineTouch.campaign_id == Campaign.id)
        .where(OfflineTouch.person_id == person_id).order_by(OfflineTouch.ts, OfflineTouch.id).limit(MAX_ITEMS))
    for touch, campaign in touches:
        medium = None if touch.kind == "other" else touch.kind
        items.append({
            "kind": "offline", "id": touch.id, "ts": touch.ts, "touch_kind": touch.kind, "campaign": campaign,
            "label": touch.label, "utm_source": touch.utm_source, "is_touch": True,
            "channel": touch.channel or (channel_of(touch.utm_source, medium, taxonomy) if medium else "Other"),
        })

    match_with = answers.matcher(session, settings)
    for report in session.scalars(sa.select(SelfReport).where(SelfReport.person_id == person_id)
                                  .order_by(SelfReport.ts, SelfReport.id).limit(MAX_ITEMS)):
        answer = answers.channel_of(settings, report, match_with)
        items.append({
            "kind": "self_report", "id": report.id, "ts": report.ts, "option": report.option, "text": report.text,
            "language": report.language, "conversion_external_id": report.conversion_external_id,
            "via": report.via, "is_touch": False, "channel": answer.channel,
            "matched_phrase": answer.match.phrase if answer.match else None,
        })

    for conversion in session.scalars(sa.select(Conversion).where(Conversion.person_id == person_id)
                                      .order_by(Conversion.ts, Conversion.id).limit(MAX_ITEMS)):
        items.append({
            "kind": "conversion", "id": conversion.id, "ts": conversion.ts, "type": conversion.type,
            "external_id": conversion.external_id, "value": str(conversion.value),
            "currency": settings.reporting_currency, "is_touch": False,
        })

    _tie_answers(items)
    # Within one kind the ids have one type (click ids are strings, the others integers).
    items.sort(key=lambda item: (item["ts"], item["kind"], item["id"]))
    return items


def _tie_answers(items: list[dict[str, Any]]) -> None:
    """Give each conversion item the self-reported channel tied to it (by its id, else nearest in time)."""
    conversions = [i for i in items if i["kind"] == "conversion"]
    reports = [i for i in items if i["kind"] == "self_report"]
    if not conversions or not reports:
        return
    tied = tie_answers(
        pd.DataFrame({"conversion_id": [c["id"] for c in conversions], "person_id": "p",
                      "ts": pd.to_datetime([c["ts"] for c in conversions], utc=True),
                      "external_id": [c["external_id"] for c in conversions]}),
        pd.DataFrame({"answer_id": [r["id"] for r in reports], "person_id": "p",
                      "ts": pd.to_datetime([r["ts"] for r in reports], utc=True),
                      "channel": [r["channel"] for r in reports],
                      "conversion_external_id": [r["conversion_external_id"] for r in reports]}))
    for item, channel, how in zip(conversions, tied["answer_channel"], tied["tied_by"], strict=True):
        item["self_reported_channel"] = None if pd.isna(channel) else channel
        item["answer_tied_by"] = None if pd.isna(how) else how
