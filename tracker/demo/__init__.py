"""A realistic demo data set: six campaigns of a fictional company, their links and costs, and clicks.

Campaigns, links and costs go through the link services (so they are validated like any other);
clicks and scans are generated with an explicitly seeded NumPy generator and written with
:func:`tracker.redirects.capture.write_batch`, the function the spool drain uses, so the daily
aggregates are updated exactly as for real traffic. Loading twice adds nothing: campaigns, links
and costs are looked up before they are created, and click ids are derived from the seed and the
click's index, so repeated clicks are ignored by the insert.

Campaign dates are placed relative to the day the demo is first loaded, so the traffic of the last
``days`` days shows the expo spike, the newsletter sends and the podcast episode.

The intake that follows the clicks goes through the intake services as well: landing visits of the
site snippet (a share of the human clicks, carrying their ``tid``, plus visits from search, social,
other sites and typed addresses), ``identify`` calls through :func:`tracker.touchpoints.collect.collect`,
deals moving through the funnel with :func:`tracker.conversions.service.create_conversions`, answers
to "How did you hear about us?" in Norwegian and English with
:func:`tracker.selfreports.service.record_answer`, and the Oslo Expo attendee list with
:func:`tracker.touchpoints.imports.import_touchpoints`. Some people convert with no tracked touch
(the dark funnel); most visitors and attendees never convert. Its times are placed from the stored
clicks and its ids (deal ids, submission ids, attendee rows) are fixed by the seed, so it is
regenerated identically and loading again adds nothing.
"""
from __future__ import annotations

import base64
import csv
import hashlib
import io
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from tracker.config import Settings
from tracker.conversions.service import MAX_BATCH, create_conversions
from tracker.db import begin_write, get_db, utcnow
from tracker.errors import Conflict, ValidationError
from tracker.links.models import OFFLINE_KINDS, Campaign, Link
from tracker.links.service import add_cost, create_campaign, create_link
from tracker.people.models import Identity
from tracker.people.service import person_of_click, stitch
from tracker.redirects.capture import parse_device, write_batch
from tracker.redirects.models import Click
from tracker.selfreports.service import matcher, record_answer
from tracker.touchpoints.collect import collect
from tracker.touchpoints.imports import ImportResult, import_touchpoints
from tracker.touchpoints.models import LandingVisit

__all__ = ["CAMPAIGNS", "DEMO_MARK", "DemoVisit", "Intake", "LinkPlan", "StoredClick", "demo_intake", "demo_records",
           "load_demo"]

DEMO_MARK = "Demo data"  # campaign descriptions start with it; other campaigns are never touched
SITE = "https://nordlys.example"  # RFC 2606 reserved name: the demo never points at a real site
CURRENCY = "NOK"
BATCH = 2000
MAX_CLICKS = 1_000_000
UTM_NAMES = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")

# ---- traffic shape --------------------------------------------------------------------------------
# Relative activity by local hour: quiet nights, a morning peak at work, an evening peak on phones.
HUMAN_HOURS = np.array([0.6, 0.35, 0.2, 0.15, 0.15, 0.3, 0.9, 2.0, 3.6, 4.6, 4.8, 4.6,
                        4.4, 4.6, 4.5, 4.2, 3.8, 3.4, 3.2, 3.6, 4.0, 3.7, 2.6, 1.4])
# A trade fair is open 9-18 with a lunch-time crowd and an evening reception.
EXPO_HOURS = np.array([0.02, 0.0, 0.0, 0.0, 0.0, 0.0, 0.05, 0.2, 1.0, 3.5, 4.5, 5.0,
                       5.5, 5.0, 4.5, 4.2, 3.8, 2.5, 1.2, 0.8, 0.5, 0.3, 0.1, 0.05])
WEEKDAYS = np.array([1.0, 1.05, 1.05, 1.0, 0.85, 0.5, 0.45])  # Monday first; a B2B audience
EXPO_LEVEL = 25.0      # activity of an expo day relative to an ordinary day
QR_SHARE = 0.93        # offline codes are scanned; the rest type the printed short URL
QR_BOT_SHARE = 0.005   # a scanned URL pasted into a chat is fetched by its preview bot
OFFLINE_BOT_SHARE = 0.02
RETURNING = 0.7        # share of human visits that carry a visitor cookie from an earlier visit

MOBILE_AGENTS = (  # (user agent, weight); Norway: many iPhones
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/18.1 Mobile/15E148 Safari/604.1", 0.33),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/17.6 Mobile/15E148 Safari/604.1", 0.17),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1", 0.05),
    ("Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 "
     "Mobile Safari/537.36", 0.3),
    ("Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/26.0 "
     "Chrome/122.0.0.0 Mobile Safari/537.36", 0.1),
    ("Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 "
     "Mobile/15E148 Safari/604.1", 0.05),
)
DESKTOP_AGENTS = (
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 "
     "Safari/537.36", 0.36),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 "
     "Safari/537.36 Edg/131.0.0.0", 0.16),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:132.0) Gecko/20100101 Firefox/132.0", 0.06),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/18.1 Safari/605.1.15", 0.2),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/131.0.0.0 Safari/537.36", 0.18),
    ("Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0", 0.04),
)
BOT_AGENTS = {
    "google": "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "bing": "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "slack": "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
    "linkedin": "LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)",
    "facebook": "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
    "twitter": "Twitterbot/1.0",
    "whatsapp": "WhatsApp/2.23.20.0",
    # Mail security gateways open every link of a message in a headless browser.
    "mailscanner": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
                   "HeadlessChrome/120.0.0.0 Safari/537.36",
}
BOT_NAMES = tuple(BOT_AGENTS)
CHAT_BOTS = (("slack", 0.45), ("whatsapp", 0.25), ("facebook", 0.1), ("twitter", 0.1), ("google", 0.1))


# ---- the data set -----------------------------------------------------------------------------------
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
            LinkSpec("Flyer A5, Oslo Expo", "print", "oslo-expo", "flyer", "/expo", 4.0, content="flyer-a5"),
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


