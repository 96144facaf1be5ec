"""Do Not Track and Global Privacy Control: does a request ask not to be tracked?

A request with ``DNT: 1`` or ``Sec-GPC: 1`` is still answered and counted, but is tied to nobody:
redirects set no visitor cookie, add no ``tid`` and store the click without a visitor; ``/collect``
stores a landing visit under a one-off id without its ``tid`` and ignores ``identify`` and ``event``
records; the snippet stores nothing in the browser (docs/guides/site-owner.md#privacy).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["opted_out"]


def opted_out(environ: Mapping[str, Any]) -> bool:
    """Whether the WSGI ``environ`` carries ``DNT: 1`` or ``Sec-GPC: 1``."""
    return (environ.get("HTTP_DNT", "").strip() == "1"
            or environ.get("HTTP_SEC_GPC", "").strip() == "1")
