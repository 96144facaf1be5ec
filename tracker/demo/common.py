"""What the demo's generators share: the site, the traffic's rhythm, user agents and the seeded draws."""
from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

SITE = "https://nordlys.example"  # RFC 2606 reserved name: the demo never points at a real site
CURRENCY = "NOK"
BATCH = 2000
UTM_NAMES = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")

# ---- traffic shape --------------------------------------------------------------------------------
# Relative activity by local hour: quiet nights, a morning peak at work, an evening peak on phones.
HUMAN_HOURS = np.array([0.6, 0.35, 0.2, 0.15, 0.15, 0.3, 0.9, 2.0, 3.6, 4.6, 4.8, 4.6,
                        4.4, 4.6, 4.5, 4.2, 3.8, 3.4, 3.2, 3.6, 4.0, 3.7, 2.6, 1.4])
# A trade fair is open 9-18 with a lunch-time crowd and an evening reception.
EXPO_HOURS = np.array([0.02, 0.0, 0.0, 0.0, 0.0, 0.0, 0.05, 0.2, 1.0, 3.5, 4.5, 5.0,
                       5.5, 5.0, 4.5, 4.2, 3.8, 2.5, 1.2, 0.8, 0.5, 0.3, 0.1, 0.05])
WEEKDAYS = np.array([1.0, 1.05, 1.05, 1.0, 0.85, 0.5, 0.45])  # Monday first; a B2B audience

MOBILE_AGENTS = (  # (user agent, weight); Norway: many iPhones
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/18.1 Mobile/15E148 Safari/604.1", 0.33),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/17.6 Mobile/15E148 Safari/604.1", 0.17),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1", 0.05),
    ("Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 "
     "Mobile Safari/537.36", 0.3),
    ("Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/26.0 "
     "Chrome/122.0.0.0 Mobile Safari/537.36", 0.1),
    ("Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 "
     "Mobile/15E148 Safari/604.1", 0.05),
)
DESKTOP_AGENTS = (
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 "
     "Safari/537.36", 0.36),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 "
     "Safari/537.36 Edg/131.0.0.0", 0.16),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:132.0) Gecko/20100101 Firefox/132.0", 0.06),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/18.1 Safari/605.1.15", 0.2),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/131.0.0.0 Safari/537.36", 0.18),
    ("Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0", 0.04),
)
BOT_AGENTS = {
    "google": "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "bing": "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "slack": "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
    "linkedin": "LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)",
    "facebook": "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
    "twitter": "Twitterbot/1.0",
    "whatsapp": "WhatsApp/2.23.20.0",
    # Mail security gateways open every link of a message in a headless browser.
    "mailscanner": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
                   "HeadlessChrome/120.0.0.0 Safari/537.36",
}
BOT_NAMES = tuple(BOT_AGENTS)
CHAT_BOTS = (("slack", 0.45), ("whatsapp", 0.25), ("facebook", 0.1), ("twitter", 0.1), ("google", 0.1))


def click_id(seed: int, what: str, index: int) -> str:
    """Return a click id (20 url-safe characters, like a real one) fixed by the seed and the index."""
    digest = hashlib.blake2b(f"tracker-demo/{seed}/{what}/{index}".encode(), digest_size=15).digest()
    return base64.urlsafe_b64encode(digest).decode()


def tokens(rng: np.random.Generator, count: int, nbytes: int, hexadecimal: bool) -> list[str]:
    """Return ``count`` random tokens (hex, like an IP hash, or url-safe base64, like a visitor id)."""
    raw = rng.bytes(count * nbytes)
    if hexadecimal:
        text = raw.hex()
        return [text[i:i + 2 * nbytes] for i in range(0, len(text), 2 * nbytes)]
    return [base64.urlsafe_b64encode(raw[i:i + nbytes]).decode().rstrip("=")
            for i in range(0, len(raw), nbytes)]


def pick(rng: np.random.Generator, options: Sequence[tuple[Any, float]], size: int) -> np.ndarray:
    weights = np.array([w for _, w in options], dtype=float)
    return rng.choice(len(options), size=size, p=weights / weights.sum())


def human_times(rng: np.random.Generator, n: int, start: datetime, end: datetime,
                tz: ZoneInfo) -> list[datetime]:
    """Draw ``n`` times between ``start`` and ``end`` with the working-day rhythm of the click traffic."""
    slots = int((end - start).total_seconds() // 3600)
    if n <= 0 or slots < 1:
        return []
    local = pd.date_range(start, periods=slots, freq="h").tz_convert(tz)
    weight = HUMAN_HOURS[np.asarray(local.hour)] * WEEKDAYS[np.asarray(local.day_of_week)]
    slot = rng.choice(slots, size=n, p=weight / weight.sum())
    seconds = slot * 3600.0 + rng.random(n) * 3600.0
    return [start + timedelta(seconds=float(s)) for s in seconds]
