"""The analyst report pages: sign-in, tables equal to the API's numbers, errors at the field, downloads, charts.

Hand-made data (May 2026, report time zone Europe/Oslo):

- ada: expo touch May 2 (imported with the source ``<b>expo</b>&co``), email touch May 5; purchase May 10
  (300) with the answer "podcast" tied by the deal id;
- ben: PR touch May 15; lead May 16; purchase May 20 (100); said "a colleague told me" two days later;
- cy: purchase May 12 (50), no touch at all (journey [Direct]);
- a cost of 1,000 NOK for Events on May 2.

Runs on SQLite and, with TRACKER_TEST_POSTGRES_URL, on PostgreSQL. The demo data set is used once
per report for "renders with realistic data".
"""
from __future__ import annotations

import csv
import html as html_lib
import io
import re
from datetime import UTC, datetime
from typing import Any
from xml.etree import ElementTree

import numpy as np
import pytest

import tracker.demo
from tracker.demo import load_demo
from tracker.reports import charts

SVG = "{http://www.w3.org/2000/svg}"
XLINK_HREF = "{http://www.w3.org/1999/xlink}href"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
MAY = {"from": "2026-05-01", "to": "2026-05-31"}
EVIL_SOURCE = "<b>expo</b>&co"
TOUCHES = (
    "customer_key,ts,kind,channel,campaign,label,source\n"
    f"ada@example.com,2026-05-02T10:00:00+02:00,event,,oslo-expo-2026,Booth 12,{EVIL_SOURCE}\n"
    "ada@example.com,2026-05-05T10:00:00+02:00,,Email,,Newsletter reply,\n"
    "ben@example.com,2026-05-15T10:00:00+02:00,pr,,,Interview,\n"
)
CONVERSIONS = [
    {"external_id": "deal-ada", "type": "purchase", "ts": "2026-05-10T12:00:00+02:00", "value": "300",
     "customer_key": "ada@example.com"},
    {"external_id": "deal-ben", "type": "lead", "ts": "2026-05-16T12:00:00+02:00", "customer_key": "ben@example.com"},
    {"external_id": "deal-ben", "type": "purchase", "ts": "2026-05-20T12:00:00+02:00", "value": "100",
     "customer_key": "ben@example.com"},
    {"external_id": "deal-cy", "type": "purchase", "ts": "2026-05-12T12:00:00+02:00", "value": "50",
     "customer_key": "cy@example.com"},
]


# ---- helpers ------------------------------------------------------------------------------------

@pytest.fixture
def data(client: Any, auth: dict[str, str], campaign: dict[str, Any]) -> dict[str, Any]:
    resp = client.post("/api/v1/touchpoints/import", data=TOUCHES.encode(),
                       headers={**auth, "Content-Type": "text/csv"})
    assert resp.status_code == 201, resp.json
    resp = client.post("/api/v1/conversions", json={"conversions": CONVERSIONS}, headers=auth)
    assert resp.status_code == 201, resp.json
    for answer in ({"option": "podcast", "conversion_external_id": "deal-ada", "customer_key": "ada@example.com",
                    "ts": "2026-05-10T12:05:00+02:00"},
                   {"text": "a colleague told me", "customer_key": "ben@example.com",
                    "ts": "2026-05-22T12:00:00+02:00"}):
        resp = client.post("/api/v1/self-reports", json=answer, headers=auth)
        assert resp.status_code == 201, resp.json
    resp = client.post(f"/api/v1/campaigns/{campaign['id']}/costs",
                       json={"date": "2026-05-02", "amount": "1000", "channel": "Events"}, headers=auth)
    assert resp.status_code == 201, resp.json
    return campaign


def page(client: Any, name: str, **params: Any) -> str:
    resp = client.get(f"/reports/{name}", query_string=params)
    assert resp.status_code == 200, resp.text
    assert resp.mimetype == "text/html"
    return resp.text


def api(client: Any, auth: dict[str, str], name: str, **params: Any) -> Any:
    resp = client.get(f"/api/v1/reports/{name}", query_string=params, headers=auth)
    assert resp.status_code == 200, resp.json
    return resp


