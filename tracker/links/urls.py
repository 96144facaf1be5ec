"""URL and UTM rules shared by links, campaigns and the redirect.

A stored URL (a link's destination, a campaign's fallback) is where the service sends visitors, so
:func:`validate_url` accepts only what every browser reads the same way, and stores it in one
canonical ASCII form:

- an absolute ``http://`` or ``https://`` URL (scheme in any case, stored lower-case); nothing else:
  no ``javascript:``, ``data:``, ``vbscript:``, ``mailto:``, no protocol-relative ``//host``, no
  relative path;
- no user name or password (``https://user:pw@host``, even an empty ``@``): they hide the real host
  from the reader (``https://bank.example@evil.example``);
- no spaces, control characters or backslashes anywhere (browsers read ``\\`` as ``/`` and drop tabs
  and newlines, so the URL would not go where it looks like it goes); surrounding spaces are trimmed;
- a host name: international names are stored in their ASCII (punycode) form after UTS 46 mapping
  (``bøker.example`` -> ``xn--bker-gra.example``, ``EXAMPLE.com`` -> ``example.com``), as browsers
  do; an invalid one is refused. Labels are 1-63 characters of a-z, 0-9, ``-`` and ``_`` (as browsers
  accept them); 253 characters at most; one trailing dot is dropped. Single-label names
  (``localhost``, an intranet host) are allowed: the service never fetches a destination, it only
  sends browsers there;
- IP addresses only in their plain form: IPv4 as four decimal numbers 0-255 without leading zeros,
  IPv6 in brackets (stored compressed). Forms browsers read as an address but people do not
  (``http://2130706433/``, ``http://0x7f.1/``, ``http://0177.0.0.1/``, ``http://127.1/``, a last
  label of digits such as ``example.123``) and IPv6 zone ids (``[fe80::1%25eth0]``) are refused;
- a port, if any, of 1-65535;
- the path, query and fragment percent-encoded where they are not plain URI characters (``/søk`` ->
  ``/s%C3%B8k``; existing ``%xx`` escapes are kept), so the stored URL is pure ASCII and is sent
  unchanged in ``Location``; an empty path is ``/``;
- 2048 characters at most, before and after that encoding.

With ``destination_domains`` set, the host must be one of them or a subdomain of one
(``example.com`` allows ``www.example.com`` and ``shop.eu.example.com``; an entry written
``*.example.com`` or ``.example.com`` means the same). IP addresses match only when listed exactly.

Every refusal is a :class:`~tracker.errors.ValidationError` naming the field (HTTP 422).
"""
from __future__ import annotations

import ipaddress
import re
import unicodedata
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import idna

from tracker.errors import ValidationError

__all__ = ["MAX_TAG", "MAX_URL_LENGTH", "UTM_KEYS", "local_path", "merge_query", "normalise_host",
           "normalise_tag", "validate_tag", "validate_url"]

MAX_URL_LENGTH = 2048
MAX_HOST_LENGTH = 253
MAX_TAG = 100
UTM_KEYS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
_SPACES = re.compile(r"\s+")
_CONTROL = re.compile(r"[\x00-\x20\x7f-\x9f]")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")
_LABEL = re.compile(r"^[a-z0-9_-]{1,63}$")
_NUMERIC_LABEL = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$")
_IPV4 = re.compile(r"^(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])){3}$")
# Characters kept as they are in a path, query or fragment: RFC 3986 unreserved and reserved, and "%".
_URI_SAFE = "!#$%&'()*+,/:;=?@[]~-._"
# Tags: no control, format, surrogate, private-use or unassigned characters.
_BAD_TAG_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})


def normalise_tag(value: str | None) -> str:
    """Trim, lower-case, NFC-normalise and turn runs of whitespace into ``-``.

    ``" Spring Sale "`` -> ``"spring-sale"``. Idempotent: a normalised tag normalises to itself.
    """
    if value is None:
        return ""
    text = unicodedata.normalize("NFC", str(value)).strip().lower()
    return unicodedata.normalize("NFC", _SPACES.sub("-", text))


def validate_tag(value: object, field: str, max_len: int = MAX_TAG, required: bool = False) -> str | None:
    """Return the normalised tag (None when empty), or raise ``ValidationError`` naming ``field``.

    Tags (UTM values, sources) are at most ``max_len`` characters after normalisation and contain no
    control or invisible formatting characters.
    """
    tag = normalise_tag(None if value is None else str(value))
    if required and not tag:
        raise ValidationError(f"{field} is required", field)
    if len(tag) > max_len:
        raise ValidationError(f"{field} is longer than {max_len} characters", field)
    if any(unicodedata.category(ch) in _BAD_TAG_CATEGORIES for ch in tag):
        raise ValidationError(f"{field} contains control or invisible characters", field)
    return tag or None


