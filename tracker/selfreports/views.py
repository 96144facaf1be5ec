"""HTTP routes of tracker.selfreports: the public ``/ask`` form and the JSON API (thin: parse, call, render).

``/ask`` is public and may be framed by the configured ``landing_origins`` (``frame-ancestors``).
Third-party cookies are blocked inside frames, so the ids an answer belongs to come as URL
parameters (``tid``, ``svid`` = site visitor id, ``conversion`` = the conversion's external id) and
are signed into the form (a one-time token: no cookie is needed, a forged or replayed post stores
nothing). Sending the form is rate limited per IP hash like ``/collect``.
"""
from __future__ import annotations

import re
from typing import Any

from apiflask import APIBlueprint, Schema
from apiflask.fields import AwareDateTime, Date, Float, Integer, List, Nested, String
from apiflask.validators import Length, OneOf, Range
from flask import Response, current_app, render_template, request

from tracker import ratelimit
from tracker.auth.access import requires
from tracker.config import Settings
from tracker.db import db_session
from tracker.errors import ValidationError
from tracker.security import framed_csp
from tracker.selfreports import service
from tracker.selfreports.answers import LANGUAGES

bp = APIBlueprint("selfreports", __name__, tag="Self-reported sources")

# Texts of the public form; the options' labels come from config/answers.toml.
TEXTS = {
    "en": {"title": "How did you hear about us?", "lead": "Choose what fits best. It helps us a lot.",
           "other": "Other", "other_hint": "Tell us in your own words", "send": "Send",
           "thanks": "Thank you!", "thanks_lead": "Your answer has been recorded.",
           "limited": "Too many answers from this address. Please try again in a minute.",
           "bad_link": "This survey link is not valid"},
    "no": {"title": "Hvordan hørte du om oss?", "lead": "Velg det som passer best. Det hjelper oss mye.",
           "other": "Annet", "other_hint": "Fortell med dine egne ord", "send": "Send",
           "thanks": "Takk!", "thanks_lead": "Svaret ditt er registrert.",
           "limited": "For mange svar fra denne adressen. Prøv igjen om et minutt.",
           "bad_link": "Denne spørreskjemalenken er ikke gyldig"},
}
# URL parameter -> (id field, pattern): what /ask accepts from the page that links or frames it.
ASK_PARAMS = {"tid": ("tid", r"[A-Za-z0-9_-]{1,32}"), "svid": ("site_visitor_id", r"[A-Za-z0-9_-]{1,64}"),
              "conversion": ("conversion_external_id", r"[^\x00-\x1f\x7f]{1,100}")}
VISITOR_COOKIE = re.compile(r"[A-Za-z0-9_-]{16,40}")


def _settings() -> Settings:
    return current_app.config["SETTINGS"]  # type: ignore[no-any-return]


def _secret() -> bytes:
    return current_app.extensions["tracker.redirects"]["ip_secret"]  # type: ignore[no-any-return]


def _language() -> str:
    asked = (request.values.get("lang") or "").lower()
    if asked in ("no", "nb", "nn"):
        return "no"
    if asked == "en":
        return "en"
    best = request.accept_languages.best_match(["en", "no", "nb", "nn"], default="en")
    return "no" if best in ("no", "nb", "nn") else "en"


def _framed(resp: Response) -> Response:
    """Let the landing sites frame the form; nothing else may (frame-ancestors, no X-Frame-Options)."""
    resp.headers["Content-Security-Policy"] = framed_csp(_settings().landing_origins)
    resp.headers["Cache-Control"] = "no-store"
    return resp


def _page(template: str, status: int = 200, **context: Any) -> Response:
    language = context.setdefault("lang", _language())
    context.setdefault("t", TEXTS[language])
    resp = Response(render_template(template, **context), status=status, mimetype="text/html")
    resp.headers["Content-Language"] = "nb" if language == "no" else "en"
    resp.vary.add("Accept-Language")
    return _framed(resp)


def _ids_from_url() -> dict[str, str]:
    ids = {}
    for param, (name, pattern) in ASK_PARAMS.items():
        value = request.args.get(param, "").strip()
        if value:
            if not re.fullmatch(pattern, value):
                raise ValidationError(f"the link's {param} parameter is malformed", param)
            ids[name] = value
    return ids


@bp.get("/ask")
@bp.doc(hide=True)
def ask() -> Response:
    """The public "How did you hear about us?" form (English or Norwegian)."""
    try:
        ids = _ids_from_url()
    except ValidationError as exc:
        language = _language()
        return _page("selfreports/ask_error.html", 400, message=f"{TEXTS[language]['bad_link']} ({exc.field}).")
    return _page("selfreports/ask.html", options=_settings().answers.options,
                 token=service.form_token(_settings(), ids), chosen=None, text="", error=None)


