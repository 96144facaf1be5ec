"""A synthetic touchpoint store for the attribution benchmark, in the service's own tables.

:func:`generate` makes, from an explicit seed, the rows of ``campaigns``, ``links``, ``clicks``,
``landing_visits``, ``offline_touches`` and ``conversions`` as the service stores them (naive UTC
timestamps, ``person_id`` filled on every row, raw UTM values; channels are derived when reading).
:func:`write_sqlite` and :func:`write_postgres` bulk-insert them into a migrated database with the raw
driver (``executemany`` on sqlite3, ``COPY`` on psycopg), bypassing the ORM: the load is set-up, not
what the benchmark measures.

The shape (defaults: 1,000,000 touchpoints of 200,000 people, 50,000 conversions):

- 80 % of the touches are clicks and QR scans of 300 links of 40 campaigns (popularity falls off as
  1/rank^0.9), 4 % of them by bots (preview fetchers, curl); a tenth of the human clicks on online
  links is followed by a landing visit carrying the click's ``tid`` (stored ``is_touch=False``: no
  touchpoint, but rows the report query has to skip);
- 15 % are landing visits of the site snippet: a third with UTM values, a third from a referrer
  (search engines, social sites, other sites), the rest typed addresses (Direct), 1 % bots;
- 5 % are imported offline touches (events, print, podcast, PR, partner), a tenth with an explicit channel;
- 12 channels in all: Paid search, Organic search, Paid social, Organic social, Email, Referral,
  Events, Print, Podcast, PR, Partner and Direct.

People are active around a time of their own (touches mostly in the two weeks before it); 50,000
conversions (70 % leads of value 0, 30 % purchases with a log-normal value) of people drawn in
proportion to their activity, spread over the 90 days from 2026-08-01, most a few days after the
person's active time.
"""
from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["CONV_DAYS", "CONV_START", "Store", "Table", "generate", "write_postgres", "write_sqlite"]

T0 = np.datetime64("2026-07-01T00:00:00", "ns")  # first touch
CONV_START = np.datetime64("2026-08-01T00:00:00", "ns")
CONV_DAYS = 90
DAY = np.timedelta64(86_400_000_000_000, "ns")
SECOND = np.timedelta64(1_000_000_000, "ns")
CREATED = "2026-06-15 09:00:00.000000"
SITE = "nordlys.example"  # RFC 2606 reserved name

# channel -> (utm_medium choices, utm_source choices, link kind, share of the links)
LINK_CHANNELS: dict[str, tuple[tuple[str, ...], tuple[str, ...], str, float]] = {
    "Paid search": (("cpc", "ppc"), ("google", "bing"), "online", 0.14),
    "Paid social": (("paid-social",), ("facebook", "instagram", "linkedin"), "online", 0.14),
    "Organic social": (("social",), ("linkedin", "facebook", "x"), "online", 0.12),
    "Email": (("email", "newsletter"), ("newsletter", "crm"), "online", 0.14),
    "Referral": (("referral",), ("partnerblog", "industry-news"), "online", 0.06),
    "Events": (("event",), ("oslo-expo", "meetup"), "event", 0.12),
    "Print": (("print", "poster", "flyer"), ("magazine", "bus-stop"), "print", 0.12),
    "Podcast": (("podcast",), ("tech-talk", "growth-pod"), "podcast", 0.06),
    "PR": (("pr",), ("dagens-it", "press-release"), "pr", 0.05),
    "Partner": (("partner", "affiliate"), ("reseller-a", "reseller-b"), "partner", 0.05),
}
OFFLINE_KINDS = (("event", 0.4), ("print", 0.2), ("podcast", 0.15), ("pr", 0.15), ("partner", 0.1))
OFFLINE_CHANNEL = {"event": "Events", "print": "Print", "podcast": "Podcast", "pr": "PR", "partner": "Partner"}
# Landing visits with UTM values that came straight from an ad or a post, not through a short link.
VISIT_UTMS = (("google", "cpc"), ("facebook", "paid-social"), ("newsletter", "email"), ("linkedin", "social"),
              ("google", "organic"))
