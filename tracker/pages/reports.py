"""The analyst report pages' presentation: which report takes which parameters, tables and charts.

The pages read the same query parameters as the API (``tracker.reports.views``' schemas, checked by
``parse_params``) and show the service's report dicts: nothing here computes a metric. Tables keep
the report's numbers at full precision in ``data-value`` attributes (the cells show them rounded),
charts come from :mod:`tracker.reports.charts`, and CSV files from :mod:`tracker.reports.output`, so
a page, its downloads and the API give the same numbers.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy.orm import Session
from werkzeug.exceptions import NotFound

from tracker.config import Settings
from tracker.reports import charts, output, service
from tracker.reports.params import (
    BY_COLUMNS,
    DEFAULT_MODELS,
    FILTERS,
    FUNNEL_MODELS,
    MODEL_NAMES,
    ReportParams,
    parse_params,
)
from tracker.reports.views import AttributionQuery, CommonQuery, FunnelQuery, query_names

__all__ = ["MORE_REPORTS", "REPORTS", "REPORT_BLUEPRINTS", "ReportSpec", "chart_figure", "csv_table", "form_values",
           "get_spec", "page_context", "query_pairs"]

NONE_LABEL = "(none)"
SEGMENTS = (*BY_COLUMNS, "self_reported", "country")
MODEL_LABELS = {"first_touch": "First touch", "last_touch": "Last touch", "last_non_direct": "Last non-direct",
                "linear": "Linear", "time_decay": "Time decay", "position_based": "Position based (U)",
                "self_reported": "Self-reported", "markov": "Markov chain", "shapley": "Shapley value"}
# What each model assumes, in two sentences: the attribution page shows them so a reader can pick one.
MODEL_ASSUMPTIONS = {
    "first_touch": "Assumes the touch that introduced the person made the sale. It ignores everything that came later.",
    "last_touch": "Assumes the touch just before converting made the sale. It ignores everything that built interest.",
    "last_non_direct": "Like last touch, but a direct visit passes the credit back to the last tracked channel. Use it "
                       "when people type the address after an ad or an event.",
    "linear": "Assumes every touch helped equally. Channels that repeat get credit each time.",
    "time_decay": "Assumes recent touches matter more: a touch one half-life older gets half the weight. Good for "
                  "short sales cycles.",
    "position_based": "Assumes the first and the last touch matter most (40 % each); the middle touches share the "
                      "rest. A compromise between first and last touch.",
    "self_reported": "Trusts what the person said when asked how they heard about you. Where nobody answered it "
                     "falls back to last touch.",
    "markov": "Learns from converting and non-converting journeys how each channel moves people towards a "
              "conversion, and credits a channel by how many conversions would be lost without it (removal "
              "effect). It assumes the next step depends only on the last step (or last k, with a higher order).",
    "shapley": "Treats channels as players sharing the win: a channel's credit is its average added conversion "
               "rate over every combination of the journey's other channels. It assumes the order of touches does "
               "not matter, only which channels took part.",
}


def _schema_names(schema: type) -> tuple[str, ...]:
    """The API's query parameter names for a report, without ``format`` (a page is HTML; downloads are links)."""
    return tuple(name for name in query_names(schema) if name != "format")


@dataclass(frozen=True)
class ReportSpec:
    """One report page: its API parameters, service function, CSV tables and charts."""

    name: str
    title: str
    names: tuple[str, ...]
    build: Callable[[Session, Settings, ReportParams], dict[str, Any]]
    default_models: tuple[str, ...] = DEFAULT_MODELS
    tables: tuple[str, ...] = ()
    chart_names: tuple[str, ...] = ()
    api_path: str = ""

    @property
    def template(self) -> str:
        return f"pages/report_{self.name.replace('-', '_')}.html"


REPORTS = {
    "attribution": ReportSpec("attribution", "Attribution", _schema_names(AttributionQuery), service.attribution_report,
                              tables=("credits",), chart_names=("credits", "transitions"),
                              api_path="/api/v1/reports/attribution"),
    "funnel": ReportSpec("funnel", "Funnel", _schema_names(FunnelQuery), service.funnel_report, FUNNEL_MODELS,
                         tables=("stages", "costs"), chart_names=("funnel",), api_path="/api/v1/reports/funnel"),
    "dark-funnel": ReportSpec("dark-funnel", "Dark funnel", _schema_names(CommonQuery), service.dark_funnel_report,
                              tables=("by-channel",), chart_names=("first-touch", "last-touch"),
                              api_path="/api/v1/reports/dark-funnel"),
}