# ---- loading ------------------------------------------------------------------------------------------
def load_demo(app: Flask, clicks: int = 20_000, days: int = 60, seed: int = 7) -> str:
    """Fill the app's database with the demo campaigns, links, costs, clicks, scans and intake; return a summary.

    The intake follows the clicks: landing visits, identified visitors, conversions, self-reported
    answers and the Oslo Expo attendee list (see :func:`demo_intake`).

    Parameters
    ----------
    app:
        The application whose database and settings are used.
    clicks:
        How many clicks and scans to generate (bots included), spread over the last ``days`` days.
    days:
        Length of the traffic window ending now.
    seed:
        Seed of the random generator; the same seed gives the same click ids, visits, deal ids, answers
        and attendee rows, so loading again adds nothing.

    Raises
    ------
    ValidationError
        ``clicks`` or ``days`` is out of range, or a demo link breaks the configured rules (for example a
        destination allow-list or a taxonomy without the demo's mediums).
    """
    if not 0 <= clicks <= MAX_CLICKS:
        raise ValidationError(f"clicks must be between 0 and {MAX_CLICKS:,}", "clicks")
    if not 1 <= days <= 3660:
        raise ValidationError("days must be between 1 and 3660", "days")
    settings: Settings = app.config["SETTINGS"]
    tz = settings.tz
    now = utcnow().replace(microsecond=0)
    today = now.astimezone(tz).date()
    tally: Counter[str] = Counter()
    plans: list[LinkPlan] = []
    skipped: list[str] = []
    with get_db(app).Session() as session:
        for spec in CAMPAIGNS:
            campaign, created = _ensure_campaign(session, settings, spec, today)
            if campaign is None:
                skipped.append(spec.slug)
                continue
            tally.update({"campaigns": 1, "new campaigns": created})
            for link_spec in spec.links:
                link, created = _ensure_link(session, settings, campaign, link_spec, tz)
                tally.update({"links": 1, "new links": created})
                plans.append(LinkPlan.of(link, campaign, spec, link_spec))
            due, added = _ensure_costs(session, settings, campaign, spec, today)
            tally.update({"costs": due, "new costs": added})

        records = demo_records(plans, now=now, days=days, clicks=clicks, seed=seed, tz=tz)
        new = sum(write_batch(session, records[i:i + BATCH], tz) for i in range(0, len(records), BATCH))
        secret: bytes = app.extensions["tracker.redirects"]["ip_secret"]
        intake = _load_intake(session, settings, secret, [_tid(seed, "click", i) for i in range(clicks)], days, seed)

    visits = [r for r in records if r.get("t") != "orphan"]
    scans = sum(1 for r in visits if r["via"] == "qr")
    bots = sum(1 for r in visits if parse_device(r["ua"]).is_bot)
    first = (now - timedelta(days=days)).astimezone(tz).date()
    lines = [
        f"Demo data (seed {seed}): {tally['campaigns']} campaigns ({tally['new campaigns']} new), "
        f"{tally['links']} links ({tally['new links']} new), {tally['costs']} cost entries in {CURRENCY} "
        f"({tally['new costs']} new).",
        f"Traffic {first} to {today} ({settings.report_timezone}): {len(visits)} clicks and scans generated "
        f"({scans} QR scans, {bots} bot hits), {new} of them new; "
        f"{len(records) - len(visits)} visits to misprinted codes.",
        *intake,
    ]
    if skipped:
        lines.append("Skipped (the slug belongs to a campaign that is not demo data): " + ", ".join(skipped))
    return "\n".join(lines)


