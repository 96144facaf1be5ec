"""Server-rendered pages for people, who sign in with e-mail and password (tracker/auth).

Views are thin: parse the form or query, call a service, render. Domain errors raised while handling
a page become an HTML error page (the API keeps its JSON shape); form views catch the errors they
expect and show them next to the field they name.
"""
from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, current_app, flash, g, make_response, redirect, render_template, request, session, url_for
from werkzeug.exceptions import NotFound, RequestEntityTooLarge
from werkzeug.wrappers import Response

from tracker import ratelimit
from tracker.auth.access import campaign_scope, page_requires, permits, sign_out, signed_in_session_data
from tracker.auth.service import authenticate
from tracker.config import Settings
from tracker.db import db_session
from tracker.domains.service import default_host, list_domains, qr_url
from tracker.errors import Conflict, DomainError, Forbidden, ValidationError
from tracker.geo.charts import country_chart
from tracker.geo.stats import country_rows
from tracker.links import service
from tracker.links.models import LINK_KINDS, OFFLINE_KINDS
from tracker.links.serialize import links_out
from tracker.links.urls import local_path
from tracker.pages import csrf, rules_form
from tracker.pages import reports as reporting
from tracker.pages.charts import daily_chart
from tracker.pages.summary import campaign_totals
from tracker.qr import sheets
from tracker.qr.branding import link_image, qr_preview
from tracker.redirects.stats import daily_series
from tracker.reports.charts import render as render_chart
from tracker.reports.params import ReportParams

bp = Blueprint("pages", __name__)
# APIFlask (3.1) reads ``enable_openapi`` on every blueprint that has before_request functions (the
# CSRF check below) when it builds the spec, and a plain Flask blueprint lacks it. The pages are not
# part of the API, so say so explicitly.
bp.enable_openapi = False  # type: ignore[attr-defined]
csrf.protect(bp)

CAMPAIGN_FIELDS = ("name", "slug", "description", "start_date", "end_date", "fallback_url")
QR_ARGS = ("size", "border", "error", "fill", "back", "logo", "caption")  # logo, caption: tracker/qr/branding.py
CHART_DAYS = 30
LINKS_PER_PAGE = 100
ERROR_TITLES = {400: "Bad request", 401: "Not signed in", 403: "Not allowed", 404: "Not found",
                409: "Conflict", 422: "That cannot be done"}


def _settings() -> Settings:
    return current_app.config["SETTINGS"]  # type: ignore[no-any-return]


def _today() -> date:
    # The aggregates' days are in the report time zone, so "today" must be too.
    return datetime.now(_settings().tz).date()


def _page_number(raw: str | None) -> int:
    return int(raw) if raw and raw.isdigit() and 0 < int(raw) < 1_000_000 else 1


@bp.errorhandler(DomainError)
def domain_error(exc: DomainError) -> tuple[str, int]:
    title = ERROR_TITLES.get(exc.status, "Something went wrong")
    page = render_template("pages/error.html", status=exc.status, title=title, message=exc.message)
    return page, exc.status


@bp.errorhandler(RequestEntityTooLarge)
def too_large(_exc: RequestEntityTooLarge) -> tuple[str, int]:
    # A page form gets a page, not the API's JSON error body.
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    page = render_template("pages/error.html", status=413, title="Too large",
                           message=f"What was sent is larger than the {limit:,} bytes this site accepts.")
    return page, 413


@bp.context_processor
def principal_context() -> dict[str, Any]:
    """The signed-in account and ``can(permission)`` for the menu of every page (the API reference's too)."""
    account = g.get("account")
    return {"principal": account, "can": lambda permission: permits(account, permission)}


@bp.app_context_processor
def report_tabs_context() -> dict[str, Any]:
    """The report pages of every package, for the tab strip (``tabs`` in pages/_report.html) and the menu."""
    return {"report_specs": reporting.REPORTS, "more_reports": reporting.MORE_REPORTS,
            "report_blueprints": reporting.REPORT_BLUEPRINTS}


@bp.app_template_global("link_domain")
def link_domain(link: Any) -> str | None:
    """The ``domain`` argument of every page URL of a link: its short-link domain's host, None (left out of the
    URL) on the default domain: ``url_for("pages.link", code=link.code, domain=link_domain(link))`` gives
    ``/links/<code>?domain=go.brand.no``. ``link`` is a Link or an item of ``links_out``."""
    if isinstance(link, Mapping):
        return None if link["default_domain"] else str(link["domain"])
    return None if link.domain is None else str(link.domain.host)


