"""Attribution and dark-funnel reports: read the window from the database, compute with ``attribution``.

What a report reads (docs/guides/analyst.md#reports): the conversions of its days and type; the touches of those
conversions' people from ``first day - lookback`` to the end of the last day; for ``since_previous_conversion``
also those people's earlier conversions of the type within the lookback (they bound journeys but are
not reported); and, for the self-reported model, the dark funnel or ``self_report_as_first_touch``,
those people's answers from 7 days before the window to 7 days after it (the tie window).
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.orm import Session

from attribution import (
    MODELS,
    build_journeys,
    cost_metrics,
    cycle_times,
    dark_funnel,
    funnel_stages,
    self_report_as_first_touch,
)
from attribution.funnel import stage_table
from attribution.models.base import credit_sums
from attribution.paths import PATH_COLUMNS, non_converting_journeys, with_non_converting
from attribution.selfreports import TIE_WINDOW, tie_answers
from attribution.uncertainty import INTERVAL_COLUMNS, bootstrap, overlaps
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
from tracker.reports.params import BY_COLUMNS, DATA_DRIVEN, Period, ReportParams
from tracker.reports.paths import Paths, funnel_counts, load_paths, path_strings, time_decay_sums

__all__ = ["ENGINES", "UNASSIGNED", "Credits", "Inputs", "attribution_report", "bootstrap_seed", "credits",
           "dark_funnel_report", "funnel_report",
           "load_inputs", "paths_report"]

# Where a report's journeys are built: "database" aggregates them to distinct paths there
# (docs/operations/reports-at-scale.md); "memory" reads every touch into pandas and is the reference the tests
# compare it with.
ENGINES = ("database", "memory")

UNASSIGNED = "(unassigned)"  # cost entries without a channel, in the cost table by channel


@dataclass
class Inputs:
    """What a report read: the reported conversions (with tied answers) and their journeys."""

    conversions: pd.DataFrame
    journeys: pd.DataFrame
    touches_read: int
    answers_read: int
    no_touch: int = 0  # conversions without a tracked touch (before self_report_as_first_touch)
    non_converting: pd.DataFrame | None = None  # the period's non-converting journeys, when asked for


def load_inputs(session: Session, settings: Settings, params: ReportParams, *, answers: bool,
                period: Period | None = None, types: list[str] | None = None,
                non_converting: bool = False) -> Inputs:
    """Read the report's conversions and the touches of their people; build the journeys.

    ``period`` and ``types`` default to the parameters' period and conversion type. With
    ``non_converting`` the period's non-converting journeys are read too (ATTRIBUTION.md), for the
    data-driven models and intervals.
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
    no_touch = int(journeys.loc[journeys["position"].to_numpy() == 0, "is_fallback"].sum())
    if params.self_report_as_first_touch:
        journeys = self_report_as_first_touch(journeys)
    nulls = None
    if non_converting:
        everyone = load_touchpoints(session, settings, max(period.start, period.end - lookback), period.end)
        nulls = non_converting_journeys(everyone, conversions, start=period.start, end=period.end,
                                        lookback=pd.Timedelta(lookback))
    return Inputs(context.reset_index(drop=True), journeys.reset_index(drop=True), len(touches), answers_read,
                  no_touch, nulls)


def _model(name: str, params: ReportParams, settings: Settings) -> Any:
    cls = MODELS[name]
    if name == "time_decay":
        return cls(half_life=pd.Timedelta(days=params.half_life_days))
    if name == "position_based":
        return cls(first=params.position_first, last=params.position_last)
    if name == "markov":
        return cls(order=params.markov_order)
    if name == "shapley":  # the players are the report's dimension; filters then drill into its credit
        return cls(players=[BY_COLUMNS[b] for b in params.by], max_players=settings.shapley_max_players)
    return cls()


def _common(settings: Settings, params: ReportParams, counts: dict[str, Any]) -> dict[str, Any]:
    return {
        "parameters": params.as_dict(),
        "timezone": settings.report_timezone,
        "currency": settings.reporting_currency,
        "taxonomy": settings.taxonomy.as_dict(),
        "counts": counts,
    }


