"""The public redirects ``GET /r/<code>`` (a click) and ``GET /q/<code>`` (a QR scan), as plain WSGI.

Every printed code and every ad points here, so this is the one hot path of the service. It runs as
WSGI middleware in front of the Flask app and answers without a Flask request context, session,
URL map or after-request hooks: per request it reads the environ, looks the code up in the
in-process :class:`~tracker.redirects.cache.LinkCache`, appends the click to the durable spool and
answers from header strings prepared once per cache fill. Everything else goes to Flask.
``bench/redirect`` measures it against a bare Flask app that only redirects.

What a request cannot change: the target comes only from the cached link (no parameter or header is
read to build it; a link's redirect rules read the User-Agent, Accept-Language, the located country and the
query string only to choose among the destinations stored with the link, see tracker/redirects/rules.py);
``Host`` is checked against ``trusted_hosts`` when that is set; the client IP is ``REMOTE_ADDR`` as rewritten
by ``ProxyFix`` for the configured trusted proxies only.

Short-link domains (tracker/domains): the request's ``Host`` (port dropped, lower-case) picks the domain
whose links answer. A registered domain's host: its links. The host of ``public_base_url``, or one that
``trusted_hosts`` lets in: the default domain. Any other host: the default domain while no domain is
registered (a one-domain install answers on any host, as it always did), else 404 (with ``trusted_hosts``
set, 400 as before: the domains' hosts are trusted besides the listed ones). The domain map comes from the
link cache (:meth:`~tracker.redirects.cache.LinkCache.domains`), so routing costs no query either; while it
cannot be had (the database is down and this worker never read it), hosts that could be a domain's get 503.
An unknown code on a domain with a "not found" URL (the ``not_found_url`` setting for the default domain)
goes there with a 302, without ``tid``; it is recorded as an orphan visit of that domain either way.
"""
from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from flask import Flask
from werkzeug.http import dump_cookie, parse_cookie
from werkzeug.sansio.utils import host_is_trusted
from werkzeug.urls import iri_to_uri

from tracker.config import Settings
from tracker.db import utcnow
from tracker.domains.service import default_host
from tracker.links.service import normalise_code
from tracker.privacy.consent import opted_out
from tracker.privacy.iphash import IpHasher
from tracker.redirects.cache import DomainRoute, LinkCache, LinkSnapshot, LinkUnavailable, link_key
from tracker.redirects.rules import CompiledRule, select_rule
from tracker.redirects.spool import Spool
from tracker.security import base_headers

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

# The small pages (404, 410, bad host) only carry inline styles. Every answer carries this policy and
# the headers of tracker.security.base_headers, as the Flask app's answers do.
PAGE_CSP = ("default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; "
            "form-action 'none'")
EXPIRES = re.compile(r"; Expires=[^;]*")
STATUS = {302: "302 Found", 400: "400 Bad Request", 404: "404 Not Found", 405: "405 Method Not Allowed",
          410: "410 Gone", 503: "503 Service Unavailable"}


def new_tid() -> str:
    """Return a new click id: 20 random url-safe characters (120 bits), the click's primary key.

    Never starting with ``-``: a CSV cell starting so is written with a leading ``'`` (tracker/csvout.py),
    which would change the id in an export. (Clicks stored before this rule may have one; the JSONL
    export gives every id exactly.)
    """
    return random_id(15)


def random_id(nbytes: int) -> str:
    """``secrets.token_urlsafe(nbytes)`` that does not start with ``-`` (see :func:`new_tid`)."""
    while True:
        value = secrets.token_urlsafe(nbytes)
        if value[0] != "-":
            return value


def request_host(environ: dict[str, Any]) -> str:
    """The host a request was sent to: ``Host`` (else ``SERVER_NAME``), lower-case, without port or final dot.

    >>> request_host({"HTTP_HOST": "Go.Brand.NO:8080"}), request_host({"HTTP_HOST": "[::1]:5000"})
    ('go.brand.no', '[::1]')
    """
    host: str = (environ.get("HTTP_HOST") or environ.get("SERVER_NAME") or "").lower()
    if host.startswith("["):
        return host.partition("]")[0] + "]"
    return host.partition(":")[0].rstrip(".")


def referrer_host(referer: str | None) -> str | None:
    """The host name of a ``Referer`` header (the rest of it is never stored)."""
    if not referer:
        return None
    try:
        return (urlsplit(referer).hostname or "")[:255] or None
    except ValueError:
        return None