@bp.post("/ask")
@bp.doc(hide=True)
def ask_post() -> Response:
    """Store the form's answer; show thanks, or the form again with the problem."""
    settings = _settings()
    language = _language()
    wait = ratelimit.hit("ask", settings.collect_rate_limit)
    if wait is not None:
        resp = _page("selfreports/ask_error.html", 429, message=TEXTS[language]["limited"])
        resp.headers["Retry-After"] = str(wait)
        return resp
    option = request.form.get("option") or None
    text = request.form.get("text", "")
    try:
        ids = service.open_form_token(settings, request.form.get("form_token"))
        cookie = request.cookies.get(settings.cookie_name, "")
        data = {**ids, "option": option, "text": text, "language": language}
        if VISITOR_COOKIE.fullmatch(cookie):  # only when /ask is opened on the short-link domain itself
            data["visitor_id"] = cookie
        service.record_answer(db_session(), settings, _secret(), data, via="page")
    except ValidationError as exc:
        token = request.form.get("form_token") if exc.field != "form_token" else None
        if token is None:
            return _page("selfreports/ask_error.html", 400, message=exc.message)
        return _page("selfreports/ask.html", 422, options=settings.answers.options, token=token, chosen=option,
                     text=text, error=exc.message)
    return _page("selfreports/thanks.html")


# ---- JSON API ------------------------------------------------------------------------------------

class AnswerIn(Schema):
    option = String(validate=Length(0, 40), metadata={"description": "A configured option key, or `other`"})
    text = String(validate=Length(0, service.MAX_TEXT), metadata={"description": "Free text, kept verbatim"})
    language = String(validate=OneOf(LANGUAGES), metadata={"description": "en (default) or no"})
    ts = String(validate=Length(0, 40),
                metadata={"description": "When it was answered (ISO 8601 with offset); default now"})
    conversion_external_id = String(validate=Length(0, 100),
                                    metadata={"description": "external_id of the conversion it belongs to"})
    tid = String(validate=Length(0, 32))
    site_visitor_id = String(validate=Length(0, 64))
    visitor_id = String(validate=Length(0, 40))
    customer_key = String(validate=Length(0, 320), metadata={"description": "E-mail or customer id; hashed"})
    submission_id = String(validate=Length(0, service.MAX_SUBMISSION_ID),
                           metadata={"description": "Your id of this answer: sending it again stores nothing"})


class AnswerOut(Schema):
    id = Integer()
    ts = AwareDateTime()
    person_id = String()
    option = String(allow_none=True)
    text = String(allow_none=True)
    language = String()
    channel = String(metadata={"description": "Derived now from the option or the free text"})
    matched_phrase = String(allow_none=True)
    matched_by = String(allow_none=True, metadata={"description": "rule (an analyst's) or default (config)"})
    conversion_external_id = String(allow_none=True)
    via = String()
    status = String(metadata={"description": "created or duplicate (only when recording)"})


class AnswerFilter(Schema):
    from_ = Date(data_key="from", metadata={"description": "First day (report time zone), inclusive"})
    to = Date(metadata={"description": "Last day (report time zone), inclusive"})
    channel = String(validate=Length(1, 40))
    person_id = String(validate=Length(1, 22))
    page = Integer(load_default=1, validate=Range(1, 100_000))
    per_page = Integer(load_default=100, validate=Range(1, 1000))


class AnswerPage(Schema):
    items = List(Nested(AnswerOut))
    total = Integer()
    page = Integer()
    per_page = Integer()


class UnmatchedOut(Schema):
    text = String()
    count = Integer()
    last_ts = AwareDateTime()
    language = String()


class UnmatchedList(Schema):
    items = List(Nested(UnmatchedOut))


class RuleIn(Schema):
    phrase = String(required=True, validate=Length(1, service.MAX_PHRASE))
    channel = String(required=True, validate=Length(1, 40))


class RuleOut(Schema):
    id = Integer(allow_none=True)
    phrase = String()
    channel = String()
    source = String(metadata={"description": "rule (stored) or default (config/answers.toml)"})
    created_at = AwareDateTime(allow_none=True)


class RuleList(Schema):
    rules = List(Nested(RuleOut))
    defaults = List(Nested(RuleOut))


class CheckQuery(Schema):
    text = String(required=True, validate=Length(1, service.MAX_TEXT))


class CheckOut(Schema):
    channel = String()
    phrase = String(allow_none=True)
    score = Float(allow_none=True)
    source = String(allow_none=True)


