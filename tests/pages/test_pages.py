"""The pages for people: sign-out, CSRF, link builder, result page, campaign page, QR and print sheet."""
from __future__ import annotations

import html as html_lib
import re
from datetime import UTC, datetime
from typing import Any
from xml.etree import ElementTree

import pytest
import sqlalchemy as sa

from tracker.links.models import Link
from tracker.pages.charts import daily_chart, nice_step

IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
          "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1")
DESKTOP = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
           "Chrome/124.0.0.0 Safari/537.36")
SVG = "{http://www.w3.org/2000/svg}"
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(client: Any, path: str) -> str:
    """Return the CSRF token of the form on ``path`` (the session's token)."""
    resp = client.get(path)
    match = TOKEN.search(resp.text)
    assert match, f"no CSRF field on {path}"
    return match.group(1)


def post_form(client: Any, path: str, data: dict[str, str], form_page: str | None = None) -> Any:
    return client.post(path, data={**data, "csrf_token": csrf_of(client, form_page or path)})


def link_form(**fields: str) -> dict[str, str]:
    data = {"destination": "https://example.com/landing", "utm_source": "newsletter", "utm_medium": "email",
            "utm_campaign": "spring", "kind": "online"}
    data.update(fields)
    return data


def field_error(html: str, name: str) -> str | None:
    match = re.search(rf'<p class="field-error" id="f-{name}-error">([^<]*)</p>', html)
    return html_lib.unescape(match.group(1)) if match else None


def input_value(html: str, name: str) -> str | None:
    match = re.search(rf'<input id="f-{name}" name="{name}"[^>]*value="([^"]*)"', html)
    return html_lib.unescape(match.group(1)) if match else None


def chart_svg(html: str, chart_id: str) -> ElementTree.Element:
    match = re.search(rf'<figure class="chart" id="{chart_id}">.*?(<svg .*?</svg>)', html, re.DOTALL)
    assert match, f"no chart {chart_id}"
    return ElementTree.fromstring(match.group(1))


# ---- sign-in ------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/", "/links/new", "/campaigns/1", "/links/abcdef", "/links/abcdef/qr.svg",
                                  "/links/abcdef/qr.png", "/campaigns/1/sheet.pdf"])
def test_pages_require_sign_in(client, path):
    resp = client.get(path)
    assert resp.status_code == 302
    assert resp.headers["Location"].startswith("/login?next=")


# Signing in with e-mail and password, and what ends a page session: tests/auth/test_accounts.py.


def test_a_form_too_large_gets_a_page(signed_in, app):
    token = csrf_of(signed_in, "/")
    resp = signed_in.post("/campaigns", data={"csrf_token": token,
                                              "name": "x" * (app.config["MAX_CONTENT_LENGTH"] + 1)})
    assert resp.status_code == 413 and resp.mimetype == "text/html"
    assert "larger than" in resp.text


def test_sign_out_is_a_post_and_ends_the_session(signed_in):
    assert signed_in.get("/logout").status_code == 405
    resp = post_form(signed_in, "/logout", {}, form_page="/")
    assert resp.status_code == 303
    assert resp.headers["Location"] == "/login"
    assert signed_in.get("/").status_code == 302
    assert "You are signed out" in signed_in.get("/login").text


# ---- CSRF ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/login", "/logout", "/links/new", "/campaigns"])
@pytest.mark.parametrize("token", [None, "", "forged"])
def test_posts_without_the_session_token_are_400(signed_in, session, path, token):
    csrf_of(signed_in, "/")  # the session has a token; the request does not carry it
    data = {"key": "x", "name": "Expo", **link_form()}
    if token is not None:
        data["csrf_token"] = token
    resp = signed_in.post(path, data=data)
    assert resp.status_code == 400
    assert "The form has expired" in resp.text
    assert session.scalar(sa.select(sa.func.count()).select_from(Link)) == 0


def test_token_of_another_session_is_refused(api_key, app):
    other = app.test_client()
    stolen = csrf_of(other, "/login")
    client = app.test_client()
    csrf_of(client, "/login")
    assert client.post("/login", data={"key": api_key, "csrf_token": stolen}).status_code == 400


