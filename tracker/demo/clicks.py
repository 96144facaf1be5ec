"""Clicks and scans of the demo links: generated with the traffic's rhythm (no database), and read back.

The sample is drawn from the seed's own stream; click ``i`` has a click id fixed by the seed and ``i``,
so repeated clicks are ignored by the insert. The intake generator works from the stored clicks
(:class:`StoredClick`).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.orm import Session

from tracker.demo.campaigns import CampaignSpec, LinkSpec
from tracker.demo.common import (
    BOT_AGENTS,
    BOT_NAMES,
    DESKTOP_AGENTS,
    EXPO_HOURS,
    HUMAN_HOURS,
    MOBILE_AGENTS,
    WEEKDAYS,
    click_id,
    pick,
    tokens,
)
from tracker.links.models import OFFLINE_KINDS, Campaign, Link
from tracker.redirects.models import Click

MAX_CLICKS = 1_000_000

EXPO_LEVEL = 25.0      # activity of an expo day relative to an ordinary day
QR_SHARE = 0.93        # offline codes are scanned; the rest type the printed short URL
QR_BOT_SHARE = 0.005   # a scanned URL pasted into a chat is fetched by its preview bot
OFFLINE_BOT_SHARE = 0.02
RETURNING = 0.7        # share of human visits that carry a visitor cookie from an earlier visit


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
            "vid": np.array(tokens(rng, size, 16, hexadecimal=False), dtype=object),
            "ip": np.array(tokens(rng, size, 16, hexadecimal=True), dtype=object),
            "ua": pick(rng, agents, size),
            "pick": rng.choice(size, size=n, p=popularity / popularity.sum()),
        }
    fresh_vid = np.array(tokens(rng, n, 16, hexadecimal=False), dtype=object)
    fresh_ip = np.array(tokens(rng, n, 16, hexadecimal=True), dtype=object)
    crawler_ip = np.array(tokens(rng, 12, 16, hexadecimal=True), dtype=object)
    mobile_ua = np.array([a for a, _ in MOBILE_AGENTS], dtype=object)
    desktop_ua = np.array([a for a, _ in DESKTOP_AGENTS], dtype=object)

    mp, dp = pools["mobile"], pools["desktop"]
    vid = np.where(mobile, mp["vid"][mp["pick"]], dp["vid"][dp["pick"]])
    ip = np.where(mobile, mp["ip"][mp["pick"]], dp["ip"][dp["pick"]])
    ua = np.where(mobile, mobile_ua[mp["ua"][mp["pick"]]], desktop_ua[dp["ua"][dp["pick"]]])
    vid = np.where(returning, vid, fresh_vid)
    ip = np.where(returning, ip, fresh_ip)
    ua = np.where(returning, ua, np.where(mobile, mobile_ua[pick(rng, MOBILE_AGENTS, n)],
                                          desktop_ua[pick(rng, DESKTOP_AGENTS, n)]))
    ip = np.where(bot, crawler_ip[rng.integers(0, len(crawler_ip), n)], ip)

    referrer = np.full(n, None, dtype=object)
    bot_agents = np.array([BOT_AGENTS[k] for k in BOT_NAMES], dtype=object)
    for row, plan in enumerate(plans):
        here = link_idx == row
        mix = [(BOT_NAMES.index(name), w) for name, w in plan.spec.bot_mix]
        bots_here = here & bot
        ua[bots_here] = bot_agents[np.array([i for i, _ in mix])[pick(rng, mix, int(bots_here.sum()))]]
        if plan.kind == "online":  # only online links are followed from a page that sends a referrer
            humans = here & ~bot
            hosts = np.array([h for h, _ in plan.spec.referrers], dtype=object)
            referrer[humans] = hosts[pick(rng, plan.spec.referrers, int(humans.sum()))]

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
            "tid": click_id(seed, "click", i), "ts": f"{stamps[i]}+00:00", "via": "qr" if qr[i] else "link",
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
        orphans.append({"tid": click_id(seed, "orphan", j), "ts": ts.isoformat(timespec="microseconds"),
                        "via": "qr", "ref": None,
                        "ua": source["ua"], "ip": tokens(rng, 1, 16, hexadecimal=True)[0], "t": "orphan",
                        "code": misprints[row]})
    return orphans


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


def stored_clicks(session: Session, tids: Sequence[str]) -> list[StoredClick]:
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