def figure_svg(html: str, chart: str) -> ElementTree.Element:
    match = re.search(rf'<figure class="report-chart" id="chart-{chart}">.*?(<svg .*?</svg>)', html, re.DOTALL)
    assert match, f"no chart {chart}"
    return ElementTree.fromstring(match.group(1))


def ids(svg: ElementTree.Element, prefix: str) -> set[str]:
    return {e.get("id") for e in svg.iter() if (e.get("id") or "").startswith(prefix)}


def field_error(html: str, name: str) -> str | None:
    match = re.search(rf'<p class="field-error" id="f-{name}-error">([^<]*)</p>', html)
    return html_lib.unescape(match.group(1)) if match else None


def credit_cells(html: str) -> dict[tuple[str, str, str], float]:
    """{(category, model, conversions|value): number} from the page's credit table (data-value: full precision)."""
    cells = {}
    for category, body in re.findall(r'<tr data-category="([^"]*)">(.*?)</tr>', html, re.DOTALL):
        for model, column, value in re.findall(r'data-model="([^"]+)" data-column="([^"]+)" data-value="([^"]*)"',
                                               body):
            cells[(html_lib.unescape(category), model, column)] = float(value)
    return cells


def row_values(html: str, attrs: str) -> list[float | None]:
    """The data-value numbers of the table row whose opening tag carries ``attrs``."""
    match = re.search(rf"<tr {re.escape(attrs)}[^>]*>(.*?)</tr>", html, re.DOTALL)
    assert match, f"no row {attrs}"
    return [float(v) if v else None for v in re.findall(r'data-value="([^"]*)"', match.group(1))]


# ---- sign-in and navigation ---------------------------------------------------------------------

@pytest.mark.parametrize("path", [
    "/reports", "/reports/attribution", "/reports/funnel", "/reports/dark-funnel",
    "/reports/attribution/credits.csv", "/reports/funnel/costs.csv", "/reports/dark-funnel/by-channel.csv",
    "/reports/attribution/credits.svg", "/reports/funnel/funnel.png", "/reports/dark-funnel/first-touch.svg",
])
def test_report_pages_need_sign_in(client, path):
    resp = client.get(path)
    assert resp.status_code == 302
    assert resp.headers["Location"].startswith("/login?next=")


def test_reports_are_in_the_nav_and_tabs(signed_in):
    index = signed_in.get("/").text
    assert 'href="/reports/attribution">Reports</a>' in index
    resp = signed_in.get("/reports")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/reports/attribution")
    html = page(signed_in, "funnel", **MAY)
    assert 'aria-current="page">Reports</a>' in html
    assert 'href="/reports/dark-funnel?from=2026-05-01&amp;to=2026-05-31"' in html  # tabs keep the dates


@pytest.mark.parametrize("path", ["/reports/weather", "/reports/attribution/weather.csv",
                                  "/reports/funnel/credits.svg", "/reports/dark-funnel/middle.png",
                                  "/reports/attribution/credits.gif"])
def test_unknown_reports_tables_and_charts_are_404(signed_in, path):
    assert signed_in.get(path).status_code == 404


# ---- attribution --------------------------------------------------------------------------------

def test_attribution_table_equals_the_api(signed_in, auth, data):
    params = {**MAY, "model": ["first_touch", "last_touch", "linear", "time_decay"]}
    html = page(signed_in, "attribution", **params)
    body = api(signed_in, auth, "attribution", **params).json
    cells = credit_cells(html)
    expected = {(row["channel"], row["model"], column): row[column] for row in body["rows"]
                for column in ("conversions", "value")}
    assert {k: v for k, v in cells.items() if k in expected} == expected
    assert all(v == 0 for k, v in cells.items() if k not in expected)  # models that gave a category nothing
    # By hand, purchases and ben's lead: first touch Events (ada), PR (ben's lead and purchase), Direct (cy).
    assert cells[("PR", "first_touch", "conversions")] == 2 and cells[("Events", "first_touch", "value")] == 300
    assert cells[("Direct", "linear", "value")] == 50
    categories = [html_lib.unescape(c) for c in re.findall(r'<tr data-category="([^"]*)">', html)]
    assert categories[0] == "PR"  # the most credited conversions over all models first
    assert '<div class="stats" id="report-counts">' in html and "with no tracked touch" in html


