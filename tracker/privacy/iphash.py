"""The keyed IP hash (rotated daily by default) and the cookieless visitor id.

This is the only place an IP address is turned into something stored: redirects, ``/collect`` and the
rate limiter of ``/collect`` and ``/ask`` all call :class:`IpHasher`. The raw address is never stored
or spooled.

With ``ip_hash_rotation = "daily"`` (the default) the key of a day is
``HMAC-SHA256(SHA-256(ip_hash_secret), "ip-hash-day:" + UTC date)``: hashes made on different UTC days
differ for the same address, so yesterday's rows cannot be joined to today's by IP. The day is the UTC
day (not the report time zone) so every worker, wherever it runs, switches key at the same instant and
the key does not depend on a setting that analysts change. What it costs: counting distinct IP
addresses (or spotting one address across rows) works only within one UTC day, and the rate limits
keyed on the hash start afresh at 00:00 UTC. ``"never"`` keeps one key (``SHA-256(ip_hash_secret)``,
the hash stored before rotation existed) for installations that need per-IP counts across days.
"""
from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, date, datetime

from tracker.config import ConfigError, Settings
from tracker.db import utcnow

__all__ = ["ROTATIONS", "IpHasher"]

ROTATIONS = ("daily", "never")
HASH_LENGTH = 32  # hex characters kept (128 bits)
VISITOR_PREFIX = "c."  # cookieless visitor ids: "c." + 32 hex characters, never a cookie value


class IpHasher:
    """Hash client IP addresses with the key of the (UTC) day; thread-safe, cheap per call.

    Parameters
    ----------
    secret:
        ``ip_hash_secret``.
    rotation:
        ``"daily"`` or ``"never"`` (see the module docstring).

    Examples
    --------
    >>> h = IpHasher("s", "daily")
    >>> monday, tuesday = datetime(2026, 11, 30, 12, tzinfo=UTC), datetime(2026, 12, 1, 0, 1, tzinfo=UTC)
    >>> h("203.0.113.9", monday) == h("203.0.113.9", monday) != h("203.0.113.9", tuesday)
    True
    """

    def __init__(self, secret: str, rotation: str = "daily") -> None:
        if rotation not in ROTATIONS:
            raise ConfigError(f"ip_hash_rotation must be one of {', '.join(ROTATIONS)}, got {rotation!r}")
        self.rotation = rotation
        self._root = hashlib.sha256(secret.encode()).digest()
        self._day: tuple[date, bytes] | None = None  # the last day's key (one tuple: atomic to replace)

    @classmethod
    def from_settings(cls, settings: Settings) -> IpHasher:
        return cls(settings.ip_hash_secret, settings.ip_hash_rotation)

    def day_key(self, day: date) -> bytes:
        """The key of a UTC day (derived from the secret; kept for the current day only)."""
        cached = self._day
        if cached is not None and cached[0] == day:
            return cached[1]
        key = hmac.new(self._root, b"ip-hash-day:" + day.isoformat().encode(), hashlib.sha256).digest()
        self._day = (day, key)
        return key

    def __call__(self, ip: str | None, now: datetime | None = None) -> str | None:
        """The hash of ``ip`` at ``now`` (default: the current time); None without an address."""
        if not ip:
            return None
        key = self._root if self.rotation == "never" else self.day_key(_utc_day(now))
        return hmac.new(key, ip.encode(), hashlib.sha256).hexdigest()[:HASH_LENGTH]

    def visitor(self, ip: str | None, user_agent: str | None, now: datetime | None = None) -> str | None:
        """The visitor id of a click in cookieless mode: IP address and user agent under the day's key.

        Always the day's key, whatever ``rotation`` says: a stable hash of address and agent would be a
        fingerprint that follows a person for ever. So one browser on one network is one visitor
        within a UTC day, and a new one the next day.
        """
        if not ip:
            return None
        message = ip.encode() + b"\n" + (user_agent or "").encode()
        digest = hmac.new(self.day_key(_utc_day(now)), message, hashlib.sha256).hexdigest()[:HASH_LENGTH]
        return VISITOR_PREFIX + digest


def _utc_day(now: datetime | None) -> date:
    now = now or utcnow()
    return (now if now.tzinfo is UTC else now.astimezone(UTC)).date()
