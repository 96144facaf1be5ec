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