def test_attribution_chart_has_a_bar_per_category_and_model(signed_in, data):
    html = page(signed_in, "attribution", **MAY, model="first_touch,linear,position_based")
    svg = figure_svg(html, "credits")
    categories = len(re.findall(r'<tr data-category=', html))
    assert categories == 4  # Events, Email, PR, Direct
    for model in ("first-touch", "linear", "position-based"):
        assert ids(svg, f"series-{model}-") == {f"series-{model}-{k}" for k in range(categories)}
    assert svg.get("role") == "img" and svg.get("aria-label")
    # The page's Content-Security-Policy forbids inline styles: none left, no <style>, no script.
    assert not [e for e in svg.iter() if e.get("style") is not None]
    assert not [e for e in svg.iter() if e.tag in (f"{SVG}style", f"{SVG}script")]
    bar = svg.find(".//*[@id='series-linear-0']")
    assert bar.find(f"{SVG}title").text.startswith("PR · linear: ")
    assert bar.find(f".//{SVG}path").get("fill") == "#e69f00"  # the second model's colour


def test_inline_charts_ids_are_unique_and_references_resolve(signed_in, data):
    html = page(signed_in, "dark-funnel", **MAY)
    svgs = [figure_svg(html, "first-touch"), figure_svg(html, "last-touch")]
    all_ids = [e.get("id") for svg in svgs for e in svg.iter() if e.get("id")]
    assert len(all_ids) == len(set(all_ids))
    for svg in svgs:
        known = {e.get("id") for e in svg.iter()}
        for e in svg.iter():
            for ref in re.findall(r"url\(#([^)]+)\)", e.get("clip-path", "")) + \
                    [e.get(XLINK_HREF, "")[1:]] * bool(e.get(XLINK_HREF)):
                assert ref in known


def test_names_with_markup_stay_text(signed_in, data):
    """A source arrives from URLs and imports: it must never become markup on the page or in the SVG."""
    html = page(signed_in, "attribution", **MAY, by="source", model="first_touch")
    assert "<b>expo</b>" not in html
    assert "&lt;b&gt;expo&lt;/b&gt;&amp;co" in html
    svg = figure_svg(html, "credits")
    assert EVIL_SOURCE in [t.text for t in svg.iter(f"{SVG}text")]
    assert not [e for e in svg.iter() if e.tag.endswith("}b")]
    download = signed_in.get("/reports/attribution/credits.svg", query_string={**MAY, "by": "source"})
    assert EVIL_SOURCE in [t.text for t in ElementTree.fromstring(download.data).iter(f"{SVG}text")]


def test_attribution_downloads(signed_in, auth, data):
    params = {**MAY, "model": ["first_touch", "linear"], "conversion_type": "purchase"}
    resp = signed_in.get("/reports/attribution/credits.csv", query_string=params)
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    assert resp.headers["Content-Disposition"] == 'attachment; filename="attribution_2026-05-01_2026-05-31.csv"'
    assert resp.data == api(signed_in, auth, "attribution", **params, format="csv").data
    rows = list(csv.DictReader(io.StringIO(resp.text)))
    assert list(rows[0]) == ["model", "channel", "conversions", "value", "share"]

    svg = signed_in.get("/reports/attribution/credits.svg", query_string=params)
    assert svg.status_code == 200 and svg.mimetype == "image/svg+xml"
    assert 'filename="attribution-credits_2026-05-01_2026-05-31.svg"' in svg.headers["Content-Disposition"]
    root = ElementTree.fromstring(svg.data)
    # Events, Email, PR and Direct: every model has a bar per category, even where it credits nothing.
    assert ids(root, "series-first-touch-") == {f"series-first-touch-{k}" for k in range(4)}
    assert ids(root, "series-linear-") == {f"series-linear-{k}" for k in range(4)}
    png = signed_in.get("/reports/attribution/credits.png", query_string=params)
    assert png.status_code == 200 and png.mimetype == "image/png" and png.data.startswith(PNG_MAGIC)
    # Same data, same bytes.
    assert signed_in.get("/reports/attribution/credits.svg", query_string=params).data == svg.data
    assert signed_in.get("/reports/attribution/credits.png", query_string=params).data == png.data


