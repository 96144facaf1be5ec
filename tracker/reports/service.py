"""Attribution and dark-funnel reports: read the window from the database, compute with ``attribution``.

What a report reads (README "Reports"): the conversions of its days and type; the touches of those
conversions' people from ``first day - lookback`` to the end of the last day; for ``since_previous_conversion``
also those people's earlier conversions of the type within the lookback (they bound journeys but are
not reported); and, for the self-reported model, the dark funnel or ``self_report_as_first_touch``,
those people's answers from 7 days before the window to 7 days after it (the tie window).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.orm import Session

from attribution import (
    MODELS,
    build_journeys,
    compare,
    cost_metrics,
    cycle_times,
    dark_funnel,
    funnel_stages,
    self_report_as_first_touch,
)
from attribution.selfreports import TIE_WINDOW, tie_answers
from tracker.config import Settings
from tracker.conversions.models import Conversion
from tracker.errors import ValidationError
from tracker.privacy.retention import retention_note
from tracker.reports.loading import (
    load_answers,
    load_conversions,
    load_costs,
    load_first_touches,
    load_touchpoints,
)
from tracker.reports.params import BY_COLUMNS, Period, ReportParams

__all__ = ["UNASSIGNED", "Inputs", "attribution_report", "dark_funnel_report", "funnel_report", "load_inputs"]

UNASSIGNED = "(unassigned)"  # cost entries without a channel, in the cost table by channel


@dataclass
class Inputs:
    """What a report read: the reported conversions (with tied answers) and their journeys."""

    conversions: pd.DataFrame
    journeys: pd.DataFrame
    touches_read: int
    answers_read: int


def load_inputs(session: Session, settings: Settings, params: ReportParams, *, answers: bool,
                period: Period | None = None, types: list[str] | None = None) -> Inputs:
    """Read the report's conversions and the touches of their people; build the journeys.

    ``period`` and ``types`` default to the parameters' period and conversion type.
    """
    period = period or params.period
    lookback = timedelta(days=params.lookback_days)
    if types is None and params.conversion_type:
        types = [params.conversion_type]
    conversions = load_conversions(session, period.start, period.end, types)
    people = sa.select(Conversion.person_id).where(Conversion.ts >= period.start, Conversion.ts < period.end)
    if types:
        people = people.where(Conversion.type.in_(types))
    touches = load_touchpoints(session, settings, period.start - lookback, period.end, people=people)

    context = conversions
    if params.since_previous_conversion:
        # Earlier conversions of these people bound their journeys; only the window's are reported.
        context = load_conversions(session, period.start - lookback, period.end, types)
        context = context[context["person_id"].isin(conversions["person_id"])]

    answers_read = 0
    context = context.assign(answer_id=pd.NA, answer_channel=pd.NA, tied_by=pd.NA)
    if answers and len(context):
        found = load_answers(session, settings, period.start - lookback - TIE_WINDOW, period.end + TIE_WINDOW,
                             people=people)
        answers_read = len(found)
        context = tie_answers(context.drop(columns=["answer_id", "answer_channel", "tied_by"]), found)

    journeys = build_journeys(touches, context, lookback=pd.Timedelta(lookback),
                              since_previous_conversion=params.since_previous_conversion)
    reported = set(conversions["conversion_id"].tolist())
    if len(context) != len(conversions):
        journeys = journeys[journeys["conversion_id"].isin(reported)]
        context = context[context["conversion_id"].isin(reported)]
    if params.self_report_as_first_touch:
        journeys = self_report_as_first_touch(journeys)
    return Inputs(context.reset_index(drop=True), journeys.reset_index(drop=True), len(touches), answers_read)


def _model(name: str, params: ReportParams) -> Any:
    cls = MODELS[name]
    if name == "time_decay":
        return cls(half_life=pd.Timedelta(days=params.half_life_days))
    if name == "position_based":
        return cls(first=params.position_first, last=params.position_last)
    return cls()


def _common(settings: Settings, params: ReportParams, inputs: Inputs) -> dict[str, Any]:
    conversions = inputs.conversions
    fallback = inputs.journeys.drop_duplicates("conversion_id")
    no_touch = int(fallback["is_fallback"].sum()) if len(fallback) else 0
    return {
        "parameters": params.as_dict(),
        "timezone": settings.report_timezone,
        "currency": settings.reporting_currency,
        "taxonomy": settings.taxonomy.as_dict(),
        "counts": {
            "conversions": len(conversions),
            "value": float(conversions["value"].sum()) if len(conversions) else 0.0,
            "no_touch": no_touch,
            "with_answer": int(conversions["answer_channel"].notna().sum()) if len(conversions) else 0,
            "touches_read": inputs.touches_read,
            "answers_read": inputs.answers_read,
        },
    }


def attribution_report(session: Session, settings: Settings, params: ReportParams) -> dict[str, Any]:
    """Credit the window's conversions with each of ``params.models``, by ``params.by``.

    ``counts.no_touch`` is the number of conversions without an eligible touch (journey [Direct]);
    with the self_reported model, ``counts.self_reported_fell_back`` is how many conversions had no
    tied answer and were credited by its fallback (last_touch). Filters keep the credited rows whose
    dimension matches; shares stay relative to all the window's conversions.
    """
    needs_answers = "self_reported" in params.models or params.self_report_as_first_touch
    inputs = load_inputs(session, settings, params, answers=needs_answers)
    by = [BY_COLUMNS[b] for b in params.by]
    models = [_model(name, params) for name in params.models]
    table = compare(inputs.journeys, models, by=by)
    report = _common(settings, params, inputs)
    if "self_reported" in params.models:
        with_answer = report["counts"]["with_answer"]
        report["counts"]["self_reported_fell_back"] = report["counts"]["conversions"] - with_answer
        report["counts"]["self_reported_fallback_model"] = "last_touch"
    for name, value in params.filters.items():
        column = BY_COLUMNS[name]
        if column not in table:
            table = table.merge(_dimension_of(inputs.journeys, by, column), on=by, how="left")
        table = table[table[column].astype(str) == value]
    report["rows"] = _records(table)
    report["columns"] = ["model", *params.by, "conversions", "value", "share"]
    _note_retention(report, session, settings, params.period.start - timedelta(days=params.lookback_days))
    return report


def _dimension_of(journeys: pd.DataFrame, by: list[str], column: str) -> pd.DataFrame:
    """The ``column`` value of each ``by`` group (for filtering a table grouped by other columns)."""
    return journeys[[*by, column]].drop_duplicates(by)


def _records(table: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as JSON-able dicts: dimension columns under the names analysts use, NaN as None."""
    renamed = table.rename(columns={v: k for k, v in BY_COLUMNS.items() if v != k})
    renamed = renamed.astype(object).where(renamed.notna(), None)
    return renamed.to_dict("records")


