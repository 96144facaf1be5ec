"""The one place where access is decided: the permission table, and the decorators that apply it.

Every API view carries ``@requires("permission")`` (an ``Authorization: Bearer <key>`` header whose key
is active and whose account is enabled, and whose role the permission lists) and every page view
``@page_requires("permission")`` (a signed-in page session of an enabled account with such a role).
No key or session: 401 (pages: a redirect to the sign-in form); authenticated but the role may not:
403 with the JSON error body (pages: an error page). A key acts with its account's role.

Staff accounts are limited to the campaigns they are assigned to. :func:`campaign_scope` hands the
views the set of campaign ids the caller is limited to (``None``: not limited), and the services
(``tracker.links.service``) filter and check with it, so the limit holds in the queries themselves.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from functools import wraps
from typing import Any

from apiflask import HTTPTokenAuth
from apiflask.scaffold import _annotate
from flask import current_app, g, redirect, request, session, url_for

from tracker.auth.models import ROLES, Account, ApiKey
from tracker.auth.service import end_page_session, page_session_open, start_page_session, verify_key
from tracker.db import db_session
from tracker.errors import Forbidden

__all__ = ["PERMISSIONS", "Scope", "campaign_scope", "current_account", "page_requires", "permits", "requires",
           "sign_out", "signed_in_session_data", "token_auth"]

Scope = frozenset[int] | None

EVERYONE = frozenset(ROLES)
# Permission -> the roles that have it. Every API endpoint and page names exactly one of these.
PERMISSIONS: Mapping[str, frozenset[str]] = {
    # campaigns, links, QR codes (staff: only their assigned campaigns, see campaign_scope)
    "campaigns:read": frozenset({"admin", "marketer", "staff", "analyst"}),
    "campaigns:write": frozenset({"admin", "marketer"}),
    "costs:write": frozenset({"admin", "marketer"}),
    "links:read": frozenset({"admin", "marketer", "staff", "analyst"}),
    "links:create": frozenset({"admin", "marketer", "staff"}),  # staff: offline kinds, own campaigns
    "links:write": frozenset({"admin", "marketer"}),  # change links, bulk CSV
    "qr:read": frozenset({"admin", "marketer", "staff", "analyst"}),
    "assets:read": frozenset({"admin", "marketer", "staff", "analyst"}),  # logos of branded QR codes
    "assets:write": frozenset({"admin", "marketer"}),  # upload logos
    "domains:read": frozenset({"admin", "marketer", "staff", "analyst"}),  # the short-link domains, to pick one
    "domains:write": frozenset({"admin", "marketer"}),  # add domains, set their not-found URL
    # server-side data in
    "conversions:write": frozenset({"admin", "ingest"}),
    "identify": frozenset({"admin", "ingest"}),
    "imports": frozenset({"admin", "ingest"}),
    "selfreports:write": frozenset({"admin", "ingest"}),
    "mentions:write": frozenset({"admin", "ingest", "marketer"}),  # brand mentions (social listening, press)
    "webhooks:manage": frozenset({"admin", "marketer"}),  # webhook endpoints, their secrets and deliveries
    # reading what was collected, reports and exports
    "conversions:read": frozenset({"admin", "analyst"}),
    "people:read": frozenset({"admin", "analyst"}),
    "selfreports:read": frozenset({"admin", "analyst"}),
    "answer_rules:write": frozenset({"admin", "analyst"}),
    "reports:read": frozenset({"admin", "analyst"}),
    # administration
    "people:erase": frozenset({"admin"}),
    "accounts:manage": frozenset({"admin"}),
    "keys:manage": frozenset({"admin"}),  # every account's keys
    "keys:own": EVERYONE,  # one's own keys
    "api:docs": EVERYONE,  # /api/openapi.json
    "pages:home": EVERYONE,  # the start page (shows what the role may see)
}
SCOPED_ROLES = frozenset({"staff"})

token_auth = HTTPTokenAuth(scheme="Bearer", description="An API key (`tracker keys create` or POST /api/v1/keys); "
                                                        "it acts with its account's role.")


def permits(account: Account | None, permission: str) -> bool:
    """Return whether ``account`` (enabled) has ``permission``; unknown permissions raise KeyError."""
    roles = PERMISSIONS[permission]
    return account is not None and not account.disabled and account.role in roles


def campaign_scope(account: Account | None = None) -> Scope:
    """The campaign ids the caller is limited to (staff: assigned ones), or None when not limited."""
    account = account if account is not None else current_account()
    if account is None or account.role not in SCOPED_ROLES:
        return None
    return frozenset(c.id for c in account.campaigns)


def current_account() -> Account | None:
    """The account of the request's key or page session (set by the decorators)."""
    return g.get("account")


