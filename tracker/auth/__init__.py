"""Accounts, roles and API keys (see docs/reference/accounts-and-roles.md).

``access.py`` holds the one permission table and the decorators every API view and page carries;
``service.py`` the accounts and keys; ``views.py`` the ``/api/v1/accounts`` and ``/api/v1/keys`` API;
``cli.py`` the ``tracker accounts`` and ``tracker keys`` commands.
"""
from __future__ import annotations

from datetime import timedelta

from flask import Flask

__all__ = ["SESSION_LIFETIME", "init_app"]

# A page session ends this long after sign-in (the signed cookie is refused after it); signing out,
# disabling the account or changing its password end it sooner.
SESSION_LIFETIME = timedelta(hours=12)


def init_app(app: Flask) -> None:
    """Register the accounts and keys API, the rate limiter, and guard the OpenAPI document with a key."""
    from tracker import ratelimit
    from tracker.auth.access import requires
    from tracker.auth.views import bp

    ratelimit.init_app(app)
    app.register_blueprint(bp)
    app.permanent_session_lifetime = SESSION_LIFETIME
    app.config["SPEC_DECORATORS"] = [requires("api:docs")]