def dark_funnel_report(session: Session, settings: Settings, params: ReportParams) -> dict[str, Any]:
    """What people say versus what tracking saw, for the window's conversions (ATTRIBUTION.md)."""
    inputs = load_inputs(session, settings, params, answers=True)
    gap = dark_funnel(inputs.journeys)
    report = _common(settings, params, inputs)
    report.update(gap.as_dict())
    report["csv"] = "by_channel"
    report["columns"] = ["self_reported_channel", "answered", "dark", "dark_share"]
    _note_retention(report, session, settings, params.period.start - timedelta(days=params.lookback_days))
    return report


def funnel_report(session: Session, settings: Settings, params: ReportParams) -> dict[str, Any]:
    """Funnel stages, rates, drop-off, cycle time, sale value, costs and ROAS (ATTRIBUTION.md "Funnel metrics").

    Entry is the people with a touch in the period; the stages are the configured ``funnel`` types,
    cumulative (a person who bought also counts as a lead). With ``segment``, people are segmented by
    the ``segment`` dimension of their first touch in the period (or the channel of their latest
    answer, for ``self_reported``). Cost per lead / acquisition and ROAS credit the period's first
    and last stage conversions with ``model`` by ``by`` (channel or campaign). With ``compare_from``
    and ``compare_to`` the same figures come for the second period.
    """
    if len(params.models) != 1:
        raise ValidationError("the funnel report takes one model (for its cost metrics)", "model")
    if params.by[0] not in ("channel", "campaign") or len(params.by) != 1:
        raise ValidationError("the funnel's cost metrics are by channel or by campaign", "by")
    if params.conversion_type is not None:
        raise ValidationError("the funnel report covers every stage: leave conversion_type out", "conversion_type")
    periods = [("current", params.period)] + ([("previous", params.compare)] if params.compare else [])
    report = {
        "parameters": params.as_dict(),
        "timezone": settings.report_timezone,
        "currency": settings.reporting_currency,
        "taxonomy": settings.taxonomy.as_dict(),
        "stages": ["entry", *settings.funnel],
        "periods": [_funnel_period(session, settings, params, label, period) for label, period in periods],
    }
    report["rows"] = [{"period": p["label"], **row} for p in report["periods"] for row in p["stages"]]
    report["columns"] = ["period", *(["segment"] if params.segment else []), "stage", "people", "rate", "drop_off",
                         "overall"]
    earliest = min(period.start for _, period in periods) - timedelta(days=params.lookback_days)
    _note_retention(report, session, settings, earliest)
    return report


