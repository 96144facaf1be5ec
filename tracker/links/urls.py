"""URL and UTM rules shared by links, campaigns and the redirect."""
from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from tracker.errors import ValidationError

MAX_URL_LENGTH = 2048
UTM_KEYS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
_SPACES = re.compile(r"\s+")
_CONTROL = re.compile(r"[\x00-\x20\x7f]")


def normalise_tag(value: str | None) -> str:
    """Trim, lower-case and turn runs of whitespace into ``-`` (``" Spring Sale "`` -> ``spring-sale``)."""
    if value is None:
        return ""
    return _SPACES.sub("-", str(value).strip().lower())


def validate_url(value: object, field: str, allowed_domains: tuple[str, ...] = ()) -> str:
    """Return ``value`` as an absolute http(s) URL with an IDNA host, or raise ``ValidationError``."""
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(f"{field} is required: an absolute http(s) URL", field)
    url = value.strip()
    if len(url) > MAX_URL_LENGTH:
        raise ValidationError(f"{field} is longer than {MAX_URL_LENGTH} characters", field)
    if _CONTROL.search(url) or "\\" in url:
        raise ValidationError(f"{field} contains spaces, control characters or backslashes", field)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ValidationError(f"{field} is not a valid URL", field) from None
    if parts.scheme.lower() not in ("http", "https"):
        raise ValidationError(f"{field} must start with http:// or https://", field)
    if parts.username is not None or parts.password is not None:
        raise ValidationError(f"{field} must not carry a user name or password", field)
    host = parts.hostname
    if not host:
        raise ValidationError(f"{field} has no host name", field)
    try:
        ascii_host = host.encode("idna").decode("ascii")
    except UnicodeError:
        raise ValidationError(f"{field} has an invalid international host name", field) from None
    if allowed_domains and not any(
            ascii_host == d or ascii_host.endswith("." + d) for d in allowed_domains):
        raise ValidationError(f"{field} host {ascii_host} is not in the allowed destination domains", field)
    netloc = ascii_host if port is None else f"{ascii_host}:{port}"
    if ":" in ascii_host:  # IPv6 literal
        netloc = f"[{ascii_host}]" if port is None else f"[{ascii_host}]:{port}"
    return urlunsplit((parts.scheme.lower(), netloc, parts.path or "/", parts.query, parts.fragment))


def merge_query(url: str, params: dict[str, str]) -> str:
    """Return ``url`` with ``params`` set in its query string, keeping its other parameters in order."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in params]
    query.extend((k, v) for k, v in params.items() if v is not None and v != "")
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))