def _forbidden(account: Account | None, permission: str) -> Forbidden:
    allowed = ", ".join(r for r in ROLES if r in PERMISSIONS[permission])
    role = account.role if account is not None else "none"
    return Forbidden(f"your role ({role}) may not do this: {permission} needs one of {allowed}")


@token_auth.verify_token
def _verify(token: str) -> ApiKey | None:
    key = verify_key(db_session(), token)
    if key is None:
        return None
    g.account = key.account
    g.api_key = key
    return key


def _known(permission: str) -> None:
    if permission not in PERMISSIONS:
        raise KeyError(f"unknown permission {permission!r}: add it to PERMISSIONS in tracker/auth/access.py")


def requires(permission: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Guard an API view: a valid key (else 401) whose account's role has ``permission`` (else 403).

    Put it where ``@bp.auth_required(token_auth)`` would go (under the route decorator); the view
    appears in the OpenAPI document with the Bearer security requirement.
    """
    _known(permission)

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def checked(*args: Any, **kwargs: Any) -> Any:
            account = current_account()
            if not permits(account, permission):
                raise _forbidden(account, permission)
            return view(*args, **kwargs)

        guarded = token_auth.login_required(checked)
        _annotate(guarded, auth=token_auth, roles=[])
        guarded.permission = permission  # type: ignore[attr-defined]
        return guarded
    return decorator


# ---- pages ------------------------------------------------------------------------------------------
SESSION_ACCOUNT = "account_id"
SESSION_STAMP = "account_stamp"
SESSION_SINCE = "signed_in_at"
SESSION_ID = "session_id"


def _stamp(account: Account) -> str:
    # Changes when the password does, so other sessions of the account end with a password change.
    return (account.password_hash or "")[-16:]


def signed_in_session_data(db: Any, account: Account) -> dict[str, Any]:
    """What a page session holds once ``account`` has signed in (its server-side record is made here)."""
    session_id = start_page_session(db, account, current_app.permanent_session_lifetime)
    return {SESSION_ACCOUNT: account.id, SESSION_STAMP: _stamp(account), SESSION_SINCE: int(time.time()),
            SESSION_ID: session_id}


def sign_out() -> None:
    """End the page session: its server-side record goes, so no app server accepts the cookie again."""
    end_page_session(db_session(), session.get(SESSION_ID))
    session.clear()


def current_page_account() -> Account | None:
    """The enabled account of the page session, or None (a stale session is cleared).

    A session is stale once its account is disabled, its password changed, it was signed out (its
    record in ``page_sessions`` is gone: :func:`sign_out`), or it is older than
    ``current_app.permanent_session_lifetime`` (12 hours, see tracker/auth/__init__.py) since sign-in:
    Flask re-signs the cookie whenever the session changes, so the sign-in time is kept and checked.
    """
    account_id = session.get(SESSION_ACCOUNT)
    if account_id is None:
        return None
    since = session.get(SESSION_SINCE)
    fresh = isinstance(since, int) and time.time() - since < current_app.permanent_session_lifetime.total_seconds()
    account = db_session().get(Account, account_id) if fresh else None
    if account is None or account.disabled or account.password_hash is None \
            or session.get(SESSION_STAMP) != _stamp(account) \
            or not page_session_open(db_session(), session.get(SESSION_ID), account.id,
                                     current_app.permanent_session_lifetime):
        for name in (SESSION_ACCOUNT, SESSION_STAMP, SESSION_SINCE, SESSION_ID):
            session.pop(name, None)
        return None
    return account


def page_requires(permission: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Guard a page: signed in (else a redirect to the sign-in form) with ``permission`` (else 403 page)."""
    _known(permission)

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            account = current_page_account()
            if account is None:
                return redirect(url_for("pages.login", next=request.full_path))
            g.account = g.principal = account
            if not permits(account, permission):
                raise _forbidden(account, permission)
            return view(*args, **kwargs)
        wrapped.permission = permission  # type: ignore[attr-defined]
        return wrapped
    return decorator
