"""HTTP routes of tracker.touchpoints: the landing-site snippet ``/t.js`` and the public ``/collect``.

``/collect`` needs no key: CORS is limited to ``landing_origins``, each IP hash may send
``collect_rate_limit`` records (:mod:`tracker.ratelimit`: per worker with the default in-memory
storage, shared with ``rate_limit_storage = "redis://..."``), bodies are at most
:data:`~tracker.touchpoints.collect.MAX_BODY_BYTES`.
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from apiflask import APIBlueprint
from flask import Response, current_app, jsonify, request
from flask.blueprints import BlueprintSetupState

from tracker import ratelimit
from tracker.config import Settings
from tracker.db import get_db
from tracker.errors import DomainError, Forbidden
from tracker.geo import get_locator
from tracker.privacy.consent import opted_out
from tracker.touchpoints.collect import MAX_BODY_BYTES, RateLimited, collect, parse_body

bp = APIBlueprint("touchpoints", __name__)

SNIPPET = Path(__file__).resolve().parent.parent / "static" / "tracker.js"
COOKIELESS_OFF, COOKIELESS_ON = b"var COOKIELESS = false;", b"var COOKIELESS = true;"
SNIPPET_MAX_AGE = 3600  # browsers and CDNs may keep the snippet an hour
PREFLIGHT_MAX_AGE = 86400
EXTENSION = "tracker.touchpoints"


@bp.record_once
def _setup(state: BlueprintSetupState) -> None:
    """Read the snippet once per app."""
    app = state.app
    body = SNIPPET.read_bytes()
    if app.config["SETTINGS"].cookieless:  # docs/guides/site-owner.md#privacy: the snippet then stores nothing
        body = body.replace(COOKIELESS_OFF, COOKIELESS_ON, 1)
    app.extensions[EXTENSION] = {"snippet": body,
                                 "snippet_etag": hashlib.sha256(body).hexdigest()[:20]}


def _settings() -> Settings:
    return current_app.config["SETTINGS"]


def _allowed_origin() -> str:
    """The request's Origin if it is a configured landing origin; raise Forbidden naming "origin"."""
    origin = (request.headers.get("Origin") or "").rstrip("/")
    if origin and origin in _settings().landing_origins:
        return origin
    shown = origin or "none"
    raise Forbidden(f"origin {shown!r} may not send to /collect: add it to landing_origins "
                    "(TRACKER_LANDING_ORIGINS) if it is one of your landing sites", "origin")


@bp.after_request
def _cors(resp: Response) -> Response:
    """Let allowed landing origins read every /collect answer (errors included); others get nothing."""
    if request.endpoint in ("touchpoints.collect_options", "touchpoints.collect_post"):
        origin = (request.headers.get("Origin") or "").rstrip("/")
        resp.headers.add("Vary", "Origin")
        if origin and origin in _settings().landing_origins:
            resp.headers["Access-Control-Allow-Origin"] = origin
        resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.errorhandler(DomainError)
def _domain_error(exc: DomainError) -> tuple[Response, int]:
    return jsonify(exc.to_dict()), exc.status


@bp.route("/t.js", methods=["GET"])
@bp.doc(hide=True)
def snippet() -> Response:
    """The landing-site snippet (cacheable, revalidated by ETag)."""
    state = current_app.extensions[EXTENSION]
    resp = Response(state["snippet"], mimetype="text/javascript")
    resp.set_etag(state["snippet_etag"])
    resp.cache_control.public = True
    resp.cache_control.max_age = SNIPPET_MAX_AGE
    resp.headers["Cross-Origin-Resource-Policy"] = "cross-origin"
    resp.headers["Access-Control-Allow-Origin"] = "*"  # a public file; lets pages load it with SRI
    return resp.make_conditional(request)


@bp.route("/collect", methods=["OPTIONS"], endpoint="collect_options", provide_automatic_options=False)
@bp.doc(hide=True)
def collect_options() -> Response:
    """CORS preflight: allowed landing origins may POST JSON."""
    _allowed_origin()
    resp = Response(status=204, mimetype="text/plain")
    resp.headers["Access-Control-Allow-Methods"] = "POST"
    resp.headers["Access-Control-Allow-Headers"] = "Content-Type"
    resp.headers["Access-Control-Max-Age"] = str(PREFLIGHT_MAX_AGE)
    return resp


@bp.route("/collect", methods=["POST"], endpoint="collect_post")
@bp.doc(summary="Record a landing visit, identify or event from the site snippet (public, CORS)",
        responses={204: "Recorded", 403: "Origin not allowed", 413: "Body too large", 415: "Wrong type",
                   422: "Invalid field", 429: "Rate limited"})
def collect_post() -> Any:
    """Validate and store one record of the snippet; answer 204."""
    _allowed_origin()
    settings = _settings()
    wait = ratelimit.hit("collect", settings.collect_rate_limit)
    if wait is not None:
        body = RateLimited(f"too many records from this address (at most {settings.collect_rate_limit}); "
                           f"retry in {wait} seconds", None).to_dict()
        return jsonify(body), 429, {"Retry-After": str(wait)}
    if request.mimetype not in ("application/json", "text/plain"):
        return _error(415, "unsupported_media_type", "send the record as JSON (application/json or text/plain)")
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        return _error(413, "too_large", f"the body must be at most {MAX_BODY_BYTES} bytes")
    raw = request.stream.read(MAX_BODY_BYTES + 1)
    if len(raw) > MAX_BODY_BYTES:
        return _error(413, "too_large", f"the body must be at most {MAX_BODY_BYTES} bytes")
    secret: bytes = current_app.extensions["tracker.redirects"]["ip_secret"]
    with get_db(current_app).Session() as session:
        collect(session, settings, secret, parse_body(raw), request.headers.get("User-Agent"),
                request.remote_addr, private=opted_out(request.environ),
                place=get_locator(current_app)(request.remote_addr))
    return Response(status=204, mimetype="text/plain")


def _error(status: int, code: str, message: str) -> tuple[Response, int]:
    return jsonify({"error": {"code": code, "message": message, "field": None}}), status