# Report pages of other packages, in the tab strip after REPORTS: (endpoint, title). Their parameters differ
# (cohorts take months), so their tabs carry none.
MORE_REPORTS = (("experiments_pages.report_page", "Experiments"), ("cohorts_pages.cohorts", "Cohorts"),
                ("mentions_pages.report_page", "Mentions"))
REPORT_BLUEPRINTS = frozenset(endpoint.split(".")[0] for endpoint, _ in MORE_REPORTS)


def get_spec(name: str) -> ReportSpec:
    """Return the report called ``name``; raise NotFound for any other name."""
    try:
        return REPORTS[name]
    except KeyError:
        raise NotFound() from None


def parse(spec: ReportSpec, raw: Mapping[str, Any], settings: Settings) -> ReportParams:
    """Check the page's query exactly as the API checks its own (ValidationError names the field)."""
    return parse_params(raw, settings, allowed=spec.names, default_models=spec.default_models)


def query_pairs(spec: ReportSpec, params: ReportParams) -> list[tuple[str, str]]:
    """The parameters in force, spelled out (explicit dates), for download links and the API URL.

    A download then gives the numbers the page shows even when "today" has moved on since.
    """
    pairs: list[tuple[str, str]] = [("from", params.period.first.isoformat()), ("to", params.period.last.isoformat())]
    pairs += [("model", model) for model in params.models]
    pairs.append(("by", ",".join(params.by)))
    pairs.append(("lookback_days", str(params.lookback_days)))
    if params.conversion_type:
        pairs.append(("conversion_type", params.conversion_type))
    for flag in ("since_previous_conversion", "self_report_as_first_touch"):
        if getattr(params, flag):
            pairs.append((flag, "true"))
    defaults = {"half_life_days": 7.0, "position_first": 0.4, "position_last": 0.4, "markov_order": 1}
    pairs += [(name, f"{getattr(params, name):g}") for name, default in defaults.items()
              if getattr(params, name) != default]
    if params.intervals:
        pairs += [("intervals", "true"), ("samples", str(params.samples))]
    pairs += list(params.filters.items())
    if params.compare:
        pairs += [("compare_from", params.compare.first.isoformat()), ("compare_to", params.compare.last.isoformat())]
    if params.segment:
        pairs.append(("segment", params.segment))
    return [(name, value) for name, value in pairs if name in spec.names]


def form_values(raw: Mapping[str, list[str]], params: ReportParams | None) -> dict[str, Any]:
    """What the form shows: the parameters in force, or (after an error) what was sent."""
    if params is None:
        values: dict[str, Any] = {name: (items[-1] if items else "") for name, items in raw.items()}
        values["model"] = [m.strip() for item in raw.get("model", []) for m in item.split(",") if m.strip()]
        for flag in ("since_previous_conversion", "self_report_as_first_touch", "intervals"):
            values[flag] = values.get(flag, "").lower() in ("1", "true", "yes", "on")
        return values
    return {
        "from": params.period.first.isoformat(), "to": params.period.last.isoformat(), "model": list(params.models),
        "by": ",".join(params.by), "lookback_days": str(params.lookback_days),
        "conversion_type": params.conversion_type or "all",
        "since_previous_conversion": params.since_previous_conversion,
        "self_report_as_first_touch": params.self_report_as_first_touch,
        "half_life_days": f"{params.half_life_days:g}", "position_first": f"{params.position_first:g}",
        "position_last": f"{params.position_last:g}",
        "compare_from": params.compare.first.isoformat() if params.compare else "",
        "compare_to": params.compare.last.isoformat() if params.compare else "",
        "segment": params.segment or "", "markov_order": str(params.markov_order), "intervals": params.intervals,
        "samples": str(params.samples), **params.filters,
    }


