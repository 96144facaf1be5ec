"""The browsable API reference: Swagger UI over the service's own OpenAPI document, at ``/docs/api``.

Swagger UI's files come from the ``flask-swagger-ui`` wheel (its ``dist`` folder), served by this
blueprint: no CDN, and the page keeps the strict Content-Security-Policy of every page (the set-up is
``static/api-docs.js``, not an inline script). The page is for signed-in people (any role); "Authorize"
takes one of their API keys, and "Try it out" then calls the API with it, as that key's account.
The page reads the OpenAPI document from ``/docs/api/openapi.json`` (the signed-in session's copy of
``/api/openapi.json``, which answers API keys only).
"""
from __future__ import annotations

from pathlib import Path

import flask_swagger_ui
from flask import Blueprint, current_app, jsonify, render_template, send_from_directory
from werkzeug.exceptions import NotFound
from werkzeug.wrappers import Response

from tracker.auth.access import page_requires
from tracker.pages import csrf
from tracker.pages.views import principal_context

__all__ = ["ASSETS", "bp"]

bp = Blueprint("apidocs", __name__, url_prefix="/docs/api")
bp.enable_openapi = False  # type: ignore[attr-defined]
csrf.protect(bp)  # the menu's sign-out form
bp.context_processor(principal_context)

SWAGGER_DIST = Path(flask_swagger_ui.__file__).parent / "dist"
# The Swagger UI files the page loads; nothing else of the folder is served.
ASSETS = ("swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png")


@bp.get("/")
@page_requires("api:docs")
def page() -> str:
    return render_template("pages/api_docs.html")


@bp.get("/openapi.json")
@page_requires("api:docs")
def spec() -> Response:
    return jsonify(current_app.spec)  # type: ignore[attr-defined]


@bp.get("/assets/<name>")
@page_requires("api:docs")
def asset(name: str) -> Response:
    if name not in ASSETS:
        raise NotFound()
    return send_from_directory(SWAGGER_DIST, name, max_age=86_400)
