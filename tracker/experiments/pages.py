"""The experiment report page ``/reports/experiments``: pick a test, see each arm's rate and the verdict (thin).

The page reads the API's query parameters (checked by :func:`parse_experiment_params`), plus ``test`` (the
form's select: ``experiment:NAME`` or ``campaign:SLUG``), and shows the report dict the API returns: the
verdict in words, the arm table, a chart of each arm's rate with its 95 % interval, and the arm table as CSV.
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, render_template, request
from werkzeug.wrappers import Response

from tracker.auth.access import page_requires
from tracker.config import Settings
from tracker.db import db_session
from tracker.errors import DomainError
from tracker.experiments.service import experiment_report, list_experiments, parse_experiment_params
from tracker.pages import csrf
from tracker.pages.views import domain_error, no_store, principal_context, too_large
from tracker.reports import output
from tracker.reports.charts import Chart, grouped_bars, inline_svg, render

bp = Blueprint("experiments_pages", __name__)
bp.enable_openapi = False  # type: ignore[attr-defined]  # pages are not part of the API (see tracker.pages.views)
csrf.protect(bp)
bp.context_processor(principal_context)
bp.after_request(no_store)
bp.register_error_handler(DomainError, domain_error)
bp.register_error_handler(413, too_large)

RATE_SERIES = "conversion rate (%)"


def _settings() -> Settings:
    return current_app.config["SETTINGS"]  # type: ignore[no-any-return]


def _raw() -> dict[str, list[str]]:
    """The query as the API takes it: the form's ``test`` becomes ``experiment`` or ``campaign``."""
    raw = {k: [v for v in vs if v.strip()] for k, vs in request.args.to_dict(flat=False).items() if k != "format"}
    raw = {k: v for k, v in raw.items() if v}
    test = raw.pop("test", [""])[-1]
    kind, _, name = test.partition(":")
    if kind in ("experiment", "campaign") and name and "experiment" not in raw and "campaign" not in raw:
        raw[kind] = [name]
    return raw


def _query(data: dict[str, Any]) -> list[tuple[str, str]]:
    """The parameters in force with explicit dates, for the downloads and the API URL."""
    p = data["parameters"]
    pairs = [("experiment", p["experiment"])] if p["experiment"] else [("campaign", p["campaign"])]
    pairs += [("control", p["control"]), ("from", p["from"]), ("to", p["to"]),
              ("conversion_type", p["conversion_type"]), ("lookback_days", str(p["lookback_days"]))]
    return pairs


def rate_chart(data: dict[str, Any]) -> Chart:
    """Each arm's conversion rate (%) as a bar with its 95 % Wilson interval as a whisker."""
    arms = data["arms"]
    rates = [100 * (a["rate"] or 0.0) for a in arms]
    lows = [100 * a["rate_low"] if a["rate_low"] is not None else float("nan") for a in arms]
    highs = [100 * a["rate_high"] if a["rate_high"] is not None else float("nan") for a in arms]
    labels = [f"{a['arm']} (control)" if a["is_control"] else a["arm"] for a in arms]
    return grouped_bars(labels, {RATE_SERIES: rates}, value_label="people converting, % (95 % interval)",
                        title=f"Conversion rate per arm: {data['parameters']['conversion_type']} within "
                              f"{data['parameters']['lookback_days']} days",
                        intervals={RATE_SERIES: (lows, highs)})


def _pct(value: float | None, digits: int = 1, sign: bool = False) -> str:
    if value is None:
        return "—"
    return f"{100 * value:{'+' if sign else ''}.{digits}f} %"


