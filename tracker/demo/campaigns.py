"""The demo's campaigns, their links and costs: the data set, and loading it through the link services.

Campaign dates are placed relative to the day the demo is first loaded; campaigns, links and costs are
looked up before they are created, so loading again adds nothing.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, Literal
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session

from tracker.config import Settings
from tracker.demo.common import CHAT_BOTS, CURRENCY, SITE
from tracker.errors import Conflict
from tracker.links.models import Campaign, Link
from tracker.links.service import add_cost, create_campaign, create_link

DEMO_MARK = "Demo data"  # campaign descriptions start with it; other campaigns are never touched
EXPO_SLUG = "oslo-expo-2026"


@dataclass(frozen=True)
class LinkSpec:
    """One demo link; ``weight`` is its relative share of all demo traffic (over its active days)."""

    label: str
    kind: str
    source: str
    medium: str
    path: str
    weight: float
    content: str | None = None
    term: str | None = None
    slug: str | None = None
    expires_after_end: int | None = None  # days after the campaign's end date
    experiment: str | None = None    # an A/B test: the links of one experiment are its arms
    variant: str | None = None


@dataclass(frozen=True)
class CampaignSpec:
    """One demo campaign: its dates (relative to the day of loading), links, costs and audience."""

    name: str
    slug: str
    description: str
    start: int                       # days before today
    length: int | None               # days; None: open-ended
    weekday: int | None              # move the start back to this weekday (0 = Monday)
    pattern: Literal["expo", "sends", "steady", "launch"]
    links: tuple[LinkSpec, ...]
    costs: tuple[tuple[int, str, str], ...]  # (days after the start, amount in NOK, channel)
    sends: tuple[int, ...] = ()      # days after the start (pattern "sends")
    tau: float = 1.0                 # days of decay after a send or launch
    tail: float = 0.0                # days of decay after the end (codes stay up, flyers are kept)
    tail_level: float = 0.15         # activity just after the end, relative to an ordinary day
    mobile: float = 0.55             # share of phones among clicks that are not scans
    bots: float = 0.06               # share of bot hits among clicks that are not scans
    bot_mix: tuple[tuple[str, float], ...] = CHAT_BOTS
    referrers: tuple[tuple[str | None, float], ...] = ((None, 1.0),)


LINKEDIN_REFERRERS = (("www.linkedin.com", 0.55), ("com.linkedin.android", 0.2), ("lnkd.in", 0.1),
                      (None, 0.15))

CAMPAIGNS: tuple[CampaignSpec, ...] = (
    CampaignSpec(
        name="Oslo Expo 2026", slug="oslo-expo-2026",
        description="three days at the trade fair in Lillestrøm: booth 12, flyers, badges and a keynote",
        start=26, length=3, weekday=1, pattern="expo", tail=4.0, tail_level=1.0, mobile=0.6, bots=0.1,
        links=(
            LinkSpec("Booth 12, Oslo Expo", "event", "oslo-expo", "event", "/demo", 6.0, content="booth-12"),
            LinkSpec("Booth 12 demo screen, Oslo Expo", "event", "oslo-expo", "event", "/demo", 3.0,
                     content="demo-screen"),
            # Two flyer designs handed out side by side: an A/B test (B's offer brings more leads, visits.py).
            LinkSpec("Flyer A5, Oslo Expo", "print", "oslo-expo", "flyer", "/expo", 4.0, content="flyer-a5",
                     experiment="expo-flyer", variant="A"),
            LinkSpec("Flyer A5 with offer, Oslo Expo", "print", "oslo-expo", "flyer", "/expo", 4.0,
                     content="flyer-a5-b", experiment="expo-flyer", variant="B"),
            LinkSpec("Early-bird offer flyer, Oslo Expo", "print", "oslo-expo", "flyer", "/expo/offer", 2.0,
                     content="early-bird", expires_after_end=10),
            LinkSpec("Badge lanyard, Oslo Expo", "event", "oslo-expo", "event", "/", 2.0, content="lanyard"),
            LinkSpec("Keynote slide, Hall B, Oslo Expo", "event", "oslo-expo", "event", "/talks/keynote", 3.5,
                     content="keynote-slide"),
            LinkSpec("Sales team business cards", "other", "business-card", "print", "/contact", 1.0),
            LinkSpec("Expo announcement, LinkedIn post", "online", "linkedin", "social", "/expo", 1.5,
                     content="announcement"),
        ),
        costs=((-45, "45000", "Events"), (-10, "6200", "Print"), (-3, "28500", "Events"),
               (0, "12800", "Events")),
        referrers=LINKEDIN_REFERRERS,
    ),
    CampaignSpec(
        name="Spring newsletter", slug="spring-newsletter",
        description="the customer newsletter, sent twice four weeks apart",
        start=47, length=42, weekday=1, pattern="sends", sends=(0, 28), tau=1.0, mobile=0.45, bots=0.08,
        bot_mix=(("mailscanner", 0.8), ("google", 0.1), ("slack", 0.1)),
        links=(
            LinkSpec("Header button", "online", "newsletter", "email", "/spring", 7.0,
                     content="header-button"),
            LinkSpec("Case study: Bergen Havn", "online", "newsletter", "email", "/cases/bergen-havn", 3.0,
                     content="case-study"),
            LinkSpec("Footer link", "online", "newsletter", "email", "/", 1.0, content="footer"),
        ),
        costs=((0, "1490", "Email"), (28, "1490", "Email")),
        referrers=((None, 0.7), ("mail.google.com", 0.15), ("outlook.live.com", 0.1),
                   ("outlook.office.com", 0.05)),
    ),
    CampaignSpec(
        name="Tech Talk podcast read-out", slug="tech-talk-podcast",
        description="host read-out in two episodes; listeners type the short link read aloud",
        start=38, length=28, weekday=0, pattern="sends", sends=(0, 14), tau=4.0, mobile=0.7, bots=0.05,
        links=(
            # Spoken links are typed, not scanned: a short word without look-alike letters.
            LinkSpec("Host read-out, Tech Talk", "podcast", "tech-talk", "podcast", "/podcast", 4.0,
                     slug="techtalk"),
            LinkSpec("Show notes, Tech Talk", "online", "tech-talk", "podcast", "/podcast", 1.5,
                     content="show-notes"),
        ),
        costs=((0, "18000", "Podcast"), (14, "18000", "Podcast")),
        referrers=(("open.spotify.com", 0.4), ("podcasts.apple.com", 0.3), ("techtalk.example", 0.1),
                   (None, 0.2)),
    ),
    CampaignSpec(
        name="Bergen poster campaign", slug="bergen-posters",
        description="four weeks of posters at Bybanen stops and the bus station, and partner table cards",
        start=42, length=28, weekday=0, pattern="steady", tail=3.0, mobile=0.8,
        links=(
            LinkSpec("Poster, Byparken light rail stop", "outdoor", "bybanen", "outdoor", "/bergen", 3.0,
                     content="byparken"),
            LinkSpec("Poster, Bergen bus station", "outdoor", "bergen-busstasjon", "outdoor", "/bergen", 2.0,
                     content="busstasjon"),
            LinkSpec("Poster, Bryggen", "outdoor", "bryggen", "poster", "/bergen", 2.5, content="bryggen"),
            LinkSpec("Table card, Bergen Næringsråd members' café", "partner", "bergen-naeringsrad",
                     "partner", "/bergen/partners", 1.2, content="table-card"),
        ),
        costs=((-7, "9800", "Print"), (0, "32000", "Print"), (0, "4500", "Partner")),
    ),
    CampaignSpec(
        name="Brand search", slug="brand-search",
        description="always-on Google Ads on the brand name and close competitors",
        start=150, length=None, weekday=None, pattern="steady", mobile=0.5, bots=0.04,
        bot_mix=(("google", 0.7), ("bing", 0.3)),
        links=(
            LinkSpec("Brand keywords", "online", "google", "cpc", "/", 14.0, term="nordlys analytics",
                     content="brand"),
            LinkSpec("Competitor keywords", "online", "google", "cpc", "/compare", 5.0,
                     term="attribution software", content="competitor"),
        ),
        costs=((0, "9500", "Paid search"), (30, "11200", "Paid search"), (60, "10400", "Paid search"),
               (90, "12100", "Paid search"), (120, "11800", "Paid search"), (150, "12500", "Paid search")),
        referrers=(("www.google.com", 0.55), ("www.google.no", 0.45)),
    ),
    CampaignSpec(
        name="LinkedIn launch", slug="linkedin-launch",
        description="sponsored posts and message ads for the product launch, plus the printed press kit",
        start=21, length=35, weekday=2, pattern="launch", tau=5.0, mobile=0.65, bots=0.12,
        bot_mix=(("linkedin", 0.6), ("slack", 0.25), ("twitter", 0.15)),
        links=(
            LinkSpec("Sponsored post, video", "online", "linkedin", "paid-social", "/launch", 8.0,
                     content="video"),
            LinkSpec("Sponsored post, carousel", "online", "linkedin", "paid-social", "/launch", 5.0,
                     content="carousel"),
            LinkSpec("Message ad", "online", "linkedin", "paid-social", "/launch/demo", 2.0,
                     content="message-ad"),
            LinkSpec("Press kit QR, launch", "pr", "press-kit", "pr", "/press", 0.8, content="press-kit"),
        ),
        costs=((0, "7500", "Paid social"), (7, "7500", "Paid social"), (14, "7500", "Paid social"),
               (21, "7500", "Paid social"), (28, "7500", "Paid social"), (-2, "3900", "PR")),
        referrers=LINKEDIN_REFERRERS,
    ),
)


def ensure_campaign(session: Session, settings: Settings, spec: CampaignSpec,
                    today: date) -> tuple[Campaign | None, bool]:
    """Return (campaign, created) for ``spec``; (None, False) if its slug belongs to another campaign."""
    existing = session.scalar(sa.select(Campaign).where(Campaign.slug == spec.slug))
    if existing is not None:
        return (existing if (existing.description or "").startswith(DEMO_MARK) else None), False
    start = today - timedelta(days=spec.start)
    if spec.weekday is not None:
        start -= timedelta(days=(start.weekday() - spec.weekday) % 7)
    data: dict[str, Any] = {
        "name": spec.name, "slug": spec.slug, "description": f"{DEMO_MARK}: {spec.description}.",
        "start_date": start, "end_date": start + timedelta(days=spec.length - 1) if spec.length else None,
        "fallback_url": f"{SITE}/campaign-ended",
    }
    return create_campaign(session, settings, data), True


def ensure_link(session: Session, settings: Settings, campaign: Campaign, spec: LinkSpec,
                tz: ZoneInfo) -> tuple[Link, bool]:
    """Return (link, created): the campaign's link labelled like ``spec``, created if missing."""
    existing = session.scalar(sa.select(Link).where(Link.campaign_id == campaign.id, Link.label == spec.label)
                              .order_by(Link.id))
    if existing is not None:
        return existing, False
    data: dict[str, Any] = {
        "destination": f"{SITE}{spec.path}", "campaign": campaign, "utm_source": spec.source,
        "utm_medium": spec.medium, "utm_term": spec.term, "utm_content": spec.content, "kind": spec.kind,
        "label": spec.label, "slug": spec.slug, "experiment": spec.experiment, "variant": spec.variant,
    }
    if spec.expires_after_end is not None and campaign.end_date is not None:
        expiry = campaign.end_date + timedelta(days=spec.expires_after_end)
        data["expires_at"] = datetime.combine(expiry, time.min, tz)
    try:
        return create_link(session, settings, data), True
    except Conflict as exc:
        if exc.field != "slug":
            raise
        return create_link(session, settings, {**data, "slug": None}), True  # someone else has the word


def ensure_costs(session: Session, settings: Settings, campaign: Campaign, spec: CampaignSpec,
                 today: date) -> tuple[int, int]:
    """Add the spec's cost entries that are due (dated today or earlier) and missing; return (due, added)."""
    have = {(c.date, c.amount, c.currency, c.channel) for c in campaign.costs}
    start = campaign.start_date or today
    due = added = 0
    for offset, amount, channel in spec.costs:
        day = start + timedelta(days=offset)
        if day > today:
            continue
        due += 1
        known_channel = channel if channel in settings.taxonomy.channels else None  # the taxonomy is editable
        if (day, Decimal(amount), CURRENCY, known_channel) in have:
            continue
        add_cost(session, settings, campaign.id, {"date": day, "amount": amount, "currency": CURRENCY,
                                                  "channel": known_channel})
        added += 1
    return due, added
