"""The public collect endpoint's service: validate what the landing-site snippet sends, store, stitch.

``POST /collect`` carries one of three records from ``tracker.js`` (docs/guides/site-owner.md#landing-site-snippet):

- ``visit``: a page view with its UTM values, referrer and, after a short-link redirect, the click id
  ``tid``. It becomes a :class:`~tracker.touchpoints.models.LandingVisit`. A visit whose ``tid`` is a
  well-formed click id (of a click already drained, or one still in some worker's spool) only links
  identities: the click is the touch (``is_touch=False``). A page view reached from another page of
  the same site without UTM values is the same visit going on, not a new contact (``is_touch=False``).
  Every other visit is a touch; its channel is derived when reporting (:func:`landing_channel`).
- ``identify``: ties the site visitor id to a customer key (hashed; the raw key is never stored).
- ``event``: a value-free funnel stage (a type of ``settings.funnel``, e.g. ``lead``), stored as a
  conversion of value 0 with the external id ``site:<site visitor id>`` (once per visitor and type).

Nothing sent here is trusted for money: no record has a value field. Every record stitches
``("site", site_visitor_id)`` with its other ids. Raw IP addresses are never stored (keyed hash,
:mod:`tracker.privacy.iphash`).

A request with ``DNT: 1`` or ``Sec-GPC: 1`` (``private``) is counted but tied to nobody: a visit is
stored under a one-off site visitor id without its ``tid``, and ``identify`` and ``event`` records are
not stored (docs/guides/site-owner.md#privacy).
"""
from __future__ import annotations

import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlalchemy.orm import Session

from attribution.channels import DIRECT, channel_of
from tracker.config import Settings, Taxonomy
from tracker.conversions.models import Conversion
from tracker.db import utcnow
from tracker.errors import DomainError, ValidationError
from tracker.geo.lookup import UNKNOWN, Place
from tracker.inputs import nul_field
from tracker.people.service import customer_hash, person_of_click, stitch
from tracker.privacy.iphash import IpHasher
from tracker.redirects.capture import parse_device
from tracker.touchpoints.models import LandingVisit

__all__ = ["MAX_BODY_BYTES", "RECORD_TYPES", "Collected", "RateLimited", "collect", "landing_channel",
           "parse_body", "referrer_channel"]

MAX_BODY_BYTES = 4096
MAX_URL = 2000
MAX_UTM = 100
RECORD_TYPES = ("visit", "identify", "event")
UTM_FIELDS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
FIELDS = {
    "visit": {"type", "site_visitor_id", "url", "referrer", "tid", *UTM_FIELDS},
    "identify": {"type", "site_visitor_id", "customer_key", "tid"},
    "event": {"type", "site_visitor_id", "event", "tid"},
}
SITE_VISITOR_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")
TID = re.compile(r"[A-Za-z0-9_-]{20}")  # tracker.redirects.handler.new_tid: token_urlsafe(15)

# Referrer hosts every installation knows; ``[referrers]`` in config/channels.toml adds to them and
# wins. A key ending in "." matches that label anywhere ("google." matches www.google.co.uk); any
# other key matches the host itself and its subdomains ("t.co" matches t.co, not microsoft.com).
DEFAULT_REFERRERS: tuple[tuple[str, str], ...] = tuple(
    [(h, "Organic search") for h in (
        "google.", "bing.com", "duckduckgo.com", "yahoo.", "yandex.", "baidu.com", "ecosia.org",
        "startpage.com", "search.brave.com", "qwant.com", "kvasir.no", "sol.no", "perplexity.ai")]
    + [(h, "Organic social") for h in (
        "facebook.com", "fb.com", "fb.me", "instagram.com", "linkedin.com", "lnkd.in", "t.co", "x.com",
        "twitter.com", "reddit.com", "youtube.com", "youtu.be", "tiktok.com", "pinterest.", "snapchat.com",
        "threads.net", "bsky.app", "mastodon.social", "messenger.com", "vk.com")])
REFERRAL = "Referral"


class RateLimited(DomainError):
    status = 429
    code = "rate_limited"


@dataclass(frozen=True)
class Collected:
    """What one record became: its type, the person and (for visits) whether it is a touch.

    ``person_id`` is None for an ``identify`` or ``event`` record that was not stored (DNT / GPC).
    """

    type: str
    person_id: str | None
    is_touch: bool | None = None