def test_download_links_carry_the_parameters_in_force(signed_in, data):
    html = html_lib.unescape(page(signed_in, "attribution", **MAY, lookback_days="7", model="linear"))
    link = re.search(r'id="download-credits-csv"\s+href="([^"]+)"', html).group(1)
    assert link == ("/reports/attribution/credits.csv?from=2026-05-01&to=2026-05-31&model=linear&by=channel"
                    "&lookback_days=7")
    assert f'/api/v1/reports/attribution?{link.split("?")[1]}"' in html


# ---- funnel -------------------------------------------------------------------------------------

def test_funnel_tables_equal_the_api(signed_in, auth, data):
    params = {**MAY, "compare_from": "2026-04-01", "compare_to": "2026-04-30"}
    html = page(signed_in, "funnel", **params)
    body = api(signed_in, auth, "funnel", **params).json
    for row in body["rows"]:
        assert row_values(html, f'data-period="{row["period"]}" data-stage="{row["stage"]}"') == [
            row["people"], row["rate"], row["drop_off"], row["overall"]]
    may = body["periods"][0]
    # By hand: entry ada and ben (touches in May) and cy (bought); leads are everyone who bought too.
    assert [(s["stage"], s["people"]) for s in may["stages"]] == [
        ("entry", 3), ("lead", 3), ("opportunity", 3), ("purchase", 3)]
    for row in may["costs"]:
        assert row_values(html, f'data-key="{row["channel"]}"')[:7] == [
            row["cost"], row["leads"], row["cost_per_lead"], row["purchases"], row["cost_per_acquisition"],
            row["revenue"], row["roas"]]
    events = next(r for r in may["costs"] if r["channel"] == "Events")
    assert events["cost"] == 1000
    assert row_values(html, 'data-metric="average_sale_value"') == [150, None]  # April has no sale
    assert row_values(html, 'data-metric="sales"') == [3, 0]
    assert 'id="funnel-costs-current"' in html and "<h3>Previous: 2026-04-01 to 2026-04-30</h3>" in html
    assert 'id="funnel-costs-previous"' not in html  # no cost and no conversion in April


def test_funnel_chart_has_a_bar_per_stage_and_period(signed_in, data):
    html = page(signed_in, "funnel", **MAY, compare_from="2026-04-01", compare_to="2026-04-30")
    svg = figure_svg(html, "funnel")
    assert ids(svg, "series-current-") == {f"series-current-{k}" for k in range(4)}
    assert ids(svg, "series-previous-") == {f"series-previous-{k}" for k in range(4)}
    texts = [t.text for t in svg.iter(f"{SVG}text")]
    assert "entry" in texts and "purchase" in texts


def test_funnel_downloads(signed_in, auth, data):
    stages = signed_in.get("/reports/funnel/stages.csv", query_string=MAY)
    assert stages.mimetype == "text/csv" and stages.data == api(signed_in, auth, "funnel", **MAY, format="csv").data
    costs = signed_in.get("/reports/funnel/costs.csv", query_string=MAY)
    assert costs.status_code == 200 and costs.mimetype == "text/csv"
    assert 'filename="funnel-costs_2026-05-01_2026-05-31.csv"' in costs.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(costs.text)))
    assert list(rows[0]) == ["period", "channel", "cost", "leads", "cost_per_lead", "purchases",
                             "cost_per_acquisition", "revenue", "roas"]
    assert {r["channel"]: float(r["cost"]) for r in rows}["Events"] == 1000
    svg = signed_in.get("/reports/funnel/funnel.svg", query_string=MAY)
    assert svg.mimetype == "image/svg+xml"
    assert ids(ElementTree.fromstring(svg.data), "series-current-") == {f"series-current-{k}" for k in range(4)}
    assert signed_in.get("/reports/funnel/funnel.png", query_string=MAY).data.startswith(PNG_MAGIC)


