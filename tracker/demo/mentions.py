"""Brand mentions of the demo: daily social and review mentions, and a press article that people act on later.

Over the demo window: LinkedIn and X mentions every day (more on working days), a few reviews on
Trustpilot and threads on Reddit, each day's count with a mean sentiment. About a third of the way
before the window's end a business paper runs a feature (platform ``press``, with its URL); it is
shared on LinkedIn and X the same day and the day after. Its readers do not click anything: two days
later (:data:`PRESS_LAG_DAYS`) extra visitors type the address (Direct landing visits, generated here
as :class:`~tracker.demo.visits.DemoVisit` and stored by the visit generator's
:func:`~tracker.demo.visits.store_visits`), a few more the day after. So the mentions report on demo
data shows the lag table's strongest Direct correlation at lag 2.

Everything is drawn from its own stream of the seed (the clicks' and the intake's draws are left as
they were) and the days follow the intake's window, so loading again sends the same rows: the
mentions service leaves them unchanged and the visits are known by their site visitor ids.
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy.orm import Session

from tracker.config import Settings
from tracker.demo.common import DESKTOP_AGENTS, MOBILE_AGENTS, SITE, human_times, pick, tokens
from tracker.demo.visits import DemoVisit, site_id
from tracker.mentions.service import Outcome, record_mentions

__all__ = ["MENTIONS_STREAM", "PRESS_LAG_DAYS", "PRESS_URL", "demo_mentions", "store_mentions"]

MENTIONS_STREAM = 2  # the intake draws from stream 1
PRESS_LAG_DAYS = 2
PRESS_URL = "https://www.naeringsliv.example/teknologi/nordlys-maler-det-ingen-ser"
PRESS_NOTE = "Feature: the Bergen start-up that measures word of mouth"
# Readers who type the address PRESS_LAG_DAYS days after the article, then the day after that.
PRESS_READERS = (45, 12)
# platform -> (mean mentions on a working day, mean sentiment, its spread)
DAILY = {"linkedin": (5.0, 0.35, 0.15), "x": (2.5, 0.1, 0.25), "trustpilot": (0.5, 0.3, 0.5),
         "reddit": (0.4, 0.0, 0.3)}
# Shares of the article: extra mentions on the day and the day after.
ECHO = {"linkedin": (30, 8), "x": (12, 3)}


def _days(start: datetime, end: datetime, tz: ZoneInfo) -> list[date]:
    first = (start.astimezone(tz) + timedelta(days=1)).date()  # the first whole day of the window
    last = end.astimezone(tz).date()
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def press_day(days: Sequence[date]) -> date | None:
    """The article's day: about a third of the window before its end, with its readers' days inside it."""
    if len(days) <= PRESS_LAG_DAYS + 1:
        return None
    return days[max(0, len(days) - 1 - PRESS_LAG_DAYS - len(days) // 3)]


def demo_mentions(*, seed: int, start: datetime, end: datetime,
                  tz: ZoneInfo) -> tuple[list[dict[str, Any]], list[DemoVisit]]:
    """Return the window's mentions (the API's JSON objects) and the press readers' Direct visits."""
    rng = np.random.default_rng([seed, MENTIONS_STREAM])
    days = _days(start, end, tz)
    article = press_day(days)
    mentions: list[dict[str, Any]] = []
    for day in days:
        weekday = day.weekday() < 5
        for platform, (mean, mood, spread) in DAILY.items():
            count = int(rng.poisson(mean * (1.0 if weekday else 0.45)))
            sentiment = float(np.clip(rng.normal(mood, spread), -1, 1))
            if article is not None and platform in ECHO:
                count += ECHO[platform][0] if day == article else ECHO[platform][1] if day == article + timedelta(
                    days=1) else 0
            if count:
                mentions.append({"date": day.isoformat(), "platform": platform, "count": count,
                                 "sentiment": round(sentiment, 2)})
        if day == article:
            mentions.append({"date": day.isoformat(), "platform": "press", "count": 1, "sentiment": 0.8,
                             "url": PRESS_URL, "note": PRESS_NOTE})
    visits: list[DemoVisit] = []
    if article is not None:
        for offset, readers in enumerate(PRESS_READERS):
            day = article + timedelta(days=PRESS_LAG_DAYS + offset)
            day_start = datetime.combine(day, time(), tz)
            day_end = min(datetime.combine(day + timedelta(days=1), time(), tz), end)
            times = human_times(rng, readers, day_start, day_end, tz)
            mobile = rng.random(len(times)) < 0.55
            mobile_agent = pick(rng, MOBILE_AGENTS, len(times))
            desktop_agent = pick(rng, DESKTOP_AGENTS, len(times))
            ips = tokens(rng, len(times), 16, hexadecimal=True)
            for j, ts in enumerate(times):
                agent = (MOBILE_AGENTS[int(mobile_agent[j])] if mobile[j] else DESKTOP_AGENTS[int(desktop_agent[j])])[0]
                # Typed in or from a bookmark: no referrer, no UTM values, so the reports call it Direct.
                record = {"type": "visit", "url": f"{SITE}/", "site_visitor_id": site_id(f"press/{seed}/{offset}/{j}")}
                visits.append(DemoVisit(ts, record, agent, ips[j]))
    return mentions, visits


def store_mentions(session: Session, settings: Settings, mentions: Sequence[dict[str, Any]]) -> Outcome:
    """Record the mentions through the service (idempotent per date, platform and url); all or nothing."""
    outcome = Outcome()
    if not mentions:
        return outcome
    # The demo's clock may be pinned (tests): its last day is "today" for the future-date check.
    today = max(date.fromisoformat(m["date"]) for m in mentions)
    for i in range(0, len(mentions), 1000):
        part = record_mentions(session, settings, mentions[i:i + 1000], today=today)
        outcome.rows += part.rows
        outcome.inserted += part.inserted
        outcome.updated += part.updated
        outcome.unchanged += part.unchanged
    return outcome