def _memory_counts(inputs: Inputs) -> dict[str, Any]:
    conversions = inputs.conversions
    return {
        "conversions": len(conversions),
        "value": float(conversions["value"].sum()) if len(conversions) else 0.0,
        "no_touch": inputs.no_touch,
        "with_answer": int(conversions["answer_channel"].notna().sum()) if len(conversions) else 0,
        "touches_read": int(inputs.journeys["touchpoint_id"].notna().sum()) if len(inputs.journeys) else 0,
        "answers_read": inputs.answers_read,
    }


def _path_counts(paths: Paths, answers_read: int) -> dict[str, Any]:
    frame = paths.converting
    conversions = frame["conversions"].to_numpy()
    return {
        "conversions": int(conversions.sum()),
        "value": float(frame["value"].sum()),
        "no_touch": int(conversions[frame["fallback"].to_numpy()].sum()),
        "with_answer": int(conversions[frame["answer"].to_numpy() >= 0].sum()),
        "touches_read": paths.touches,
        "answers_read": answers_read,
    }


def _tied_answers(session: Session, settings: Settings, period: Period, lookback: timedelta,
                  types: list[str] | None) -> tuple[pd.DataFrame, int]:
    """The answer tied to each of the period's conversions (rows per conversion and answer, never per touch)."""
    conversions = load_conversions(session, period.start, period.end, types)
    people = sa.select(Conversion.person_id).where(Conversion.ts >= period.start, Conversion.ts < period.end)
    if types:
        people = people.where(Conversion.type.in_(types))
    found = load_answers(session, settings, period.start - lookback - TIE_WINDOW, period.end + TIE_WINDOW,
                         people=people)
    tied = tie_answers(conversions, found) if len(conversions) else conversions.assign(answer_channel=pd.NA)
    return tied[["conversion_id", "answer_channel"]], len(found)


@dataclass
class Credits:
    """What :func:`credits` gives: the stacked credit tables, the counts, and what some models add."""

    table: pd.DataFrame  # a leading ``model`` column, then the group columns, conversions, value, share
    counts: dict[str, Any]
    markov: Any = None  # attribution.models.markov.MarkovFit, when the markov model ran
    intervals: pd.DataFrame | None = None  # model, by columns, conversions_low/high, value_low/high


