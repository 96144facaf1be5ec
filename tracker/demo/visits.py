"""Landing visits the site snippet reports: after tracked clicks, and from search, social, other sites.

Generated from the stored clicks (:func:`visits_after_clicks`, :func:`organic_visits`) and stored with
their own times (:func:`store_visits`), stitched as ``POST /collect`` stitches them.
"""
from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import numpy as np
import sqlalchemy as sa
from sqlalchemy.orm import Session

from tracker.db import begin_write
from tracker.demo.clicks import StoredClick
from tracker.demo.common import (
    BATCH,
    BOT_AGENTS,
    DESKTOP_AGENTS,
    MOBILE_AGENTS,
    SITE,
    UTM_NAMES,
    human_times,
    pick,
    tokens,
)
from tracker.people.models import Identity
from tracker.people.service import person_of_click, stitch
from tracker.redirects.capture import parse_device
from tracker.touchpoints.models import LandingVisit

LANDING_SHARE = 0.2        # human clicks whose landing page reports a visit (others bounce, block or refuse)
ORGANIC_SHARE = 0.3        # visits without a click id, per visit with one
ORGANIC_RETURNING = 0.35   # of those: site visitors who came through a tracked link before
LANDING_BOT_SHARE = 0.02   # crawlers that run scripts (Googlebot renders pages) report visits too

# Lead rate per landing visit, and what people who came that way say when asked.
CAMPAIGN_INTAKE = {
    "oslo-expo-2026": (0.03, "event"), "spring-newsletter": (0.02, "email"),
    "tech-talk-podcast": (0.025, "podcast"), "bergen-posters": (0.006, "print"),
    # Brand-ad clickers say they searched: the tracked channel (Paid search) and the answer disagree.
    "brand-search": (0.03, "search"), "linkedin-launch": (0.01, "social"),
}
# Lead rate per landing visit of one link (utm_content) where it differs from its campaign's: the demo's A/B test.
CONTENT_LEAD_RATE = {"flyer-a5-b": 0.2}
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


@dataclass(frozen=True)
class DemoVisit:
    """One page view as the snippet reports it: the ``/collect`` record, its time and the request's agent."""

    ts: datetime
    record: dict[str, Any]
    user_agent: str | None
    ip_hash: str | None


def site_id(visitor_id: str) -> str:
    """Return the snippet's site visitor id of the browser whose short-link cookie is ``visitor_id``."""
    return hashlib.blake2b(f"tracker-demo-site/{visitor_id}".encode(), digest_size=16).hexdigest()


def visits_after_clicks(rng: np.random.Generator, clicks: Sequence[StoredClick],
                        end: datetime) -> list[tuple[DemoVisit, float, str]]:
    """Return the landing visits after human clicks, each with its visitor's lead rate and topic.

    They carry the click id, so they only link the site visitor.
    """
    humans = [c for c in sorted(clicks, key=lambda c: c.index)
              if not c.is_bot and c.outcome == "redirect" and c.visitor_id]
    landed = rng.random(len(humans)) < LANDING_SHARE
    load_seconds = rng.uniform(1.5, 9.0, len(humans))  # the page and the snippet load
    tracked: list[tuple[DemoVisit, float, str]] = []   # (visit, lead rate, topic)
    for click, hit, delay in zip(humans, landed, load_seconds, strict=True):
        ts = click.ts + timedelta(seconds=float(delay))
        if not hit or ts > end:
            continue
        record: dict[str, Any] = {"type": "visit", "site_visitor_id": site_id(click.visitor_id or ""),
                                  "url": click.url, "tid": click.tid}
        record.update({name: value for name, value in zip(UTM_NAMES, click.tags, strict=True) if value})
        if click.referrer_host and not click.referrer_host.startswith("com."):  # an app id is no URL
            record["referrer"] = f"https://{click.referrer_host}/"
        rate, topic = CAMPAIGN_INTAKE.get(click.campaign or "", (0.01, "other"))
        rate = CONTENT_LEAD_RATE.get(click.tags[4] or "", rate)
        tracked.append((DemoVisit(ts, record, click.user_agent, click.ip_hash), rate, topic))
    return tracked


def organic_visits(rng: np.random.Generator, tracked: Sequence[tuple[DemoVisit, float, str]], *,
                   start: datetime, end: datetime, tz: ZoneInfo, seed: int) -> list[tuple[DemoVisit, float, str]]:
    """Return visits without a click id (search, social, other sites, typed addresses): these are touches.

    Some come from site visitors of ``tracked`` returning days later; a few are crawlers that run scripts.
    """
    count = round(ORGANIC_SHARE * len(tracked))
    returning = rng.random(count) < ORGANIC_RETURNING
    earlier = rng.integers(0, max(1, len(tracked)), count)
    gap_days = rng.exponential(4.0, count)
    fresh_times = human_times(rng, count, start, end, tz)
    referrer = pick(rng, [(r, w) for r, w, _, _ in ORGANIC_REFERRERS], count)
    page = pick(rng, ORGANIC_PAGES, count)
    crawler = rng.random(count) < LANDING_BOT_SHARE
    mobile = rng.random(count) < 0.5
    mobile_agent = pick(rng, MOBILE_AGENTS, count)
    desktop_agent = pick(rng, DESKTOP_AGENTS, count)
    fresh_ip = tokens(rng, count, 16, hexadecimal=True)
    organic: list[tuple[DemoVisit, float, str]] = []
    for j in range(count):
        ref, _, rate, topic = ORGANIC_REFERRERS[int(referrer[j])]
        record = {"type": "visit", "url": f"{SITE}{ORGANIC_PAGES[int(page[j])][0]}"}
        if crawler[j]:
            record["site_visitor_id"] = site_id(f"crawler/{seed}/{j}")
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
            record["site_visitor_id"] = site_id(f"organic/{seed}/{j}")
            agent = (MOBILE_AGENTS[int(mobile_agent[j])] if mobile[j] else DESKTOP_AGENTS[int(desktop_agent[j])])[0]
            organic.append((DemoVisit(fresh_times[j], record, agent, fresh_ip[j]), rate, topic))
    return organic


def store_visits(session: Session, visits: Sequence[DemoVisit]) -> int:
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
