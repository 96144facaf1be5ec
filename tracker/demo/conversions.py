"""Conversions: leads with no tracked touch (the dark funnel), and deals moving through the funnel."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from tracker.demo.answers import ANSWER_RATE, draw_answer
from tracker.demo.common import CURRENCY, human_times, pick
from tracker.demo.leads import Emails, Lead, as_typed

DARK_LEADS = 0.3           # leads without any tracked touch, per tracked lead
ADVANCE = (0.5, 0.45)      # chance a deal moves on to the next stage of the funnel
STAGE_DAYS = ((2.0, 12.0), (4.0, 25.0))  # days between consecutive stages
VALUE_RANGE = (20_000.0, 400_000.0)      # purchase values in NOK, log-uniform
FOREIGN_SHARE = 0.12       # purchases billed in EUR when a rate for EUR is configured
DARK_TOPICS = (("friend", 0.35), ("podcast", 0.3), ("event", 0.15), ("press", 0.1), ("partner", 0.05),
               ("print", 0.05))


def dark_leads(rng: np.random.Generator, emails: Emails, tracked_leads: int, start: datetime, end: datetime,
               tz: ZoneInfo) -> list[Lead]:
    """Return leads with nothing tracked but an e-mail (a podcast, a colleague, the expo): the dark funnel."""
    leads: list[Lead] = []
    dark = max(2, round(DARK_LEADS * tracked_leads))
    for ts in sorted(human_times(rng, dark, start, end, tz)):
        topic = DARK_TOPICS[int(pick(rng, DARK_TOPICS, 1)[0])][0]
        leads.append(Lead(emails.new(), ts, None, topic, "dark"))
    return leads


def deals(rng: np.random.Generator, leads: Sequence[Lead], *, seed: int, end: datetime, funnel: Sequence[str],
          rates: dict[str, Decimal], reporting_currency: str,
          options: frozenset[str]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Return the conversions of the leads' deals and the leads' answers (``create_conversions`` items, answers).

    Deals move through the funnel (one external id); only the last stage has a value. Most leads answer
    "How did you hear about us?" (:data:`ANSWER_RATE`).
    """
    conversions: list[dict[str, Any]] = []
    answers: list[dict[str, Any]] = []
    currency = CURRENCY if CURRENCY in rates else reporting_currency  # the demo's values are NOK amounts
    foreign = "EUR" if "EUR" in rates and reporting_currency != "EUR" else None
    for number, lead in enumerate(leads, 1):
        deal = f"NRD-{seed}-{number:05d}"
        item: dict[str, Any] = {"external_id": deal, "type": funnel[0], "ts": lead.ts.isoformat(),
                                "customer_key": as_typed(rng, lead.email)}
        if lead.site and rng.random() < 0.5:  # the form's hidden field; otherwise the identify call links them
            item["site_visitor_id"] = lead.site
        conversions.append(item)
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
            conversions.append(item)
        if rng.random() < ANSWER_RATE:
            answers.append(draw_answer(rng, lead.topic, options, lead.email, lead.ts, end, deal))
    return conversions, answers


# ---- customers who buy again (the cohort report) ----------------------------------------------------------
# Chance per month that a customer orders again, by how they came (what they say, or the history's source):
# newsletter readers and event contacts come back most, social visitors least.
REPEAT_MONTHLY = {"email": 0.42, "event": 0.32, "podcast": 0.26, "partner": 0.3, "friend": 0.22, "press": 0.18,
                  "search": 0.2, "print": 0.12, "social": 0.08, "other": 0.12}
REPEAT_VALUE = (0.15, 0.6)   # a repeat order's value, as a share of a first order's range
HISTORY_MONTHS = 10          # months of earlier customers before the traffic window
HISTORY_PER_MONTH = 0.6      # earlier customers per month, per purchase in the window (at least 4)
# Where the earlier customers first came from: (topic, weight, what the site snippet saw on their first visit).
HISTORY_SOURCES: tuple[tuple[str, float, dict[str, str]], ...] = (
    ("search", 0.3, {"referrer": "https://www.google.no/"}),
    ("email", 0.2, {"utm_source": "newsletter", "utm_medium": "email", "utm_campaign": "monthly-newsletter"}),
    ("social", 0.2, {"referrer": "https://www.linkedin.com/feed/"}),
    ("press", 0.1, {"referrer": "https://techblogg.example/verktoy/"}),
    ("friend", 0.2, {}),
)


def _orders(rng: np.random.Generator, deal: str, email: str, after: datetime, end: datetime, topic: str,
            funnel: Sequence[str], currency: str) -> list[dict[str, Any]]:
    """Repeat orders after ``after`` until ``end``: each a new deal (its lead a few days before the purchase)."""
    items: list[dict[str, Any]] = []
    rate = REPEAT_MONTHLY.get(topic, REPEAT_MONTHLY["other"])
    ts = after
    for number in range(1, 100):
        ts = ts + timedelta(days=float(rng.exponential(30.0 / rate)) + 7.0)
        if ts > end:
            break
        value = float(np.exp(rng.uniform(np.log(VALUE_RANGE[0]), np.log(VALUE_RANGE[1])))) * \
            float(rng.uniform(*REPEAT_VALUE))
        lead = ts - timedelta(days=float(rng.uniform(0.5, 5.0)))
        order = f"{deal}-R{number:02d}"
        items.append({"external_id": order, "type": funnel[0], "ts": lead.isoformat(), "customer_key": email})
        items.append({"external_id": order, "type": funnel[-1], "ts": ts.isoformat(), "customer_key": email,
                      "value": f"{round(value, -2):.2f}", "currency": currency})
    return items