# ---- link builder -------------------------------------------------------------------------------

def test_builder_form_offers_the_governed_choices(signed_in, app, campaign):
    html = signed_in.get(f"/links/new?campaign={campaign['id']}").text
    settings = app.config["SETTINGS"]
    for medium in settings.taxonomy.allowed_mediums:
        assert f'<option value="{medium}">' in html
    for kind in ("online", "print", "podcast"):
        assert f'<option value="{kind}"' in html
    assert f'<option value="{campaign["id"]}" selected>Oslo Expo 2026</option>' in html
    assert "Europe/Oslo" in html


def test_builder_creates_a_link_and_shows_it(signed_in, campaign, session):
    resp = post_form(signed_in, "/links/new", link_form(
        campaign=str(campaign["id"]), utm_campaign="", label="Booth flyer", kind="print", slug="Expo-Booth",
        utm_content="flyer-a", extra_params="ref=expo"))
    assert resp.status_code == 303
    assert resp.headers["Location"] == "/links/expo-booth"
    link = session.scalar(sa.select(Link).where(Link.code == "expo-booth"))
    assert link.campaign_id == campaign["id"] and link.utm_campaign == "oslo-expo-2026"
    assert link.kind == "print" and link.label == "Booth flyer" and link.extra_params == {"ref": "expo"}

    page = signed_in.get("/links/expo-booth")
    assert page.status_code == 200
    html = page.text
    assert "Link created." in html
    assert 'value="https://go.example.com/r/expo-booth"' in html
    assert 'value="https://go.example.com/q/expo-booth"' in html
    assert ("https://example.com/landing?ref=expo&amp;utm_source=newsletter&amp;utm_medium=email"
            "&amp;utm_campaign=oslo-expo-2026&amp;utm_content=flyer-a") in html
    assert html.count('data-copy="') == 3
    assert 'src="/links/expo-booth/qr.svg?size=240"' in html
    assert "/links/expo-booth/qr.png?size=1200&amp;download=1" in html
    assert 'id="history"' in html and html.count("<td class=\"break\">https://example.com/landing</td>") == 1
    svg = chart_svg(html, "link-chart")
    assert svg.find(f"{SVG}title").text == "Clicks and QR scans per day for expo-booth"
    assert svg.get("role") == "img"


def test_builder_error_names_the_field_and_keeps_the_values(signed_in, campaign):
    resp = post_form(signed_in, "/links/new", link_form(
        destination="ftp://example.com/x", utm_source="Podcast Weekly", label="Ep 12 read-out",
        campaign=str(campaign["id"]), utm_medium="podcast"))
    assert resp.status_code == 422
    html = resp.text
    assert field_error(html, "destination") == "destination must start with http:// or https://"
    assert 'aria-invalid="true"' in html and 'href="#f-destination"' in html
    assert input_value(html, "destination") == "ftp://example.com/x"
    assert input_value(html, "utm_source") == "Podcast Weekly"
    assert input_value(html, "label") == "Ep 12 read-out"
    assert '<option value="podcast" selected>' in html
    assert f'<option value="{campaign["id"]}" selected>' in html
    assert 'name="force"' not in html


@pytest.mark.parametrize("fields, name", [
    ({"utm_medium": "carrier-pigeon"}, "utm_medium"),
    ({"utm_source": ""}, "utm_source"),
    ({"utm_campaign": ""}, "utm_campaign"),
    ({"campaign": "999999"}, "campaign"),
    ({"slug": "x"}, "slug"),
    ({"kind": "skywriting"}, "kind"),
    ({"expires_at": "next tuesday"}, "expires_at"),
    ({"extra_params": "utm_source=x"}, "extra_params"),
])
def test_builder_errors_land_next_to_their_field(signed_in, fields, name):
    resp = post_form(signed_in, "/links/new", link_form(**fields))
    assert resp.status_code == 422
    assert field_error(resp.text, name), resp.text


def test_builder_reads_expiry_in_the_report_time_zone(signed_in, session):
    resp = post_form(signed_in, "/links/new", link_form(expires_at="2026-06-01T12:00", slug="summer"))
    assert resp.status_code == 303
    link = session.scalar(sa.select(Link).where(Link.code == "summer"))
    assert link.expires_at == datetime(2026, 6, 1, 10, 0, tzinfo=UTC)  # Oslo is UTC+2 in June