def test_funnel_segments_add_up_in_the_chart(signed_in, data):
    html = page(signed_in, "funnel", **MAY, segment="channel")
    assert 'data-segment="Events"' in html
    bar = figure_svg(html, "funnel").find(".//*[@id='series-current-0']")
    assert bar.find(f"{SVG}title").text == "entry: 3 people"


# ---- dark funnel --------------------------------------------------------------------------------

def test_dark_funnel_page_equals_the_api(signed_in, auth, data):
    params = {**MAY, "conversion_type": "purchase"}
    html = page(signed_in, "dark-funnel", **params)
    body = api(signed_in, auth, "dark-funnel", **params).json
    assert (body["answered"], body["dark"]) == (2, 2)  # ada's journey has no Podcast, ben's no word of mouth
    for row in body["by_channel"]:
        assert row_values(html, f'data-channel="{row["self_reported_channel"]}"') == [
            row["answered"], row["dark"], row["dark_share"]]
    assert re.search(rf'data-metric="answer_rate" data-value="{body["answer_rate"]}"', html)
    assert re.search(rf'data-metric="dark_share" data-value="{body["dark_share"]}"', html)
    for name, key in (("first-touch", "first_touch_matrix"), ("last-touch", "last_touch_matrix")):
        matrix = body[key]
        svg = figure_svg(html, name)
        assert ids(svg, f"cell-{name}-") == {f"cell-{name}-{i}-{j}" for i in range(len(matrix["rows"]))
                                             for j in range(len(matrix["columns"]))}
        table = re.search(rf'<table [^>]*id="matrix-{name}">(.*?)</table>', html, re.DOTALL).group(1)
        numbers = [int(v) for v in re.findall(r'<td class="num">(\d+)</td>', table)]
        assert numbers == [v for row in matrix["cells"] for v in row]
    csv_resp = signed_in.get("/reports/dark-funnel/by-channel.csv", query_string=params)
    assert csv_resp.data == api(signed_in, auth, "dark-funnel", **params, format="csv").data
    assert csv_resp.text.splitlines()[0] == "self_reported_channel,answered,dark,dark_share"
    for name in ("first-touch", "last-touch"):
        svg = signed_in.get(f"/reports/dark-funnel/{name}.svg", query_string=params)
        assert svg.mimetype == "image/svg+xml" and ids(ElementTree.fromstring(svg.data), f"cell-{name}-")
        assert signed_in.get(f"/reports/dark-funnel/{name}.png", query_string=params).data.startswith(PNG_MAGIC)


# ---- errors -------------------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "params", "field", "message"), [
    ("attribution", {"lookback_days": "999"}, "lookback_days", "lookback_days must be between 0 and 365"),
    ("attribution", {"from": "2026-02-30"}, "from", "from must be a date like 2026-05-31"),
    ("attribution", {"from": "2026-05-10", "to": "2026-05-01"}, "to", "to is before from"),
    ("attribution", {"model": "bayes"}, "model", "model 'bayes' is not one of"),
    ("attribution", {"model": "self_reported", "by": "campaign"}, "by", "the self_reported model credits channels"),
    ("attribution", {"half_life_days": "0"}, "half_life_days", "half_life_days must be between"),
    ("funnel", {"model": ["linear", "first_touch"]}, "model", "the funnel report takes one model"),
    ("funnel", {"compare_from": "2026-05-01", "compare_to": "2026-04-01"}, "compare_to", "compare_to is before"),
    ("dark-funnel", {"conversion_type": "sale"}, "conversion_type", "conversion_type must be all or one of"),
])
def test_bad_parameters_show_the_error_at_the_field(signed_in, name, params, field, message):
    resp = signed_in.get(f"/reports/{name}", query_string=params)
    assert resp.status_code == 422
    assert message in field_error(resp.text, field)
    assert 'id="report-error"' in resp.text and 'role="alert"' in resp.text
    assert 'id="report-form"' in resp.text and "<svg" not in resp.text.split('id="report-form"')[1]
    # The form keeps what was sent.
    if field in ("lookback_days", "from", "compare_to"):
        assert re.search(rf'id="f-{field}" name="{field}" type="[a-z]+" (step="any" )?value="{params[field]}"',
                         resp.text)