VISIT_REFERRERS = ("www.google.com", "www.google.no", "www.bing.com", "duckduckgo.com", "l.facebook.com",
                   "www.linkedin.com", "t.co", "blog.partner.example", "news.example.org")
PAGES = tuple(f"{SITE}/{p}" for p in ("", "pricing", "product", "blog/attribution", "blog/qr-codes", "contact",
                                       "demo", "customers"))
HUMAN_AGENTS = (  # (user agent, browser, os, device type)
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 "
     "Safari/537.36", "Chrome", "Windows", "pc"),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 "
     "Safari/605.1.15", "Safari", "Mac OS X", "pc"),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/17.4 Mobile/15E148 Safari/604.1", "Mobile Safari", "iOS", "mobile"),
    ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile "
     "Safari/537.36", "Chrome Mobile", "Android", "mobile"),
)
BOT_AGENTS = (("Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)", "Slackbot-LinkExpanding", "Other",
               "bot"),
              ("facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)", "FacebookBot", "Other",
               "bot"),
              ("curl/8.5.0", "curl", "Other", "bot"))


@dataclass
class Table:
    """Rows of one table, column-wise, in the table's storage form (naive UTC timestamps as text)."""

    name: str
    columns: dict[str, Sequence[Any]]

    def __len__(self) -> int:
        return len(next(iter(self.columns.values())))

    def rows(self) -> Iterable[tuple[Any, ...]]:
        return zip(*self.columns.values(), strict=True)

    def in_time_order(self, ns: np.ndarray, renumber: bool = True) -> Table:
        """The rows ordered by ``ns`` (as the service appends them), integer ids renumbered in that order."""
        order = np.argsort(ns, kind="stable")
        columns = {k: np.asarray(v, dtype=object)[order].tolist() for k, v in self.columns.items()}
        if renumber and "id" in columns:
            columns["id"] = list(range(1, len(order) + 1))
        return Table(self.name, columns)


@dataclass
class Store:
    """The generated tables (in insertion order: parents first) and what they hold."""

    tables: list[Table]
    counts: dict[str, int] = field(default_factory=dict)
    first_conversion: np.datetime64 = CONV_START
    last_conversion: np.datetime64 = CONV_START


def _tokens(rng: np.random.Generator, n: int, nbytes: int, length: int) -> list[str]:
    """``n`` URL-safe random ids of ``length`` characters (like ``secrets.token_urlsafe``), from ``rng``."""
    text = base64.urlsafe_b64encode(rng.bytes(n * nbytes)).decode()
    step = nbytes * 4 // 3  # nbytes is a multiple of 3: no padding, every id stands alone
    return [text[i:i + length] for i in range(0, n * step, step)]


def _hex(rng: np.random.Generator, n: int) -> list[str]:
    """``n`` 64-character hex strings (the shape of the keyed hashes the service stores)."""
    text = rng.bytes(n * 32).hex()
    return [text[i:i + 64] for i in range(0, n * 64, 64)]


def sql_times(ns: np.ndarray) -> list[str]:
    """Naive UTC timestamps as SQLAlchemy's SQLite dialect writes them (``YYYY-MM-DD HH:MM:SS.ffffff``).

    The same text is valid input for PostgreSQL's ``timestamp``; on SQLite, where timestamps are
    compared as text, the fixed width keeps the report's range filters right.
    """
    text = np.datetime_as_string(ns.astype("datetime64[us]"), unit="us")
    return np.strings.replace(text, "T", " ").tolist()


def _pick(rng: np.random.Generator, options: Sequence[Any], size: int, p: Sequence[float] | None = None) -> np.ndarray:
    index = rng.choice(len(options), size=size, p=None if p is None else np.asarray(p) / np.sum(p))
    return np.asarray(options, dtype=object)[index]


def _none_where(values: np.ndarray, missing: np.ndarray) -> list[Any]:
    out = values.astype(object)
    out[missing] = None
    return out.tolist()