def test_duplicate_link_offers_the_existing_one_and_create_anyway(signed_in, session):
    first = post_form(signed_in, "/links/new", link_form(label="Poster"))
    code = first.headers["Location"].rsplit("/", 1)[1]

    again = post_form(signed_in, "/links/new", link_form(label="Poster"))
    assert again.status_code == 409
    html = again.text
    assert f'href="/links/{code}" id="existing-link"' in html
    assert '<input id="f-force" name="force" type="checkbox" value="1">' in html
    assert input_value(html, "label") == "Poster"

    forced = post_form(signed_in, "/links/new", link_form(label="Poster", force="1"))
    assert forced.status_code == 303
    assert forced.headers["Location"] != first.headers["Location"]
    assert session.scalar(sa.select(sa.func.count()).select_from(Link)) == 2


def test_taken_short_code_is_shown_at_the_slug_field(signed_in):
    assert post_form(signed_in, "/links/new", link_form(slug="spring")).status_code == 303
    resp = post_form(signed_in, "/links/new", link_form(slug="spring", label="other"))
    assert resp.status_code == 409
    assert field_error(resp.text, "slug") == "the short code 'spring' is taken"
    assert 'name="force"' not in resp.text


def test_unknown_link_is_an_html_404(signed_in):
    resp = signed_in.get("/links/nosuch")
    assert resp.status_code == 404
    assert resp.mimetype == "text/html"
    assert "link nosuch does not exist" in resp.text


# ---- QR images ----------------------------------------------------------------------------------

def test_qr_preview_is_an_svg_of_the_scan_url(signed_in, make_link):
    code = make_link()["code"]
    resp = signed_in.get(f"/links/{code}/qr.svg?size=240")
    assert resp.status_code == 200
    assert resp.mimetype == "image/svg+xml"
    assert resp.headers["Content-Disposition"] == f'inline; filename="{code}.svg"'
    root = ElementTree.fromstring(resp.data)
    assert root.tag == f"{SVG}svg" and root.get("width") == "240"


def test_qr_png_download(signed_in, make_link):
    code = make_link()["code"]
    resp = signed_in.get(f"/links/{code}/qr.png?size=300&download=1")
    assert resp.status_code == 200
    assert resp.mimetype == "image/png" and resp.data.startswith(b"\x89PNG")
    assert resp.headers["Content-Disposition"] == f'attachment; filename="{code}.png"'


def test_bad_qr_option_is_a_page_naming_it(signed_in, make_link):
    code = make_link()["code"]
    resp = signed_in.get(f"/links/{code}/qr.svg?size=5")
    assert resp.status_code == 422
    assert "size must be between 64 and 4000" in resp.text


# ---- campaigns ----------------------------------------------------------------------------------

def test_index_lists_campaigns_with_counts_from_the_aggregates(signed_in, campaign, make_link, client, drain):
    a = make_link(campaign=campaign["slug"], kind="print", label="Flyer")
    make_link(campaign=campaign["slug"], label="Banner", utm_content="banner")
    for _ in range(3):
        client.get(f"/q/{a['code']}", headers={"User-Agent": IPHONE})
    client.get(f"/r/{a['code']}", headers={"User-Agent": DESKTOP})
    client.get(f"/r/{a['code']}", headers={"User-Agent": "curl/8.5.0"})
    drain()
    html = signed_in.get("/").text
    row = re.search(r'<tr>\s*<td><a href="/campaigns/\d+">Oslo Expo 2026</a>.*?</tr>', html,
                    re.DOTALL).group(0)
    assert re.findall(r'<td class="num(?: muted hide-narrow)?">(\d+)</td>', row) == ["2", "1", "3", "1"]
    assert f'href="/links/{a["code"]}"' in html  # recent links