def bootstrap_seed(params: ReportParams) -> int:
    """The bootstrap's seed: a hash of the report's parameters, so the same report gives the same intervals."""
    text = json.dumps(params.as_dict(), sort_keys=True, default=str)
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def credits(session: Session, settings: Settings, params: ReportParams, models: list[Any], group: list[str], *,
            period: Period | None = None, types: list[str] | None = None,
            engine: str = "database", intervals: bool = False) -> Credits:
    """Credit the period's conversions with each model, grouped by the touch columns ``group``.

    ``engine`` says where journeys are built (:data:`ENGINES`); both give the same credits. The
    data-driven models (and ``intervals``) also read the period's non-converting journeys. With
    ``intervals``, each model's bootstrap interval per ``params.by`` value (filters applied as in
    :func:`attribution_report`), seeded from the parameters (:func:`bootstrap_seed`).
    """
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}")
    period = period or params.period
    if types is None and params.conversion_type:
        types = [params.conversion_type]
    names = {m.name for m in models}
    needs_answers = "self_reported" in names or params.self_report_as_first_touch
    needs_nulls = intervals or bool(names & set(DATA_DRIVEN))
    replicators: dict[str, Any] = {}
    tables: dict[str, pd.DataFrame | None] = {m.name: None for m in models}  # credits made apart (time decay)
    if engine == "memory":
        inputs = load_inputs(session, settings, params, answers=needs_answers, period=period, types=types,
                             non_converting=needs_nulls)
        counts = _memory_counts(inputs)
        journeys = inputs.journeys
        if needs_nulls:
            journeys = with_non_converting(journeys, inputs.non_converting)
    else:
        lookback = timedelta(days=params.lookback_days)
        answers, answers_read = _tied_answers(session, settings, period, lookback, types) if needs_answers \
            else (None, 0)
        window = {"start": period.start, "end": period.end, "lookback_days": params.lookback_days, "types": types,
                  "dims": group, "since_previous_conversion": params.since_previous_conversion, "answers": answers}
        paths = load_paths(session, settings, non_converting=needs_nulls, **window)
        counts = _path_counts(paths, answers_read)
        if needs_nulls:
            journeys = paths.journeys(self_report_as_first_touch=params.self_report_as_first_touch,
                                      non_converting=True)
        else:  # rule-based models only: their credits are sums over journeys, made piece by piece
            journeys = None
            rules = [m for m in models if m.name != "time_decay"]  # time decay: summed in the database (below)
            if rules:
                tables.update(_credits_by_piece(paths, rules, group, params.self_report_as_first_touch))
        if "time_decay" in names:  # ages stay in the database: the weights are summed there (per path, for intervals)
            decay = time_decay_sums(session, settings, half_life_days=params.half_life_days,
                                    self_report_as_first_touch=params.self_report_as_first_touch,
                                    per_path=paths if intervals else None, **window)
            tables["time_decay"] = credit_sums(decay.sums[[*group, "conversions", "value"]], group, decay.conversions)
            if intervals:
                replicators["time_decay"] = decay.replicator(journeys, group)
    fit = None
    out = []
    for model in models:
        table = tables[model.name]
        try:
            if model.name == "markov":
                fit = model.fit(journeys, group)
                table = fit.credits
            elif table is None:
                table = model.attribute(journeys, group)
        except ValueError as exc:
            if model.name != "shapley":
                raise
            raise ValidationError(str(exc), "model") from None  # a journey past shapley_max_players
        out.append(table.assign(model=model.name))
    table = pd.concat(out, ignore_index=True)
    result = Credits(table[["model", *[c for c in table.columns if c != "model"]]], counts, fit)
    if intervals:
        by = [BY_COLUMNS[b] for b in params.by]
        filters = {BY_COLUMNS[name]: value for name, value in params.filters.items()}
        try:
            result.intervals = bootstrap(journeys, models, by, samples=params.samples, seed=bootstrap_seed(params),
                                         filters=filters, replicators=replicators)
        except ValueError as exc:
            raise ValidationError(str(exc), "intervals") from None
    return result


def _credits_by_piece(paths: Paths, models: list[Any], group: list[str],
                      self_report_as_first_touch: bool) -> dict[str, pd.DataFrame]:
    """Credit the paths' journeys with rule-based ``models``, a piece at a time (:meth:`Paths.journey_pieces`).

    The pieces' credits are summed per group, with shares of all the paths' conversions: the credit
    table :meth:`attribution.AttributionModel.attribute` gives on the whole, in the memory of one piece.
    """
    parts: dict[str, list[pd.DataFrame]] = {m.name: [] for m in models}
    for piece in paths.journey_pieces(self_report_as_first_touch=self_report_as_first_touch):
        for model in models:
            parts[model.name].append(model.attribute(piece, group)[[*group, "conversions", "value"]])
    conversions = float(paths.converting["conversions"].sum())
    return {name: credit_sums(pd.concat(tables, ignore_index=True), group, conversions)
            for name, tables in parts.items()}


def _filtered(table: pd.DataFrame, by: list[str], filters: dict[str, str], conversions: float) -> pd.DataFrame:
    """Keep the credit of the touches whose dimensions match ``filters``; sum it by ``by`` per model.

    Shares stay relative to all the window's conversions.
    """
    for column, value in filters.items():
        table = table[table[column].astype(str) == value]
    if set(filters) <= set(by):
        return table.reset_index(drop=True)
    parts = [credit_sums(part[[*by, "conversions", "value"]], by, conversions).assign(model=name)
             for name, part in table.groupby("model", sort=False)]
    if not parts:
        return table[["model", *by, "conversions", "value", "share"]].reset_index(drop=True)
    out = pd.concat(parts, ignore_index=True)
    return out[["model", *by, "conversions", "value", "share"]]