def form_options(settings: Settings) -> dict[str, Any]:
    """Choices of the forms' selects and checkboxes."""
    return {"models": [(m, MODEL_LABELS[m]) for m in MODEL_NAMES], "by": [(b, b) for b in BY_COLUMNS],
            "funnel_by": [("channel", "channel"), ("campaign", "campaign")],
            "conversion_types": [("all", "all types"), *((t, t) for t in settings.funnel)],
            "segments": [(s, s.replace("_", "-")) for s in SEGMENTS], "filters": FILTERS}


# ---- attribution ------------------------------------------------------------------------------------

def _category(row: Mapping[str, Any], by: Sequence[str]) -> str:
    return " / ".join(NONE_LABEL if row.get(b) is None else str(row[b]) for b in by)


def credit_table(report: Mapping[str, Any]) -> dict[str, Any]:
    """Pivot the report's rows: one row per category (channel, campaign ...), a cell per model.

    Categories are ordered by their conversions summed over the models, largest first (then by name).
    """
    models: list[str] = report["parameters"]["models"]
    by: list[str] = report["parameters"]["by"]
    cells: dict[str, dict[str, dict[str, Any]]] = {}
    for row in report["rows"]:
        cells.setdefault(_category(row, by), {})[row["model"]] = row
    order = sorted(cells, key=lambda c: (-sum(r["conversions"] for r in cells[c].values()), c))
    totals = {m: {"conversions": sum(r["conversions"] for r in report["rows"] if r["model"] == m),
                  "value": sum(r["value"] for r in report["rows"] if r["model"] == m)} for m in models}
    return {"models": models, "by": by, "rows": [{"label": c, "cells": cells[c]} for c in order], "totals": totals}


def credits_chart(report: Mapping[str, Any]) -> charts.Chart:
    table = credit_table(report)
    series = {m: [row["cells"].get(m, {}).get("conversions", 0.0) for row in table["rows"]] for m in table["models"]}
    intervals = None
    if "intervals" in report:
        intervals = {m: ([row["cells"].get(m, {}).get("conversions_low", 0.0) for row in table["rows"]],
                         [row["cells"].get(m, {}).get("conversions_high", 0.0) for row in table["rows"]])
                     for m in table["models"]}
    kind = report["parameters"]["conversion_type"] or "all"
    whiskers = ", 95 % intervals" if intervals else ""
    return charts.grouped_bars([row["label"] for row in table["rows"]], series, value_label="Credited conversions",
                               title=f"Credited conversions ({kind}) by {' / '.join(table['by'])}{whiskers}",
                               intervals=intervals)


def comparison_table(report: Mapping[str, Any]) -> dict[str, Any] | None:
    """Per category, for each pair of models: do their credits differ beyond both intervals?"""
    if "comparison" not in report:
        return None
    by: list[str] = report["parameters"]["by"]
    pairs = list(dict.fromkeys((r["model_a"], r["model_b"]) for r in report["comparison"]))
    rows: dict[str, dict[tuple[str, str], dict[str, Any]]] = {}
    for r in report["comparison"]:
        rows.setdefault(_category(r, by), {})[(r["model_a"], r["model_b"])] = r
    order = [row["label"] for row in credit_table(report)["rows"] if row["label"] in rows]
    return {"pairs": pairs, "rows": [{"label": label, "cells": rows[label]} for label in order],
            "differ": sum(r["differ"] for r in report["comparison"]), "total": len(report["comparison"])}


def transitions_figure(report: Mapping[str, Any]) -> charts.Chart:
    """The order-1 Markov chain's transition probabilities as a heat map (from state x to state)."""
    transitions = report["markov"].get("transitions") or []
    sources = list(dict.fromkeys(t["from"] for t in transitions))
    targets = [s for s in dict.fromkeys(t["to"] for t in transitions) if s not in ("(conversion)", "(null)")]
    targets += [s for s in ("(conversion)", "(null)") if any(t["to"] == s for t in transitions)]
    cells = np.zeros((len(sources), len(targets)))
    for t in transitions:
        cells[sources.index(t["from"]), targets.index(t["to"])] = t["probability"]
    return charts.heatmap(sources, targets, cells, name="transitions", xlabel="To", ylabel="From",
                          title="Markov chain: probability of each next step", fmt=".2f",
                          empty="No journeys in this period")


# ---- funnel -----------------------------------------------------------------------------------------

def _period_label(period: Mapping[str, Any]) -> str:
    return f"{period['period']['from']} to {period['period']['to']}"