def generate(seed: int = 20261123, *, people: int = 200_000, touches: int = 1_000_000,
             conversions: int = 50_000) -> Store:
    """Make the store's rows from ``seed`` (the same seed gives the same rows)."""
    if touches < people:
        raise ValueError("every person needs at least one touch: touches must be >= people")
    rng = np.random.default_rng(seed)
    conv_end = CONV_START + CONV_DAYS * DAY

    # ---- people ------------------------------------------------------------------------------------
    person_ids = np.array(["p" + t for t in _tokens(rng, people, 18, 21)], dtype=object)
    visitor_ids = np.array(_tokens(rng, people, 18, 22), dtype=object)
    site_ids = np.array(_tokens(rng, people, 18, 24), dtype=object)
    customer_hashes = np.array(_hex(rng, people), dtype=object)
    activity = rng.gamma(1.5, 1.0, people)
    per_person = 1 + rng.multinomial(touches - people, activity / activity.sum())
    centre = T0 + 14 * DAY + (rng.random(people) * float((conv_end - T0 - 14 * DAY) / SECOND)).astype(
        np.int64) * SECOND

    # ---- campaigns and links -------------------------------------------------------------------------
    n_campaigns, n_links = 40, 300
    names = list(LINK_CHANNELS)
    shares = np.array([LINK_CHANNELS[c][3] for c in names])
    campaign_channel = np.asarray(names, dtype=object)[np.arange(n_campaigns) % len(names)]
    slugs = [f"{c.lower().replace(' ', '-')}-{i + 1:02d}" for i, c in enumerate(campaign_channel)]
    start_day = CONV_START - 30 * DAY + (np.arange(n_campaigns) * 3) * DAY
    campaigns = Table("campaigns", {
        "id": list(range(1, n_campaigns + 1)),
        "name": [f"{c} campaign {i + 1}" for i, c in enumerate(campaign_channel)],
        "slug": slugs,
        "description": ["Attribution benchmark"] * n_campaigns,
        "start_date": np.datetime_as_string(start_day.astype("datetime64[D]")).tolist(),
        "end_date": np.datetime_as_string((start_day + 60 * DAY).astype("datetime64[D]")).tolist(),
        "fallback_url": [None] * n_campaigns,
        "created_at": [CREATED] * n_campaigns,
    })
    link_channel = _pick(rng, names, n_links, shares)
    # A link belongs to a campaign of its channel; one in ten has no campaign.
    link_campaign = np.array([1 + int(rng.choice(np.flatnonzero(campaign_channel == c))) for c in link_channel])
    no_campaign = rng.random(n_links) < 0.1
    link_medium = np.array([rng.choice(LINK_CHANNELS[c][0]) for c in link_channel], dtype=object)
    link_source = np.array([rng.choice(LINK_CHANNELS[c][1]) for c in link_channel], dtype=object)
    link_kind = np.array([LINK_CHANNELS[c][2] for c in link_channel], dtype=object)
    link_kind[(link_kind == "print") & (rng.random(n_links) < 0.3)] = "outdoor"
    codes = [f"b{i:04d}{t}" for i, t in enumerate(_tokens(rng, n_links, 3, 4))]
    utm_campaign = np.where(no_campaign, "evergreen", np.asarray(slugs, dtype=object)[link_campaign - 1])
    links = Table("links", {
        "id": list(range(1, n_links + 1)),
        "code": codes,
        "campaign_id": _none_where(link_campaign, no_campaign),
        "destination": [f"https://{SITE}/landing/{i}" for i in range(n_links)],
        "utm_source": link_source.tolist(),
        "utm_medium": link_medium.tolist(),
        "utm_campaign": utm_campaign.tolist(),
        "utm_term": [None] * n_links,
        "utm_content": _none_where(np.array([f"variant-{i % 3}" for i in range(n_links)], dtype=object),
                                   rng.random(n_links) < 0.6),
        "extra_params": ["{}"] * n_links,
        "kind": link_kind.tolist(),
        "label": [""] * n_links,
        "expires_at": [None] * n_links,
        "disabled": [False] * n_links,
        "fingerprint": _hex(rng, n_links),
        "created_at": [CREATED] * n_links,
        "updated_at": [CREATED] * n_links,
    })

    # ---- touches: who, when, which table --------------------------------------------------------------
    owner = np.repeat(np.arange(people), per_person)
    offset = rng.normal(-6.0, 10.0, touches)  # days around the person's active time, mostly before it
    ts = centre[owner] + (offset * 86_400).astype(np.int64) * SECOND + rng.integers(0, 1_000_000, touches) * 1000
    ts = np.clip(ts, T0, conv_end - SECOND)
    n_clicks, n_visits = round(touches * 0.80), round(touches * 0.15)
    n_offline = touches - n_clicks - n_visits
    table_of = rng.permutation(np.repeat([0, 1, 2], [n_clicks, n_visits, n_offline]))

    # clicks and scans
    c_owner, c_ts = owner[table_of == 0], ts[table_of == 0]
    popularity = 1.0 / np.arange(1, n_links + 1) ** 0.9
    c_link = rng.choice(n_links, size=n_clicks, p=popularity / popularity.sum())
    offline_link = link_kind[c_link] != "online"
    c_via = np.where(offline_link & (rng.random(n_clicks) < 0.93), "qr", "link")
    c_bot = rng.random(n_clicks) < 0.04
    agent = np.where(c_bot, len(HUMAN_AGENTS) + rng.integers(0, len(BOT_AGENTS), n_clicks),
                     rng.integers(0, len(HUMAN_AGENTS), n_clicks))
    agents = HUMAN_AGENTS + BOT_AGENTS
    ua, browser, os_name, device = (np.array([a[k] for a in agents], dtype=object)[agent] for k in range(4))
    referrer = _pick(rng, (None, None, None, None, "l.facebook.com", "t.co", "mail.google.com", "www.linkedin.com"),
                     n_clicks)
    referrer[c_via == "qr"] = None
    ip_pool = np.array(_hex(rng, 100_000), dtype=object)
    tids = np.array(_tokens(rng, n_clicks, 15, 20), dtype=object)
    clicks = Table("clicks", {
        "tid": tids.tolist(),
        "ts": sql_times(c_ts),
        "link_id": (c_link + 1).tolist(),
        "via": c_via.tolist(),
        "outcome": ["redirect"] * n_clicks,
        "visitor_id": _none_where(visitor_ids[c_owner], c_bot),  # preview bots carry no cookie
        "person_id": person_ids[c_owner].tolist(),
        "referrer_host": referrer.tolist(),
        "user_agent": ua.tolist(),
        "ip_hash": ip_pool[rng.integers(0, len(ip_pool), n_clicks)].tolist(),
        "browser": browser.tolist(),
        "os": os_name.tolist(),
        "device_type": device.tolist(),
        "is_bot": c_bot.tolist(),
        "utm_source": link_source[c_link].tolist(),
        "utm_medium": link_medium[c_link].tolist(),
        "utm_campaign": utm_campaign[c_link].tolist(),
        "utm_term": [None] * n_clicks,
        "utm_content": np.asarray(links.columns["utm_content"], dtype=object)[c_link].tolist(),
    }).in_time_order(c_ts)

    # landing visits: touches of their own, then the visits that carry a click's tid (no touch)
    v_owner, v_ts = owner[table_of == 1], ts[table_of == 1]
    kind = rng.choice(3, size=n_visits, p=[1 / 3, 1 / 3, 1 / 3])  # 0 UTM, 1 referrer, 2 typed address
    utm = np.array(VISIT_UTMS, dtype=object)[rng.integers(0, len(VISIT_UTMS), n_visits)]
    v_source = _none_where(utm[:, 0], kind != 0)
    v_medium = _none_where(utm[:, 1], kind != 0)
    v_campaign = _none_where(np.full(n_visits, "always-on", dtype=object), kind != 0)
    v_referrer = _none_where(_pick(rng, VISIT_REFERRERS, n_visits), kind != 1)
    v_bot = rng.random(n_visits) < 0.01
    follow = np.flatnonzero(~c_bot & ~offline_link & (rng.random(n_clicks) < 0.1))
    n_follow = len(follow)
    v_agent = rng.integers(0, len(HUMAN_AGENTS), n_visits + n_follow)
    all_ts = np.concatenate([v_ts, c_ts[follow] + 2 * SECOND])
    visits = Table("landing_visits", {
        "id": list(range(1, n_visits + n_follow + 1)),
        "ts": sql_times(all_ts),
        "person_id": np.concatenate([person_ids[v_owner], person_ids[c_owner[follow]]]).tolist(),
        "site_visitor_id": np.concatenate([site_ids[v_owner], site_ids[c_owner[follow]]]).tolist(),
        "tid": [None] * n_visits + tids[follow].tolist(),
        "is_touch": [True] * n_visits + [False] * n_follow,
        "page": _pick(rng, PAGES, n_visits + n_follow).tolist(),
        "referrer_host": v_referrer + [None] * n_follow,
        "utm_source": v_source + link_source[c_link[follow]].tolist(),
        "utm_medium": v_medium + link_medium[c_link[follow]].tolist(),
        "utm_campaign": v_campaign + utm_campaign[c_link[follow]].tolist(),
        "utm_term": [None] * (n_visits + n_follow),
        "utm_content": [None] * (n_visits + n_follow),
        "user_agent": np.array([a[0] for a in HUMAN_AGENTS], dtype=object)[v_agent].tolist(),
        "is_bot": v_bot.tolist() + [False] * n_follow,
        "ip_hash": ip_pool[rng.integers(0, len(ip_pool), n_visits + n_follow)].tolist(),
    }).in_time_order(all_ts)

    # offline touches
    o_owner, o_ts = owner[table_of == 2], ts[table_of == 2]
    o_kind = _pick(rng, [k for k, _ in OFFLINE_KINDS], n_offline, [p for _, p in OFFLINE_KINDS])
    explicit = rng.random(n_offline) < 0.1
    o_channel = np.array([OFFLINE_CHANNEL[k] for k in o_kind], dtype=object)
    o_campaign = np.array([1 + int(rng.choice(np.flatnonzero(campaign_channel == OFFLINE_CHANNEL[k])))
                           for k in [k for k, _ in OFFLINE_KINDS]])
    kind_index = {k: i for i, (k, _) in enumerate(OFFLINE_KINDS)}
    o_campaign_id = o_campaign[[kind_index[k] for k in o_kind]]
    offline = Table("offline_touches", {
        "id": list(range(1, n_offline + 1)),
        "dedupe_key": [hashlib.sha256(f"bench-{seed}-{i}".encode()).hexdigest() for i in range(n_offline)],
        "ts": sql_times(o_ts),
        "person_id": person_ids[o_owner].tolist(),
        "customer_hash": customer_hashes[o_owner].tolist(),
        "kind": o_kind.tolist(),
        "channel": _none_where(o_channel, ~explicit),
        "campaign_id": _none_where(o_campaign_id, rng.random(n_offline) < 0.4),
        "utm_source": [None] * n_offline,
        "label": _pick(rng, ("Booth visit", "Promo code", "Interview", "Reseller referral", "Magazine ad"),
                       n_offline).tolist(),
        "imported_at": [CREATED] * n_offline,
    }).in_time_order(o_ts)

    # ---- conversions -----------------------------------------------------------------------------------
    who = rng.choice(people, size=conversions, p=per_person / per_person.sum())
    when = centre[who] + (rng.exponential(2.0, conversions) * 86_400).astype(np.int64) * SECOND
    outside = (when < CONV_START) | (when >= conv_end)
    when[outside] = CONV_START + (rng.random(int(outside.sum())) * CONV_DAYS * 86_400).astype(np.int64) * SECOND
    purchase = rng.random(conversions) < 0.3
    value = np.where(purchase, np.round(rng.lognormal(8.0, 1.0, conversions), 2), 0.0)
    conv = Table("conversions", {
        "id": list(range(1, conversions + 1)),
        "external_id": [f"deal-{i}" for i in range(conversions)],
        "type": np.where(purchase, "purchase", "lead").tolist(),
        "ts": sql_times(when),
        "value": value.tolist(),
        "original_value": value.tolist(),
        "original_currency": ["NOK"] * conversions,
        "person_id": person_ids[who].tolist(),
        "tid": [None] * conversions,
        "site_visitor_id": [None] * conversions,
        "customer_hash": customer_hashes[who].tolist(),
        "created_at": sql_times(when),
    }).in_time_order(when)
    counts = {"people": people, "touchpoints": touches, "clicks": n_clicks, "click_bots": int(c_bot.sum()),
              "landing_visit_touches": n_visits, "landing_visits_with_tid": n_follow, "offline_touches": n_offline,
              "conversions": conversions, "converting_people": int(len(np.unique(who))),
              "campaigns": n_campaigns, "links": n_links, "conversion_days": CONV_DAYS}
    return Store([campaigns, links, clicks, visits, offline, conv], counts, when.min(), when.max())


