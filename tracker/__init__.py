"""The tracker service: tracked links, short-link and QR redirects with durable click capture."""
from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Mapping
from typing import Any

from apiflask import APIFlask
from apiflask.exceptions import HTTPError
from flask import Response, jsonify
from sqlalchemy.exc import IntegrityError
from werkzeug.middleware.proxy_fix import ProxyFix

from tracker.config import Settings, load_settings
from tracker.db import Database, get_db, make_engine
from tracker.errors import DomainError

__all__ = ["create_app", "stop_background"]
__version__ = "0.1.0"


def create_app(config: Mapping[str, Any] | None = None, settings: Settings | None = None) -> APIFlask:
    """Build the application.

    Parameters
    ----------
    config:
        Overrides of the settings (same names as ``config/settings.toml``) plus Flask options in
        upper case (for example ``{"TESTING": True, "SPOOL_BACKGROUND": False}``).
    settings:
        Ready-made settings (skips loading files and the environment).
    """
    config = dict(config or {})
    flask_options = {k: v for k, v in config.items() if k.isupper()}
    if settings is None:
        settings = load_settings({k: v for k, v in config.items() if not k.isupper()})
    if settings.answers is None:
        from tracker.selfreports.answers import with_answers
        settings = with_answers(settings)  # the answer book: config/answers.toml, checked against the taxonomy

    app = APIFlask("tracker", title="Tracker API", version=__version__, spec_path="/api/openapi.json",
                   docs_path=None, instance_path=settings.instance_path)
    app.config.update(
        SETTINGS=settings,
        SECRET_KEY=settings.secret_key,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.cookie_secure,
        SESSION_COOKIE_NAME="trk_session",
        TRUSTED_HOSTS=list(settings.trusted_hosts) or None,
        MAX_CONTENT_LENGTH=settings.max_upload_bytes + 64 * 1024,
        SPOOL_BACKGROUND=True,
        JSON_SORT_KEYS=False,
        AUTO_404_RESPONSE=True,
        INFO={"description": "Campaigns, tracked links, QR codes and click capture. "
                             "Errors answer {\"error\": {\"code\", \"message\", \"field\"}}."},
        SECURITY_SCHEMES={"BearerAuth": {"type": "http", "scheme": "bearer"}},
    )
    app.config.update(flask_options)
    Database(make_engine(settings.database_url, wait_seconds=settings.db_wait_seconds)).init_app(app)
    _init_redirects(app, settings)
    from tracker.webhooks.sender import init_app as init_webhooks
    init_webhooks(app)  # sessions carry the webhook endpoint cache; a background sender per process
    if settings.trusted_proxy_count:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.trusted_proxy_count,  # type: ignore[method-assign]
                                x_proto=settings.trusted_proxy_count)
    _register_errors(app)
    _register_blueprints(app)
    from tracker.auth import init_app as init_auth
    init_auth(app)  # accounts and keys API, rate limiter, key-guarded OpenAPI document
    _register_headers(app)

    from tracker.commands import register_commands
    register_commands(app)
    return app


def stop_background(app: APIFlask) -> None:
    """Stop the app's background threads in this process: click and conversion drains (after a last
    drain), the webhook sender and the retention thread.

    A server process exits through ``atexit`` instead; this is for code that builds apps and lets them go
    within one process (the tests), so no thread of a finished app goes on claiming another app's work.
    """
    state = app.extensions["tracker.redirects"]
    state["spool"].stop()
    state["conversions"].spool.stop()
    state["retention"].stop()
    app.extensions["tracker.webhooks"].stop()


def _init_redirects(app: APIFlask, settings: Settings) -> None:
    from tracker.privacy.retention import RetentionScheduler
    from tracker.redirects.cache import LinkCache
    from tracker.redirects.capture import write_batch
    from tracker.redirects.handler import Redirector
    from tracker.redirects.spool import Spool
    from tracker.webhooks.sender import ensure_sender

    db = get_db(app)
    retention = RetentionScheduler(db.Session, settings, settings.spool_path / "retention.lock")

    def writer(records: list[dict[str, Any]]) -> int:
        if app.config["SPOOL_BACKGROUND"] and threading.current_thread() is not threading.main_thread():
            retention.ensure()  # from a drain thread: the daily purge of raw clicks (click_retention_days)
            ensure_sender(app)  # webhook deliveries (click.recorded ones are written by this drain)
        with db.Session() as session:
            return write_batch(session, records, settings.tz)

    app.extensions["tracker.redirects"] = {
        "spool": Spool(settings.spool_path, writer, fsync=settings.spool_fsync),
        "cache": LinkCache.from_settings(settings),
        "ip_secret": hashlib.sha256(settings.ip_hash_secret.encode()).digest(),
        "background": app.config["SPOOL_BACKGROUND"],
        "retention": retention,
    }
    # Conversions queued while the database is unavailable; 503 for other API calls then.
    from tracker.conversions.spool import init_app as init_conversion_queue
    app.extensions["tracker.redirects"]["conversions"] = init_conversion_queue(
        app, db.Session, app.extensions["tracker.redirects"]["ip_secret"])
    from tracker.geo import init_app as init_geo
    init_geo(app, settings)  # country (and city) of each click, from geoip_database (tracker/geo)
    # /r/<code> and /q/<code> are answered in front of Flask (see tracker/redirects/handler.py).
    app.wsgi_app = Redirector(app, app.wsgi_app)  # type: ignore[method-assign]


