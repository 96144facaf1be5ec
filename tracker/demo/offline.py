"""The Oslo Expo attendee list: badge scans and the keynote, as a CSV file for the touchpoint import."""
from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from tracker.demo.campaigns import EXPO_SLUG
from tracker.demo.common import EXPO_HOURS, human_times, pick
from tracker.demo.leads import Emails, Lead, as_typed

ATTENDEES_PER_CLICK = 0.02
ATTENDEE_CONVERTS = 0.06
ATTENDEE_TWICE = 0.08      # badge scanned at the booth and at the keynote
ATTENDEE_TOPICS = (("event", 0.75), ("friend", 0.15), ("podcast", 0.05), ("social", 0.05))
ATTENDEE_LABELS = (("Badge scan, booth 12", 0.7), ("Keynote, Hall B", 0.2), ("Demo booked at the booth", 0.1))


def attendee_list(rng: np.random.Generator, emails: Emails, *, clicks: int, expo: tuple[date, date] | None,
                  expo_scans: Sequence[tuple[str, datetime]], start: datetime, end: datetime,
                  tz: ZoneInfo) -> tuple[str, list[Lead], list[tuple[str, datetime, str]]]:
    """Return the attendee list (CSV), the attendees who convert weeks later, and those who never do.

    The list exists when the expo lies in the window (else ``""``); it holds the tracked leads who scanned a
    code at the expo (``expo_scans``) and about one attendee per fifty ``clicks``. Those who never convert
    are returned as (e-mail, first scan, topic): some of them answer anyway.
    """
    leads: list[Lead] = []
    rows: list[tuple[datetime, str, str]] = []
    idle: list[tuple[str, datetime, str]] = []  # attendees who never convert: some answer anyway
    if expo and start <= datetime.combine(expo[0], time.min, tz) and datetime.combine(expo[1], time.max, tz) <= end:
        expo_days = (expo[1] - expo[0]).days + 1
        hour_p = EXPO_HOURS / EXPO_HOURS.sum()
        for email, ts in expo_scans:
            rows.append((ts, email, ATTENDEE_LABELS[0][0]))
        for _ in range(max(20, round(ATTENDEES_PER_CLICK * clicks))):
            email = emails.new()
            labels = [int(pick(rng, ATTENDEE_LABELS, 1)[0])]
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
                lead_ts = human_times(rng, 1, first + timedelta(days=2), first + timedelta(days=35), tz)[0]
                if lead_ts <= end:
                    topic = ATTENDEE_TOPICS[int(pick(rng, ATTENDEE_TOPICS, 1)[0])][0]
                    leads.append(Lead(email, lead_ts, None, topic, "attendee"))
                    continue
            idle.append((email, first, "event"))
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["Email", "Time", "Kind", "Campaign", "Label", "Source"])
        for ts, email, label in sorted(rows):
            # An exported spreadsheet: local wall times to the minute, addresses as the attendees typed them.
            writer.writerow([as_typed(rng, email), ts.astimezone(tz).strftime("%Y-%m-%d %H:%M"), "event",
                             EXPO_SLUG, label, "oslo-expo"])
        return buffer.getvalue(), leads, idle
    return "", leads, idle