def test_create_campaign_from_the_index(signed_in):
    resp = post_form(signed_in, "/campaigns", {"name": "Bergen Fair", "slug": "", "fallback_url": ""},
                     form_page="/")
    assert resp.status_code == 303
    page = signed_in.get(resp.headers["Location"])
    assert "Campaign “Bergen Fair” created." in page.text and "bergen-fair" in page.text

    again = post_form(signed_in, "/campaigns", {"name": "Bergen Fair"}, form_page="/")
    assert again.status_code == 409
    assert field_error(again.text, "slug") == "a campaign with slug 'bergen-fair' already exists"
    assert input_value(again.text, "name") == "Bergen Fair"

    bad = post_form(signed_in, "/campaigns", {"name": "Xmas", "fallback_url": "nope"}, form_page="/")
    assert bad.status_code == 422
    assert field_error(bad.text, "fallback_url")


def test_campaign_page_shows_links_counts_and_chart(signed_in, campaign, make_link, client, drain):
    flyer = make_link(campaign=campaign["slug"], kind="print", label="Flyer", utm_source="expo",
                      utm_medium="print")
    banner = make_link(campaign=campaign["slug"], label="Banner", utm_content="banner")
    make_link(label="Not in this campaign", utm_content="other")
    client.get(f"/q/{flyer['code']}", headers={"User-Agent": IPHONE})
    client.get(f"/q/{flyer['code']}", headers={"User-Agent": IPHONE})   # same visitor (cookie)
    client.get(f"/r/{banner['code']}", headers={"User-Agent": DESKTOP})
    client.get(f"/r/{banner['code']}", headers={"User-Agent": "Slackbot-LinkExpanding 1.0"})
    drain()

    resp = signed_in.get(f"/campaigns/{campaign['id']}")
    assert resp.status_code == 200
    html = resp.text
    table = re.search(r'<table class="table" id="campaign-links">.*?</table>', html, re.DOTALL).group(0)
    rows = re.findall(r"<tr>.*?</tr>", table.split("<tbody>")[1], re.DOTALL)
    assert len(rows) == 2
    cells = {re.search(r'class="mono" href="/links/([^"]+)"', r).group(1):
             re.findall(r'<td class="num(?: muted)?">(\d+)</td>', r) for r in rows}
    # clicks, unique clicks, scans, unique scans, bots
    assert cells[flyer["code"]] == ["0", "0", "2", "1", "0"]
    assert cells[banner["code"]] == ["1", "1", "0", "0", "1"]
    assert "expo / print" in table
    assert f'<td class="mono small nowrap">go.example.com/r/{flyer["code"]}</td>' in table
    assert "Not in this campaign" not in html

    svg = chart_svg(html, "campaign-chart")
    assert svg.get("role") == "img"
    assert svg.get("aria-labelledby") == "campaign-chart-title campaign-chart-desc"
    assert svg.find(f"{SVG}title").text == "Clicks and QR scans per day for Oslo Expo 2026"
    assert "1 click and 2 scans" in svg.find(f"{SVG}desc").text
    clicks = [r for r in svg.iter(f"{SVG}rect") if "bar-clicks" in r.get("class", "")]
    scans = [r for r in svg.iter(f"{SVG}rect") if "bar-scans" in r.get("class", "")]
    assert [r.get("data-value") for r in clicks] == ["1"]
    assert [r.get("data-value") for r in scans] == ["2"]
    assert float(scans[0].get("height")) == 2 * float(clicks[0].get("height")) > 0
    assert scans[0].find(f"{SVG}title").text.endswith(": 2 scans")
    assert f'href="/campaigns/{campaign["id"]}/sheet.pdf?paper=a4"' in html
    assert f'href="/campaigns/{campaign["id"]}/sheet.pdf?paper=letter"' in html


def test_campaign_by_slug_and_unknown_campaign(signed_in, campaign):
    assert signed_in.get("/campaigns/oslo-expo-2026").status_code == 200
    resp = signed_in.get("/campaigns/999999")
    assert resp.status_code == 404 and resp.mimetype == "text/html"


def test_empty_chart_says_so(signed_in, campaign):
    html = signed_in.get(f"/campaigns/{campaign['id']}").text
    svg = chart_svg(html, "campaign-chart")
    assert not list(svg.iter(f"{SVG}rect"))
    assert "No clicks or scans in these 30 days" in html


