"""Security headers on every response, and the API's documented error answers.

Every answer of the service carries the headers of :func:`base_headers`: the Flask app adds them in an
after-request hook (:func:`register`), and the redirect handler in front of Flask
(``tracker/redirects/handler.py``) sends the same list, built once at start-up.

- ``X-Content-Type-Options: nosniff`` and ``Referrer-Policy: strict-origin-when-cross-origin`` (the
  redirect's own 302 keeps its deliberate ``no-referrer-when-downgrade`` so the destination learns the
  referring site, as without the short link).
- ``Content-Security-Policy`` with ``frame-ancestors 'none'`` plus ``X-Frame-Options: DENY`` (for
  browsers without CSP 2) on everything, except ``/ask``: the self-report form may be framed by the
  configured ``landing_origins`` and nothing else (no ``'self'``; with no origins configured it is not
  frameable either). HTML pages get :data:`PAGE_CSP`; every other answer (JSON, CSV, images, PDF,
  scripts, styles) :data:`RESOURCE_CSP`, which forbids everything a document could load, so an SVG or
  JSON answer opened as a document cannot run script.
- ``Strict-Transport-Security: max-age=31536000`` when ``public_base_url`` is https: the service is
  then only reached over https, and browsers should never try http again for a year. No
  ``includeSubDomains`` (the short-link host's siblings are not ours to decide) and no ``preload``.
"""
from __future__ import annotations

from typing import Any

from flask import Flask, Response, request

from tracker.config import Settings
from tracker.errors import DomainError, ValidationError
from tracker.inputs import nul_field

__all__ = ["ERROR_SCHEMA", "HSTS", "PAGE_CSP", "RESOURCE_CSP", "base_headers", "framed_csp", "register"]

PAGE_CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            "frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
RESOURCE_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
                "frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
HSTS = "max-age=31536000"
REFERRER_POLICY = "strict-origin-when-cross-origin"

# The one error body of the API, as the OpenAPI document states it for every error answer.
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {
        "type": "object",
        "required": ["code", "message", "field"],
        "properties": {
            "code": {"type": "string", "description": "invalid, not_found, conflict, too_large, ..."},
            "message": {"type": "string", "description": "What is wrong and how to fix it"},
            "field": {"type": "string", "nullable": True, "description": "The field the error is about"},
            "detail": {"type": "object", "description": "Every invalid field, by location"},
        },
    }},
}
# Answers any operation can give besides its own (the body is always ERROR_SCHEMA).
COMMON_ERRORS = {"400": "The request cannot be read (for example a body that is not JSON)"}
BODY_ERRORS = {"413": "The body is larger than the service accepts"}
WRITE_ERRORS = {"409": "The change conflicts with existing data"}
AUTH_ERRORS = {"403": "The key's role may not do this"}
# Query parameters or body fields naming something stored: an unknown one may answer 404 (path parameters
# are documented by APIFlask itself).
REFERENCE_PARAMETERS = frozenset({"account", "campaign", "link", "person_id", "conversion"})


def base_headers(settings: Settings) -> list[tuple[str, str]]:
    """Headers every answer carries (a Content-Security-Policy is added per answer)."""
    headers = [("X-Content-Type-Options", "nosniff"), ("Referrer-Policy", REFERRER_POLICY)]
    if settings.public_base_url.lower().startswith("https://"):
        headers.append(("Strict-Transport-Security", HSTS))
    return headers


def framed_csp(origins: tuple[str, ...]) -> str:
    """The page policy, but framable by ``origins`` only (``'none'`` when there are none)."""
    ancestors = " ".join(origins) if origins else "'none'"
    return PAGE_CSP.replace("frame-ancestors 'none'", f"frame-ancestors {ancestors}")


def _secure(resp: Response, settings_headers: list[tuple[str, str]]) -> Response:
    headers = resp.headers
    for name, value in settings_headers:
        headers.setdefault(name, value)
    csp = headers.get("Content-Security-Policy")
    if csp is None:
        csp = PAGE_CSP if resp.mimetype == "text/html" else RESOURCE_CSP
    elif "frame-ancestors" not in csp:
        csp += "; frame-ancestors 'none'"
    headers["Content-Security-Policy"] = csp
    if "frame-ancestors 'none'" in csp:
        headers["X-Frame-Options"] = "DENY"
    else:  # framable by the origins the policy names: an old browser's DENY would block them
        headers.pop("X-Frame-Options", None)
    if request.path.startswith("/api/"):
        headers.setdefault("Cache-Control", "no-store")
    return resp


def _body_fields(spec: dict[str, Any], operation: dict[str, Any]) -> set[str]:
    """Property names of an operation's JSON body."""
    schema = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
    ref = schema.get("$ref", "")
    if ref.startswith("#/components/schemas/"):
        schema = spec.get("components", {}).get("schemas", {}).get(ref.rsplit("/", 1)[1], {})
    return set(schema.get("properties", {}))


def _document_errors(spec: dict[str, Any]) -> dict[str, Any]:
    """State the answers every operation can give, all with the one error body."""
    content = {"application/json": {"schema": ERROR_SCHEMA}}
    for item in spec.get("paths", {}).values():
        for method, operation in item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            extra = dict(COMMON_ERRORS)
            if "requestBody" in operation or method in ("post", "put", "patch"):
                extra.update(BODY_ERRORS)
            if method != "get":
                extra.update(WRITE_ERRORS)
            if operation.get("security"):
                extra.update(AUTH_ERRORS)
            if any(p.get("in") == "query" and p.get("name") in REFERENCE_PARAMETERS
                   for p in operation.get("parameters", [])) or REFERENCE_PARAMETERS & _body_fields(spec, operation):
                extra["404"] = "A parameter names something that does not exist"
            responses = operation.setdefault("responses", {})
            for status, description in extra.items():
                responses.setdefault(status, {"description": description, "content": content})
    return spec


def _refuse_nul() -> None:
    """Refuse NUL characters in the path, headers, query, form or JSON body before any view reads them."""
    if "\x00" in request.path:
        raise DomainError("the URL contains a NUL character", "path")
    for name, value in request.headers.items():
        if "\x00" in value:
            raise DomainError(f"the {name} header contains a NUL character", name)
    for source in (request.args, request.form if request.mimetype != "application/json" else {}):
        for name, value in source.items(multi=True) if source else ():
            if "\x00" in name or "\x00" in value:
                raise ValidationError(f"{name.replace(chr(0), '')} contains a NUL character", name.replace("\x00", ""))
    if request.is_json and request.path.startswith("/api/"):  # /collect reads and checks its own stream
        field = nul_field(request.get_json(silent=True))
        if field is not None:
            field = field.replace("\x00", "")
            raise ValidationError(f"{field} contains a NUL character", field)


def register(app: Flask) -> None:
    """Add the security headers to every Flask answer and the error answers to the OpenAPI document,
    and refuse NUL characters in every request."""
    settings: Settings = app.config["SETTINGS"]
    headers = base_headers(settings)
    app.before_request(_refuse_nul)
    app.config["HTTP_ERROR_SCHEMA"] = ERROR_SCHEMA
    app.config["VALIDATION_ERROR_SCHEMA"] = ERROR_SCHEMA
    app.after_request(lambda resp: _secure(resp, headers))
    app.spec_processor(_document_errors)  # type: ignore[attr-defined]
