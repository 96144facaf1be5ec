"""Short-link domains: validation, the default domain, and every link's short URLs.

The *default domain* is the host of ``public_base_url``; it has no row, its links have ``domain_id`` NULL,
its scheme and port are those of ``public_base_url`` and its "not found" URL is the ``not_found_url``
setting. Every other domain is a :class:`~tracker.domains.models.Domain` row: a host (stored as
:func:`normalise_host` leaves it: lower-case ASCII, international names in punycode), the scheme of its
short URLs (``https`` unless said otherwise) and an optional URL that unknown codes on it go to.

Choices the issue left open, written down here and in docs/guides/site-owner.md:

- A host is a host name only: no scheme, port, path, user or spaces (``https://go.brand.no/`` is refused,
  not trimmed, so nobody is surprised by what was stored). Short URLs on a domain never carry a port.
- A domain is deleted only while no link uses it (409 naming how many do): the printed codes carry it.
- A link's domain is fixed when it is created (:func:`tracker.links.service.update_link` refuses another).

Every short URL, QR code, print sheet and ``link.created`` payload goes through :func:`short_base`.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tracker.config import Settings
from tracker.domains.models import Domain
from tracker.errors import Conflict, NotFound, ValidationError
from tracker.links.models import Link
from tracker.links.urls import normalise_host, validate_url

__all__ = ["FIELDS", "SCHEMES", "create_domain", "default_host", "delete_domain", "domain_out", "get_domain",
           "host_of_domain", "link_counts", "list_domains", "parse_host", "parse_host_or_none", "qr_url",
           "resolve_domain", "short_base", "short_url", "update_domain"]

SCHEMES = ("https", "http")
FIELDS = ("host", "scheme", "not_found_url")
_NOT_A_HOST = frozenset("/:@?#\\ \t\r\n")
# A DNS host name's labels (RFC 1123): letters, digits and inner hyphens. Destinations may have more (browsers
# accept "_"), but a short-link domain is a name people register and point at this service.
_HOST_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")


def default_host(settings: Settings) -> str:
    """The default domain's host: ``public_base_url``'s, lower-case, without port (punycode for IDNs).

    >>> from tracker.config import Settings
    >>> default_host(Settings(public_base_url="https://Go.Example.com:8443"))
    'go.example.com'
    """
    host = (urlsplit(settings.public_base_url).hostname or "").rstrip(".")
    try:
        return normalise_host(host, "public_base_url")
    except ValidationError:  # a base URL the service runs with anyway: compare its host as written
        return host.lower()


def parse_host(value: object, field: str = "host") -> str:
    """Return ``value`` as a stored host, or raise ValidationError naming ``field``.

    >>> parse_host(" GO.Bøker.example. ")
    'go.xn--bker-gra.example'
    >>> parse_host("go.brand.no:8080")
    Traceback (most recent call last):
    ...
    tracker.errors.ValidationError: host must be a host name only, such as go.brand.no (no scheme, port or path)
    """
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(f"{field} is required: a host name such as go.brand.no", field)
    text = value.strip()
    if any(ch in _NOT_A_HOST for ch in text):
        raise ValidationError(f"{field} must be a host name only, such as go.brand.no (no scheme, port or path)",
                              field)
    host = normalise_host(text, field)
    if not all(_HOST_LABEL.match(label) for label in host.split(".")):
        raise ValidationError(f"{field} {host} is not a host name: labels of letters, digits and inner hyphens only",
                              field)
    return host


def parse_host_or_none(value: str) -> str | None:
    """:func:`parse_host`, or None for what is not a host (a path segment, a lookup that cannot match)."""
    try:
        return parse_host(value)
    except ValidationError:
        return None


def _scheme(value: object) -> str:
    scheme = str(value).strip().lower() if isinstance(value, str) else ""
    if scheme not in SCHEMES:
        raise ValidationError("scheme must be https or http", "scheme")
    return scheme


def _not_found_url(settings: Settings, value: object) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return validate_url(value, "not_found_url", settings.destination_domains)


def _check_fields(data: Mapping[str, Any], allowed: tuple[str, ...]) -> None:
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise ValidationError(f"unknown field {unknown[0]!r}: give {', '.join(allowed)}", unknown[0])


def create_domain(session: Session, settings: Settings, data: Mapping[str, Any]) -> Domain:
    """Add a short-link domain and commit.

    Raises
    ------
    ValidationError
        A bad host, scheme or not_found_url (the error names it).
    Conflict
        The host is already a domain, or is the default domain (the host of ``public_base_url``).
    """
    _check_fields(data, FIELDS)
    host = parse_host(data.get("host"))
    if host == default_host(settings):
        raise Conflict(f"{host} is already the default domain (the host of public_base_url)", "host")
    domain = Domain(host=host, scheme=_scheme(data.get("scheme") or "https"),
                    not_found_url=_not_found_url(settings, data.get("not_found_url")))
    if session.scalar(sa.select(Domain.id).where(Domain.host == host)) is not None:
        raise Conflict(f"{host} is already a short-link domain", "host")
    session.add(domain)
    try:
        session.commit()
    except IntegrityError:  # added by someone else since the check
        session.rollback()
        raise Conflict(f"{host} is already a short-link domain", "host") from None
    return domain


def list_domains(session: Session) -> list[Domain]:
    """The registered domains (not the default one), by host."""
    return list(session.scalars(sa.select(Domain).order_by(Domain.host)))


def get_domain(session: Session, host: str) -> Domain:
    """The domain of ``host`` (as typed: normalised first); NotFound naming ``host`` otherwise."""
    key = parse_host_or_none(host)
    domain = session.scalar(sa.select(Domain).where(Domain.host == key)) if key else None
    if domain is None:
        raise NotFound(f"{host} is not a short-link domain (GET /api/v1/domains lists them)", "host")
    return domain


def update_domain(session: Session, settings: Settings, host: str, data: Mapping[str, Any]) -> Domain:
    """Change a domain's ``not_found_url`` or ``scheme`` and commit; the host never changes."""
    domain = get_domain(session, host)
    if "host" in data and parse_host(data["host"]) != domain.host:
        raise ValidationError("a domain's host cannot change (printed codes carry it): add a new domain", "host")
    _check_fields(data, FIELDS)
    if "scheme" in data:
        domain.scheme = _scheme(data["scheme"])
    if "not_found_url" in data:
        domain.not_found_url = _not_found_url(settings, data["not_found_url"])
    session.commit()
    return domain