def attribution_report(session: Session, settings: Settings, params: ReportParams, *,
                       engine: str = "database") -> dict[str, Any]:
    """Credit the window's conversions with each of ``params.models``, by ``params.by``.

    ``counts.no_touch`` is the number of conversions without an eligible touch (journey [Direct]);
    ``counts.touches_read`` the touches in their journeys; with the self_reported model,
    ``counts.self_reported_fell_back`` is how many conversions had no tied answer and were credited
    by its fallback (last_touch). Filters keep the credit of the touches whose dimension matches
    (for example by=channel&campaign=spring: each channel's credit from touches of that campaign);
    shares stay relative to all the window's conversions. ``engine``: see :data:`ENGINES`.
    """
    by = [BY_COLUMNS[b] for b in params.by]
    filters = {BY_COLUMNS[name]: value for name, value in params.filters.items()}
    group = list(dict.fromkeys([*by, *filters]))
    models = [_model(name, params, settings) for name in params.models]
    result = credits(session, settings, params, models, group, engine=engine, intervals=params.intervals)
    counts = result.counts
    report = _common(settings, params, counts)
    if "self_reported" in params.models:
        with_answer = report["counts"]["with_answer"]
        report["counts"]["self_reported_fell_back"] = report["counts"]["conversions"] - with_answer
        report["counts"]["self_reported_fallback_model"] = "last_touch"
    table = _filtered(result.table, by, filters, counts["conversions"])
    report["columns"] = ["model", *params.by, "conversions", "value", "share"]
    if result.intervals is not None:
        table = _with_intervals(table, result.intervals, by)
        report["columns"] += list(INTERVAL_COLUMNS)
        report["intervals"] = {"method": "bootstrap", "samples": params.samples, "level": 0.95,
                               "seed": bootstrap_seed(params)}
        report["comparison"] = _comparison(table, by, params.by)
    report["rows"] = _records(table)
    if result.markov is not None:
        report["markov"] = _markov_section(result.markov, params)
    _note_retention(report, session, settings, params.period.start - timedelta(days=params.lookback_days))
    return report