@bp.after_request
def no_store(resp: Response) -> Response:
    # Pages show data of the signed-in key: keep them out of shared caches and the back button after
    # signing out.
    resp.headers.setdefault("Cache-Control", "no-store")
    return resp


@bp.app_template_filter("localtime")
def localtime(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """Format an aware UTC timestamp in the report time zone."""
    if value is None:
        return ""
    return value.astimezone(_settings().tz).strftime(fmt)


# ---- sign in / out ------------------------------------------------------------------------------

@bp.route("/login", methods=["GET", "POST"])
def login() -> str | Response | tuple[str, int]:
    """Sign in with e-mail and password; attempts are rate limited per IP hash (``login_rate_limit``)."""
    error = None
    email = request.form.get("email", "").strip()[:254]
    if request.method == "POST":
        wait = ratelimit.hit("login", _settings().login_rate_limit)
        if wait is not None:
            page = render_template("pages/login.html", email=email, error=(
                f"Too many sign-in attempts from your network. Wait {wait} seconds and try again."))
            resp = make_response(page, 429)
            resp.headers["Retry-After"] = str(wait)
            return resp
        account = authenticate(db_session(), email, request.form.get("password", ""))
        if account is not None:
            # A new session: nothing of the signed-out one (or one planted by someone else) carries
            # over, and the form token changes.
            session.clear()
            session.update(signed_in_session_data(db_session(), account))
            return redirect(local_path(request.args.get("next")) or url_for("pages.index"))
        error = "That e-mail address and password do not match an active account."
    return render_template("pages/login.html", email=email, error=error), (401 if error else 200)


@bp.post("/logout")
def logout() -> Response:
    sign_out()  # the cookie is refused from now on by every app server sharing the database
    flash("You are signed out.", "success")
    return redirect(url_for("pages.login"), 303)


# ---- campaigns ----------------------------------------------------------------------------------

@bp.get("/")
@page_requires("pages:home")
def index() -> str:
    return _index()


def _index(values: Mapping[str, str] | None = None, error: DomainError | None = None) -> str:
    db = db_session()
    if not permits(g.account, "campaigns:read"):  # e.g. ingest: API keys only, nothing to list
        campaigns, recent = [], []
    else:
        campaigns = service.list_campaigns(db, campaign_scope())
        recent, _ = service.list_links(db, per_page=10, scope=campaign_scope())
    return render_template(
        "pages/index.html", campaigns=campaigns, totals=campaign_totals(db, [c.id for c in campaigns]),
        recent=links_out(db, _settings(), recent), values=values or {}, errors=_errors(error))


@bp.post("/campaigns")
@page_requires("campaigns:write")
def create_campaign() -> Response | tuple[str, int]:
    values = {name: request.form.get(name, "").strip() for name in CAMPAIGN_FIELDS}
    try:
        campaign = service.create_campaign(db_session(), _settings(), values)
    except (ValidationError, Conflict) as exc:
        return _index(values, exc), exc.status
    flash(f"Campaign “{campaign.name}” created.", "success")
    return redirect(url_for("pages.campaign", campaign_id=campaign.id), 303)


@bp.get("/campaigns/<campaign_id>")
@page_requires("campaigns:read")
def campaign(campaign_id: str) -> str:
    db = db_session()
    settings = _settings()
    found = service.get_campaign(db, campaign_id, campaign_scope())
    page = _page_number(request.args.get("page"))
    links, total = service.list_links(db, campaign=found.id, page=page, per_page=LINKS_PER_PAGE,
                                      scope=campaign_scope())
    chart = daily_chart(daily_series(db, campaign_id=found.id, days=CHART_DAYS, today=_today()))
    return render_template(
        "pages/campaign.html", campaign=found, links=links_out(db, settings, links), total=total,
        page=page, pages=max(1, -(-total // LINKS_PER_PAGE)), chart=chart, offline_kinds=OFFLINE_KINDS,
        totals=campaign_totals(db, [found.id])[found.id],
        countries=country_chart(country_rows(db, campaign_id=found.id)))


@bp.get("/campaigns/<campaign_id>/sheet.pdf")
@page_requires("qr:read")
def campaign_sheet(campaign_id: str) -> Response:
    db = db_session()
    found = service.get_campaign(db, campaign_id, campaign_scope())
    include_online = request.args.get("all") == "1"
    try:
        filename, pdf = sheets.campaign_sheet(db, _settings(), str(found.id),
                                              paper=request.args.get("paper", "a4"),
                                              include_online=include_online, logo=request.args.get("logo"),
                                              caption=request.args.get("caption"))
    except ValidationError as exc:
        if exc.field == "links":
            message = "There is nothing to print yet: this campaign has no active links"
            message += "." if include_online else (
                f" of an offline kind ({', '.join(OFFLINE_KINDS)}). Create one, or print all links.")
        else:
            message = exc.message
        flash(message, "error")
        return redirect(url_for("pages.campaign", campaign_id=found.id))
    resp = Response(pdf, mimetype="application/pdf")
    resp.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return resp


# ---- links --------------------------------------------------------------------------------------

def _errors(exc: DomainError | None) -> dict[str, str]:
    """Map a service error to {field name: message}; ``""`` holds errors about no single field."""
    if exc is None:
        return {}
    return {exc.field or "": exc.message}


def _local_datetime(raw: str, tz: ZoneInfo) -> datetime | None:
    """Read a ``datetime-local`` form value as a time in the report time zone."""
    if not raw:
        return None
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        raise ValidationError("expires_at must be a date and time like 2026-05-31 18:00",
                              "expires_at") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=tz)


def _builder(values: Mapping[str, str], error: DomainError | None = None,
             existing: str | None = None, original: Any = None) -> str:
    settings = _settings()
    # The short-link domains (tracker/domains), the default first; no select while there is only the default.
    domains = list_domains(db_session())
    domain_options = [("", f"{default_host(settings)} (default)")] + [(d.host, d.host) for d in domains] \
        if domains else []
    return render_template(
        "pages/link_new.html", values=values, errors=_errors(error), existing=existing, original=original,
        campaign_options=[(str(c.id), c.name) for c in service.list_campaigns(db_session(), campaign_scope())],
        medium_options=[(m, m) for m in sorted(settings.taxonomy.allowed_mediums)],
        kind_options=[(k, k) for k in (LINK_KINDS if campaign_scope() is None else OFFLINE_KINDS)],
        domain_options=domain_options, timezone=settings.report_timezone)


@bp.route("/links/new", methods=["GET", "POST"])
@page_requires("links:create")
def new_link() -> str | Response | tuple[str, int]:
    # ``variant_of``: "Duplicate as variant B" on a link's page (docs/guides/marketer.md#variants). Marking the
    # original as variant A changes it, so it takes links:write.
    # ``variant_domain``: the original's short-link domain when it is not the default one.
    source = request.args if request.method == "GET" else request.form
    variant_of, variant_domain = source.get("variant_of") or "", source.get("variant_domain") or ""
    original = None
    if variant_of:
        if not permits(g.account, "links:write"):
            raise Forbidden("making a variant changes the original link: your role may not change links", "variant_of")
        original = service.get_link(db_session(), variant_of, campaign_scope(), domain=variant_domain,
                                    settings=_settings())
    if request.method == "GET":
        if original is not None:
            return _builder({**service.variant_defaults(db_session(), original), "variant_of": original.code,
                             "variant_domain": variant_domain}, original=original)
        kind = "online" if campaign_scope() is None else OFFLINE_KINDS[0]
        return _builder({"campaign": request.args.get("campaign", ""), "kind": kind})
    settings = _settings()
    values = {name: request.form.get(name, "").strip() for name in service.LINK_FIELDS}
    if original is not None:
        values["variant_of"], values["variant_domain"] = original.code, variant_domain
    try:
        data: dict[str, Any] = dict(values, expires_at=_local_datetime(values["expires_at"], settings.tz))
        data.pop("variant_of", None)
        data.pop("variant_domain", None)
        force = request.form.get("force") == "1"
        if original is not None:
            link = service.create_variant(db_session(), settings, original.code, data, force=force,
                                          scope=campaign_scope(), original_domain=variant_domain)
        else:
            link = service.create_link(db_session(), settings, data, force=force, scope=campaign_scope())
    except Conflict as exc:
        return _builder(values, exc, existing=exc.extra.get("existing"), original=original), exc.status
    except (ValidationError, Forbidden) as exc:
        return _builder(values, exc, original=original), exc.status
    if original is not None:
        flash(f"Variant {link.variant} of experiment {link.experiment} created"
              + (" (the original link is variant A)." if original.variant == "A" else "."), "success")
        return redirect(url_for("pages.link", code=link.code, domain=link_domain(link)), 303)
    flash("Link created.", "success")
    return redirect(url_for("pages.link", code=link.code, domain=link_domain(link)), 303)


@bp.get("/links/<code>")
@page_requires("links:read")
def link(code: str) -> str:
    db = db_session()
    found = service.get_link(db, code, campaign_scope(), domain=request.args.get("domain"), settings=_settings())
    item = links_out(db, _settings(), [found], history=True)[0]
    chart = daily_chart(daily_series(db, link_id=found.id, days=CHART_DAYS, today=_today()))
    experiment = found.experiment or (found.campaign.slug if found.campaign else found.utm_campaign)
    next_variant = None
    if permits(g.account, "links:write"):
        try:
            next_variant = service.next_variant(db, experiment)
        except ValidationError:  # every letter taken: variants are then named in the builder by hand
            next_variant = None
    qr = qr_preview(db, found, request.args)  # the QR card's logo and caption options
    return render_template("pages/link.html", link=item, campaign=found.campaign, chart=chart, qr=qr,
                           next_variant=next_variant, countries=country_chart(country_rows(db, link_id=found.id)),
                           rules=_rules_card(found, item))


def _rules_card(found: Any, item: Mapping[str, Any]) -> dict[str, Any]:
    """The redirect rules card: the rules with their counts and, for links:write, the editor's rows
    (the rows as sent, with the errors, after a refused save: see :func:`link_rules`)."""
    rows, errors = g.get("rules_form") or (rules_form.rows_of(found.rules or []), {})
    return {"stats": item["stats"]["rules"], "since": found.rules_changed_at,
            "conditions": [rules_form.conditions_text(r["conditions"]) for r in found.rules or []],
            "editable": permits(g.account, "links:write"), "rows": rows, "errors": errors,
            "template": rules_form.blank_row("__ROW__", ""), "devices": rules_form.DEVICE_LABELS}


@bp.post("/links/<code>/rules")
@page_requires("links:write")
def link_rules(code: str) -> Response | tuple[str, int]:
    """Save the redirect rules editor of a link's page; a refusal shows the page again with the error at its field."""
    rows = rules_form.form_rows(request.form)
    rules, row_ids = rules_form.rules_of(rows)
    try:
        found = service.update_link(db_session(), _settings(), code, {"rules": rules},
                                    domain=request.args.get("domain"))
    except ValidationError as exc:
        if not any(rules_form.is_blank(row) for row in rows):  # keep a blank rule to add one with
            rows.append(rules_form.blank_row(max((int(r["id"]) for r in rows), default=-1) + 1, len(rows) + 1))
        g.rules_form = (rows, rules_form.row_errors(exc, row_ids))
        return link(code), exc.status
    current_app.extensions["tracker.redirects"]["cache"].clear()  # this worker at once, the others within seconds
    flash("Redirect rules saved." if found.rules else "Redirect rules removed.", "success")
    return redirect(url_for("pages.link", code=found.code, domain=link_domain(found), _anchor="rules"), 303)


def _qr_image(code: str, svg: bool) -> Response:
    link_ = service.get_link(db_session(), code, campaign_scope(), domain=request.args.get("domain"),
                             settings=_settings())
    url = qr_url(link_, _settings())  # on the link's short-link domain (tracker/domains)
    resp = Response(link_image(db_session(), link_, url, {name: request.args.get(name) for name in QR_ARGS}, svg),
                    mimetype="image/svg+xml" if svg else "image/png")
    disposition = "attachment" if request.args.get("download") == "1" else "inline"
    resp.headers["Content-Disposition"] = f'{disposition}; filename="{link_.code}.{"svg" if svg else "png"}"'
    return resp


@bp.get("/links/<code>/qr.svg")
@page_requires("qr:read")
def link_qr_svg(code: str) -> Response:
    return _qr_image(code, svg=True)


@bp.get("/links/<code>/qr.png")
@page_requires("qr:read")
def link_qr_png(code: str) -> Response:
    return _qr_image(code, svg=False)


# ---- people and journeys ------------------------------------------------------------------------

RECENT_CONVERSIONS = 50


@bp.get("/people")
@page_requires("people:read")
def people() -> str | Response:
    """Find a person by customer key (e-mail or id) or person id; list recent conversions."""
    from tracker.conversions.service import list_conversions
    from tracker.people.service import person_of_customer
    db = db_session()
    query = request.args.get("q", "").strip()
    error = None
    if query:
        try:
            found = query if query.startswith("p") and len(query) == 22 else person_of_customer(
                db, current_app.extensions["tracker.redirects"]["ip_secret"], query)
        except ValidationError as exc:
            found, error = None, exc.message
        if found:
            return redirect(url_for("pages.person", person_id=found))
        error = error or "No person is known by that customer key or id."
    conversions, _ = list_conversions(db, _settings(), per_page=RECENT_CONVERSIONS)
    return render_template("pages/person.html", person_id=None, items=[], conversions=conversions, query=query,
                           error=error, currency=_settings().reporting_currency)


@bp.get("/people/<person_id>")
@page_requires("people:read")
def person(person_id: str) -> str:
    from tracker.people.journey import person_journey
    items = person_journey(db_session(), _settings(), person_id)
    return render_template("pages/person.html", person_id=person_id, items=items, conversions=[], query="",
                           error=None, currency=_settings().reporting_currency)


# ---- self-reported answers ------------------------------------------------------------------------

RECENT_ANSWERS = 50


@bp.get("/answers")
@page_requires("selfreports:read")
def answers() -> str:
    """Answers to "How did you hear about us?": channels, unmatched free text, the analysts' rules."""
    from tracker.selfreports import service as answers_service
    db, settings = db_session(), _settings()
    every = answers_service.answers_with_channels(db, settings)
    by_channel: dict[str, int] = {}
    for answer in every:
        by_channel[answer.channel] = by_channel.get(answer.channel, 0) + 1
    return render_template("pages/answers.html", total=len(every), recent=every[:RECENT_ANSWERS],
                           by_channel=sorted(by_channel.items(), key=lambda kv: (-kv[1], kv[0])),
                           unmatched=answers_service.unmatched_texts(db, settings),
                           rules=answers_service.list_rules(db), channels=settings.taxonomy.channels,
                           default_count=len(settings.answers.synonyms))


@bp.post("/answers/rules")
@page_requires("answer_rules:write")
def add_answer_rule() -> Response:
    from tracker.selfreports import service as answers_service
    phrase, channel = request.form.get("phrase", ""), request.form.get("channel", "")
    try:
        rule = answers_service.add_rule(db_session(), _settings(), phrase, channel)
    except (ValidationError, Conflict) as exc:
        flash(exc.message, "error")
    else:
        flash(f"Rule added: answers with “{rule.phrase}” are {rule.channel}, in every report from now on.", "success")
    return redirect(url_for("pages.answers"))


@bp.post("/answers/rules/<int:rule_id>/delete")
@page_requires("answer_rules:write")
def delete_answer_rule(rule_id: int) -> Response:
    from tracker.selfreports import service as answers_service
    answers_service.delete_rule(db_session(), rule_id)
    flash("Rule deleted.", "success")
    return redirect(url_for("pages.answers"))


# ---- reports ------------------------------------------------------------------------------------

REPORT_NAMES = "any(attribution, funnel, 'dark-funnel')"


@bp.get("/reports")
@page_requires("reports:read")
def reports_index() -> Response:
    return redirect(url_for("pages.report", name="attribution"))


def _run_report(spec: reporting.ReportSpec) -> tuple[dict[str, Any], ReportParams]:
    """Parse the query as the API does and run the report; ValidationError names the field."""
    settings = _settings()
    params = reporting.parse(spec, request.args.to_dict(flat=False), settings)
    return spec.build(db_session(), settings, params), params


@bp.get(f"/reports/<{REPORT_NAMES}:name>")
@page_requires("reports:read")
def report(name: str) -> str | tuple[str, int]:
    spec = reporting.get_spec(name)
    raw = request.args.to_dict(flat=False)
    common = {"spec": spec, "reports": reporting.REPORTS, "options": reporting.form_options(_settings())}
    try:
        data, params = _run_report(spec)
    except ValidationError as exc:
        page = render_template(spec.template, report=None, values=reporting.form_values(raw, None),
                               errors=_errors(exc), **common)
        return page, exc.status
    return render_template(spec.template, report=data, values=reporting.form_values(raw, params), errors={},
                           query=reporting.query_pairs(spec, params), **reporting.page_context(spec, data), **common)


@bp.get(f"/reports/<{REPORT_NAMES}:name>/<table>.csv")
@page_requires("reports:read")
def report_csv(name: str, table: str) -> Response:
    spec = reporting.get_spec(name)
    if table not in spec.tables:
        raise NotFound()
    data, _ = _run_report(spec)
    body, filename = reporting.csv_table(spec, data, table)
    return Response(body, mimetype="text/csv", headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@bp.get(f"/reports/<{REPORT_NAMES}:name>/<chart>.<any(svg, png):fmt>")
@page_requires("reports:read")
def report_chart(name: str, chart: str, fmt: str) -> Response:
    spec = reporting.get_spec(name)
    if chart not in spec.chart_names:
        raise NotFound()
    data, _ = _run_report(spec)
    image = render_chart(reporting.chart_figure(spec, data, chart), fmt)
    period = data["parameters"]
    filename = f"{spec.name}-{chart}_{period['from']}_{period['to']}.{fmt}"
    return Response(image, mimetype="image/svg+xml" if fmt == "svg" else "image/png",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})