def repeat_purchases(rng: np.random.Generator, conversions: Sequence[dict[str, Any]], topics: dict[str, str], *,
                     end: datetime, funnel: Sequence[str], currency: str) -> list[dict[str, Any]]:
    """Return the repeat orders of the window's customers (after their first purchase, up to ``end``).

    ``topics`` maps each deal id to how its lead came (:data:`REPEAT_MONTHLY`). Repeat deals have fixed
    ids (``<deal>-R01`` ...), so loading again adds nothing.
    """
    items: list[dict[str, Any]] = []
    for item in conversions:
        if item["type"] == funnel[-1] and item["external_id"] in topics:
            items += _orders(rng, item["external_id"], item["customer_key"], datetime.fromisoformat(item["ts"]), end,
                             topics[item["external_id"]], funnel, currency)
    return items


def earlier_customers(rng: np.random.Generator, emails: Emails, *, seed: int, start: datetime, end: datetime,
                      per_month: int, funnel: Sequence[str], currency: str,
                      ) -> tuple[list[tuple[datetime, str, dict[str, str]]], list[tuple[str, str]],
                                 list[dict[str, Any]]]:
    """Return customers of the months before the window: first visits, identities and orders (first and repeat).

    Each came to the site once (from search, the newsletter, LinkedIn, a blog or by typing the address),
    left their e-mail, bought within weeks and then ordered again at the rate of how they came, so the
    cohort report has a year of history. Returns (visit time, site visitor id, what the snippet saw),
    (site visitor id, e-mail) pairs for the identify calls, and ``create_conversions`` items.
    """
    visits: list[tuple[datetime, str, dict[str, str]]] = []
    identities: list[tuple[str, str]] = []
    items: list[dict[str, Any]] = []
    first = start - timedelta(days=30.4 * HISTORY_MONTHS)
    count = per_month * HISTORY_MONTHS
    times = sorted(first + timedelta(seconds=float(s)) for s in rng.uniform(0, (start - first).total_seconds(), count))
    sources = pick(rng, [(topic, weight) for topic, weight, _ in HISTORY_SOURCES], count)
    for number, (ts, source) in enumerate(zip(times, sources, strict=True), 1):
        topic, _, seen = HISTORY_SOURCES[int(source)]
        site = f"history-{seed}-{number:05d}"
        email = emails.new()
        deal = f"NRH-{seed}-{number:05d}"
        visits.append((ts, site, seen))
        identities.append((site, email))
        lead = ts + timedelta(minutes=float(rng.uniform(2, 30)))
        bought = lead + timedelta(days=float(rng.uniform(3, 20)))
        value = float(np.exp(rng.uniform(np.log(VALUE_RANGE[0]), np.log(VALUE_RANGE[1]))))
        items.append({"external_id": deal, "type": funnel[0], "ts": lead.isoformat(), "customer_key": email})
        if bought > end:  # a short window: still open
            continue
        items.append({"external_id": deal, "type": funnel[-1], "ts": bought.isoformat(), "customer_key": email,
                      "value": f"{round(value, -3):.2f}", "currency": currency})
        items += _orders(rng, deal, email, bought, end, topic, funnel, currency)
    return visits, identities, items


REPEAT_STREAM = 2  # the repeat orders' own random stream: the rest of the intake stays as it was


def buying_again(leads: Sequence[Lead], emails: Emails, conversions: Sequence[dict[str, Any]], *, seed: int,
                 start: datetime, end: datetime, funnel: Sequence[str], rates: dict[str, Decimal],
                 reporting_currency: str) -> tuple[list[Any], list[tuple[dict[str, Any], str | None]],
                                                   list[dict[str, Any]]]:
    """Return what makes customers buy again: landing visits, identify calls and orders (``create_conversions``).

    The window's customers order again at the rate of how their lead came (:func:`repeat_purchases`), and
    :func:`earlier_customers` adds the customers of the :data:`HISTORY_MONTHS` months before the window, so
    the cohort report shows real retention. Drawn from their own stream of the seed, with fixed ids (deal ids,
    site visitor ids) and addresses not handed out before: loading again adds nothing.
    """
    from tracker.demo.common import DESKTOP_AGENTS, SITE
    from tracker.demo.visits import DemoVisit, site_id

    rng = np.random.default_rng([seed, REPEAT_STREAM])
    currency = CURRENCY if CURRENCY in rates else reporting_currency
    topics = {f"NRD-{seed}-{number:05d}": lead.topic for number, lead in enumerate(leads, 1)}
    orders = repeat_purchases(rng, conversions, topics, end=end, funnel=funnel, currency=currency)
    history_emails = Emails(rng)
    history_emails.taken = set(emails.taken)
    purchases = sum(1 for item in conversions if item["type"] == funnel[-1])
    first, identities, earlier = earlier_customers(
        rng, history_emails, seed=seed, start=start, end=end, funnel=funnel, currency=currency,
        per_month=max(4, round(HISTORY_PER_MONTH * purchases)))
    agent = DESKTOP_AGENTS[0][0]
    visits = [DemoVisit(ts, {"type": "visit", "site_visitor_id": site_id(site), "url": f"{SITE}/", **seen}, agent, None)
              for ts, site, seen in first]
    identifies: list[tuple[dict[str, Any], str | None]] = [
        ({"type": "identify", "site_visitor_id": site_id(site), "customer_key": email}, agent)
        for site, email in identities]
    return visits, identifies, orders + earlier