@pytest.mark.parametrize("paper", ["a4", "letter"])
def test_print_sheet_download(signed_in, campaign, make_link, paper):
    make_link(campaign=campaign["slug"], kind="print", label="Flyer")
    resp = signed_in.get(f"/campaigns/{campaign['id']}/sheet.pdf?paper={paper}")
    assert resp.status_code == 200
    assert resp.mimetype == "application/pdf" and resp.data.startswith(b"%PDF")
    assert resp.headers["Content-Disposition"] == 'attachment; filename="oslo-expo-2026-qr-sheet.pdf"'


def test_print_sheet_without_offline_links_explains_instead_of_failing(signed_in, campaign, make_link):
    make_link(campaign=campaign["slug"], kind="online")
    resp = signed_in.get(f"/campaigns/{campaign['id']}/sheet.pdf")
    assert resp.status_code == 302
    assert resp.headers["Location"] == f"/campaigns/{campaign['id']}"
    page = signed_in.get(resp.headers["Location"]).text
    assert "There is nothing to print yet" in page and 'role="alert"' in page
    everything = signed_in.get(f"/campaigns/{campaign['id']}/sheet.pdf?all=1")
    assert everything.mimetype == "application/pdf"
    bad_paper = signed_in.get(f"/campaigns/{campaign['id']}/sheet.pdf?paper=a3&all=1")
    assert "paper must be a4 or letter" in signed_in.get(bad_paper.headers["Location"]).text


# ---- every page ---------------------------------------------------------------------------------

def test_pages_use_only_static_scripts_and_styles(signed_in, campaign, make_link):
    code = make_link(campaign=campaign["slug"])["code"]
    for path in ["/", "/links/new", f"/links/{code}", f"/campaigns/{campaign['id']}", "/login"]:
        resp = signed_in.get(path)
        assert resp.status_code == 200, path
        assert "script-src 'self'" in resp.headers["Content-Security-Policy"]
        html = resp.text
        assert re.findall(r"<script[^>]*>", html) == ['<script src="/static/app.js" defer>'], path
        assert "<style" not in html and " style=" not in html and " on" + "click=" not in html, path
        assert re.findall(r'<(?:link|script|img)\b[^>]*\b(?:src|href)="(?!/)', html) == [], path  # no CDN
    for name, mimetype in (("app.css", "text/css"), ("app.js", "text/javascript")):
        with signed_in.get(f"/static/{name}") as resp:  # a file response: close it
            assert resp.status_code == 200 and resp.mimetype == mimetype


# ---- chart geometry (no HTTP) -------------------------------------------------------------------

@pytest.mark.parametrize("value, step", [(0, 1), (0.25, 1), (1, 1), (1.25, 2), (2, 2), (2.5, 5), (7, 10),
                                         (12, 20), (49, 50), (51, 100)])
def test_nice_step(value, step):
    assert nice_step(value) == step


def test_daily_chart_hand_worked():
    series = [{"day": "2026-05-01", "clicks": 4, "scans": 2}, {"day": "2026-05-02", "clicks": 0, "scans": 1}]
    chart = daily_chart(series, width=248, height=138)  # plot area 200 x 100 after the margins
    assert [v for _, v in chart.y_ticks] == [0, 1, 2, 3, 4]
    assert [y for y, _ in chart.y_ticks] == [112.0, 87.0, 62.0, 37.0, 12.0]
    clicks, scans, later = chart.bars
    assert (clicks.series, clicks.x, clicks.width) == ("clicks", 18.0, 38.0)
    assert (clicks.y, clicks.height, clicks.title) == (12.0, 100.0, "1 May 2026: 4 clicks")
    assert (scans.series, scans.x, scans.height) == ("scans", 60.0, 50.0)
    assert (later.day, later.x, later.height) == ("2026-05-02", 160.0, 25.0)
    assert later.title == "2 May 2026: 1 scan"
    assert chart.x_labels == ((158.0, "2 May"),)
    assert chart.totals == {"clicks": 4, "scans": 3}
    assert chart.summary == "From 1 May 2026 to 2 May 2026: 4 clicks and 3 scans."


def test_daily_chart_needs_days():
    with pytest.raises(ValueError, match="at least one day"):
        daily_chart([])
