"""The one rate limiter of the app (flask-limiter): sign-in, ``/ask`` and ``/collect``, per IP hash.

Callers are keyed on the IP hash of the client address (:class:`tracker.privacy.iphash.IpHasher`, the
same keyed hash clicks and visits store, rotated with ``ip_hash_rotation``, so counters start afresh at
00:00 UTC when the key changes) as ``ProxyFix`` resolved the address: behind ``trusted_proxy_count``
proxies that is the address the last trusted proxy saw, never an ``X-Forwarded-For`` a client made up.
Raw addresses never reach the counters.

Counters live where ``rate_limit_storage`` says (a flask-limiter storage URI). ``memory://``, the
default, keeps them inside each worker process: a limit of 10 per minute lets a client make up to
10 x (number of workers) attempts per minute in total, and a restart forgets them. A shared storage
(``redis://host:6379``) makes each limit hold across workers and machines. The moving-window
strategy is used, so a burst at the edge of a minute cannot double a limit.

Redirects (``/r/<code>``, ``/q/<code>``) are answered before Flask and never counted: a trade-fair
crowd behind one IP address must all get through.
"""
from __future__ import annotations

import time
from functools import lru_cache

from flask import Flask, current_app, request
from flask_limiter import Limiter
from limits import RateLimitItem, parse

from tracker.privacy.iphash import IpHasher

__all__ = ["client_key", "hit", "init_app"]

EXTENSION = "tracker.ratelimit"


def client_key() -> str:
    """The rate-limit key of the current request: the IP hash of the client address."""
    hasher: IpHasher = current_app.extensions[EXTENSION]["hasher"]
    return hasher(request.remote_addr) or "-"


def init_app(app: Flask) -> None:
    """Give ``app`` its limiter, with the storage of the ``rate_limit_storage`` setting."""
    settings = app.config["SETTINGS"]
    limiter = Limiter(key_func=client_key, app=app, storage_uri=settings.rate_limit_storage,
                      strategy="moving-window", headers_enabled=False, key_prefix="tracker")
    app.extensions[EXTENSION] = {"limiter": limiter, "hasher": IpHasher.from_settings(settings)}


@lru_cache(maxsize=64)
def _parse(limit: str) -> RateLimitItem:
    return parse(limit)


def hit(scope: str, limit: str) -> int | None:
    """Count one request of the current client in ``scope`` against ``limit`` (e.g. ``"10 per minute"``).

    Returns None when it is allowed, or the seconds until the client may try again (for
    ``Retry-After``) when the limit is used up; refused requests are not counted.
    """
    limiter: Limiter = current_app.extensions[EXTENSION]["limiter"]
    item = _parse(limit)
    key = client_key()
    if limiter.limiter.hit(item, scope, key):
        return None
    reset_at, _ = limiter.limiter.get_window_stats(item, scope, key)
    return max(1, int(reset_at - time.time() + 0.999))
