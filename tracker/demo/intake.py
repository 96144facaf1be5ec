"""The intake that follows the clicks: landing visits, identities, conversions, self-reports, the attendee list.

What happens after the clicks: the landing site's snippet, the CRM, the "How did you hear about us?"
form and an attendee list. Everything is drawn from a second stream of the seed (the click sample
stays as it was) and timed from the stored clicks, so loading again regenerates the same records.
The generators are in the modules beside this one; :func:`demo_intake` calls them in a fixed order on
one random generator, and :func:`load_intake` sends what they make through the services.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import sqlalchemy as sa
from sqlalchemy.orm import Session

from tracker.config import Settings
from tracker.conversions.service import MAX_BATCH, create_conversions
from tracker.demo.answers import non_converter_answers
from tracker.demo.campaigns import DEMO_MARK, EXPO_SLUG
from tracker.demo.clicks import StoredClick, stored_clicks
from tracker.demo.conversions import buying_again, dark_leads, deals
from tracker.demo.leads import Emails, site_leads
from tracker.demo.mentions import demo_mentions, store_mentions
from tracker.demo.offline import attendee_list
from tracker.demo.visits import DemoVisit, organic_visits, store_visits, visits_after_clicks
from tracker.errors import ValidationError
from tracker.links.models import Campaign
from tracker.selfreports.service import matcher, record_answer
from tracker.touchpoints.collect import collect
from tracker.touchpoints.imports import ImportResult, import_touchpoints

INTAKE_STREAM = 1


@dataclass
class Intake:
    """Everything the demo sends after the clicks, in the services' input formats."""

    visits: list[DemoVisit] = field(default_factory=list)
    identifies: list[tuple[dict[str, Any], str | None]] = field(default_factory=list)  # (record, agent)
    conversions: list[dict[str, Any]] = field(default_factory=list)   # create_conversions items
    answers: list[dict[str, Any]] = field(default_factory=list)       # record_answer data
    attendees: str = ""                                               # CSV for import_touchpoints
    leads: Counter[str] = field(default_factory=Counter)              # by origin: tracked, attendee, dark
    mentions: list[dict[str, Any]] = field(default_factory=list)      # brand mentions (tracker/demo/mentions.py)


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
    emails = Emails(rng)
    end = max(c.ts for c in clicks)
    start = end - timedelta(days=days)

    # 1-2. Landing visits: after clicks (they carry the click id), and from search, social, other sites.
    tracked = visits_after_clicks(rng, clicks, end)
    organic = organic_visits(rng, tracked, start=start, end=end, tz=tz, seed=seed)
    # 2b. Brand mentions, and the press article's readers typing the address two days later (own stream).
    intake.mentions, press_readers = demo_mentions(seed=seed, start=start, end=end, tz=tz)
    # 3. Leads from site visitors; some visitors only leave an e-mail.
    site = site_leads(rng, emails, tracked + organic, end=end, tz=tz, expo=expo)
    intake.visits = sorted([v for v, _, _ in tracked + organic] + site.returns + press_readers,
                           key=lambda v: (v.ts, v.record["site_visitor_id"]))
    intake.identifies = site.identifies
    # 4. The Oslo Expo attendee list (badge scans, keynote); a few attendees convert weeks later.
    intake.attendees, attendee_leads, idle = attendee_list(rng, emails, clicks=len(clicks), expo=expo,
                                                           expo_scans=site.expo_scans, start=start, end=end, tz=tz)
    # 5. The dark funnel: leads with nothing tracked but an e-mail.
    leads = site.leads + attendee_leads
    leads += dark_leads(rng, emails, sum(1 for lead in leads if lead.origin == "tracked"), start, end, tz)
    leads.sort(key=lambda lead: (lead.ts, lead.email))
    intake.leads = Counter(lead.origin for lead in leads)
    # 6. Deals move through the funnel; most leads answer "How did you hear about us?".
    intake.conversions, intake.answers = deals(rng, leads, seed=seed, end=end, funnel=funnel, rates=rates,
                                               reporting_currency=reporting_currency, options=options)
    # 7. A few people answer without ever converting.
    intake.answers += non_converter_answers(rng, site.identified + idle, leads=len(leads), options=options,
                                            end=end)
    for number, answer in enumerate(intake.answers, 1):
        answer["submission_id"] = f"demo-{seed}-answer-{number:05d}"
    # 8. Customers buy again, and the customers of the months before the window give the cohorts a history.
    again_visits, again_identifies, again_orders = buying_again(
        leads, emails, intake.conversions, seed=seed, start=start, end=end, funnel=funnel, rates=rates,
        reporting_currency=reporting_currency)
    intake.visits = sorted(intake.visits + again_visits, key=lambda v: (v.ts, v.record["site_visitor_id"]))
    intake.identifies += again_identifies
    intake.conversions += again_orders
    intake.conversions.sort(key=lambda item: (item["ts"], item["external_id"], item["type"]))
    return intake


def load_intake(session: Session, settings: Settings, secret: bytes, tids: Sequence[str], days: int,
                seed: int) -> list[str]:
    """Send the intake that follows the stored clicks ``tids`` through the services; return summary lines."""
    clicks = stored_clicks(session, tids)
    campaign = session.scalar(sa.select(Campaign).where(Campaign.slug == EXPO_SLUG))
    expo = None
    if campaign is not None and (campaign.description or "").startswith(DEMO_MARK) and campaign.start_date:
        expo = (campaign.start_date, campaign.end_date or campaign.start_date)
    intake = demo_intake(clicks, days=days, seed=seed, tz=settings.tz, funnel=settings.funnel,
                         options=frozenset(o.key for o in settings.answers.options), rates=settings.rates,
                         reporting_currency=settings.reporting_currency, expo=expo)

    new_visits = store_visits(session, intake.visits)
    mentions = store_mentions(session, settings, intake.mentions)
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
        f"Brand mentions: {mentions.rows} rows (days and platforms, one press article), {mentions.inserted} new.",
    ]