def _with_intervals(table: pd.DataFrame, intervals: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """The credit table with each row's interval (a value no resample credited has 0 to 0)."""
    keys = ["model", *by]
    left = table.assign(**{c: table[c].astype(object) for c in by})
    right = intervals.assign(**{c: intervals[c].astype(object) for c in by})
    out = left.merge(right, on=keys, how="left", sort=False)
    out[list(INTERVAL_COLUMNS)] = out[list(INTERVAL_COLUMNS)].fillna(0.0)
    return out


def _comparison(table: pd.DataFrame, by: list[str], names: tuple[str, ...]) -> list[dict[str, Any]]:
    """For each value and pair of models: do their credits differ beyond their intervals (no overlap)?

    A model that credits a value nothing has the interval 0 to 0 there.
    """
    numbers = ["conversions", "conversions_low", "conversions_high"]
    keys = table[by].drop_duplicates().reset_index(drop=True)
    models = list(dict.fromkeys(table["model"]))
    cells = {m: keys.merge(table.loc[table["model"] == m, [*by, *numbers]], on=by, how="left")[numbers].fillna(0.0)
             for m in models}
    labels = [dict(zip(names, key, strict=True)) for key in keys.itertuples(index=False)]
    rows = []
    for i, first in enumerate(models):
        for second in models[i + 1:]:
            a, b = cells[first], cells[second]
            differ = ~overlaps(a["conversions_low"], a["conversions_high"], b["conversions_low"], b["conversions_high"])
            rows += [{**label, "model_a": first, "model_b": second, "conversions_a": float(ca),
                      "conversions_b": float(cb), "differ": bool(d)}
                     for label, ca, cb, d in zip(labels, a["conversions"], b["conversions"], differ, strict=True)]
    return rows


def _markov_section(fit: Any, params: ReportParams) -> dict[str, Any]:
    """What the Markov model adds: P, removal effects, the transition matrix (order 1), the fallback."""
    section: dict[str, Any] = {
        "order": fit.order,
        "conversion_probability": float(fit.conversion_probability),
        "fell_back_to_linear": bool(fit.fell_back),
        "removal_effects": _records(fit.removal_effects),
    }
    if fit.fell_back:
        section["note"] = ("no value has a removal effect (the chain never reaches a conversion): the credits are "
                           "linear's")
    if fit.transitions is not None:
        section["transitions"] = fit.transitions.astype(object).where(fit.transitions.notna(), None).to_dict("records")
    return section


def paths_report(session: Session, settings: Settings, params: ReportParams) -> dict[str, Any]:
    """The distinct paths of the window's journeys by ``params.by``, with ChannelAttribution's columns.

    Rows: ``path`` (touches' ``by`` values, several joined by `` / ``, touches by `` > ``),
    ``total_conversions``, ``total_conversion_value`` and ``total_null`` (non-converting journeys,
    ATTRIBUTION.md). With ``self_report_as_first_touch`` the tied answer's channel leads each
    converting path. Sorted by path.
    """
    by = [BY_COLUMNS[b] for b in params.by]
    types = [params.conversion_type] if params.conversion_type else None
    lookback = timedelta(days=params.lookback_days)
    answers, answers_read = _tied_answers(session, settings, params.period, lookback, types) \
        if params.self_report_as_first_touch else (None, 0)
    paths = load_paths(session, settings, start=params.period.start, end=params.period.end,
                       lookback_days=params.lookback_days, types=types, dims=by,
                       since_previous_conversion=params.since_previous_conversion, answers=answers,
                       non_converting=True)
    journeys = paths.journeys(self_report_as_first_touch=params.self_report_as_first_touch)
    starts = np.flatnonzero(journeys["position"].to_numpy() == 0)
    sizes = journeys["n_touches"].to_numpy()[starts]
    element_of = journeys["element"].to_numpy()
    converting = pd.DataFrame({
        "path": path_strings([element_of[s:s + n] for s, n in zip(starts, sizes, strict=True)], paths.elements, by),
        "total_conversions": journeys["n_conversions"].to_numpy()[starts],
        "total_conversion_value": journeys["value"].to_numpy()[starts]}) if len(starts) else \
        pd.DataFrame(columns=["path", "total_conversions", "total_conversion_value"])
    nulls = paths.non_converting
    null_frame = pd.DataFrame({"path": path_strings(list(nulls["path"]), paths.elements, by),
                               "total_null": nulls["null"].to_numpy(dtype=float)})
    table = converting.groupby("path")[["total_conversions", "total_conversion_value"]].sum().join(
        null_frame.groupby("path")[["total_null"]].sum(), how="outer").fillna(0.0).sort_index().reset_index()
    for column in ("total_conversions", "total_null"):
        table[column] = table[column].astype(np.int64)
    report = _common(settings, params, _path_counts(paths, answers_read))
    report["counts"]["non_converting"] = int(nulls["null"].sum())
    report["counts"]["paths"] = len(table)
    report["rows"] = table.astype(object).where(table.notna(), None).to_dict("records")
    report["columns"] = list(PATH_COLUMNS)
    report["csv_delimiter"] = ";"
    _note_retention(report, session, settings, params.period.start - timedelta(days=params.lookback_days))
    return report


def _records(table: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as JSON-able dicts: dimension columns under the names analysts use, NaN as None."""
    renamed = table.rename(columns={v: k for k, v in BY_COLUMNS.items() if v != k})
    renamed = renamed.astype(object).where(renamed.notna(), None)
    return renamed.to_dict("records")


def dark_funnel_report(session: Session, settings: Settings, params: ReportParams, *,
                       engine: str = "database") -> dict[str, Any]:
    """What people say versus what tracking saw, for the window's conversions (ATTRIBUTION.md)."""
    if engine == "memory":
        inputs = load_inputs(session, settings, params, answers=True)
        journeys, counts = inputs.journeys, _memory_counts(inputs)
    else:
        types = [params.conversion_type] if params.conversion_type else None
        answers, answers_read = _tied_answers(session, settings, params.period,
                                              timedelta(days=params.lookback_days), types)
        paths = load_paths(session, settings, start=params.period.start, end=params.period.end,
                           lookback_days=params.lookback_days, types=types, dims=["channel"],
                           since_previous_conversion=params.since_previous_conversion, answers=answers)
        journeys = paths.journeys(self_report_as_first_touch=params.self_report_as_first_touch)
        counts = _path_counts(paths, answers_read)
    gap = dark_funnel(journeys)
    report = _common(settings, params, counts)
    report.update(gap.as_dict())
    report["csv"] = "by_channel"
    report["columns"] = ["self_reported_channel", "answered", "dark", "dark_share"]
    _note_retention(report, session, settings, params.period.start - timedelta(days=params.lookback_days))
    return report


def funnel_report(session: Session, settings: Settings, params: ReportParams, *,
                  engine: str = "database") -> dict[str, Any]:
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
        "periods": [_funnel_period(session, settings, params, label, period, engine) for label, period in periods],
    }
    report["rows"] = [{"period": p["label"], **row} for p in report["periods"] for row in p["stages"]]
    report["columns"] = ["period", *(["segment"] if params.segment else []), "stage", "people", "rate", "drop_off",
                         "overall"]
    earliest = min(period.start for _, period in periods) - timedelta(days=params.lookback_days)
    _note_retention(report, session, settings, earliest)
    return report


def _note_retention(report: dict[str, Any], session: Session, settings: Settings, earliest: Any) -> None:
    """Add ``retention`` when the report reads touches from before the retention cut-off.

    See docs/guides/site-owner.md#privacy.
    """
    note = retention_note(session, settings, earliest)
    if note is not None:
        report["retention"] = note


def _funnel_period(session: Session, settings: Settings, params: ReportParams, label: str,
                   period: Period, engine: str) -> dict[str, Any]:
    funnel = list(settings.funnel)
    conversions = load_conversions(session, period.start, period.end, funnel)

    said = None
    if params.segment == "self_reported":
        answers = load_answers(session, settings, period.start - TIE_WINDOW, period.end + TIE_WINDOW)
        said = answers.sort_values(["ts", "answer_id"]).groupby("person_id")["channel"].last()
    dimension = BY_COLUMNS[params.segment] if params.segment not in (None, "self_reported", "country") else None
    if params.segment == "country" and engine != "memory":  # the first touch's country (tracker/geo/funnel.py)
        from tracker.geo.funnel import funnel_country_counts
        furthest = funnel_country_counts(session, start=period.start, end=period.end, stages=funnel)
        stages = stage_table(furthest, funnel, segmented=True)
    elif engine == "memory":
        touches = load_touchpoints(session, settings, period.start, period.end - timedelta(microseconds=1))
        touches = touches[~touches["is_bot"].to_numpy()]
        segments = said
        if dimension is not None:
            first = touches.sort_values(["ts", "touchpoint_id"]).drop_duplicates("person_id")
            segments = first.set_index("person_id")[dimension].astype(object)
        elif params.segment == "country":
            from tracker.geo.funnel import first_touch_countries
            segments = first_touch_countries(session, touches.sort_values(["ts", "touchpoint_id"])
                                             .drop_duplicates("person_id"))
        stages = funnel_stages(touches["person_id"], conversions, funnel, segments=segments)
    else:  # people counted by segment and furthest stage in the database: no touch crosses into Python
        furthest = funnel_counts(session, settings, start=period.start, end=period.end, stages=funnel,
                                 segment=dimension, said=None if said is None else said.to_dict())
        stages = stage_table(furthest, funnel, segmented=params.segment is not None)

    sales = conversions[conversions["type"] == funnel[-1]]
    buyers = sa.select(Conversion.person_id).where(Conversion.ts >= period.start, Conversion.ts < period.end,
                                                   Conversion.type == funnel[-1])
    cycle = cycle_times(load_first_touches(session, buyers), sales)

    by = params.by[0]
    costs, unpriced = load_costs(session, settings, period.first, period.last)
    costs = costs.assign(channel=costs["channel"].fillna(UNASSIGNED))
    model = _model(params.models[0], params, settings)
    stage_credits = {}
    for stage in (funnel[0], funnel[-1]):
        table = credits(session, settings, params, [model], [BY_COLUMNS[by]], period=period, types=[stage],
                        engine=engine).table
        stage_credits[stage] = table.drop(columns=["model", "share"])
    table = cost_metrics(stage_credits[funnel[0]], stage_credits[funnel[-1]], costs[[by, "amount"]], by)
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