def write_sqlite(path: str, store: Store) -> None:
    """Insert the store into the migrated SQLite file at ``path`` with sqlite3's ``executemany``."""
    import sqlite3

    conn = sqlite3.connect(path)
    try:
        # A throw-away benchmark file: no fsync and no journal while loading (WAL again afterwards, as migrated).
        conn.execute("PRAGMA journal_mode=OFF")
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("PRAGMA cache_size=-262144")  # 256 MB while loading (this connection only)
        names = [t.name for t in store.tables]
        # Secondary indexes are dropped while loading and made again with their own SQL afterwards: the
        # same schema, built once instead of updated 1,000,000 times in random order.
        indexes = conn.execute(f"SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
                               f"AND tbl_name IN ({', '.join('?' * len(names))})", names).fetchall()
        with conn:
            for name, _ in indexes:
                conn.execute(f'DROP INDEX "{name}"')
            for table in store.tables:
                marks = ", ".join("?" * len(table.columns))
                conn.executemany(f"INSERT INTO {table.name} ({', '.join(table.columns)}) VALUES ({marks})",
                                 table.rows())
            for _, sql in indexes:
                conn.execute(sql)
        conn.execute("PRAGMA journal_mode=WAL")
    finally:
        conn.close()


def write_postgres(conninfo: str, schema: str, store: Store) -> None:
    """COPY the store into the migrated ``schema``, then VACUUM ANALYZE (as autovacuum does after a load)."""
    import psycopg

    names = [t.name for t in store.tables]
    with psycopg.connect(conninfo, options=f"-csearch_path={schema}") as conn:
        with conn.cursor() as cur:
            # As on SQLite: secondary indexes (not those of constraints) are made again after the load.
            cur.execute("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = %s AND tablename = ANY(%s) "
                        "AND indexname NOT IN (SELECT conname FROM pg_constraint WHERE connamespace = "
                        "%s::regnamespace)", (schema, names, schema))
            indexes = cur.fetchall()
            for name, _ in indexes:
                cur.execute(f'DROP INDEX "{name}"')
            for table in store.tables:
                with cur.copy(f"COPY {table.name} ({', '.join(table.columns)}) FROM STDIN") as copy:
                    for row in table.rows():
                        copy.write_row(row)
            for _, sql in indexes:
                cur.execute(sql)
            for table in store.tables:
                if table.name != "clicks":  # integer keys: keep the sequences past the rows
                    cur.execute(f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                                f"(SELECT max(id) FROM {table.name}))")
        conn.commit()
        conn.autocommit = True
        with conn.cursor() as cur:
            for table in store.tables:
                cur.execute(f"VACUUM ANALYZE {table.name}")
