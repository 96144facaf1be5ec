"""The one place where access is decided.

``token_auth`` guards the API (``Authorization: Bearer <key>``); ``login_required`` guards the pages
(signed-in with a key; the session stores the key's id). Accounts and roles (a later issue) plug in
here: :func:`permits` is the single permission check both use.
"""
from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from apiflask import HTTPTokenAuth
from flask import g, redirect, request, session, url_for

from tracker.auth.models import ApiKey
from tracker.auth.service import verify_key
from tracker.db import db_session

token_auth = HTTPTokenAuth(scheme="Bearer", description="An API key from `tracker keys create`.")


def permits(principal: ApiKey | None, permission: str) -> bool:
    """Return whether ``principal`` may do ``permission`` (for now: any active key may do anything)."""
    return principal is not None and principal.revoked_at is None


@token_auth.verify_token
def _verify(token: str) -> ApiKey | None:
    key = verify_key(db_session(), token)
    if key is not None and permits(key, "api"):
        g.principal = key
        return key
    return None


def current_page_principal() -> ApiKey | None:
    key_id = session.get("key_id")
    if key_id is None:
        return None
    key = db_session().get(ApiKey, key_id)
    if key is None or not permits(key, "pages"):
        session.pop("key_id", None)
        return None
    return key


def login_required(view: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        principal = current_page_principal()
        if principal is None:
            return redirect(url_for("pages.login", next=request.full_path))
        g.principal = principal
        return view(*args, **kwargs)
    return wrapped