def explain(data: dict[str, Any]) -> str:
    """The verdict in words a marketer reads: who wins, how sure, and what to do next."""
    arms = {a["arm"]: a for a in data["arms"]}
    control = arms[data["control"]]
    size = data["sample_size"]
    p = data["test"]["p_value"]
    p_text = "—" if p is None else f"{p:.3f}" if p >= 0.001 else "< 0.001"
    if not data["enough_data"]:
        why = "; ".join(data["not_enough_data_because"])
        text = f"Not enough data for a verdict yet ({why})."
        if size["needed_per_arm"]:
            text += (f" To tell a difference as large as the current one (arm {size['for_arm']} against "
                     f"{data['control']}) with 80 % certainty, each arm needs about {size['needed_per_arm']:,} people"
                     f" ({size['more_needed']:,} more in the smallest arm).")
        else:
            text += " The arms convert at the same rate so far, so no sample size can be given."
        return text
    if data["winner"] and data["winner"] != data["control"]:
        best = arms[data["winner"]]
        lift = f"{_pct(best['lift'], 0, True)} (95 % interval {_pct(best['lift_low'], 0, True)} to " \
               f"{_pct(best['lift_high'], 0, True)})" if best["lift"] is not None else "a higher rate"
        return (f"{data['winner']} converts better than {data['control']}: {_pct(best['rate'])} of people against "
                f"{_pct(control['rate'])}, a lift of {lift}. The difference is unlikely to be chance (p = {p_text}): "
                f"use {data['winner']}.")
    if data["winner"] == data["control"]:
        return (f"The control {data['control']} converts better than the other arms ({_pct(control['rate'])} of "
                f"people); the difference is unlikely to be chance (p = {p_text}): keep {data['control']}.")
    text = (f"No clear winner: the arms' rates differ by no more than chance would explain (p = {p_text}). ")
    if size["needed_per_arm"]:
        text += (f"If the current difference is real, seeing it with 80 % certainty takes about "
                 f"{size['needed_per_arm']:,} people per arm ({size['more_needed']:,} more in the smallest arm).")
    else:
        text += "The arms convert at the same rate."
    return text


@bp.get("/reports/experiments")
@page_requires("reports:read")
def report_page() -> str | tuple[str, int]:
    raw = _raw()
    tests = list_experiments(db_session())
    options = [(f"experiment:{t['experiment']}" if t["experiment"] else f"campaign:{t['campaign']}",
                f"{t['label']}: {' / '.join(t['arms'])}") for t in tests]
    values = {k: v[-1] for k, v in raw.items()}
    values["test"] = (f"experiment:{values['experiment']}" if values.get("experiment") else
                      f"campaign:{values['campaign']}" if values.get("campaign") else "")
    common = {"options": options, "funnel": _settings().funnel, "values": values}
    if "experiment" not in raw and "campaign" not in raw:
        return render_template("experiments/report.html", report=None, errors={}, **common)
    try:
        data = experiment_report(db_session(), _settings(), parse_experiment_params(raw, _settings()))
    except DomainError as exc:
        field = "test" if exc.field in ("experiment", "campaign") else exc.field or ""
        return render_template("experiments/report.html", report=None, errors={field: exc.message},
                               **common), exc.status
    values.update({"from": data["parameters"]["from"], "to": data["parameters"]["to"],
                   "control": data["control"], "conversion_type": data["parameters"]["conversion_type"],
                   "lookback_days": str(data["parameters"]["lookback_days"])})
    svg = inline_svg(rate_chart(data), prefix="experiment", label="Conversion rate of each arm with its 95 % interval")
    return render_template("experiments/report.html", report=data, errors={}, chart=svg, query=_query(data),
                           explanation=explain(data), **common)


def _download(data: dict[str, Any], ext: str) -> str:
    p = data["parameters"]
    return f"experiment-{data['experiment'] or data['campaign']}_{p['from']}_{p['to']}.{ext}"


@bp.get("/reports/experiments/arms.csv")
@page_requires("reports:read")
def report_csv() -> Response:
    data = experiment_report(db_session(), _settings(), parse_experiment_params(_raw(), _settings()))
    body, _ = output.to_csv(data, "experiment")
    return Response(body, mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{_download(data, "csv")}"'})


@bp.get("/reports/experiments/chart.<any(svg, png):fmt>")
@page_requires("reports:read")
def report_chart(fmt: str) -> Response:
    data = experiment_report(db_session(), _settings(), parse_experiment_params(_raw(), _settings()))
    return Response(render(rate_chart(data), fmt), mimetype="image/svg+xml" if fmt == "svg" else "image/png",
                    headers={"Content-Disposition": f'attachment; filename="{_download(data, fmt)}"'})