def answer_out(answer: service.Answer, status: str | None = None) -> dict[str, Any]:
    r = answer.report
    out = {"id": r.id, "ts": r.ts, "person_id": r.person_id, "option": r.option, "text": r.text,
           "language": r.language, "channel": answer.channel, "conversion_external_id": r.conversion_external_id,
           "via": r.via, "matched_phrase": answer.match.phrase if answer.match else None,
           "matched_by": answer.match.source if answer.match else None}
    if status:
        out["status"] = status
    return out


@bp.post("/api/v1/self-reports")
@requires("selfreports:write")
@bp.input(AnswerIn, arg_name="data")
@bp.output(AnswerOut, status_code=201)
@bp.doc(description="Record an answer to \"How did you hear about us?\" from your own survey. Give `option` "
        "and/or `text` and any ids you have. Idempotent on `submission_id` (200 with status `duplicate`).",
        responses={201: "Created", 200: "Duplicate submission_id: nothing stored", 422: "Invalid field"})
def create_self_report(data: dict[str, Any]) -> Any:
    """Record a self-reported source"""
    db = db_session()
    recorded = service.record_answer(db, _settings(), _secret(), data, via="api")
    answer = service.channel_of(_settings(), recorded.report, service.matcher(db, _settings()))
    return answer_out(answer, recorded.status), 201 if recorded.status == "created" else 200


@bp.get("/api/v1/self-reports")
@requires("selfreports:read")
@bp.input(AnswerFilter, location="query", arg_name="query")
@bp.output(AnswerPage)
def list_self_reports(query: dict[str, Any]) -> dict[str, Any]:
    """List answers with their derived channels, newest first"""
    answers, total = service.list_answers(
        db_session(), _settings(), from_=query.get("from_"), to=query.get("to"),
        channel=query.get("channel"), person_id=query.get("person_id"), page=query["page"],
        per_page=query["per_page"])
    return {"items": [answer_out(a) for a in answers], "total": total, "page": query["page"],
            "per_page": query["per_page"]}


@bp.get("/api/v1/self-reports/unmatched")
@requires("selfreports:read")
@bp.output(UnmatchedList)
def unmatched() -> dict[str, Any]:
    """Free-text answers no phrase matches (channel Other), most frequent first"""
    return {"items": service.unmatched_texts(db_session(), _settings())}


# POST before GET: apispec must meet RuleOut as a response schema before it meets it nested in RuleList.
@bp.post("/api/v1/answer-rules")
@requires("answer_rules:write")
@bp.input(RuleIn, arg_name="data")
@bp.output(RuleOut, status_code=201)
@bp.doc(responses={201: "Created", 409: "A rule for that phrase exists", 422: "Invalid phrase or channel"})
def create_answer_rule(data: dict[str, Any]) -> dict[str, Any]:
    """Add a rule: free text matching the phrase means the channel (reports use it at once)"""
    rule = service.add_rule(db_session(), _settings(), data["phrase"], data["channel"])
    return {"id": rule.id, "phrase": rule.phrase, "channel": rule.channel, "source": "rule",
            "created_at": rule.created_at}


@bp.get("/api/v1/answer-rules")
@requires("selfreports:read")
@bp.output(RuleList)
def list_answer_rules() -> dict[str, Any]:
    """The analysts' rules (checked first) and the configured default phrases"""
    rules = [{"id": r.id, "phrase": r.phrase, "channel": r.channel, "source": "rule", "created_at": r.created_at}
             for r in service.list_rules(db_session())]
    defaults = [{"id": None, "phrase": p, "channel": c, "source": "default", "created_at": None}
                for p, c in _settings().answers.synonyms]
    return {"rules": rules, "defaults": defaults}


@bp.delete("/api/v1/answer-rules/<int:rule_id>")
@requires("answer_rules:write")
@bp.output({}, status_code=204)
def delete_answer_rule(rule_id: int) -> tuple[str, int]:
    """Delete an analyst's rule"""
    service.delete_rule(db_session(), rule_id)
    return "", 204


@bp.get("/api/v1/answer-rules/check")
@requires("selfreports:read")
@bp.input(CheckQuery, location="query", arg_name="query")
@bp.output(CheckOut)
def check_answer(query: dict[str, Any]) -> dict[str, Any]:
    """Show which channel a free-text answer gets, and why"""
    found = service.matcher(db_session(), _settings()).match(query["text"])
    if found is None:
        return {"channel": "Other", "phrase": None, "score": None, "source": None}
    return {"channel": found.channel, "phrase": found.phrase, "score": round(found.score, 1), "source": found.source}