def delete_domain(session: Session, host: str) -> None:
    """Delete a domain no link uses, and commit; Conflict (naming how many links use it) otherwise."""
    domain = get_domain(session, host)
    used = session.scalar(sa.select(sa.func.count()).select_from(Link).where(Link.domain_id == domain.id)) or 0
    if used:
        raise Conflict(f"{used} link(s) use {domain.host}: a domain is deleted only when no link uses it "
                       "(their printed codes carry it)", "host", links=used)
    session.delete(domain)
    session.commit()


def resolve_domain(session: Session, settings: Settings, value: object, field: str = "domain") -> Domain | None:
    """The domain a ``domain`` field names: None for the default domain (empty, or its host), else the row.

    Raises ValidationError naming ``field`` for a host that is no short-link domain, listing the ones there are.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, Domain):
        return value
    host = parse_host(value, field)
    if host == default_host(settings):
        return None
    domain = session.scalar(sa.select(Domain).where(Domain.host == host))
    if domain is None:
        known = [default_host(settings), *session.scalars(sa.select(Domain.host).order_by(Domain.host))]
        raise ValidationError(f"{field} {host} is not a short-link domain; use one of: {', '.join(known)}", field)
    return domain


def host_of_domain(domain: Domain | None, settings: Settings) -> str:
    """The host of a link's domain (``None``: the default domain)."""
    return default_host(settings) if domain is None else domain.host


def short_base(link: Any, settings: Settings) -> str:
    """``scheme://host`` of ``link``'s domain, the base of its short URL and QR URL.

    The default domain (``link.domain`` None) uses ``public_base_url`` as it is (with its port, if any).
    """
    domain = link.domain
    if domain is None:
        return settings.public_base_url
    return f"{domain.scheme}://{domain.host}"


def short_url(link: Any, settings: Settings) -> str:
    """The link's short URL (a click): ``{scheme}://{host}/r/{code}``."""
    return f"{short_base(link, settings)}/r/{link.code}"


def qr_url(link: Any, settings: Settings) -> str:
    """The URL its QR codes encode (a scan): ``{scheme}://{host}/q/{code}``."""
    return f"{short_base(link, settings)}/q/{link.code}"


def domain_out(domain: Domain | None, settings: Settings, links: int | None = None) -> dict[str, Any]:
    """A domain as the API shows it; ``None`` is the default domain (from the settings)."""
    if domain is None:
        out: dict[str, Any] = {"host": default_host(settings), "default": True,
                               "scheme": urlsplit(settings.public_base_url).scheme or "https",
                               "not_found_url": settings.not_found_url or None, "created_at": None}
    else:
        out = {"host": domain.host, "default": False, "scheme": domain.scheme, "not_found_url": domain.not_found_url,
               "created_at": domain.created_at}
    if links is not None:
        out["links"] = links
    return out


def link_counts(session: Session) -> dict[int | None, int]:
    """Links per domain id (``None``: the default domain)."""
    rows = session.execute(sa.select(Link.domain_id, sa.func.count()).group_by(Link.domain_id))
    return {domain_id: count for domain_id, count in rows}
