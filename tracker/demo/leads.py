"""People who get in touch: leads from the site's visitors, visitors who only leave an e-mail, fake addresses."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from tracker.demo.campaigns import EXPO_SLUG
from tracker.demo.common import SITE, pick
from tracker.demo.visits import DemoVisit

IDENTIFY_ONLY = 0.3        # site visitors who leave an e-mail (a guide, a webinar) but never convert, per lead
REPORTS_ELSEWHERE = 0.4    # tracked people who name a source their clicks do not show: the dark funnel
ELSEWHERE_TOPICS = (("friend", 0.5), ("podcast", 0.2), ("event", 0.15), ("press", 0.1), ("partner", 0.05))
FIRST_NAMES = ("Ingrid", "Ole", "Kari", "Lars", "Nora", "Jonas", "Emma", "Henrik", "Sofie", "Magnus", "Ida", "Erik",
               "Thea", "Sindre", "Maja", "Anders", "Silje", "Kristian", "Marte", "Håkon", "Åse", "Bjørn", "Sigrid",
               "Øystein", "Tuva", "Jakob", "Hanne", "Eirik", "Line", "Per", "Amir", "Fatima", "Olivia", "Tobias")
LAST_NAMES = ("Hansen", "Johansen", "Olsen", "Larsen", "Andersen", "Pedersen", "Nilsen", "Kristiansen", "Jensen",
              "Karlsen", "Berg", "Haugen", "Hagen", "Bakken", "Solberg", "Strand", "Lie", "Dahl", "Lund", "Moen",
              "Sæther", "Aasen", "Brekke", "Eide", "Holm", "Nygård", "Ødegård", "Khan", "Nguyen", "Ali")
# Reserved for documentation (RFC 2606), like the demo site: no mail can reach a real person.
EMAIL_DOMAINS = (("example.no", 0.6), ("example.com", 0.4))
_ASCII = str.maketrans({"æ": "ae", "ø": "o", "å": "a"})


@dataclass
class Lead:
    """A person whose deal starts: after tracked visits, from the attendee list, or with no tracked touch."""

    email: str
    ts: datetime
    site: str | None
    topic: str
    origin: str  # "tracked", "attendee" or "dark"


class Emails:
    """Unique fake e-mail addresses at reserved domains, drawn from Norwegian names."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.taken: set[str] = set()

    def new(self) -> str:
        """Return an address not handed out before (lower case ASCII, like a CRM stores it)."""
        first = FIRST_NAMES[int(self.rng.integers(len(FIRST_NAMES)))].lower().translate(_ASCII)
        last = LAST_NAMES[int(self.rng.integers(len(LAST_NAMES)))].lower().translate(_ASCII)
        domain = EMAIL_DOMAINS[int(pick(self.rng, EMAIL_DOMAINS, 1)[0])][0]
        local = f"{first}.{last}" if self.rng.random() < 0.8 else f"{first[0]}{last}"
        email = f"{local}@{domain}"
        number = 1
        while email in self.taken:  # two people share a name: the address gets a number
            number += 1
            email = f"{local}{number}@{domain}"
        self.taken.add(email)
        return email


def as_typed(rng: np.random.Generator, email: str) -> str:
    """Return the address as written on a form: mostly lower case, sometimes capitalised."""
    local, domain = email.split("@")
    if rng.random() < 0.25:
        return ".".join(part.capitalize() for part in local.split(".")) + "@" + domain.capitalize()
    return email


@dataclass
class SiteLeads:
    """What the site's visitors lead to (:func:`site_leads`)."""

    leads: list[Lead] = field(default_factory=list)  # filled in the contact form
    identifies: list[tuple[dict[str, Any], str | None]] = field(default_factory=list)  # (record, agent)
    identified: list[tuple[str, datetime, str]] = field(default_factory=list)  # (e-mail, time, topic): no lead
    returns: list[DemoVisit] = field(default_factory=list)  # visits of leads who came back to the form
    expo_scans: list[tuple[str, datetime]] = field(default_factory=list)  # (e-mail, time) scanned at the expo


def site_leads(rng: np.random.Generator, emails: Emails, visits: Sequence[tuple[DemoVisit, float, str]], *,
               end: datetime, tz: ZoneInfo, expo: tuple[date, date] | None) -> SiteLeads:
    """Return the leads of site visitors (``visits``: each with its lead rate and topic) and their identify calls.

    The first visit that "works" leads to the contact form; some visitors only leave an e-mail (a guide,
    a webinar) and never become a lead.
    """
    found = SiteLeads()
    leads, returns, expo_scans = found.leads, found.returns, found.expo_scans
    seen = sorted(visits, key=lambda v: (v[0].ts, v[0].record["site_visitor_id"]))
    works = rng.random(len(seen)) < np.array([rate for _, rate, _ in seen])
    converted: set[str] = set()
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
            topic = ELSEWHERE_TOPICS[int(pick(rng, ELSEWHERE_TOPICS, 1)[0])][0]
        email = emails.new()
        leads.append(Lead(email, ts, site, topic, "tracked"))
        found.identifies.append(({"type": "identify", "site_visitor_id": site,
                                  "customer_key": as_typed(rng, email)}, visit.user_agent))
        if expo and visit.record.get("utm_campaign") == EXPO_SLUG and \
                expo[0] <= visit.ts.astimezone(tz).date() <= expo[1]:
            expo_scans.append((email, visit.ts))

    # Some visitors leave an e-mail (a guide, a webinar) and never become a lead.
    last_visit = {v.record["site_visitor_id"]: (v, topic) for v, rate, topic in seen if rate > 0}  # no crawlers
    candidates = sorted(((site, v) for site, v in last_visit.items() if site not in converted),
                        key=lambda item: item[0])
    identified = found.identified
    if candidates:
        for k in rng.choice(len(candidates), size=min(len(candidates), round(IDENTIFY_ONLY * len(leads))),
                            replace=False):
            site, (visit, topic) = candidates[int(k)]
            email = emails.new()
            found.identifies.append(({"type": "identify", "site_visitor_id": site,
                                      "customer_key": as_typed(rng, email)}, visit.user_agent))
            identified.append((email, visit.ts, topic))
    return found
