"""Cohort report parameters: one parser for the API's query string, the CLI's options and the page's form.

Every value arrives as text (or a list of texts); errors name the parameter (``ValidationError``).

- ``from`` / ``to``: the first and last cohort, as months ``YYYY-MM`` (report time zone), inclusive.
  Default: the 12 months up to the month of ``as_of``. A date is not accepted: a cohort is a month.
- ``as_of``: the report's end, a day ``YYYY-MM-DD`` (default today): purchases after that day are
  ignored, months that have not ended by then are blank, churn is measured then.
- ``by``: ``channel`` (acquisition channel, default) or ``self_reported``.
- ``months``: months since acquisition to show (1-120, default 12).
- ``conversion_type``: what counts as a purchase (a funnel type; default ``cohort_conversion_type``).
- ``channel``: only these labels (repeatable or comma-separated).
"""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from attribution.cohorts import month_label, month_number
from tracker.config import Settings
from tracker.errors import ValidationError

__all__ = ["BY", "DEFAULT_COHORTS", "DEFAULT_MONTHS", "MAX_COHORTS", "MAX_MONTHS", "NONE_LABEL", "PARAMETERS",
           "CohortParams", "month_start", "parse_cohort_params"]

BY = ("channel", "self_reported")
NONE_LABEL = "(none)"  # by=self_reported: customers who never answered
DEFAULT_COHORTS = 12
DEFAULT_MONTHS = 12
MAX_COHORTS = 120
MAX_MONTHS = 120
MAX_CHANNELS = 50
PARAMETERS = ("from", "to", "as_of", "by", "months", "conversion_type", "channel", "format")
_MONTH = re.compile(r"(\d{4})-(\d{2})")


def month_start(number: int, settings: Settings) -> datetime:
    """The first instant of month ``number`` in the report time zone (aware)."""
    return datetime(number // 12, number % 12 + 1, 1, tzinfo=settings.tz)


@dataclass(frozen=True)
class CohortParams:
    """Everything a cohort report depends on (echoed back as ``parameters``)."""

    first_month: int
    last_month: int
    as_of: date
    by: str = "channel"
    months: int = DEFAULT_MONTHS
    conversion_type: str = "purchase"
    channels: tuple[str, ...] = ()

    def end(self, settings: Settings) -> datetime:
        """The exclusive end instant: midnight after ``as_of`` in the report time zone."""
        return datetime.combine(self.as_of + timedelta(days=1), time(), settings.tz)

    def as_dict(self) -> dict[str, Any]:
        return {"from": month_label(self.first_month), "to": month_label(self.last_month),
                "as_of": self.as_of.isoformat(), "by": self.by, "months": self.months,
                "conversion_type": self.conversion_type, "channel": list(self.channels)}

    def query(self) -> list[tuple[str, str]]:
        """The parameters spelled out (explicit months and day), for download links and the API URL."""
        pairs = [(name, str(value)) for name, value in self.as_dict().items() if name != "channel"]
        return pairs + [("channel", c) for c in self.channels]


def _one(raw: Mapping[str, Any], name: str) -> str | None:
    value = raw.get(name)
    if isinstance(value, (list, tuple)):
        value = value[-1] if value else None
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _month(raw: Mapping[str, Any], name: str) -> int | None:
    value = _one(raw, name)
    if value is None:
        return None
    found = _MONTH.fullmatch(value)
    if not found or not 1 <= int(found[2]) <= 12 or int(found[1]) < 1970:
        raise ValidationError(f"{name} must be a month like 2026-01 (a cohort is a calendar month)", name)
    return month_number(int(found[1]), int(found[2]))


def parse_cohort_params(raw: Mapping[str, Any], settings: Settings, *, today: date | None = None,
                        allowed: Sequence[str] = PARAMETERS) -> CohortParams:
    """Check cohort report parameters given as text; raise ValidationError naming the parameter."""
    for name in raw:
        if name not in allowed:
            raise ValidationError(f"unknown parameter {name}; this report takes: {', '.join(sorted(allowed))}", name)
    today = today or datetime.now(settings.tz).date()
    as_of_text = _one(raw, "as_of")
    as_of = today
    if as_of_text is not None:
        try:
            as_of = date.fromisoformat(as_of_text)
        except ValueError:
            raise ValidationError("as_of must be a date like 2026-05-31", "as_of") from None
        if as_of.year < 1970:
            raise ValidationError("as_of must be a date like 2026-05-31", "as_of")
    now_month = month_number(as_of.year, as_of.month)
    last = _month(raw, "to")
    if last is None:
        last = now_month
    elif last > now_month:
        raise ValidationError(f"to is after the month of as_of ({month_label(now_month)}): that cohort has no "
                              "customers yet", "to")
    first = _month(raw, "from")
    if first is None:
        first = last - (DEFAULT_COHORTS - 1)
    if last < first:
        raise ValidationError("to is before from", "to")
    if last - first + 1 > MAX_COHORTS:
        raise ValidationError(f"a report covers at most {MAX_COHORTS} cohorts (months from `from` to `to`)", "from")

    by = (_one(raw, "by") or "channel").lower()
    if by not in BY:
        raise ValidationError(f"by must be one of {', '.join(BY)}", "by")
    months_text = _one(raw, "months")
    months = DEFAULT_MONTHS
    if months_text is not None:
        if not months_text.isdigit() or not 1 <= int(months_text) <= MAX_MONTHS:
            raise ValidationError(f"months must be a whole number from 1 to {MAX_MONTHS}", "months")
        months = int(months_text)
    conversion_type = (_one(raw, "conversion_type") or settings.cohort_conversion_type).lower()
    if conversion_type not in settings.funnel:
        raise ValidationError(f"conversion_type must be one of {', '.join(settings.funnel)}", "conversion_type")

    value = raw.get("channel")
    values = value if isinstance(value, (list, tuple)) else [value] if value is not None else []
    wanted = [part.strip() for v in values for part in str(v).split(",") if part.strip()]
    known = {c.lower(): c for c in (*settings.taxonomy.channels, NONE_LABEL)}
    channels = []
    for name in dict.fromkeys(wanted):
        if name.lower() not in known:
            raise ValidationError(f"channel {name!r} is not one of {', '.join(known.values())}", "channel")
        channels.append(known[name.lower()])
    if len(channels) > MAX_CHANNELS:
        raise ValidationError(f"at most {MAX_CHANNELS} channels", "channel")
    return CohortParams(first, last, as_of, by, months, conversion_type, tuple(dict.fromkeys(channels)))