def funnel_people(report: Mapping[str, Any]) -> dict[str, list[float]]:
    """People per stage and period; segments (each person is in one) are added up."""
    stages: list[str] = report["stages"]
    out = {}
    for period in report["periods"]:
        people = dict.fromkeys(stages, 0.0)
        for row in period["stages"]:
            people[row["stage"]] += row["people"]
        out[period["label"]] = [people[s] for s in stages]
    return out


def funnel_figure(report: Mapping[str, Any]) -> charts.Chart:
    subtitles = {p["label"]: _period_label(p) for p in report["periods"]}
    if len(report["periods"]) > 1:
        subtitles = {label: f"{label}: {text}" for label, text in subtitles.items()}
    return charts.funnel_chart(report["stages"], funnel_people(report), title="People reaching each stage",
                               subtitles=subtitles)


COST_COLUMNS = ("cost", "leads", "cost_per_lead", "purchases", "cost_per_acquisition", "revenue", "roas")


def costs_report(report: Mapping[str, Any]) -> dict[str, Any]:
    """The funnel's cost tables of every period as one CSV-able report (period column first)."""
    by = report["parameters"]["by"][0]
    rows = [{"period": p["label"], **row} for p in report["periods"] for row in p["costs"]]
    return {"parameters": report["parameters"], "rows": rows, "columns": ["period", by, *COST_COLUMNS]}


# ---- dark funnel ------------------------------------------------------------------------------------

MATRICES = {"first-touch": ("first_touch_matrix", "Tracked first touch"),
            "last-touch": ("last_touch_matrix", "Tracked last touch")}


def matrix_figure(report: Mapping[str, Any], name: str) -> charts.Chart:
    key, xlabel = MATRICES[name]
    matrix = report[key]
    return charts.heatmap(matrix["rows"], matrix["columns"], matrix["cells"], name=name, xlabel=xlabel,
                          ylabel="Said", title=f"What people said × {xlabel.lower()} (conversions)")


# ---- page, CSV and chart dispatch ---------------------------------------------------------------------

def chart_figure(spec: ReportSpec, report: Mapping[str, Any], chart: str) -> charts.Chart:
    """Build chart ``chart`` of report ``spec``; NotFound for a chart the report does not have."""
    if chart not in spec.chart_names:
        raise NotFound()
    if spec.name == "attribution":
        if chart == "transitions":
            if not report.get("markov", {}).get("transitions"):
                raise NotFound()  # only an order-1 Markov report has a transition matrix
            return transitions_figure(report)
        return credits_chart(report)
    if spec.name == "funnel":
        return funnel_figure(report)
    return matrix_figure(report, chart)


def csv_table(spec: ReportSpec, report: dict[str, Any], table: str) -> tuple[str, str]:
    """Return (CSV text, file name) of ``table``: the report's main table is the API's ``format=csv``."""
    if table not in spec.tables:
        raise NotFound()
    if spec.name == "funnel" and table == "costs":
        return output.to_csv(costs_report(report), "funnel-costs")
    return output.to_csv(report, spec.name)


def page_context(spec: ReportSpec, report: dict[str, Any]) -> dict[str, Any]:
    """Tables and inline charts of one report for its template."""
    if spec.name == "attribution":
        context = {"table": credit_table(report), "comparison": comparison_table(report),
                   "assumptions": MODEL_ASSUMPTIONS, "labels": MODEL_LABELS,
                   "chart": charts.inline_svg(credits_chart(report), prefix="credits",
                                              label="Credited conversions per category, one bar per model")}
        if report.get("markov", {}).get("transitions"):
            context["transitions_chart"] = charts.inline_svg(
                transitions_figure(report), prefix="transitions",
                label="Markov chain transition probabilities, from each state to the next")
        return context
    if spec.name == "funnel":
        return {"chart": charts.inline_svg(funnel_figure(report), prefix="funnel",
                                           label="Funnel: people reaching each stage"),
                "period_labels": {p["label"]: _period_label(p) for p in report["periods"]},
                "cost_columns": COST_COLUMNS}
    return {"charts": {name: charts.inline_svg(matrix_figure(report, name), prefix=name,
                                               label=f"Self-reported channel x {MATRICES[name][1].lower()} channel")
                       for name in MATRICES}}