def test_parameters_of_other_reports_are_refused(signed_in):
    resp = signed_in.get("/reports/attribution", query_string={"segment": "channel"})
    assert resp.status_code == 422
    assert "unknown parameter segment" in html_lib.unescape(resp.text)


@pytest.mark.parametrize("path", ["/reports/attribution/credits.csv", "/reports/attribution/credits.svg",
                                  "/reports/funnel/funnel.png"])
def test_downloads_with_bad_parameters_are_422_pages(signed_in, path):
    resp = signed_in.get(path, query_string={"lookback_days": "-1"})
    assert resp.status_code == 422 and resp.mimetype == "text/html"
    assert "lookback_days must be between 0 and 365" in resp.text


def test_checked_models_and_flags_come_back_checked(signed_in, data):
    html = page(signed_in, "attribution", **MAY, model=["linear", "self_reported"],
                self_report_as_first_touch="true")
    assert re.search(r'id="f-model-linear" name="model" type="checkbox" value="linear" checked', html)
    assert re.search(r'id="f-model-self_reported" name="model" type="checkbox" value="self_reported" checked', html)
    assert not re.search(r'id="f-model-first_touch"[^>]* checked', html)
    assert re.search(r'id="f-self_report_as_first_touch"[^>]* checked', html)
    assert "self-reported fell back to last_touch" in html


def test_several_dimensions_at_once(signed_in, auth, data):
    html = page(signed_in, "attribution", **MAY, by="campaign,kind", model="first_touch")
    assert '<option value="campaign,kind" selected>campaign, kind</option>' in html
    cells = credit_cells(html)
    assert cells[("oslo-expo-2026 / event", "first_touch", "conversions")] == 1
    assert cells[("(not set) / pr", "first_touch", "conversions")] == 2  # a PR touch has no campaign
    assert cells[("(direct) / (none)", "first_touch", "conversions")] == 1  # cy: Direct, as GA4 names it


# ---- empty and demo data ------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "charts_"), [("attribution", ["credits"]), ("funnel", ["funnel"]),
                                              ("dark-funnel", ["first-touch", "last-touch"])])
def test_pages_without_data(signed_in, name, charts_):
    html = page(signed_in, name, **MAY)
    for chart in charts_:
        assert figure_svg(html, chart).get("role") == "img"
        download = signed_in.get(f"/reports/{name}/{chart}.svg", query_string=MAY)
        ElementTree.fromstring(download.data)
    assert "No conversions in this period" in html or name != "attribution"


def test_pages_with_demo_data(app, signed_in, auth, monkeypatch):
    # The demo's data follow the clock: pin it, and ask for the pinned month, so the data set is one.
    monkeypatch.setattr(tracker.demo, "utcnow", lambda: datetime(2026, 11, 30, 5, 0, tzinfo=UTC))
    load_demo(app, clicks=600, days=30, seed=7)
    window = {"from": "2026-11-01", "to": "2026-11-30"}
    html = page(signed_in, "attribution", model=["first_touch", "last_touch", "linear", "time_decay"], **window)
    categories = len(re.findall(r"<tr data-category=", html))
    assert categories >= 3
    svg = figure_svg(html, "credits")
    for model in ("first-touch", "last-touch", "linear", "time-decay"):
        assert len(ids(svg, f"series-{model}-")) == min(categories, charts.MAX_CATEGORIES)
    body = api(signed_in, auth, "attribution", model="first_touch,last_touch,linear,time_decay", **window).json
    cells = credit_cells(html)
    assert all(cells[(r["channel"], r["model"], "conversions")] == r["conversions"] for r in body["rows"])

    funnel = page(signed_in, "funnel", **window)
    assert ids(figure_svg(funnel, "funnel"), "series-current-") == {f"series-current-{k}" for k in range(4)}
    dark = page(signed_in, "dark-funnel", **window)
    gap = api(signed_in, auth, "dark-funnel", **window).json
    assert gap["answered"] > 0
    assert len(ids(figure_svg(dark, "first-touch"), "cell-first-touch-")) == (
        len(gap["first_touch_matrix"]["rows"]) * len(gap["first_touch_matrix"]["columns"]))


