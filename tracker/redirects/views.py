"""Public redirect routes: ``/r/<code>`` (a click) and ``/q/<code>`` (a QR scan)."""
from __future__ import annotations

import hashlib
import hmac
import secrets
from urllib.parse import urlsplit

from flask import Blueprint, Response, current_app, make_response, redirect, render_template, request

from tracker.db import utcnow
from tracker.links.service import normalise_code
from tracker.links.urls import merge_query
from tracker.redirects.cache import LinkCache, LinkSnapshot
from tracker.redirects.spool import Spool

bp = Blueprint("redirects", __name__)


def new_tid() -> str:
    """Return a new click id: 20 random url-safe characters (120 bits), the click's primary key."""
    return secrets.token_urlsafe(15)


def _ip_hash(secret: bytes) -> str | None:
    ip = request.remote_addr
    if not ip:
        return None
    return hmac.new(secret, ip.encode(), hashlib.sha256).hexdigest()[:32]


def _referrer_host() -> str | None:
    ref = request.referrer
    if not ref:
        return None
    try:
        return (urlsplit(ref).hostname or "")[:255] or None
    except ValueError:
        return None


@bp.get("/r/<code>")
def click(code: str) -> Response:
    return _follow(code, "link")


@bp.get("/q/<code>")
def scan(code: str) -> Response:
    return _follow(code, "qr")


def _follow(code: str, via: str) -> Response:
    state = current_app.extensions["tracker.redirects"]
    settings = current_app.config["SETTINGS"]
    cache: LinkCache = state["cache"]
    spool: Spool = state["spool"]
    code = normalise_code(code)[:200]
    link: LinkSnapshot | None = cache.get(code)

    if request.method == "HEAD":  # link checkers and previews that only look: not a click
        if link is None:
            return make_response("", 404)
        return redirect(link.target(utcnow()) or link.tracked_url, 302)

    if state["background"]:
        spool.start()
    now = utcnow()
    tid = new_tid()
    record = {"tid": tid, "ts": now.isoformat(), "via": via, "ref": _referrer_host(),
              "ua": request.user_agent.string[:1000] or None, "ip": _ip_hash(state["ip_secret"])}
    if link is None:
        record.update(t="orphan", code=code)
        spool.append(record)
        resp = make_response(render_template("redirects/not_found.html", code=code), 404)
        resp.headers["Cache-Control"] = "no-store"
        return resp

    visitor = request.cookies.get(settings.cookie_name)
    new_visitor = not visitor or len(visitor) > 40
    if new_visitor:
        visitor = secrets.token_urlsafe(16)
    target = link.target(now)
    record.update(link=link.id, vid=visitor, us=link.utm_source, um=link.utm_medium, uc=link.utm_campaign,
                  ut=link.utm_term, uo=link.utm_content,
                  outcome="redirect" if target == link.tracked_url else ("fallback" if target else "gone"))
    spool.append(record)  # durable before we answer

    if target is None:
        resp = make_response(render_template("redirects/gone.html", code=code), 410)
    else:
        if target == link.tracked_url:
            target = merge_query(target, {"tid": tid})
        resp = redirect(target, 302)
    resp.headers["Cache-Control"] = "no-store, private"
    resp.headers["Referrer-Policy"] = "no-referrer-when-downgrade"
    if new_visitor:
        resp.set_cookie(settings.cookie_name, visitor, max_age=settings.cookie_max_age_days * 86400,
                        secure=settings.cookie_secure, httponly=True, samesite=settings.cookie_samesite,
                        domain=settings.cookie_domain or None)
    return resp
