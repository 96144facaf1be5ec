"""A realistic demo data set: six campaigns of a fictional company, their links and costs, and clicks.

Campaigns, links and costs go through the link services (so they are validated like any other);
clicks and scans are generated with an explicitly seeded NumPy generator and written with
:func:`tracker.redirects.capture.write_batch`, the function the spool drain uses, so the daily
aggregates are updated exactly as for real traffic. Loading twice adds nothing: campaigns, links
and costs are looked up before they are created, and click ids are derived from the seed and the
click's index, so repeated clicks are ignored by the insert.

Campaign dates are placed relative to the day the demo is first loaded, so the traffic of the last
``days`` days shows the expo spike, the newsletter sends and the podcast episode.
"""
from __future__ import annotations

import base64
import hashlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, Literal
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from tracker.config import Settings
from tracker.db import get_db, utcnow
from tracker.errors import Conflict, ValidationError
from tracker.links.models import OFFLINE_KINDS, Campaign, Link
from tracker.links.service import add_cost, create_campaign, create_link
from tracker.redirects.capture import parse_device, write_batch

__all__ = ["CAMPAIGNS", "DEMO_MARK", "LinkPlan", "demo_records", "load_demo"]

DEMO_MARK = "Demo data"  # campaign descriptions start with it; other campaigns are never touched
SITE = "https://nordlys.example"  # RFC 2606 reserved name: the demo never points at a real site
CURRENCY = "NOK"
BATCH = 2000
MAX_CLICKS = 1_000_000

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
    """Fill the app's database with the demo campaigns, links, costs, clicks and scans; return a summary.

    Parameters
    ----------
    app:
        The application whose database and settings are used.
    clicks:
        How many clicks and scans to generate (bots included), spread over the last ``days`` days.
    days:
        Length of the traffic window ending now.
    seed:
        Seed of the random generator; the same seed gives the same click ids, so loading again adds nothing.

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