# ---- charts without HTTP ------------------------------------------------------------------------

def test_many_categories_fold_into_one_and_long_labels_shorten():
    categories = [f"campaign-{i:02d}-with-a-rather-long-name-indeed" for i in range(20)]
    fig = charts.grouped_bars(categories, {"linear": list(range(20)), "first_touch": [1] * 20},
                              value_label="conversions", title="Many")
    root = ElementTree.fromstring(charts.render(fig, "svg"))
    assert ids(root, "series-linear-") == {f"series-linear-{k}" for k in range(charts.MAX_CATEGORIES)}
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "(6 more)" in texts
    assert categories[0][:charts.LABEL_CHARS - 1] + "…" in texts
    assert root.find(f".//*[@id='series-linear-0']/{SVG}title").text == f"{categories[0]} · linear: 0"
    folded = root.find(f".//*[@id='series-linear-{charts.MAX_CATEGORIES - 1}']/{SVG}title").text
    assert folded == f"(6 more) · linear: {sum(range(14, 20))}"


def test_labels_are_neither_math_nor_control_characters():
    fig = charts.grouped_bars(["$5 off $\\frac", "tab\there\x00"], {"linear": [1, 2]}, value_label="x", title="$x$")
    texts = [t.text for t in ElementTree.fromstring(charts.render(fig, "svg")).iter(f"{SVG}text")]
    assert "$5 off $\\frac" in texts and "tab here" in texts


def test_empty_charts_say_so():
    for fig in (charts.grouped_bars([], {"linear": []}, value_label="x", title="t"),
                charts.funnel_chart([], {}, title="t"),
                charts.heatmap([], [], np.zeros((0, 0)), name="m", xlabel="a", ylabel="b", title="t")):
        root = ElementTree.fromstring(charts.render(fig, "svg"))
        assert not ids(root, "series-") and not ids(root, "cell-")
        assert charts.render(fig, "png").startswith(PNG_MAGIC)


def test_heatmap_has_a_cell_per_row_and_column():
    fig = charts.heatmap(["Podcast", "Word of mouth"], ["Direct", "Email", "Events"], [[3, 0, 1], [0, 0, 2]],
                         name="first-touch", xlabel="Tracked first touch", ylabel="Said", title="t")
    root = ElementTree.fromstring(charts.render(fig, "svg"))
    assert ids(root, "cell-first-touch-") == {f"cell-first-touch-{i}-{j}" for i in range(2) for j in range(3)}
    title = root.find(f".//*[@id='cell-first-touch-0-0']/{SVG}title").text
    assert title == "Said Podcast, tracked first touch Direct: 3"


def test_render_refuses_other_formats():
    with pytest.raises(ValueError, match="svg or png"):
        charts.render(charts.funnel_chart(["entry"], {"current": [1]}, title="t"), "gif")


def test_svg_prefixes_do_not_depend_on_what_else_registered_one(monkeypatch):
    # qrcode registers ``svg:`` for the SVG namespace; an HTML parser would not read <svg:svg> as SVG.
    monkeypatch.setattr(ElementTree, "_namespace_map", {**ElementTree._namespace_map, SVG[1:-1]: "svg",
                                                        XLINK_HREF[1:].split("}")[0]: "xl"})
    fig = charts.grouped_bars(["Email"], {"linear": [1]}, value_label="x", title="t")
    markup = str(charts.inline_svg(fig, prefix="c", label="Chart"))
    for text in (markup, charts.render(fig, "svg").decode().split("\n", 1)[1]):
        first_tag = text.split(">", 1)[0]
        assert first_tag.startswith("<svg ") and 'xmlns="http://www.w3.org/2000/svg"' in first_tag
        assert 'xmlns:xlink="http://www.w3.org/1999/xlink"' in first_tag
        assert "<svg:" not in text and "xl:" not in text and 'xlink:href="#' in text