class Redirector:
    """WSGI middleware answering ``/r/<code>`` and ``/q/<code>``; passes every other path to ``app``."""

    def __init__(self, flask_app: Flask, app: WSGIApp) -> None:
        self.app = app
        settings: Settings = flask_app.config["SETTINGS"]
        state = flask_app.extensions["tracker.redirects"]
        self.cache: LinkCache = state["cache"]
        self.spool: Spool = state["spool"]
        self.background: bool = state["background"]
        self.ip_hash = IpHasher.from_settings(settings)
        self.locate = flask_app.extensions["tracker.geo"]  # country/city of the address (tracker/geo), cached
        self.cookieless = settings.cookieless
        self.trusted_hosts = list(settings.trusted_hosts)
        self.default_host = default_host(settings)  # public_base_url's: always the default domain
        self.not_found_location = iri_to_uri(settings.not_found_url) if settings.not_found_url else None
        self.cookie_name = settings.cookie_name
        self.retry_after = str(settings.unavailable_retry_after)
        # Set-Cookie is the same for every new visitor but for the value: build it once. Max-Age alone
        # sets the lifetime (every browser in use honours it), so no per-request Expires date is needed.
        marker = "VISITOR"
        cookie = dump_cookie(
            settings.cookie_name, marker, max_age=settings.cookie_max_age_days * 86400,
            domain=settings.cookie_domain or None, secure=settings.cookie_secure, httponly=True,
            samesite=settings.cookie_samesite)
        cookie = EXPIRES.sub("", cookie)  # the date dump_cookie derives from max_age would go stale
        self.cookie_prefix, _, self.cookie_suffix = cookie.partition(marker)
        self._templates = flask_app.jinja_env
        # Security headers, built once; a Referrer-Policy given per answer replaces the default one.
        self.base_headers = [*base_headers(settings), ("X-Frame-Options", "DENY"),
                             ("Content-Security-Policy", PAGE_CSP), ("Cache-Control", "no-store, private")]
        self.base_headers_own_referrer = [h for h in self.base_headers if h[0] != "Referrer-Policy"]

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path: str = environ.get("PATH_INFO", "")
        if len(path) < 4 or path[0] != "/" or path[2] != "/" or path[1] not in "rq" or "/" in path[3:]:
            return self.app(environ, start_response)
        method = environ.get("REQUEST_METHOD")
        refused, route = self._domain(environ)
        if refused:
            if refused == 400:
                return self._answer(start_response, 400, [], self._page("redirects/bad_host.html"))
            if refused == 404:  # domains are registered, and this host is none of them: not a visit of ours
                return self._answer(start_response, 404, [], self._page("redirects/unknown_host.html"))
            return self._answer(start_response, 503, [("Retry-After", self.retry_after)],
                                b"" if method == "HEAD" else self._page("redirects/unavailable.html",
                                                                        code=normalise_code(path[3:])[:200]))
        if method not in ("GET", "HEAD"):
            return self._answer(start_response, 405, [("Allow", "GET, HEAD")], b"")
        via = "qr" if path[1] == "q" else "link"
        code = normalise_code(path[3:])[:200]
        try:
            link = self.cache.get(code if route is None else link_key(route.id, code))
        except LinkUnavailable:
            # The database is down or stalled and this worker has never seen the code: ask to retry
            # (not a click: nothing is recorded). Cached links keep redirecting (docs/operations/durability.md).
            return self._answer(start_response, 503, [("Retry-After", self.retry_after)],
                                b"" if method == "HEAD" else self._page("redirects/unavailable.html", code=code))
        if link is None:
            not_found = self.not_found_location if route is None else route.not_found_location
            if method == "HEAD":
                return self._answer(start_response, 302, [("Location", not_found)], b"") if not_found \
                    else self._answer(start_response, 404, [], b"")
            return self._orphan(environ, start_response, code, via, route, not_found)
        if method == "HEAD":  # link checkers and previews that only look: not a click, nothing recorded
            location = self._head_location(environ, link)
            if location is None:
                return self._answer(start_response, 410, [], b"")
            return self._answer(start_response, 302, [("Location", location)], b"")
        return self._follow(environ, start_response, code, via, link)

    def _domain(self, environ: dict[str, Any]) -> tuple[int, DomainRoute | None]:
        """``(0, route)`` of the domain the request's host names (route None: the default domain), or
        ``(status, None)`` when no domain answers it: 400 untrusted host, 404 unknown host, 503 no domain map."""
        raw: str = environ.get("HTTP_HOST") or environ.get("SERVER_NAME") or ""
        if self.trusted_hosts and not host_is_trusted(raw):  # malformed (characters, port): refused as before
            return 400, None
        host = request_host(environ)
        try:
            hosts = self.cache.domains().hosts
        except LinkUnavailable:
            hosts = None
        if hosts:
            route = hosts.get(host)
            if route is not None:
                return 0, route
        if host == self.default_host or (self.trusted_hosts and host_is_trusted(raw, self.trusted_hosts)):
            return 0, None
        if hosts is None:
            return 503, None  # it may be a domain's host: this worker cannot tell while the database is down
        if self.trusted_hosts:
            return 400, None
        return (404, None) if hosts else (0, None)

    def _visit(self, environ: dict[str, Any], via: str) -> tuple[dict[str, Any], datetime, str | None]:
        """The spool record every visit starts with (a new ``tid``), the time, and the client address."""
        if self.background:
            self.spool.start()
        now = utcnow()
        ip = environ.get("REMOTE_ADDR")
        record: dict[str, Any] = {
            "tid": new_tid(), "ts": now.isoformat(), "via": via, "ref": referrer_host(environ.get("HTTP_REFERER")),
            "ua": environ.get("HTTP_USER_AGENT", "")[:1000] or None,
            "ip": self.ip_hash(ip, now),
        }
        place = self.locate(ip)  # before the address is dropped: only its country and city are kept
        if place.country:
            record["country"] = place.country
            if place.city:
                record["city"] = place.city
        return record, now, ip

    def _orphan(self, environ: dict[str, Any], start_response: StartResponse, code: str, via: str,
                route: DomainRoute | None, not_found: str | None) -> Iterable[bytes]:
        """An unknown code: recorded as an orphan visit of its domain; 302 to ``not_found``, else a 404 page."""
        record, _, _ = self._visit(environ, via)
        record.update(t="orphan", code=code)
        if route is not None:
            record["dom"] = route.id
        self.spool.append(record)  # a misprinted code shows up as an orphan visit
        if not_found:
            return self._answer(start_response, 302, [("Location", not_found)], b"")
        return self._answer(start_response, 404, [], self._page("redirects/not_found.html", code=code))

    def _follow(self, environ: dict[str, Any], start_response: StartResponse, code: str, via: str,
                link: LinkSnapshot) -> Iterable[bytes]:
        record, now, ip = self._visit(environ, via)
        tid = record["tid"]
        headers: list[tuple[str, str]] = [("Referrer-Policy", "no-referrer-when-downgrade")]
        # DNT / GPC: counted, but no cookie, no tid, no visitor (docs/guides/site-owner.md#privacy).
        private = opted_out(environ)
        if private or self.cookieless:
            visitor = None if private else self.ip_hash.visitor(ip, record["ua"], now)
        else:
            visitor = self._visitor(environ)
            if visitor is None:
                visitor = random_id(16)  # exported too: never "-..."
                headers.append(("Set-Cookie", self.cookie_prefix + visitor + self.cookie_suffix))
        live = link.live(now)
        record.update(link=link.id, vid=visitor, us=link.utm_source, um=link.utm_medium, uc=link.utm_campaign,
                      ut=link.utm_term, uo=link.utm_content,
                      outcome="redirect" if live else ("fallback" if link.fallback_location else "gone"))
        target: LinkSnapshot | CompiledRule = link
        if live and link.rules:  # redirect rules (tracker/redirects/rules.py): the first that holds wins
            rule = select_rule(link.rules, environ, record.get("country"))
            record["rl"] = rule  # -1: the link's own destination; only links with rules carry "rl"
            if rule >= 0:
                target = link.rules[rule]
        self.spool.append(record)  # durable before we answer

        if live:
            headers.append(("Location", target.tracked_location if private else
                            target.location_before_tid + tid + target.location_after_tid))
        elif link.fallback_location:
            headers.append(("Location", link.fallback_location))
        else:
            return self._answer(start_response, 410, headers, self._page("redirects/gone.html", code=code))
        return self._answer(start_response, 302, headers, b"")

    def _head_location(self, environ: dict[str, Any], link: LinkSnapshot) -> str | None:
        """Where a HEAD request goes: where a click would (the same rule), without ``tid``; None: 410."""
        if not link.live(utcnow()):
            return link.fallback_location
        if link.rules:
            rule = select_rule(link.rules, environ, self.locate(environ.get("REMOTE_ADDR")).country)
            if rule >= 0:
                return link.rules[rule].tracked_location
        return link.tracked_location

    def _visitor(self, environ: dict[str, Any]) -> str | None:
        """The visitor id from our cookie, if the request carries a plausible one."""
        header = environ.get("HTTP_COOKIE")
        if not header or self.cookie_name not in header:
            return None
        value = parse_cookie(header).get(self.cookie_name)
        return value if value and len(value) <= 40 else None

    def _page(self, template: str, **context: Any) -> bytes:
        return self._templates.get_template(template).render(**context).encode()

    def _answer(self, start_response: StartResponse, status: int, headers: list[tuple[str, str]],
                body: bytes) -> list[bytes]:
        own_referrer = headers and headers[0][0] == "Referrer-Policy"
        out = [*(self.base_headers_own_referrer if own_referrer else self.base_headers), *headers,
               ("Content-Length", str(len(body)))]
        if body:
            out.append(("Content-Type", "text/html; charset=utf-8"))
        start_response(STATUS[status], out)
        return [body]