def _ensure_campaign(session: Session, settings: Settings, spec: CampaignSpec,
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


def _ensure_link(session: Session, settings: Settings, campaign: Campaign, spec: LinkSpec,
                 tz: ZoneInfo) -> tuple[Link, bool]:
    """Return (link, created): the campaign's link labelled like ``spec``, created if missing."""
    existing = session.scalar(sa.select(Link).where(Link.campaign_id == campaign.id, Link.label == spec.label)
                              .order_by(Link.id))
    if existing is not None:
        return existing, False
    data: dict[str, Any] = {
        "destination": f"{SITE}{spec.path}", "campaign": campaign, "utm_source": spec.source,
        "utm_medium": spec.medium, "utm_term": spec.term, "utm_content": spec.content, "kind": spec.kind,
        "label": spec.label, "slug": spec.slug,
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


def _ensure_costs(session: Session, settings: Settings, campaign: Campaign, spec: CampaignSpec,
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


# ---- generating traffic (no database) ----------------------------------------------------------------
@dataclass(frozen=True)
class LinkPlan:
    """What the generator needs of one stored link."""

    link_id: int
    code: str
    kind: str
    tags: tuple[str | None, str | None, str | None, str | None, str | None]  # us, um, uc, ut, uo
    expires_at: datetime | None
    has_fallback: bool
    start: date | None
    end: date | None
    weight: float
    spec: CampaignSpec

    @classmethod
    def of(cls, link: Link, campaign: Campaign, spec: CampaignSpec, link_spec: LinkSpec) -> LinkPlan:
        return cls(link_id=link.id, code=link.code, kind=link.kind,
                   tags=(link.utm_source, link.utm_medium, link.utm_campaign, link.utm_term,
                         link.utm_content),
                   expires_at=link.expires_at, has_fallback=bool(campaign.fallback_url),
                   start=campaign.start_date, end=campaign.end_date, weight=link_spec.weight, spec=spec)


def _tid(seed: int, what: str, index: int) -> str:
    """Return a click id (20 url-safe characters, like a real one) fixed by the seed and the index."""
    digest = hashlib.blake2b(f"tracker-demo/{seed}/{what}/{index}".encode(), digest_size=15).digest()
    return base64.urlsafe_b64encode(digest).decode()


def _tokens(rng: np.random.Generator, count: int, nbytes: int, hexadecimal: bool) -> list[str]:
    """Return ``count`` random tokens (hex, like an IP hash, or url-safe base64, like a visitor id)."""
    raw = rng.bytes(count * nbytes)
    if hexadecimal:
        text = raw.hex()
        return [text[i:i + 2 * nbytes] for i in range(0, len(text), 2 * nbytes)]
    return [base64.urlsafe_b64encode(raw[i:i + nbytes]).decode().rstrip("=")
            for i in range(0, len(raw), nbytes)]


def _activity(plan: LinkPlan, local: np.ndarray, hours: np.ndarray, weekdays: np.ndarray) -> np.ndarray:
    """Return the relative activity of a link in each hourly slot (local wall times ``local``)."""
    spec = plan.spec
    days = local.astype("datetime64[D]")
    never = np.datetime64("9999-12-31")
    start = np.datetime64(plan.start) if plan.start else days.min()
    end = np.datetime64(plan.end) if plan.end else never
    since_start = (local - start.astype("datetime64[s]")) / np.timedelta64(1, "D")
    after_end = (local - (end + 1).astype("datetime64[s]")) / np.timedelta64(1, "D") if plan.end else None
    during = (days >= start) & (days <= end)
    human = HUMAN_HOURS[hours] / HUMAN_HOURS.sum() * WEEKDAYS[weekdays]

    if spec.pattern == "expo":
        level = np.where(during, EXPO_LEVEL * EXPO_HOURS[hours] / EXPO_HOURS.sum(), 0.0)
    elif spec.pattern == "sends":
        level = np.zeros(len(local))
        for offset in spec.sends:  # a send goes out at 08:00 and is read over the next days
            t = since_start - offset - 8 / 24
            level += np.where(t >= 0, np.exp(-np.clip(t, 0, None) / spec.tau), 0.0)
        level *= human
    elif spec.pattern == "launch":
        level = np.where(during, 0.4 + 2.0 * np.exp(-np.clip(since_start, 0, None) / spec.tau), 0.0) * human
    else:  # steady
        level = np.where(during, 1.0, 0.0) * human
    if spec.tail and after_end is not None:
        decay = spec.tail_level * np.exp(-np.clip(after_end, 0, None) / spec.tail)
        level += np.where(after_end >= 0, decay, 0.0) * human
    return level


def _pick(rng: np.random.Generator, options: Sequence[tuple[Any, float]], size: int) -> np.ndarray:
    weights = np.array([w for _, w in options], dtype=float)
    return rng.choice(len(options), size=size, p=weights / weights.sum())


def demo_records(plans: Sequence[LinkPlan], *, now: datetime, days: int, clicks: int, seed: int,
                 tz: ZoneInfo) -> list[dict[str, Any]]:
    """Generate spool records (the redirect's format) for ``clicks`` clicks and scans and a few orphan visits.

    The records are sorted by time; click ``i`` has a click id fixed by ``seed`` and ``i``.
    """
    rng = np.random.default_rng(seed)
    slots = days * 24
    window_start = now - timedelta(days=days)
    utc = pd.date_range(window_start, periods=slots, freq="h")
    local_index = utc.tz_convert(tz)
    local = local_index.tz_localize(None).to_numpy().astype("datetime64[s]")
    hours = np.asarray(local_index.hour)
    weekdays = np.asarray(local_index.day_of_week)

    activity = np.zeros((len(plans), slots))
    for row, plan in enumerate(plans):
        level = _activity(plan, local, hours, weekdays)
        total = level.sum()
        if total > 0:  # a link without activity in the window gets no traffic
            activity[row] = plan.weight * level / total
    if clicks == 0 or activity.sum() == 0:
        return []

    # When and where: one draw over (link, hour) cells, then a uniform second within the hour.
    cells = rng.choice(activity.size, size=clicks, p=(activity / activity.sum()).ravel())
    link_idx, slot = np.divmod(cells, slots)
    epoch = window_start.timestamp() + slot * 3600.0 + rng.random(clicks) * 3600.0
    order = np.argsort(epoch, kind="stable")
    link_idx, epoch = link_idx[order], epoch[order]
    n = clicks

    offline = np.array([p.kind in OFFLINE_KINDS for p in plans])
    # Podcast links are heard, not seen: listeners type them.
    qr_share = np.array([0.03 if p.kind == "podcast" else QR_SHARE if p.kind in OFFLINE_KINDS else 0.0
                         for p in plans])
    mobile_share = np.array([p.spec.mobile for p in plans])
    bot_share = np.array([OFFLINE_BOT_SHARE if o else p.spec.bots for p, o in zip(plans, offline, strict=False)])
    qr = rng.random(n) < qr_share[link_idx]
    bot = rng.random(n) < np.where(qr, QR_BOT_SHARE, bot_share[link_idx])
    mobile = qr | (rng.random(n) < mobile_share[link_idx])
    returning = ~bot & (rng.random(n) < RETURNING)

    # Returning visitors come from two pools (phones and computers); a few visit very often.
    pools = {}
    for name, agents, size in (("mobile", MOBILE_AGENTS, max(8, n // 8)),
                               ("desktop", DESKTOP_AGENTS, max(8, n // 12))):
        popularity = 1.0 / (np.arange(size) + 3.0) ** 0.9
        pools[name] = {
            "vid": np.array(_tokens(rng, size, 16, hexadecimal=False), dtype=object),
            "ip": np.array(_tokens(rng, size, 16, hexadecimal=True), dtype=object),
            "ua": _pick(rng, agents, size),
            "pick": rng.choice(size, size=n, p=popularity / popularity.sum()),
        }
    fresh_vid = np.array(_tokens(rng, n, 16, hexadecimal=False), dtype=object)
    fresh_ip = np.array(_tokens(rng, n, 16, hexadecimal=True), dtype=object)
    crawler_ip = np.array(_tokens(rng, 12, 16, hexadecimal=True), dtype=object)
    mobile_ua = np.array([a for a, _ in MOBILE_AGENTS], dtype=object)
    desktop_ua = np.array([a for a, _ in DESKTOP_AGENTS], dtype=object)

    mp, dp = pools["mobile"], pools["desktop"]
    vid = np.where(mobile, mp["vid"][mp["pick"]], dp["vid"][dp["pick"]])
    ip = np.where(mobile, mp["ip"][mp["pick"]], dp["ip"][dp["pick"]])
    ua = np.where(mobile, mobile_ua[mp["ua"][mp["pick"]]], desktop_ua[dp["ua"][dp["pick"]]])
    vid = np.where(returning, vid, fresh_vid)
    ip = np.where(returning, ip, fresh_ip)
    ua = np.where(returning, ua, np.where(mobile, mobile_ua[_pick(rng, MOBILE_AGENTS, n)],
                                          desktop_ua[_pick(rng, DESKTOP_AGENTS, n)]))
    ip = np.where(bot, crawler_ip[rng.integers(0, len(crawler_ip), n)], ip)

    referrer = np.full(n, None, dtype=object)
    bot_agents = np.array([BOT_AGENTS[k] for k in BOT_NAMES], dtype=object)
    for row, plan in enumerate(plans):
        here = link_idx == row
        mix = [(BOT_NAMES.index(name), w) for name, w in plan.spec.bot_mix]
        bots_here = here & bot
        ua[bots_here] = bot_agents[np.array([i for i, _ in mix])[_pick(rng, mix, int(bots_here.sum()))]]
        if plan.kind == "online":  # only online links are followed from a page that sends a referrer
            humans = here & ~bot
            hosts = np.array([h for h, _ in plan.spec.referrers], dtype=object)
            referrer[humans] = hosts[_pick(rng, plan.spec.referrers, int(humans.sum()))]

    expires = np.array([p.expires_at.timestamp() if p.expires_at else np.inf for p in plans])[link_idx]
    fallback = np.array([p.has_fallback for p in plans])[link_idx]
    outcome = np.where(epoch < expires, "redirect", np.where(fallback, "fallback", "gone"))
    micros = np.round(epoch * 1e6).astype(np.int64).astype("datetime64[us]")
    stamps = np.datetime_as_string(micros, unit="us")  # the redirect's isoformat(), without the zone

    records: list[dict[str, Any]] = []
    for i in range(n):
        plan = plans[link_idx[i]]
        us, um, uc, ut, uo = plan.tags
        records.append({
            "tid": _tid(seed, "click", i), "ts": f"{stamps[i]}+00:00", "via": "qr" if qr[i] else "link",
            "ref": referrer[i], "ua": ua[i], "ip": ip[i], "link": plan.link_id, "vid": vid[i],
            "us": us, "um": um, "uc": uc, "ut": ut, "uo": uo, "outcome": str(outcome[i]),
        })
    records.extend(_orphans(rng, plans, records, link_idx, qr & ~bot, seed))
    records.sort(key=lambda r: r["ts"])
    return records


def _orphans(rng: np.random.Generator, plans: Sequence[LinkPlan], records: list[dict[str, Any]],
             link_idx: np.ndarray, scans: np.ndarray, seed: int) -> list[dict[str, Any]]:
    """Return a few scans of misprinted codes: printed codes with one character replaced by a look-alike."""
    candidates = np.flatnonzero(scans)
    if len(candidates) == 0:
        return []
    misprints: dict[int, str] = {}  # one misprinted batch per link: its scans share the wrong code
    orphans = []
    for j, i in enumerate(rng.choice(candidates, size=min(50, max(1, len(records) // 400)))):
        row = int(link_idx[i])
        if row not in misprints:
            code = plans[row].code
            at = int(rng.integers(0, len(code)))
            # 0, o, 1, l and i are not in the code alphabet: a misprint never hits a generated code.
            misprints[row] = code[:at] + "0o1li"[int(rng.integers(0, 5))] + code[at + 1:]
        source = records[i]  # a scan of the good code a little later, by someone else
        ts = datetime.fromisoformat(source["ts"]) - timedelta(seconds=float(rng.uniform(0, 1800)))
        orphans.append({"tid": _tid(seed, "orphan", j), "ts": ts.isoformat(timespec="microseconds"),
                        "via": "qr", "ref": None,
                        "ua": source["ua"], "ip": _tokens(rng, 1, 16, hexadecimal=True)[0], "t": "orphan",
                        "code": misprints[row]})
    return orphans


# ---- intake: landing visits, identities, conversions, self-reports, the attendee list ---------------
# What happens after the clicks: the landing site's snippet, the CRM, the "How did you hear about us?"
# form and an attendee list. Everything is drawn from a second stream of the seed (the click sample
# stays as it was) and timed from the stored clicks, so loading again regenerates the same records.
INTAKE_STREAM = 1
EXPO_SLUG = "oslo-expo-2026"
LANDING_SHARE = 0.2        # human clicks whose landing page reports a visit (others bounce, block or refuse)
ORGANIC_SHARE = 0.3        # visits without a click id, per visit with one
ORGANIC_RETURNING = 0.35   # of those: site visitors who came through a tracked link before
LANDING_BOT_SHARE = 0.02   # crawlers that run scripts (Googlebot renders pages) report visits too
IDENTIFY_ONLY = 0.3        # site visitors who leave an e-mail (a guide, a webinar) but never convert, per lead
DARK_LEADS = 0.3           # leads without any tracked touch, per tracked lead
ATTENDEES_PER_CLICK = 0.02
ATTENDEE_CONVERTS = 0.06
ATTENDEE_TWICE = 0.08      # badge scanned at the booth and at the keynote
ANSWER_RATE = 0.65         # leads who answer "How did you hear about us?"
ANSWER_BY_ID = 0.8         # answers sent with the deal id (the thank-you page); the rest by e-mail only
NON_CONVERTER_ANSWERS = 0.1  # answers of people who never convert, per lead
REPORTS_ELSEWHERE = 0.4    # tracked people who name a source their clicks do not show: the dark funnel
OPTION_SHARE = 0.5         # answers that pick an option; the rest write free text
UNMATCHED_SHARE = 0.1      # free text no phrase matches ("Other", listed for review)
NORWEGIAN = 0.65
ADVANCE = (0.5, 0.45)      # chance a deal moves on to the next stage of the funnel
STAGE_DAYS = ((2.0, 12.0), (4.0, 25.0))  # days between consecutive stages
VALUE_RANGE = (20_000.0, 400_000.0)      # purchase values in NOK, log-uniform
FOREIGN_SHARE = 0.12       # purchases billed in EUR when a rate for EUR is configured

# Lead rate per landing visit, and what people who came that way say when asked.
CAMPAIGN_INTAKE = {
    "oslo-expo-2026": (0.03, "event"), "spring-newsletter": (0.02, "email"),
    "tech-talk-podcast": (0.025, "podcast"), "bergen-posters": (0.006, "print"),
    # Brand-ad clickers say they searched: the tracked channel (Paid search) and the answer disagree.
    "brand-search": (0.03, "search"), "linkedin-launch": (0.01, "social"),
}
# (referrer the snippet sees, weight, lead rate, what the visitor says); None: typed or bookmarked.
ORGANIC_REFERRERS: tuple[tuple[str | None, float, float, str], ...] = (
    ("https://www.google.com/", 0.24, 0.025, "search"), ("https://www.google.no/", 0.2, 0.025, "search"),
    ("https://www.bing.com/", 0.04, 0.02, "search"), ("https://duckduckgo.com/", 0.03, 0.02, "search"),
    ("https://www.kvasir.no/", 0.01, 0.02, "search"), ("https://www.linkedin.com/feed/", 0.1, 0.01, "social"),
    ("https://l.facebook.com/", 0.04, 0.005, "social"), ("https://techblogg.example/verktoy/", 0.03, 0.02, "press"),
    ("https://techtalk.example/episodes/", 0.02, 0.03, "podcast"), (None, 0.29, 0.03, "friend"),
)
ORGANIC_PAGES = (("/", 0.45), ("/pricing", 0.15), ("/cases/bergen-havn", 0.1), ("/blog/attribution-guide", 0.2),
                 ("/contact", 0.1))
DARK_TOPICS = (("friend", 0.35), ("podcast", 0.3), ("event", 0.15), ("press", 0.1), ("partner", 0.05),
               ("print", 0.05))
ELSEWHERE_TOPICS = (("friend", 0.5), ("podcast", 0.2), ("event", 0.15), ("press", 0.1), ("partner", 0.05))
ATTENDEE_TOPICS = (("event", 0.75), ("friend", 0.15), ("podcast", 0.05), ("social", 0.05))
ATTENDEE_LABELS = (("Badge scan, booth 12", 0.7), ("Keynote, Hall B", 0.2), ("Demo booked at the booth", 0.1))
# Free text per topic (an option key of config/answers.toml) and language, typos included; "other"
# holds texts no default phrase matches.
ANSWER_TEXTS: dict[str, dict[str, tuple[str, ...]]] = {
    "event": {"no": ("Så standen deres på Oslo Expo", "messa på Lillestrøm", "Oslo Expo", "keynoten på Oslo Expo",
                     "snakket med dere på standen", "Olso expo"),
              "en": ("saw you at the fair", "visited your booth at the expo", "Oslo Expo keynote",
                     "met your team at the trade show")},
    "podcast": {"no": ("hørte det på en podkast", "Tech Talk-podden", "hørte om dere på Spotify", "podkst"),
                "en": ("heard you on the Tech Talk podcast", "a podcast episode", "on a podcast", "podcst")},
    "friend": {"no": ("kollegaen min tipset meg", "anbefalt av en kollega", "en kompis", "kolega", "sjefen min"),
               "en": ("a colleague told me", "my boss recommended you", "a former colleague", "word of mouth")},
    "search": {"no": ("googlet", "søkte etter attribusjonsverktøy", "Gogle"),
               "en": ("Found you on Google", "searched for attribution software", "google search")},
    "social": {"no": ("så en post på LinkedIn", "LinkdIn"), "en": ("saw a LinkedIn post", "LinkdIn", "linkedin")},
    "social_ad": {"no": ("sponset innlegg på LinkedIn",), "en": ("a sponsored post on LinkedIn",)},
    "email": {"no": ("nyhetsbrevet", "fikk en e-post fra dere"), "en": ("your newsletter", "an email from you")},
    "print": {"no": ("plakat på Bybanen", "plakaten på busstasjonen"),
              "en": ("saw a poster at the bus station", "a flyer")},
    "press": {"no": ("en artikkel i DN", "intervju i avisen"),
              "en": ("read an article about you", "saw you in the news")},
    "partner": {"no": ("leverandøren vår", "forhandleren vår"), "en": ("our reseller", "our consultant")},
    "other": {"no": ("husker ikke", "vet ikke", "via jobben", "fant dere på nettet", "konkurrent bruker dere",
                     "regnskapsføreren vår", "Tech Talk"),
              "en": ("don't remember", "can't recall", "ChatGPT", "I asked an AI assistant", "found you online",
                     "a competitor uses you", "our accountant mentioned you")},
}
FIRST_NAMES = ("Ingrid", "Ole", "Kari", "Lars", "Nora", "Jonas", "Emma", "Henrik", "Sofie", "Magnus", "Ida", "Erik",
               "Thea", "Sindre", "Maja", "Anders", "Silje", "Kristian", "Marte", "Håkon", "Åse", "Bjørn", "Sigrid",
               "Øystein", "Tuva", "Jakob", "Hanne", "Eirik", "Line", "Per", "Amir", "Fatima", "Olivia", "Tobias")
LAST_NAMES = ("Hansen", "Johansen", "Olsen", "Larsen", "Andersen", "Pedersen", "Nilsen", "Kristiansen", "Jensen",
              "Karlsen", "Berg", "Haugen", "Hagen", "Bakken", "Solberg", "Strand", "Lie", "Dahl", "Lund", "Moen",
              "Sæther", "Aasen", "Brekke", "Eide", "Holm", "Nygård", "Ødegård", "Khan", "Nguyen", "Ali")
# Reserved for documentation (RFC 2606), like the demo site: no mail can reach a real person.
EMAIL_DOMAINS = (("example.no", 0.6), ("example.com", 0.4))
_ASCII = str.maketrans({"æ": "ae", "ø": "o", "å": "a"})


@dataclass(frozen=True)
class StoredClick:
    """What the intake generator needs of one stored demo click (``index``: its place in the sample)."""

    index: int
    tid: str
    ts: datetime
    campaign: str | None
    url: str                 # the link's destination without its query: what the landing page's URL shows
    referrer_host: str | None
    visitor_id: str | None
    user_agent: str | None
    ip_hash: str | None
    tags: tuple[str | None, str | None, str | None, str | None, str | None]  # us, um, uc, ut, uo
    is_bot: bool
    outcome: str


@dataclass(frozen=True)
class DemoVisit:
    """One page view as the snippet reports it: the ``/collect`` record, its time and the request's agent."""

    ts: datetime
    record: dict[str, Any]
    user_agent: str | None
    ip_hash: str | None


@dataclass
class Intake:
    """Everything the demo sends after the clicks, in the services' input formats."""

    visits: list[DemoVisit] = field(default_factory=list)
    identifies: list[tuple[dict[str, Any], str | None]] = field(default_factory=list)  # (record, agent)
    conversions: list[dict[str, Any]] = field(default_factory=list)   # create_conversions items
    answers: list[dict[str, Any]] = field(default_factory=list)       # record_answer data
    attendees: str = ""                                               # CSV for import_touchpoints
    leads: Counter[str] = field(default_factory=Counter)              # by origin: tracked, attendee, dark


@dataclass
class _Lead:
    email: str
    ts: datetime
    site: str | None
    topic: str
    origin: str  # "tracked", "attendee" or "dark"


def _site_id(visitor_id: str) -> str:
    """Return the snippet's site visitor id of the browser whose short-link cookie is ``visitor_id``."""
    return hashlib.blake2b(f"tracker-demo-site/{visitor_id}".encode(), digest_size=16).hexdigest()


def _human_times(rng: np.random.Generator, n: int, start: datetime, end: datetime,
                 tz: ZoneInfo) -> list[datetime]:
    """Draw ``n`` times between ``start`` and ``end`` with the working-day rhythm of the click traffic."""
    slots = int((end - start).total_seconds() // 3600)
    if n <= 0 or slots < 1:
        return []
    local = pd.date_range(start, periods=slots, freq="h").tz_convert(tz)
    weight = HUMAN_HOURS[np.asarray(local.hour)] * WEEKDAYS[np.asarray(local.day_of_week)]
    slot = rng.choice(slots, size=n, p=weight / weight.sum())
    seconds = slot * 3600.0 + rng.random(n) * 3600.0
    return [start + timedelta(seconds=float(s)) for s in seconds]


class _Emails:
    """Unique fake e-mail addresses at reserved domains, drawn from Norwegian names."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.taken: set[str] = set()

    def new(self) -> str:
        """Return an address not handed out before (lower case ASCII, like a CRM stores it)."""
        first = FIRST_NAMES[int(self.rng.integers(len(FIRST_NAMES)))].lower().translate(_ASCII)
        last = LAST_NAMES[int(self.rng.integers(len(LAST_NAMES)))].lower().translate(_ASCII)
        domain = EMAIL_DOMAINS[int(_pick(self.rng, EMAIL_DOMAINS, 1)[0])][0]
        local = f"{first}.{last}" if self.rng.random() < 0.8 else f"{first[0]}{last}"
        email = f"{local}@{domain}"
        number = 1
        while email in self.taken:  # two people share a name: the address gets a number
            number += 1
            email = f"{local}{number}@{domain}"
        self.taken.add(email)
        return email


def _as_typed(rng: np.random.Generator, email: str) -> str:
    """Return the address as written on a form: mostly lower case, sometimes capitalised."""
    local, domain = email.split("@")
    if rng.random() < 0.25:
        return ".".join(part.capitalize() for part in local.split(".")) + "@" + domain.capitalize()
    return email


def demo_intake(clicks: Sequence[StoredClick], *, days: int, seed: int, tz: ZoneInfo,
                funnel: Sequence[str], options: frozenset[str], rates: dict[str, Decimal],
                reporting_currency: str, expo: tuple[date, date] | None) -> Intake:
    """Generate the landing visits, identities, conversions, answers and attendee list that follow ``clicks``.

    Times are placed from the stored clicks (the latest one ends the window), so the same clicks and
    seed always give the same records, however much later the demo is loaded again. ``options`` are
    the configured answer keys (other topics are written as free text); ``expo`` the dates of the
    Oslo Expo campaign, whose attendee list is produced when the expo lies in the window.
    """
    intake = Intake()
    if not clicks:
        return intake  # the intake follows the click sample: no clicks, no site visitors
    rng = np.random.default_rng([seed, INTAKE_STREAM])
    emails = _Emails(rng)
    end = max(c.ts for c in clicks)
    start = end - timedelta(days=days)

    # 1. Landing visits after clicks: they carry the click id, so they only link the site visitor.
    humans = [c for c in sorted(clicks, key=lambda c: c.index)
              if not c.is_bot and c.outcome == "redirect" and c.visitor_id]
    landed = rng.random(len(humans)) < LANDING_SHARE
    load_seconds = rng.uniform(1.5, 9.0, len(humans))  # the page and the snippet load
    tracked: list[tuple[DemoVisit, float, str]] = []   # (visit, lead rate, topic)
    for click, hit, delay in zip(humans, landed, load_seconds, strict=True):
        ts = click.ts + timedelta(seconds=float(delay))
        if not hit or ts > end:
            continue
        record: dict[str, Any] = {"type": "visit", "site_visitor_id": _site_id(click.visitor_id or ""),
                                  "url": click.url, "tid": click.tid}
        record.update({name: value for name, value in zip(UTM_NAMES, click.tags, strict=True) if value})
        if click.referrer_host and not click.referrer_host.startswith("com."):  # an app id is no URL
            record["referrer"] = f"https://{click.referrer_host}/"
        rate, topic = CAMPAIGN_INTAKE.get(click.campaign or "", (0.01, "other"))
        tracked.append((DemoVisit(ts, record, click.user_agent, click.ip_hash), rate, topic))

    # 2. Visits without a click id: search, social, other sites, typed addresses. These are touches.
    count = round(ORGANIC_SHARE * len(tracked))
    returning = rng.random(count) < ORGANIC_RETURNING
    earlier = rng.integers(0, max(1, len(tracked)), count)
    gap_days = rng.exponential(4.0, count)
    fresh_times = _human_times(rng, count, start, end, tz)
    referrer = _pick(rng, [(r, w) for r, w, _, _ in ORGANIC_REFERRERS], count)
    page = _pick(rng, ORGANIC_PAGES, count)
    crawler = rng.random(count) < LANDING_BOT_SHARE
    mobile = rng.random(count) < 0.5
    mobile_agent = _pick(rng, MOBILE_AGENTS, count)
    desktop_agent = _pick(rng, DESKTOP_AGENTS, count)
    fresh_ip = _tokens(rng, count, 16, hexadecimal=True)
    organic: list[tuple[DemoVisit, float, str]] = []
    for j in range(count):
        ref, _, rate, topic = ORGANIC_REFERRERS[int(referrer[j])]
        record = {"type": "visit", "url": f"{SITE}{ORGANIC_PAGES[int(page[j])][0]}"}
        if crawler[j]:
            record["site_visitor_id"] = _site_id(f"crawler/{seed}/{j}")
            organic.append((DemoVisit(fresh_times[j], record, BOT_AGENTS["google"], fresh_ip[j]), 0.0, topic))
            continue
        if ref:
            record["referrer"] = ref
        if returning[j] and tracked:
            before = tracked[int(earlier[j])][0]
            ts = before.ts + timedelta(days=float(gap_days[j]))
            if ts > end:
                continue
            record["site_visitor_id"] = before.record["site_visitor_id"]
            organic.append((DemoVisit(ts, record, before.user_agent, before.ip_hash), rate, topic))
        else:
            record["site_visitor_id"] = _site_id(f"organic/{seed}/{j}")
            agent = (MOBILE_AGENTS[int(mobile_agent[j])] if mobile[j] else DESKTOP_AGENTS[int(desktop_agent[j])])[0]
            organic.append((DemoVisit(fresh_times[j], record, agent, fresh_ip[j]), rate, topic))

    # 3. Leads from site visitors: the first visit that "works" leads to the contact form.
    seen = sorted(tracked + organic, key=lambda v: (v[0].ts, v[0].record["site_visitor_id"]))
    works = rng.random(len(seen)) < np.array([rate for _, rate, _ in seen])
    leads: list[_Lead] = []
    converted: set[str] = set()
    returns: list[DemoVisit] = []
    expo_scans: list[tuple[str, datetime]] = []  # (e-mail, time) of converters scanned at the expo
    for (visit, _, topic), hit in zip(seen, works, strict=True):
        site = visit.record["site_visitor_id"]
        if not hit or site in converted:
            continue
        if rng.random() < 0.3:  # comes back days later, typing the address, and fills in the form
            ts = visit.ts + timedelta(days=float(rng.uniform(1, 10)))
            back = ts - timedelta(minutes=float(rng.uniform(2, 15)))
            if ts > end:
                continue
            returns.append(DemoVisit(back, {"type": "visit", "site_visitor_id": site, "url": f"{SITE}/contact"},
                                     visit.user_agent, visit.ip_hash))
        else:
            ts = visit.ts + timedelta(minutes=float(rng.uniform(2, 25)))
            if ts > end:
                continue
        converted.add(site)
        if rng.random() < REPORTS_ELSEWHERE:
            topic = ELSEWHERE_TOPICS[int(_pick(rng, ELSEWHERE_TOPICS, 1)[0])][0]
        email = emails.new()
        leads.append(_Lead(email, ts, site, topic, "tracked"))
        intake.identifies.append(({"type": "identify", "site_visitor_id": site,
                                   "customer_key": _as_typed(rng, email)}, visit.user_agent))
        if expo and visit.record.get("utm_campaign") == EXPO_SLUG and \
                expo[0] <= visit.ts.astimezone(tz).date() <= expo[1]:
            expo_scans.append((email, visit.ts))
    intake.visits = sorted([v for v, _, _ in tracked + organic] + returns,
                           key=lambda v: (v.ts, v.record["site_visitor_id"]))

    # Some visitors leave an e-mail (a guide, a webinar) and never become a lead.
    last_visit = {v.record["site_visitor_id"]: (v, topic) for v, rate, topic in seen if rate > 0}  # no crawlers
    candidates = sorted(((site, v) for site, v in last_visit.items() if site not in converted),
                        key=lambda item: item[0])
    identified: list[tuple[str, datetime, str]] = []  # (e-mail, time, topic)
    if candidates:
        for k in rng.choice(len(candidates), size=min(len(candidates), round(IDENTIFY_ONLY * len(leads))),
                            replace=False):
            site, (visit, topic) = candidates[int(k)]
            email = emails.new()
            intake.identifies.append(({"type": "identify", "site_visitor_id": site,
                                       "customer_key": _as_typed(rng, email)}, visit.user_agent))
            identified.append((email, visit.ts, topic))

    # 4. The Oslo Expo attendee list (badge scans, keynote); a few attendees convert weeks later.
    rows: list[tuple[datetime, str, str]] = []
    idle: list[tuple[str, datetime, str]] = []  # attendees who never convert: some answer anyway
    if expo and start <= datetime.combine(expo[0], time.min, tz) and datetime.combine(expo[1], time.max, tz) <= end:
        expo_days = (expo[1] - expo[0]).days + 1
        hour_p = EXPO_HOURS / EXPO_HOURS.sum()
        for email, ts in expo_scans:
            rows.append((ts, email, ATTENDEE_LABELS[0][0]))
        for _ in range(max(20, round(ATTENDEES_PER_CLICK * len(clicks)))):
            email = emails.new()
            labels = [int(_pick(rng, ATTENDEE_LABELS, 1)[0])]
            if rng.random() < ATTENDEE_TWICE:
                labels.append(1 if labels[0] != 1 else 0)
            first = None
            for label in labels:
                day = expo[0] + timedelta(days=int(rng.integers(expo_days)))
                at = time(int(rng.choice(24, p=hour_p)), int(rng.integers(60)))
                ts = datetime.combine(day, at, tz).astimezone(UTC)
                rows.append((ts, email, ATTENDEE_LABELS[label][0]))
                first = ts if first is None else min(first, ts)
            if first is None:
                continue
            if rng.random() < ATTENDEE_CONVERTS:
                lead_ts = _human_times(rng, 1, first + timedelta(days=2), first + timedelta(days=35), tz)[0]
                if lead_ts <= end:
                    topic = ATTENDEE_TOPICS[int(_pick(rng, ATTENDEE_TOPICS, 1)[0])][0]
                    leads.append(_Lead(email, lead_ts, None, topic, "attendee"))
                    continue
            idle.append((email, first, "event"))
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["Email", "Time", "Kind", "Campaign", "Label", "Source"])
        for ts, email, label in sorted(rows):
            # An exported spreadsheet: local wall times to the minute, addresses as the attendees typed them.
            writer.writerow([_as_typed(rng, email), ts.astimezone(tz).strftime("%Y-%m-%d %H:%M"), "event",
                             EXPO_SLUG, label, "oslo-expo"])
        intake.attendees = buffer.getvalue()

    # 5. The dark funnel: leads with nothing tracked but an e-mail (a podcast, a colleague, the expo).
    tracked_leads = sum(1 for lead in leads if lead.origin == "tracked")
    dark = max(2, round(DARK_LEADS * tracked_leads))
    for ts in sorted(_human_times(rng, dark, start, end, tz)):
        topic = DARK_TOPICS[int(_pick(rng, DARK_TOPICS, 1)[0])][0]
        leads.append(_Lead(emails.new(), ts, None, topic, "dark"))
    leads.sort(key=lambda lead: (lead.ts, lead.email))
    intake.leads = Counter(lead.origin for lead in leads)

    # 6. Deals move through the funnel (one external id); only the last stage has a value.
    currency = CURRENCY if CURRENCY in rates else reporting_currency  # the demo's values are NOK amounts
    foreign = "EUR" if "EUR" in rates and reporting_currency != "EUR" else None
    for number, lead in enumerate(leads, 1):
        deal = f"NRD-{seed}-{number:05d}"
        item: dict[str, Any] = {"external_id": deal, "type": funnel[0], "ts": lead.ts.isoformat(),
                                "customer_key": _as_typed(rng, lead.email)}
        if lead.site and rng.random() < 0.5:  # the form's hidden field; otherwise the identify call links them
            item["site_visitor_id"] = lead.site
        intake.conversions.append(item)
        ts = lead.ts
        for stage in range(1, len(funnel)):
            low, high = STAGE_DAYS[min(stage, len(STAGE_DAYS)) - 1]
            ts = ts + timedelta(days=float(rng.uniform(low, high)))
            if rng.random() >= ADVANCE[min(stage, len(ADVANCE)) - 1] or ts > end:
                break  # lost, or still open
            item = {"external_id": deal, "type": funnel[stage], "ts": ts.isoformat(), "customer_key": lead.email}
            if stage == len(funnel) - 1:
                nok = float(np.exp(rng.uniform(np.log(VALUE_RANGE[0]), np.log(VALUE_RANGE[1]))))
                if foreign and rng.random() < FOREIGN_SHARE:
                    item.update(value=f"{round(nok / float(rates[foreign]), -1):.2f}", currency=foreign)
                else:
                    item.update(value=f"{round(nok, -3):.2f}", currency=currency)
            intake.conversions.append(item)
        if rng.random() < ANSWER_RATE:
            intake.answers.append(_answer(rng, lead.topic, options, lead.email, lead.ts, end, deal))

    # 7. A few people answer without ever converting (after a webinar, at the expo's follow-up mail).
    pool = identified + idle
    if pool:
        for k in rng.choice(len(pool), size=min(len(pool), round(NON_CONVERTER_ANSWERS * len(leads))),
                            replace=False):
            email, ts, topic = pool[int(k)]
            when = min(end, ts + timedelta(days=float(rng.uniform(0.1, 6))))
            intake.answers.append(_answer(rng, topic, options, email, when, end, None))
    for number, answer in enumerate(intake.answers, 1):
        answer["submission_id"] = f"demo-{seed}-answer-{number:05d}"
    intake.conversions.sort(key=lambda item: (item["ts"], item["external_id"], item["type"]))
    return intake


def _answer(rng: np.random.Generator, topic: str, options: frozenset[str], email: str, ts: datetime,
            end: datetime, deal: str | None) -> dict[str, Any]:
    """Return one answer to "How did you hear about us?" about ``topic``, tied to ``deal`` or to the e-mail."""
    language = "no" if rng.random() < NORWEGIAN else "en"
    data: dict[str, Any] = {"language": language, "customer_key": _as_typed(rng, email)}
    if rng.random() < UNMATCHED_SHARE:
        texts = ANSWER_TEXTS["other"][language]
        data.update(option="other", text=texts[int(rng.integers(len(texts)))])
    elif topic in options and rng.random() < OPTION_SHARE:
        data["option"] = topic
    else:
        texts = ANSWER_TEXTS.get(topic, ANSWER_TEXTS["other"])[language]
        data["text"] = texts[int(rng.integers(len(texts)))]
        if rng.random() < 0.5:  # the form's "Other" field; API callers send the text alone
            data["option"] = "other"
    if deal is not None and rng.random() < ANSWER_BY_ID:
        # The thank-you page after the form: minutes later, with the deal id.
        data.update(conversion_external_id=deal, ts=min(end, ts + timedelta(minutes=float(rng.uniform(0.5, 20)))))
    else:
        # Asked separately (a follow-up e-mail, the webinar sign-up): within a few days of the lead.
        data["ts"] = min(end, ts + timedelta(days=float(rng.uniform(-3, 5))))
    data["ts"] = data["ts"].isoformat()
    return data


# ---- loading the intake ------------------------------------------------------------------------------
def _load_intake(session: Session, settings: Settings, secret: bytes, tids: Sequence[str], days: int,
                 seed: int) -> list[str]:
    """Send the intake that follows the stored clicks ``tids`` through the services; return summary lines."""
    clicks = _stored_clicks(session, tids)
    campaign = session.scalar(sa.select(Campaign).where(Campaign.slug == EXPO_SLUG))
    expo = None
    if campaign is not None and (campaign.description or "").startswith(DEMO_MARK) and campaign.start_date:
        expo = (campaign.start_date, campaign.end_date or campaign.start_date)
    intake = demo_intake(clicks, days=days, seed=seed, tz=settings.tz, funnel=settings.funnel,
                         options=frozenset(o.key for o in settings.answers.options), rates=settings.rates,
                         reporting_currency=settings.reporting_currency, expo=expo)

    new_visits = _store_visits(session, intake.visits)
    for record, agent in intake.identifies:
        collect(session, settings, secret, record, agent, None)  # the snippet's identify call; repeats add nothing
    attendees = ImportResult(rows=0)
    if intake.attendees:
        attendees = import_touchpoints(session, settings, secret, intake.attendees, atomic=True)
        if not attendees.committed:
            problem = attendees.rejected[0]
            raise ValidationError(f"attendee list line {problem['line']}: {problem['message']}", problem["field"])
    new_conversions = 0
    for i in range(0, len(intake.conversions), MAX_BATCH):
        result = create_conversions(session, settings, secret, intake.conversions[i:i + MAX_BATCH], atomic=True)
        if not result.committed:
            problem = result.rejected[0]
            raise ValidationError(f"demo conversion: {problem['message']}", problem["field"])
        new_conversions += result.created
    new_answers = sum(record_answer(session, settings, secret, answer, via="api").status == "created"
                      for answer in intake.answers)

    with_tid = sum(1 for v in intake.visits if "tid" in v.record)
    types = Counter(item["type"] for item in intake.conversions)
    last = settings.funnel[-1]
    worth = sum((Decimal(item["value"]) * settings.rates[item.get("currency") or settings.reporting_currency]
                 for item in intake.conversions if item.get("value")), Decimal(0))
    match_with = matcher(session, settings)
    free = [a for a in intake.answers if a.get("text") and settings.answers.option(a.get("option")) is None]
    unmatched = sum(1 for a in free if match_with.match(a["text"]) is None)
    languages = Counter(a["language"] for a in intake.answers)
    leads = intake.leads
    return [
        f"Landing site: {len(intake.visits)} landing visits ({with_tid} after a click, "
        f"{len(intake.visits) - with_tid} from search, social, other sites or typed in), {new_visits} new; "
        f"{len(intake.identifies)} visitors identified by e-mail.",
        "Conversions: " + ", ".join(f"{types[t]} {t}" for t in settings.funnel)
        + f" ({last} value {worth:,.0f} {settings.reporting_currency}), {new_conversions} new; "
        f"{sum(leads.values())} people converted ({leads['tracked']} after tracked visits, "
        f"{leads['attendee']} from the Oslo Expo attendee list, {leads['dark']} with no tracked touch).",
        f"Self-reports: {len(intake.answers)} answers ({languages['no']} Norwegian, {languages['en']} English; "
        f"{len(free)} free text, {unmatched} of them matching no channel), {new_answers} new.",
        f"Oslo Expo attendee list: {attendees.rows} rows imported as offline touches, {attendees.created} new.",
    ]


def _stored_clicks(session: Session, tids: Sequence[str]) -> list[StoredClick]:
    """Return the stored clicks among ``tids`` (in the sample's order), as the intake generator needs them."""
    index = {tid: i for i, tid in enumerate(tids)}
    pages: dict[str, str] = {}  # per destination: the page the snippet reports (no query string)
    found: list[StoredClick] = []
    for i in range(0, len(tids), 500):
        rows = session.execute(
            sa.select(Click.tid, Click.ts, Click.referrer_host, Click.visitor_id, Click.user_agent, Click.ip_hash,
                      Click.utm_source, Click.utm_medium, Click.utm_campaign, Click.utm_term, Click.utm_content,
                      Click.is_bot, Click.outcome, Link.destination, Campaign.slug)
            .join(Link, Click.link_id == Link.id).outerjoin(Campaign, Link.campaign_id == Campaign.id)
            .where(Click.tid.in_(tids[i:i + 500])))
        for row in rows:
            if row.destination not in pages:
                parts = urlsplit(row.destination)
                pages[row.destination] = f"{parts.scheme}://{parts.netloc}{parts.path or '/'}"
            found.append(StoredClick(
                index=index[row.tid], tid=row.tid, ts=row.ts, campaign=row.slug,
                url=pages[row.destination], referrer_host=row.referrer_host,
                visitor_id=row.visitor_id, user_agent=row.user_agent, ip_hash=row.ip_hash,
                tags=(row.utm_source, row.utm_medium, row.utm_campaign, row.utm_term, row.utm_content),
                is_bot=row.is_bot, outcome=row.outcome))
    found.sort(key=lambda c: c.index)
    return found


def _store_visits(session: Session, visits: Sequence[DemoVisit]) -> int:
    """Store the visits not stored yet, stitched like ``POST /collect`` stitches them; return how many were new.

    :func:`tracker.touchpoints.collect.collect` stamps a visit with the time it is received and commits
    each record, so the demo's past visits are written here with their own times, through the same
    stitching call. A visit with a click id is known by it; the others are counted per site visitor
    (the generator always produces them in the same order, so the first ones stored are skipped).
    """
    tids = [v.record["tid"] for v in visits if "tid" in v.record]
    sites = sorted({v.record["site_visitor_id"] for v in visits if "tid" not in v.record})
    stored_tids: set[str] = set()
    for i in range(0, len(tids), 500):
        stored_tids.update(session.scalars(sa.select(LandingVisit.tid).where(LandingVisit.tid.in_(tids[i:i + 500]))))
    stored_plain: Counter[str] = Counter()
    for i in range(0, len(sites), 500):
        stored_plain.update(dict(session.execute(
            sa.select(LandingVisit.site_visitor_id, sa.func.count()).where(
                LandingVisit.tid.is_(None), LandingVisit.site_visitor_id.in_(sites[i:i + 500]))
            .group_by(LandingVisit.site_visitor_id)).all()))
    plain: Counter[str] = Counter()
    pending: list[dict[str, Any]] = []
    new = 0
    begin_write(session)
    for visit in visits:
        record = visit.record
        tid, site = record.get("tid"), record["site_visitor_id"]
        if tid is None:
            plain[site] += 1
            if plain[site] <= stored_plain[site]:
                continue
        elif tid in stored_tids:
            continue
        page = urlsplit(record["url"])
        host = page.hostname or ""
        ref_host = urlsplit(record["referrer"]).hostname if record.get("referrer") else None
        utms = {name: record.get(name) for name in UTM_NAMES}
        # As collect: the site visitor id joins the person of the click whose tid the page received.
        stitch(session, [("site", site)], [person_of_click(session, tid)] if tid else [], now=visit.ts)
        internal = ref_host == host and not (utms["utm_source"] or utms["utm_medium"])
        pending.append({"ts": visit.ts, "site_visitor_id": site, "tid": tid, "is_touch": tid is None and not internal,
                        "page": f"{host}{page.path or '/'}"[:500], "referrer_host": ref_host, **utms,
                        "user_agent": visit.user_agent, "is_bot": parse_device(visit.user_agent).is_bot,
                        "ip_hash": visit.ip_hash})
        new += 1
        if len(pending) == BATCH:
            _insert_visits(session, pending)
            session.commit()
            pending = []
            begin_write(session)
    _insert_visits(session, pending)
    session.commit()
    return new


def _insert_visits(session: Session, rows: list[dict[str, Any]]) -> None:
    """Insert stitched visits, each with the person its site visitor id belongs to now.

    A visit's person is always its site visitor id's person (a merge rewrites both), so reading it
    once per batch equals what ``collect`` stores row by row, without a flush per visit.
    """
    if not rows:
        return
    sites = sorted({row["site_visitor_id"] for row in rows})
    person: dict[str, str] = {}
    for i in range(0, len(sites), 500):
        person.update(session.execute(sa.select(Identity.value, Identity.person_id).where(
            Identity.kind == "site", Identity.value.in_(sites[i:i + 500]))).all())
    session.execute(sa.insert(LandingVisit), [{**row, "person_id": person[row["site_visitor_id"]]} for row in rows])
