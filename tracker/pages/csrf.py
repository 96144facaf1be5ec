"""CSRF protection for the pages' forms: a per-session token in a hidden field.

Every POST to a guarded blueprint must carry ``csrf_token`` equal to the token kept in the signed
session; otherwise the request is refused with 400 before the view runs. Templates write the field
with ``{{ csrf_field() }}``.
"""
from __future__ import annotations

import hmac
import secrets

from flask import Blueprint, render_template, request, session
from markupsafe import Markup, escape

FIELD = "csrf_token"
SESSION_KEY = "csrf_token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

__all__ = ["FIELD", "csrf_field", "csrf_token", "protect"]


def csrf_token() -> str:
    """Return the session's token, creating it on first use."""
    token = session.get(SESSION_KEY)
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        session[SESSION_KEY] = token
    return token


def csrf_field() -> Markup:
    """Return the hidden input that carries the token."""
    return Markup('<input type="hidden" name="{}" value="{}">').format(FIELD, escape(csrf_token()))


def _valid(sent: str | None) -> bool:
    expected = session.get(SESSION_KEY)
    if not sent or not isinstance(expected, str) or not expected:
        return False
    return hmac.compare_digest(sent.encode(), expected.encode())


def protect(bp: Blueprint) -> None:
    """Refuse unsafe requests to ``bp`` without the session's token; give its templates the helpers."""

    @bp.before_request
    def _check() -> tuple[str, int] | None:
        if request.method in UNSAFE_METHODS and not _valid(request.form.get(FIELD)):
            return render_template(
                "pages/error.html", status=400, title="The form has expired",
                message="This form was not sent from a page of this site, or your session has "
                        "changed since it was shown. Go back, reload the page and send it again."), 400
        return None

    @bp.context_processor
    def _helpers() -> dict[str, object]:
        return {"csrf_field": csrf_field, "csrf_token": csrf_token}
