"""Report API: ``/api/v1/reports/attribution``, ``/dark-funnel`` and ``/funnel`` as JSON or CSV (thin)."""
from __future__ import annotations

from typing import Any

from apiflask import APIBlueprint, Schema
from apiflask.fields import String
from apiflask.validators import Length
from flask import Response, current_app, request

from tracker.auth.access import requires
from tracker.config import Settings
from tracker.db import db_session
from tracker.errors import ValidationError
from tracker.reports import output, service
from tracker.reports.params import FUNNEL_MODELS, parse_params

bp = APIBlueprint("reports", __name__, url_prefix="/api/v1/reports", tag="Reports")

FORMATS = ("json", "csv")
MAX_PARAM_LENGTH = 500  # every report parameter (a list of models or dimensions fits)


def _settings() -> Settings:
    return current_app.config["SETTINGS"]  # type: ignore[no-any-return]


def _field(description: str, **kwargs: Any) -> String:
    kwargs.setdefault("validate", Length(0, MAX_PARAM_LENGTH))
    return String(metadata={"description": description}, **kwargs)


def query_names(schema: type[Schema]) -> list[str]:
    """The query parameter names a schema documents (``from`` is the data key of ``from_``)."""
    return [f.data_key or name for name, f in schema().fields.items()]


class CommonQuery(Schema):
    from_ = _field("First conversion day (YYYY-MM-DD, report time zone); default: 29 days before `to`",
                   data_key="from")
    to = _field("Last conversion day, inclusive; default: today")
    conversion_type = _field("A funnel type, or `all` (default)")
    lookback_days = _field("Days of touches before each conversion (0-365, default 30)")
    since_previous_conversion = _field("true: journeys start after the person's previous conversion of the type")
    format = _field("json (default) or csv")


class AttributionQuery(CommonQuery):
    model = _field("first_touch, last_touch, last_non_direct, linear, time_decay, position_based, self_reported, "
                   "markov, shapley; several comma-separated or repeated (default first_touch,last_touch,linear)")
    by = _field("channel (default), source, medium, campaign, link, kind; several comma-separated")
    self_report_as_first_touch = _field("true: the self-reported channel joins each journey as its first touch")
    half_life_days = _field("time_decay half-life in days (default 7)")
    position_first = _field("position_based weight of the first touch (default 0.4)")
    position_last = _field("position_based weight of the last touch (default 0.4)")
    markov_order = _field("markov: how many previous values a state remembers (1-4, default 1)")
    intervals = _field("true: a bootstrap interval (2.5 and 97.5 percentiles) for every credited number: columns "
                       "conversions_low/high and value_low/high, and `comparison` (where two models differ)")
    samples = _field("Bootstrap resamples with intervals=true (20-2000, default 200)")
    channel = _field("Only rows of this channel")
    source = _field("Only rows of this source")
    medium = _field("Only rows of this medium")
    campaign = _field("Only rows of this campaign (slug)")
    link = _field("Only rows of this link code")
    kind = _field("Only rows of this touchpoint kind")


class PathsQuery(CommonQuery):
    by = _field("channel (default), source, medium, campaign, link, kind; several comma-separated (a touch is "
                "then written as its values joined by ' / ')")
    self_report_as_first_touch = _field("true: the self-reported channel leads each converting path")


class FunnelQuery(CommonQuery):
    model = _field("Model crediting conversions for cost per lead/acquisition and ROAS (default linear; any "
                   "attribution model, markov and shapley included)")
    markov_order = _field("With model=markov: the chain's order (1-4, default 1)")
    by = _field("channel (default) or campaign: the segments of the cost metrics")
    segment = _field("Stage table per segment: channel, source, medium, campaign, link, kind, country (of the "
                     "person's first touch in the period) or self_reported")
    compare_from = _field("First day of a second period to compare with")
    compare_to = _field("Last day of the second period")


def _raw_query() -> dict[str, list[str]]:
    return request.args.to_dict(flat=False)


def _format() -> str:
    fmt = (request.args.get("format") or "json").lower()
    if fmt not in FORMATS:
        raise ValidationError("format must be json or csv", "format")
    return fmt


def _answer(report: dict[str, Any], name: str) -> Any:
    if _format() == "csv":
        body, filename = output.to_csv(report, name)
        return Response(body, mimetype="text/csv",
                        headers={"Content-Disposition": f'attachment; filename="{filename}"'})
    return report


@bp.get("/attribution")
@requires("reports:read")
@bp.input(AttributionQuery, location="query", arg_name="query")
@bp.doc(description="Conversions of the window credited to touchpoints by one or several models, side by side. "
        "The answer states its parameters, the taxonomy in force and counts (conversions, value, `no_touch`: "
        "journeys that fell back to [Direct]; `self_reported_fell_back`).")
def attribution(query: dict[str, Any]) -> Any:
    """Attribution report"""
    settings = _settings()
    params = parse_params(_raw_query(), settings, allowed=query_names(AttributionQuery))
    return _answer(service.attribution_report(db_session(), settings, params), "attribution")


@bp.get("/dark-funnel")
@requires("reports:read")
@bp.input(CommonQuery, location="query", arg_name="query")
@bp.doc(description="Self-reported channel versus tracked journey for the window's conversions: answer rate, "
        "dark share overall and per self-reported channel, and the matrices self-reported x tracked first-touch "
        "and x last-touch channel.")
def dark_funnel(query: dict[str, Any]) -> Any:
    """Dark-funnel report"""
    settings = _settings()
    params = parse_params(_raw_query(), settings, allowed=query_names(CommonQuery))
    return _answer(service.dark_funnel_report(db_session(), settings, params), "dark-funnel")


@bp.get("/paths")
@requires("reports:read")
@bp.input(PathsQuery, location="query", arg_name="query")
@bp.doc(description="The distinct paths of the window's journeys with ChannelAttribution's columns: `path` "
        "(touches joined by ' > '), `total_conversions`, `total_conversion_value` and `total_null` (non-converting "
        "journeys: each person's touches after their last conversion of the type in the period, no earlier than "
        "the lookback before its end). CSV uses `;` as ChannelAttribution's examples do.")
def paths(query: dict[str, Any]) -> Any:
    """Paths export"""
    settings = _settings()
    params = parse_params(_raw_query(), settings, allowed=query_names(PathsQuery))
    return _answer(service.paths_report(db_session(), settings, params), "paths")


@bp.get("/funnel")
@requires("reports:read")
@bp.input(FunnelQuery, location="query", arg_name="query")
@bp.doc(description="Funnel stages (entry, then the configured conversion types): people, stage-to-stage rates, "
        "drop-off, sales cycle time, average sale value, cost per lead/acquisition and ROAS from campaign costs; "
        "optionally per segment and against a second period.")
def funnel(query: dict[str, Any]) -> Any:
    """Funnel report"""
    settings = _settings()
    params = parse_params(_raw_query(), settings, allowed=query_names(FunnelQuery), default_models=FUNNEL_MODELS)
    return _answer(service.funnel_report(db_session(), settings, params), "funnel")