def normalise_host(host: str, field: str) -> str:
    """Return ``host`` (without brackets) as stored: lower-case ASCII, or raise ``ValidationError``."""
    if host.startswith("["):
        if not host.endswith("]") or "%" in host:
            raise ValidationError(f"{field} has a malformed IPv6 address (zone ids are not allowed)", field)
        try:
            return f"[{ipaddress.IPv6Address(host[1:-1]).compressed}]"
        except ValueError:
            raise ValidationError(f"{field} has a malformed IPv6 address", field) from None
    host = host[:-1] if host.endswith(".") else host
    if not host:
        raise ValidationError(f"{field} has no host name", field)
    if not host.isascii() or any(label.lower().startswith("xn--") for label in host.split(".")):
        try:
            host = idna.encode(host, uts46=True, std3_rules=False, transitional=False).decode("ascii")
        except (idna.IDNAError, UnicodeError, ValueError):
            raise ValidationError(f"{field} has an invalid international host name: check its spelling",
                                  field) from None
    host = host.lower()
    labels = host.split(".")
    if len(host) > MAX_HOST_LENGTH or not all(_LABEL.match(label) for label in labels):
        raise ValidationError(f"{field} has a malformed host name (labels of a-z, 0-9 and '-', at most 63 "
                              f"characters each, {MAX_HOST_LENGTH} in all)", field)
    if _NUMERIC_LABEL.match(labels[-1]) and not _IPV4.match(host):
        raise ValidationError(f"{field} host {host} is neither a name nor a plain IPv4 address "
                              "(four numbers 0-255 without leading zeros)", field)
    return host


def _allowed(host: str, allowed_domains: tuple[str, ...]) -> bool:
    for entry in allowed_domains:
        domain = entry.strip().lower().removeprefix("*.").lstrip(".").rstrip(".")
        if not domain:
            continue
        if not domain.isascii():
            try:
                domain = idna.encode(domain, uts46=True).decode("ascii")
            except (idna.IDNAError, UnicodeError, ValueError):
                continue
        if host == domain or (not host.startswith("[") and host.endswith("." + domain)):
            return True
    return False


def validate_url(value: object, field: str, allowed_domains: tuple[str, ...] = ()) -> str:
    """Return ``value`` as a canonical absolute http(s) URL (see the module docstring).

    Parameters
    ----------
    value:
        What was sent.
    field:
        The field's name, given in every error.
    allowed_domains:
        ``destination_domains``: when not empty, the host must be one of them or a subdomain.

    Raises
    ------
    ValidationError
        The URL is not an absolute http(s) URL the service may send visitors to; names ``field``.
    """
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(f"{field} is required: an absolute http(s) URL", field)
    url = value.strip(" ")
    if len(url) > MAX_URL_LENGTH:
        raise ValidationError(f"{field} is longer than {MAX_URL_LENGTH} characters", field)
    if _CONTROL.search(url) or "\\" in url:
        raise ValidationError(f"{field} contains spaces, control characters or backslashes", field)
    scheme = _SCHEME.match(url)
    if scheme is None or scheme.group(1).lower() not in ("http", "https"):
        raise ValidationError(f"{field} must start with http:// or https://", field)
    if not url[scheme.end():].startswith("//"):
        raise ValidationError(f"{field} must start with http:// or https://", field)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ValidationError(f"{field} is not a valid URL (check the host and port)", field) from None
    if "@" in parts.netloc:
        raise ValidationError(f"{field} must not carry a user name or password", field)
    if port == 0:
        raise ValidationError(f"{field} has port 0: give a port of 1-65535 or none", field)
    netloc_host = parts.netloc.rsplit(":", 1)[0] if port is not None or parts.netloc.endswith(":") else parts.netloc
    host = normalise_host(netloc_host, field)
    if allowed_domains and not _allowed(host, allowed_domains):
        raise ValidationError(f"{field} host {host} is not in the allowed destination domains "
                              f"({', '.join(allowed_domains)})", field)
    netloc = host if port is None else f"{host}:{port}"
    path = quote(parts.path, safe=_URI_SAFE) or "/"
    canonical = urlunsplit((parts.scheme.lower(), netloc, path, quote(parts.query, safe=_URI_SAFE),
                            quote(parts.fragment, safe=_URI_SAFE)))
    if len(canonical) > MAX_URL_LENGTH:
        raise ValidationError(f"{field} is longer than {MAX_URL_LENGTH} characters once encoded", field)
    return canonical


def local_path(target: str | None) -> str | None:
    """Return ``target`` if it is a path on this site (for a ``next`` parameter), else None.

    Browsers drop tabs and newlines and read ``\\`` as ``/``, so ``/\\evil.example`` and
    ``/<tab>/evil.example`` would leave the site like ``//evil.example``: a path must start with one
    ``/`` and hold no whitespace, control characters or backslashes.

    >>> local_path("/links/ab12cd?x=1"), local_path("//evil.example"), local_path("/\\t/evil.example")
    ('/links/ab12cd?x=1', None, None)
    """
    if (not target or len(target) > MAX_URL_LENGTH or not target.startswith("/") or target[1:2] in ("/", "\\")
            or "\\" in target or _CONTROL.search(target)):
        return None
    return target


def merge_query(url: str, params: dict[str, str]) -> str:
    """Return ``url`` with ``params`` set in its query string, keeping its other parameters in order."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in params]
    query.extend((k, v) for k, v in params.items() if v is not None and v != "")
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))
