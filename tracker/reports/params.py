"""Report parameters: one parser for the API's query string, the CLI's options and the pages' forms.

Every value arrives as text (or a list of texts for repeatable parameters) and is checked here, so
the three front ends accept exactly the same input and name the same field in their errors.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from attribution.models import DATA_DRIVEN as DATA_DRIVEN_MODELS
from attribution.uncertainty import DEFAULT_SAMPLES, MAX_SAMPLES, MIN_SAMPLES
from tracker.config import Settings
from tracker.errors import ValidationError

__all__ = ["BY_COLUMNS", "DATA_DRIVEN", "DEFAULT_MODELS", "FILTERS", "FUNNEL_MODELS", "MODEL_NAMES", "Period",
           "ReportParams", "parse_params"]

MODEL_NAMES = ("first_touch", "last_touch", "last_non_direct", "linear", "time_decay", "position_based",
               "self_reported", "markov", "shapley")
DATA_DRIVEN = tuple(DATA_DRIVEN_MODELS)  # credit in aggregate from converting and non-converting journeys
DEFAULT_MODELS = ("first_touch", "last_touch", "linear")
FUNNEL_MODELS = ("linear",)  # the funnel's cost metrics credit with one model
# ``by`` as analysts write it -> the touchpoint column.
BY_COLUMNS = {"channel": "channel", "source": "source", "medium": "medium", "campaign": "campaign",
              "link": "link_code", "kind": "kind"}
FILTERS = ("channel", "source", "medium", "campaign", "link", "kind")
DEFAULT_DAYS = 30
MAX_DAYS = 3660
MAX_LOOKBACK = 365


@dataclass(frozen=True)
class Period:
    """Days ``first``..``last`` (inclusive) in the report time zone, and their UTC bounds."""

    first: date
    last: date
    start: datetime  # first day's midnight, report zone (aware)
    end: datetime  # the day after the last day's midnight: exclusive

    @classmethod
    def of(cls, first: date, last: date, settings: Settings) -> Period:
        tz = settings.tz
        return cls(first, last, datetime.combine(first, time(), tz),
                   datetime.combine(last + timedelta(days=1), time(), tz))

    def previous(self) -> Period:
        """The period of the same length just before this one."""
        length = (self.last - self.first).days + 1
        first = self.first - timedelta(days=length)
        return Period(first, self.first - timedelta(days=1), self.start - (self.end - self.start), self.start)

    def as_dict(self) -> dict[str, str]:
        return {"from": self.first.isoformat(), "to": self.last.isoformat()}


@dataclass(frozen=True)
class ReportParams:
    """Everything a report depends on (reports echo it back as ``parameters``)."""

    period: Period
    models: tuple[str, ...] = DEFAULT_MODELS
    by: tuple[str, ...] = ("channel",)
    lookback_days: int = 30
    conversion_type: str | None = None  # None: every type
    since_previous_conversion: bool = False
    self_report_as_first_touch: bool = False
    half_life_days: float = 7.0
    position_first: float = 0.4
    position_last: float = 0.4
    filters: Mapping[str, str] = field(default_factory=dict)
    compare: Period | None = None
    segment: str | None = None
    markov_order: int = 1
    intervals: bool = False
    samples: int = DEFAULT_SAMPLES

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.update(self.period.as_dict())
        out.pop("period")
        out["compare"] = self.compare.as_dict() if self.compare else None
        out["filters"] = dict(self.filters)
        out["models"], out["by"] = list(self.models), list(self.by)
        return out


def _one(raw: Mapping[str, Any], name: str) -> str | None:
    value = raw.get(name)
    if isinstance(value, (list, tuple)):
        value = value[-1] if value else None
    if value is None:
        return None
    value = str(value).strip()
    return value or None


def _many(raw: Mapping[str, Any], name: str) -> list[str]:
    value = raw.get(name)
    values = value if isinstance(value, (list, tuple)) else [value] if value is not None else []
    return [part.strip() for v in values for part in str(v).split(",") if part.strip()]


def _date(raw: Mapping[str, Any], name: str) -> date | None:
    value = _one(raw, name)
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValidationError(f"{name} must be a date like 2026-05-31", name) from None


def _number(raw: Mapping[str, Any], name: str, default: float, low: float, high: float) -> float:
    value = _one(raw, name)
    if value is None:
        return default
    try:
        number = float(value)
    except ValueError:
        raise ValidationError(f"{name} must be a number between {low:g} and {high:g}", name) from None
    if not low <= number <= high:
        raise ValidationError(f"{name} must be between {low:g} and {high:g}", name)
    return number


def _bool(raw: Mapping[str, Any], name: str) -> bool:
    value = (_one(raw, name) or "false").lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValidationError(f"{name} must be true or false", name)


def _period(raw: Mapping[str, Any], settings: Settings, first_name: str, last_name: str,
            today: date) -> Period | None:
    first, last = _date(raw, first_name), _date(raw, last_name)
    if first is None and last is None:
        return None
    last = last or today
    first = first or last - timedelta(days=DEFAULT_DAYS - 1)
    if last < first:
        raise ValidationError(f"{last_name} is before {first_name}", last_name)
    if (last - first).days >= MAX_DAYS:
        raise ValidationError(f"a period is at most {MAX_DAYS} days", first_name)
    return Period.of(first, last, settings)


def parse_params(raw: Mapping[str, Any], settings: Settings, *, today: date | None = None,
                 allowed: Sequence[str] | None = None, default_models: Sequence[str] = DEFAULT_MODELS) -> ReportParams:
    """Check report parameters given as text; raise ValidationError naming the parameter.

    Defaults: the last 30 days up to today (report time zone), models first_touch, last_touch and
    linear, by channel, lookback 30 days, conversions of every type.
    ``allowed`` lists the parameter names the caller's report takes (others are refused);
    ``default_models`` are the models when none is given (the funnel's cost metrics use linear).
    """
    known = {"from", "to", "model", "by", "lookback_days", "conversion_type", "since_previous_conversion",
             "self_report_as_first_touch", "half_life_days", "position_first", "position_last", "compare_from",
             "compare_to", "segment", "markov_order", "intervals", "samples", "format", *FILTERS}
    allowed_names = set(allowed) if allowed is not None else known
    for name in raw:
        if name not in known or name not in allowed_names:
            raise ValidationError(f"unknown parameter {name}; this report takes: {', '.join(sorted(allowed_names))}",
                                  name)
    today = today or datetime.now(settings.tz).date()
    period = _period(raw, settings, "from", "to", today) or Period.of(
        today - timedelta(days=DEFAULT_DAYS - 1), today, settings)

    models = tuple(dict.fromkeys(_many(raw, "model"))) or tuple(default_models)
    for name in models:
        if name not in MODEL_NAMES:
            raise ValidationError(f"model {name!r} is not one of {', '.join(MODEL_NAMES)}", "model")
    by = tuple(dict.fromkeys(_many(raw, "by"))) or ("channel",)
    for name in by:
        if name not in BY_COLUMNS:
            raise ValidationError(f"by {name!r} is not one of {', '.join(BY_COLUMNS)}", "by")
    if "self_reported" in models and by != ("channel",):
        raise ValidationError("the self_reported model credits channels only: use by=channel", "by")

    conversion_type = _one(raw, "conversion_type")
    if conversion_type is not None:
        conversion_type = conversion_type.lower()
        if conversion_type == "all":
            conversion_type = None
        elif conversion_type not in settings.funnel:
            raise ValidationError(f"conversion_type must be all or one of {', '.join(settings.funnel)}",
                                  "conversion_type")

    first_weight = _number(raw, "position_first", 0.4, 0, 1)
    last_weight = _number(raw, "position_last", 0.4, 0, 1)
    if first_weight + last_weight > 1:
        raise ValidationError("position_first + position_last must be at most 1 (the middle touches share the "
                              "rest)", "position_last")
    filters = {name: value for name in FILTERS if (value := _one(raw, name)) is not None}
    segment = _one(raw, "segment")
    segments = (*BY_COLUMNS, "self_reported", "country")  # country: of the first touch (tracker/geo/funnel.py)
    if segment is not None and segment not in segments:
        raise ValidationError(f"segment must be one of {', '.join(segments)}", "segment")
    markov_order = _number(raw, "markov_order", 1, 1, 4)
    if markov_order != int(markov_order):
        raise ValidationError("markov_order must be a whole number from 1 to 4", "markov_order")
    filtered = [name for name in FILTERS if name in filters]
    if "markov" in models and filtered:
        raise ValidationError(f"the markov model credits each {'/'.join(by)} value as a whole (removal effects), so it "
                              f"cannot keep the credit of one {filtered[0]}: drop the filter or the model", filtered[0])
    intervals = _bool(raw, "intervals")
    samples = _number(raw, "samples", DEFAULT_SAMPLES, MIN_SAMPLES, MAX_SAMPLES)
    if samples != int(samples):
        raise ValidationError(f"samples must be a whole number from {MIN_SAMPLES} to {MAX_SAMPLES}", "samples")
    return ReportParams(
        period=period, models=models, by=by, markov_order=int(markov_order), intervals=intervals,
        samples=int(samples),
        lookback_days=int(_number(raw, "lookback_days", 30, 0, MAX_LOOKBACK)),
        conversion_type=conversion_type,
        since_previous_conversion=_bool(raw, "since_previous_conversion"),
        self_report_as_first_touch=_bool(raw, "self_report_as_first_touch"),
        half_life_days=_number(raw, "half_life_days", 7.0, 0.01, 365),
        position_first=first_weight, position_last=last_weight, filters=filters,
        compare=_period(raw, settings, "compare_from", "compare_to", today), segment=segment)