def parse_body(raw: bytes) -> dict[str, Any]:
    """Decode a body (JSON sent as ``application/json`` or ``text/plain``) into one object.

    Raises
    ------
    ValidationError
        Not UTF-8 JSON, or not an object.
    """
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ValidationError("the body must be a JSON object in UTF-8, e.g. "
                              '{"type": "visit", "site_visitor_id": "...", "url": "https://..."}', None) from None
    if not isinstance(data, dict):
        raise ValidationError("the body must be a JSON object", None)
    field = nul_field(data)
    if field is not None:
        raise ValidationError(f"{field} contains a NUL character", field)
    return data


def _text(data: Mapping[str, Any], name: str, limit: int, required: bool = False) -> str | None:
    value = data.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise ValidationError(f"{name} is required", name)
        return None
    if not isinstance(value, str):
        raise ValidationError(f"{name} must be a string", name)
    value = value.strip()
    if len(value) > limit or not value.isprintable():
        raise ValidationError(f"{name} must be at most {limit} printable characters", name)
    return value


def _http_url(data: Mapping[str, Any], name: str, required: bool) -> tuple[str | None, str | None]:
    """Return (host, path) of an absolute http(s) URL field."""
    value = _text(data, name, MAX_URL, required)
    if value is None:
        return None, None
    try:
        parts = urlsplit(value)
        host = parts.hostname
    except ValueError:
        host = None
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not host:
        raise ValidationError(f"{name} must be an absolute http(s) URL", name)
    return host[:255], parts.path or "/"


def _validate(data: Mapping[str, Any], settings: Settings) -> tuple[str, str, str | None]:
    """Check type, unknown fields and the ids every record has; return (type, site visitor id, tid)."""
    kind = data.get("type")
    if kind not in RECORD_TYPES:
        raise ValidationError(f"type must be one of {', '.join(RECORD_TYPES)}", "type")
    unknown = sorted(set(data) - FIELDS[kind])
    if unknown:
        raise ValidationError(f"unknown field {unknown[0]!r} for a {kind} record (allowed: "
                              f"{', '.join(sorted(FIELDS[kind]))})", unknown[0])
    site = _text(data, "site_visitor_id", 64, required=True)
    if not SITE_VISITOR_ID.fullmatch(site or ""):
        raise ValidationError("site_visitor_id must be 16-64 characters of A-Z, a-z, 0-9, '-' and '_'",
                              "site_visitor_id")
    tid = _text(data, "tid", 32)
    if tid is not None and not TID.fullmatch(tid):
        raise ValidationError("tid must be the 20-character click id a tracked link added to the URL", "tid")
    return kind, site, tid  # type: ignore[return-value]


def collect(session: Session, settings: Settings, secret: bytes, data: Mapping[str, Any],
            user_agent: str | None, ip: str | None, private: bool = False, place: Place = UNKNOWN) -> Collected:
    """Validate one record from the snippet, store it and stitch its ids; commit.

    Parameters
    ----------
    data:
        The decoded body (see the module docstring for the fields of each type).
    user_agent, ip:
        From the request; the agent is parsed for the bot flag, the IP is only stored hashed.
    private:
        The request carried ``DNT: 1`` or ``Sec-GPC: 1`` (see the module docstring).
    place:
        The country and city of ``ip`` (:mod:`tracker.geo`), stored on a landing visit.

    Raises
    ------
    ValidationError
        Naming the field: unknown type or field, malformed id, URL or UTM value, an event type not in
        the configured funnel.
    """
    kind, site, tid = _validate(data, settings)
    now = utcnow()
    if private:
        if kind != "visit":
            return Collected(kind, None)
        site, tid = secrets.token_urlsafe(16), None  # counted, tied to nobody
    keys = [("site", site)]
    persons = [person_of_click(session, tid)] if tid else []
    result: Collected
    if kind == "visit":
        host, path = _http_url(data, "url", required=True)
        ref_host, _ = _http_url(data, "referrer", required=False)
        utms = {name: _text(data, name, MAX_UTM) for name in UTM_FIELDS}
        person = stitch(session, keys, persons, now=now)
        internal = ref_host is not None and _same_site(ref_host, host) and not (
            utms["utm_source"] or utms["utm_medium"])
        is_touch = tid is None and not internal
        agent = (user_agent or "")[:1000] or None
        session.add(LandingVisit(
            ts=now, person_id=person, site_visitor_id=site, tid=tid, is_touch=is_touch,
            page=f"{host}{path}"[:500], referrer_host=ref_host, **utms, user_agent=agent,
            is_bot=parse_device(agent).is_bot, ip_hash=IpHasher.from_settings(settings)(ip, now),
            country=place.country, city=place.city))
        result = Collected(kind, person, is_touch)
    elif kind == "identify":
        raw = data.get("customer_key")
        if not isinstance(raw, str) or not raw.strip():
            raise ValidationError("customer_key is required (an e-mail address or a customer id)", "customer_key")
        person = stitch(session, [*keys, ("customer", customer_hash(raw, secret))], persons, now=now)
        result = Collected(kind, person)
    else:
        event = data.get("event")
        if not isinstance(event, str) or event not in settings.funnel:
            raise ValidationError(f"event must be one of the funnel's stages: {', '.join(settings.funnel)}",
                                  "event")
        person = stitch(session, keys, persons, now=now)
        _record_event(session, settings, site, tid, event, person, now)
        result = Collected(kind, person)
    session.commit()
    return result


