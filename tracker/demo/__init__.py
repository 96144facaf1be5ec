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

The package's modules follow what they generate: :mod:`~tracker.demo.campaigns` (campaigns, links, costs),
:mod:`~tracker.demo.clicks`, :mod:`~tracker.demo.visits` (landing visits), :mod:`~tracker.demo.leads`,
:mod:`~tracker.demo.offline` (the attendee list), :mod:`~tracker.demo.conversions`,
:mod:`~tracker.demo.answers`; :mod:`~tracker.demo.intake` runs the generators that follow the clicks and
:func:`load_demo` loads everything.
"""
from __future__ import annotations

from collections import Counter
from datetime import timedelta

from flask import Flask

from tracker.config import Settings
from tracker.db import get_db, utcnow
from tracker.demo.campaigns import CAMPAIGNS, DEMO_MARK, ensure_campaign, ensure_costs, ensure_link
from tracker.demo.clicks import MAX_CLICKS, LinkPlan, StoredClick, demo_records
from tracker.demo.common import BATCH, CURRENCY, click_id
from tracker.demo.intake import Intake, demo_intake, load_intake
from tracker.demo.visits import DemoVisit
from tracker.errors import ValidationError
from tracker.redirects.capture import parse_device, write_batch

__all__ = ["CAMPAIGNS", "DEMO_MARK", "DemoVisit", "Intake", "LinkPlan", "StoredClick", "demo_intake", "demo_records",
           "load_demo"]


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
            campaign, created = ensure_campaign(session, settings, spec, today)
            if campaign is None:
                skipped.append(spec.slug)
                continue
            tally.update({"campaigns": 1, "new campaigns": created})
            for link_spec in spec.links:
                link, created = ensure_link(session, settings, campaign, link_spec, tz)
                tally.update({"links": 1, "new links": created})
                plans.append(LinkPlan.of(link, campaign, spec, link_spec))
            due, added = ensure_costs(session, settings, campaign, spec, today)
            tally.update({"costs": due, "new costs": added})

        records = demo_records(plans, now=now, days=days, clicks=clicks, seed=seed, tz=tz)
        new = sum(write_batch(session, records[i:i + BATCH], tz) for i in range(0, len(records), BATCH))
        secret: bytes = app.extensions["tracker.redirects"]["ip_secret"]
        intake = load_intake(session, settings, secret, [click_id(seed, "click", i) for i in range(clicks)], days, seed)

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
