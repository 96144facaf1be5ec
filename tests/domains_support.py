"""What the short-link domain tests share besides fixtures: the hosts, and a request sent to a host."""
from __future__ import annotations

BRAND = "go.brand.no"
EVENT = "scan.expo.no"
LINK = {"destination": "https://example.com/landing", "utm_source": "newsletter", "utm_medium": "email",
        "utm_campaign": "spring"}


def on(host: str) -> dict[str, str]:
    """Request headers that send a request to ``host``."""
    return {"Host": host}
