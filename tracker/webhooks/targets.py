"""Where a webhook may be sent: the server-side request forgery (SSRF) rules.

A target must be ``https`` and every address its host resolves to must be public: no loopback,
private (RFC 1918, unique local), shared (100.64/10), link-local (169.254/16, which holds the cloud
metadata address 169.254.169.254), multicast, reserved or unspecified address, and the same for an
IPv4 address inside IPv6 (``::ffff:127.0.0.1``). The rules are checked when a target is saved (the host
is resolved then) and again at every send on the address actually connected to, so a name that later
resolves to an internal address (DNS rebinding) is refused too; redirects are never followed.

The setting ``webhook_allow_private_addresses`` lifts the address rules and allows ``http``: for a
receiver on the same machine or network, and for the tests.
"""
from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from tracker.errors import ValidationError

__all__ = ["MAX_URL", "Target", "TargetRefused", "check_address", "check_target", "parse_target", "resolve"]

MAX_URL = 2000
# Addresses that are "global" by the registry but are cloud metadata endpoints or otherwise internal.
METADATA = frozenset({ipaddress.ip_address("fd00:ec2::254"), ipaddress.ip_address("100.100.100.200")})

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class TargetRefused(ValueError):
    """A target's address is not allowed (raised at send time; the message says why)."""


@dataclass(frozen=True)
class Target:
    """A parsed webhook URL: what to connect to and what to send as ``Host`` and the request target."""

    scheme: str
    host: str  # without brackets, lower case
    port: int
    path: str  # path and query, at least "/"

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"


def parse_target(url: object, allow_private: bool, field: str = "url") -> Target:
    """Check a URL's form (scheme, host, port, no credentials); raise ValidationError naming ``field``."""
    if not isinstance(url, str) or not url.strip():
        raise ValidationError("url is required: the https address that receives the events", field)
    url = url.strip()
    if len(url) > MAX_URL:
        raise ValidationError(f"url must be at most {MAX_URL} characters", field)
    if any(ord(ch) < 33 or ord(ch) == 127 for ch in url):
        raise ValidationError("url must not contain spaces or control characters", field)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ValidationError(f"url is not a valid URL: {exc}", field) from None
    schemes = ("https", "http") if allow_private else ("https",)
    if parts.scheme.lower() not in schemes:
        raise ValidationError("url must start with https:// (http and internal addresses need the setting "
                              "webhook_allow_private_addresses)" if not allow_private
                              else "url must start with https:// or http://", field)
    if not parts.hostname:
        raise ValidationError("url has no host name", field)
    if parts.username is not None or parts.password is not None:
        raise ValidationError("url must not contain a user name or password (they would be shown in listings; "
                              "check the webhook-signature header instead)", field)
    scheme = parts.scheme.lower()
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(scheme, parts.hostname.lower(), port or (443 if scheme == "https" else 80), path)


def check_address(address: Address, allow_private: bool) -> None:
    """Raise TargetRefused when ``address`` is internal (unless allowed)."""
    if allow_private:
        return
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    internal = (address.is_loopback or address.is_private or address.is_link_local or address.is_multicast
                or address.is_reserved or address.is_unspecified or not address.is_global or address in METADATA)
    if internal:
        raise TargetRefused(f"{address} is a loopback, private, link-local, multicast, reserved or metadata "
                            "address; webhooks go to public https addresses only")


def resolve(target: Target, allow_private: bool) -> list[Address]:
    """Resolve the target's host and check every address; raise TargetRefused (or when it does not resolve).

    Every address must pass, not only the first: a name that resolves to a public and an internal
    address could otherwise be steered to the internal one.
    """
    try:
        literal = ipaddress.ip_address(target.host)
    except ValueError:
        literal = None
    if literal is not None:
        found: list[Address] = [literal]
    else:
        try:
            infos = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            raise TargetRefused(f"the host {target.host} does not resolve ({exc})") from None
        found = []
        for info in infos:
            address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
            if address not in found:
                found.append(address)
        if not found:
            raise TargetRefused(f"the host {target.host} has no address")
    for address in found:
        check_address(address, allow_private)
    return found


def check_target(url: object, allow_private: bool, field: str = "url") -> Target:
    """Check a target as it is saved: its form, then its host's addresses; raise ValidationError naming ``field``."""
    target = parse_target(url, allow_private, field)
    try:
        resolve(target, allow_private)
    except TargetRefused as exc:
        raise ValidationError(f"url refused: {exc}", field) from None
    return target