def _note_retention(report: dict[str, Any], session: Session, settings: Settings, earliest: Any) -> None:
    """Add ``retention`` when the report reads touches from before the retention cut-off (README "Privacy")."""
    note = retention_note(session, settings, earliest)
    if note is not None:
        report["retention"] = note


def _funnel_period(session: Session, settings: Settings, params: ReportParams, label: str,
                   period: Period) -> dict[str, Any]:
    funnel = list(settings.funnel)
    last_instant = period.end - timedelta(microseconds=1)
    touches = load_touchpoints(session, settings, period.start, last_instant)
    touches = touches[~touches["is_bot"].to_numpy()]
    conversions = load_conversions(session, period.start, period.end, funnel)

    segments = None
    if params.segment == "self_reported":
        answers = load_answers(session, settings, period.start - TIE_WINDOW, period.end + TIE_WINDOW)
        segments = answers.sort_values(["ts", "answer_id"]).groupby("person_id")["channel"].last()
    elif params.segment is not None:
        column = BY_COLUMNS[params.segment]
        first = touches.sort_values(["ts", "touchpoint_id"]).drop_duplicates("person_id")
        segments = first.set_index("person_id")[column].astype(object)
    stages = funnel_stages(touches["person_id"], conversions, funnel, segments=segments)

    sales = conversions[conversions["type"] == funnel[-1]]
    buyers = sa.select(Conversion.person_id).where(Conversion.ts >= period.start, Conversion.ts < period.end,
                                                   Conversion.type == funnel[-1])
    cycle = cycle_times(load_first_touches(session, buyers), sales)

    by = params.by[0]
    costs, unpriced = load_costs(session, settings, period.first, period.last)
    costs = costs.assign(channel=costs["channel"].fillna(UNASSIGNED))
    model = _model(params.models[0], params)
    needs_answers = params.models[0] == "self_reported" or params.self_report_as_first_touch
    credits = {}
    for stage in (funnel[0], funnel[-1]):
        inputs = load_inputs(session, settings, params, answers=needs_answers, period=period, types=[stage])
        credits[stage] = model.attribute(inputs.journeys, BY_COLUMNS[by]) if len(inputs.conversions) else \
            pd.DataFrame({BY_COLUMNS[by]: [], "conversions": [], "value": []})
    table = cost_metrics(credits[funnel[0]], credits[funnel[-1]], costs[[by, "amount"]], by)
    overall = stages[stages["stage"] == funnel[-1]]["overall"] if params.segment is None else None

    return {
        "label": label,
        "period": period.as_dict(),
        "stages": _records(stages),
        "overall_rate": _number(overall.iloc[0]) if overall is not None and len(overall) else None,
        "cycle_time_days": cycle,
        "sales": len(sales),
        "revenue": float(sales["value"].sum()),
        "average_sale_value": float(sales["value"].mean()) if len(sales) else None,
        "cost": float(costs["amount"].sum()),
        "costs_without_rate": unpriced,
        "cost_model": model.name,
        "costs": _records(table),
    }


def _number(value: Any) -> float | None:
    return None if pd.isna(value) else float(value)