def _record_event(session: Session, settings: Settings, site: str, tid: str | None, event: str,
                  person: str, now: Any) -> None:
    """Add the value-free conversion ``site:<visitor>`` of this type, once (repeats add nothing)."""
    external_id = f"site:{site}"
    exists = session.scalar(sa.select(Conversion.id).where(Conversion.external_id == external_id,
                                                           Conversion.type == event))
    if exists is not None:
        return
    with session.begin_nested():  # a concurrent duplicate must not undo the stitching above
        session.add(Conversion(external_id=external_id, type=event, ts=now, value=Decimal(0),
                               original_value=Decimal(0), original_currency=settings.reporting_currency,
                               person_id=person, tid=tid, site_visitor_id=site, customer_hash=None,
                               created_at=now))


def _bare(host: str) -> str:
    host = host.lower().rstrip(".")
    return host[4:] if host.startswith("www.") else host


def _same_site(a: str, b: str | None) -> bool:
    """Whether two hosts are one site (equal once ``www.`` is dropped, or one a subdomain of the other)."""
    if not b:
        return False
    a, b = _bare(a), _bare(b)
    return a == b or a.endswith("." + b) or b.endswith("." + a)


def _host_matches(host: str, key: str) -> bool:
    if key.endswith("."):
        return host.startswith(key) or f".{key}" in host
    return host == key or host.endswith("." + key)


def referrer_channel(host: str | None, referrers: tuple[tuple[str, str], ...] = (),
                     site_host: str | None = None) -> str | None:
    """The channel a referrer host stands for, or None (no referrer, or the site itself).

    ``referrers`` are (host key, channel) pairs from the taxonomy; they are tried before the
    built-in search engines and social sites. Any other site is ``Referral``.

    Examples
    --------
    >>> referrer_channel("www.google.no")
    'Organic search'
    >>> referrer_channel("l.facebook.com")
    'Organic social'
    >>> referrer_channel("blog.partner.example", site_host="www.example.com")
    'Referral'
    >>> referrer_channel("shop.example.com", site_host="www.example.com") is None
    True
    """
    if not host:
        return None
    host = host.lower().rstrip(".")
    if site_host and _same_site(host, site_host):
        return None
    for key, channel in (*referrers, *DEFAULT_REFERRERS):
        if _host_matches(host, key.lower()):
            return channel
    return REFERRAL


def landing_channel(visit: LandingVisit | Mapping[str, Any], taxonomy: Taxonomy) -> str:
    """The channel of a landing visit: from its UTM values, else its referrer host, else Direct.

    With ``utm_source`` or ``utm_medium`` the taxonomy's rules decide (as for links and clicks).
    Without, the referrer host: search engines are Organic search, social sites Organic social, other
    sites Referral; a referrer on the landing site itself is ignored. With neither: Direct.

    ``visit`` is a :class:`LandingVisit` or a mapping with its column names (``utm_source``,
    ``utm_medium``, ``referrer_host``, ``page``).
    """
    def get(name: str) -> Any:
        return visit.get(name) if isinstance(visit, Mapping) else getattr(visit, name)

    source, medium = get("utm_source"), get("utm_medium")
    if (source or "").strip() or (medium or "").strip():
        return channel_of(source, medium, taxonomy.as_dict())
    page = get("page") or ""
    site_host = page.split("/", 1)[0] or None
    return referrer_channel(get("referrer_host"), taxonomy.referrers, site_host) or DIRECT