def _register_errors(app: APIFlask) -> None:
    @app.errorhandler(DomainError)
    def domain_error(exc: DomainError) -> tuple[Response, int]:
        return jsonify(exc.to_dict()), exc.status

    @app.errorhandler(IntegrityError)
    def integrity_error(exc: IntegrityError) -> tuple[Response, int]:
        logging.getLogger(__name__).warning("integrity error mapped to 409: %s", exc.orig)
        return jsonify({"error": {"code": "conflict", "field": None,
                                  "message": "the change conflicts with existing data"}}), 409

    @app.error_processor
    def http_error(error: HTTPError) -> tuple[dict[str, Any], int, Any]:
        field = None
        message = error.message
        detail = error.detail or {}
        if isinstance(detail, dict):
            for location in ("json", "query", "form", "files", "form_and_files", "headers", "path"):
                problems = detail.get(location)
                if isinstance(problems, dict) and problems:
                    field, messages = next(iter(problems.items()))
                    if isinstance(messages, list) and messages:
                        message = f"{field}: {messages[0]}"
                    elif isinstance(messages, dict):
                        message = f"{field}: {next(iter(messages.values()))}"
                    break
        code = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
                405: "method_not_allowed", 409: "conflict", 413: "too_large", 415: "unsupported_media_type",
                422: "invalid", 429: "rate_limited"}.get(error.status_code, "error")
        body = {"error": {"code": code, "message": message, "field": field}}
        if detail:
            body["error"]["detail"] = detail
        return body, error.status_code, error.headers


def _register_blueprints(app: APIFlask) -> None:
    from tracker.conversions.views import bp as conversions_bp
    from tracker.links.views import bp as links_bp
    from tracker.pages.views import bp as pages_bp
    from tracker.people.views import bp as people_bp
    from tracker.qr.views import bp as qr_bp
    from tracker.reports.views import bp as reports_bp
    from tracker.selfreports.views import bp as selfreports_bp
    from tracker.touchpoints.views import bp as touchpoints_bp

    app.register_blueprint(links_bp)
    app.register_blueprint(qr_bp)
    app.register_blueprint(conversions_bp)
    app.register_blueprint(people_bp)
    from tracker.privacy.views import bp as privacy_bp
    app.register_blueprint(privacy_bp)
    app.register_blueprint(selfreports_bp)
    app.register_blueprint(touchpoints_bp)
    app.register_blueprint(reports_bp)
    from tracker.experiments.pages import bp as experiments_pages_bp
    from tracker.experiments.views import bp as experiments_bp
    app.register_blueprint(experiments_bp)  # A/B tests of link variants: API
    app.register_blueprint(experiments_pages_bp)  # /reports/experiments
    from tracker.mentions.pages import bp as mentions_pages_bp
    from tracker.mentions.views import bp as mentions_bp
    app.register_blueprint(mentions_bp)  # brand mentions API and report
    app.register_blueprint(mentions_pages_bp)  # /reports/mentions
    from tracker.cohorts.pages import bp as cohorts_pages_bp
    from tracker.cohorts.views import bp as cohorts_bp
    app.register_blueprint(cohorts_bp)  # cohorts and lifetime value: API
    app.register_blueprint(cohorts_pages_bp)  # /reports/cohorts
    from tracker.webhooks.pages import bp as webhooks_pages_bp
    from tracker.webhooks.views import bp as webhooks_bp
    app.register_blueprint(webhooks_bp)  # webhook endpoints and deliveries: API
    app.register_blueprint(webhooks_pages_bp)  # /webhooks
    from tracker.assets.pages import bp as assets_pages_bp
    from tracker.assets.views import bp as assets_bp
    app.register_blueprint(assets_bp)  # logos for branded QR codes: API
    app.register_blueprint(assets_pages_bp)  # a campaign's default logo, logos for signed-in pages
    from tracker.domains.views import bp as domains_bp
    app.register_blueprint(domains_bp)  # short-link domains: API
    app.register_blueprint(pages_bp)
    from tracker.apidocs import bp as apidocs_bp
    app.register_blueprint(apidocs_bp)


def _register_headers(app: APIFlask) -> None:
    from tracker.security import register
    register(app)  # security headers on every answer (the redirect handler sends the same)
