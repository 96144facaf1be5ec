"""Report parameters: defaults, validation naming the parameter, periods in the report time zone."""
from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from tracker.config import Settings, load_settings
from tracker.errors import ValidationError
from tracker.reports.params import DEFAULT_MODELS, Period, parse_params

TODAY = date(2026, 5, 31)


@pytest.fixture(scope="module")
def settings() -> Settings:
    return load_settings()


def test_defaults(settings: Settings) -> None:
    params = parse_params({}, settings, today=TODAY)
    assert (params.period.first, params.period.last) == (date(2026, 5, 2), TODAY)
    assert params.models == DEFAULT_MODELS and params.by == ("channel",) and params.lookback_days == 30
    assert params.conversion_type is None and not params.since_previous_conversion
    # days are in the report time zone (Oslo, UTC+2 in May): the window starts at 22:00 UTC
    assert params.period.start.astimezone(UTC) == datetime(2026, 5, 1, 22, tzinfo=UTC)
    assert params.period.end.astimezone(UTC) == datetime(2026, 5, 31, 22, tzinfo=UTC)


def test_lists_repeat_or_comma_separate(settings: Settings) -> None:
    params = parse_params({"model": ["linear", "time_decay,linear"], "by": "campaign, kind"}, settings, today=TODAY)
    assert params.models == ("linear", "time_decay") and params.by == ("campaign", "kind")
    assert parse_params({"conversion_type": "Purchase"}, settings).conversion_type == "purchase"
    assert parse_params({"conversion_type": "all"}, settings).conversion_type is None


@pytest.mark.parametrize(("raw", "field"), [
    ({"model": "bayes"}, "model"),
    ({"model": "markov", "markov_order": "5"}, "markov_order"),
    ({"model": "markov", "markov_order": "1.5"}, "markov_order"),
    ({"model": "markov", "campaign": "spring"}, "campaign"),
    ({"intervals": "true", "samples": "10"}, "samples"),
    ({"intervals": "true", "samples": "2001"}, "samples"),
    ({"samples": "many"}, "samples"),
    ({"intervals": "perhaps"}, "intervals"),
    ({"by": "colour"}, "by"),
    ({"from": "2026-13-01"}, "from"),
    ({"from": "2026-05-10", "to": "2026-05-01"}, "to"),
    ({"lookback_days": "-1"}, "lookback_days"),
    ({"lookback_days": "many"}, "lookback_days"),
    ({"conversion_type": "signup"}, "conversion_type"),
    ({"since_previous_conversion": "maybe"}, "since_previous_conversion"),
    ({"position_first": "0.7", "position_last": "0.5"}, "position_last"),
    ({"model": "self_reported", "by": "campaign"}, "by"),
    ({"segment": "weather"}, "segment"),
    ({"colour": "red"}, "colour"),
])
def test_bad_parameters_name_the_field(settings: Settings, raw: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_params(raw, settings, today=TODAY)
    assert caught.value.field == field


def test_a_report_refuses_parameters_it_does_not_take(settings: Settings) -> None:
    with pytest.raises(ValidationError, match="this report takes: from, to") as caught:
        parse_params({"model": "linear"}, settings, allowed=("from", "to"))
    assert caught.value.field == "model"


def test_previous_period_has_the_same_length(settings: Settings) -> None:
    period = Period.of(date(2026, 5, 1), date(2026, 5, 10), settings)
    before = period.previous()
    assert (before.first, before.last) == (date(2026, 4, 21), date(2026, 4, 30))
    assert before.end == period.start
