"""SQL that makes a synthetic touchpoint store inside the database (``bench/scale/run.py`` runs it).

Every row is computed by the database from its row number: one ``INSERT ... SELECT`` per table over
``generate_series`` (PostgreSQL) or a recursive CTE (SQLite), never rows sent from Python. Random-looking
values come from a deterministic integer hash of the row number (:func:`Sql.u`), written in SQL both
databases evaluate alike, so the same size gives the same rows on SQLite and PostgreSQL.

The shape follows ``bench/attribution/synth.py`` (for ``touches`` = N, ``people`` = N / 5 and
``conversions`` = N / 20):

- touch number ``j`` (0..N-1) belongs to clicks when ``j % 20 < 16`` (80 %), to landing visits when
  it is 16..18 (15 %), to offline touches when it is 19 (5 %);
- its person: ``j`` itself for the first ``people`` touches (everyone has one), else
  ``floor(people * u1 * u2)`` (the product of two uniforms: a person's extra touches fall off
  exponentially with rank, the busiest has about ln(people) + 1 times the mean);
- people are active around a time of their own (uniform from 2026-07-15 to 2026-10-30); a touch is
  that time plus a normal offset (mean -6 days, sd 10 days), clipped to 2026-07-01..2026-10-30;
- clicks and QR scans of 300 links (popularity about 1/rank^0.9) of 40 campaigns over 10 channels,
  via ``qr`` for 93 % of the clicks on offline links, 4 % by bots (no visitor cookie); a tenth of the
  human clicks on online links is followed 2 s later by a landing visit carrying the click's tid
  (``is_touch`` false: no touchpoint, rows the report has to skip);
- landing visits: a third with UTM values, a third with a referrer host, a third typed (Direct), 1 % bots;
- offline touches: event 40 %, print 20 %, podcast 15 %, pr 15 %, partner 10 %, a tenth with an
  explicit channel, 60 % with a campaign;
- conversions: the person of a uniformly drawn touch (so in proportion to activity), a few days
  (exponential, mean 2) after the person's active time, else uniform over the 90 days from
  2026-08-01; 30 % purchases (value exp(8 + normal), 2 decimals), 70 % leads of value 0;
- identities: a ``site`` and a ``visitor`` identity per person.

The vocabulary (channels and their UTM values, referrers, pages, user agents, offline kinds) is
``bench/attribution/synth.py``'s.

Timestamps are naive UTC: on SQLite the text SQLAlchemy writes (``YYYY-MM-DD HH:MM:SS.ffffff``), on
PostgreSQL ``timestamp without time zone``. Tables with integer keys get their ids in time order (as
the service appends), and rows go in in time order.
"""
from __future__ import annotations

import importlib.util
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

__all__ = ["CONV_DAYS", "CONV_END", "CONV_START", "T0", "Shape", "Sql", "statements"]

T0 = datetime(2026, 7, 1, tzinfo=UTC)  # first touch
CONV_START = T0 + timedelta(days=31)
CONV_DAYS = 90
CONV_END = CONV_START + timedelta(days=CONV_DAYS)
DAY_US = 86_400_000_000
SPAN_US = int((CONV_END - T0).total_seconds()) * 1_000_000 - 1_000_000  # touches up to a second before the end
MOD = 2147483647  # 2^31 - 1
# The vocabulary of bench/attribution/synth.py (channels, UTM values, referrers, pages, agents, offline kinds).
# Loaded from its file, not through sys.path: bench/attribution also has a worker.py, which must not shadow ours.
_spec = importlib.util.spec_from_file_location("bench_attribution_synth",
                                               Path(__file__).resolve().parent.parent / "attribution" / "synth.py")
assert _spec is not None and _spec.loader is not None
_synth = sys.modules.setdefault(_spec.name, importlib.util.module_from_spec(_spec))  # dataclasses look it up
_spec.loader.exec_module(_synth)
BOT_AGENTS, CREATED, HUMAN_AGENTS = _synth.BOT_AGENTS, _synth.CREATED, _synth.HUMAN_AGENTS
LINK_CHANNELS, OFFLINE_CHANNEL, OFFLINE_KINDS = _synth.LINK_CHANNELS, _synth.OFFLINE_CHANNEL, _synth.OFFLINE_KINDS
PAGES, SITE, VISIT_REFERRERS, VISIT_UTMS = _synth.PAGES, _synth.SITE, _synth.VISIT_REFERRERS, _synth.VISIT_UTMS

CHANNELS = list(LINK_CHANNELS)
N_CAMPAIGNS, N_LINKS = 40, 300
CLICK_REFERRERS = (None, None, None, None, "l.facebook.com", "t.co", "mail.google.com", "www.linkedin.com")
AGENTS = HUMAN_AGENTS + BOT_AGENTS  # (user agent, browser, os, device type); the first HUMAN are people
HUMAN = len(HUMAN_AGENTS)
LABELS = ("Booth visit", "Promo code", "Interview", "Reseller referral", "Magazine ad")
PAD = "0" * 56  # pads 8 hex digits to the 64 of a keyed hash


@dataclass(frozen=True)
class Shape:
    """How many rows: touches (clicks + landing-visit touches + offline touches), people, conversions."""

    touches: int
    people: int
    conversions: int

    @classmethod
    def of(cls, touches: int) -> Shape:
        if touches % 20 or touches < 20:
            raise ValueError("touches must be a positive multiple of 20")
        return cls(touches, touches // 5, touches // 20)

    @property
    def clicks(self) -> int:
        return self.touches // 20 * 16

    @property
    def visits(self) -> int:
        return self.touches // 20 * 3

    @property
    def offline(self) -> int:
        return self.touches // 20


# Columns written, per table (every NOT NULL one of the models, and the nullable ones the service fills).
COLUMNS = {
    "campaigns": "id name slug description start_date end_date fallback_url created_at",
    "links": "id code campaign_id destination utm_source utm_medium utm_campaign utm_term utm_content extra_params "
        "kind label expires_at disabled fingerprint created_at updated_at",
    "clicks": "tid ts link_id via outcome visitor_id person_id referrer_host user_agent ip_hash browser os "
        "device_type is_bot utm_source utm_medium utm_campaign utm_term utm_content",
    "landing_visits": "id ts person_id site_visitor_id tid is_touch page referrer_host utm_source utm_medium "
        "utm_campaign utm_term utm_content user_agent is_bot ip_hash",
    "offline_touches": "id dedupe_key ts person_id customer_hash kind channel campaign_id utm_source label imported_at",
    "conversions": "id external_id type ts value original_value original_currency person_id tid site_visitor_id "
        "customer_hash created_at",
    "identities": "kind value person_id first_seen",
}


def insert(table: str) -> str:
    return f"INSERT INTO {table} ({', '.join(COLUMNS[table].split())})"


def q(text: str | None) -> str:
    return "NULL" if text is None else "'" + text.replace("'", "''") + "'"


class Sql:
    """SQL expressions for one dialect (``sqlite`` or ``postgresql``)."""

    def __init__(self, dialect: str):
        if dialect not in ("sqlite", "postgresql"):
            raise ValueError(dialect)
        self.pg = dialect == "postgresql"

    # ---- numbers ---------------------------------------------------------------------------------
    @staticmethod
    def h(expr: str, k: int) -> str:
        """A hash of the integer ``expr`` (0 <= expr < 2^31), stream ``k``: an integer in [0, 2^31 - 1).

        Three multiply-add steps modulo three different primes (the change of modulus is what makes it
        non-linear); every intermediate product stays below 2^63, so it is exact integer arithmetic in
        both databases, and ``expr`` appears once (no blow-up when it is itself an expression).
        """
        a = 1_000_003 + 7_919 * k * k + 104_729 * k
        b = 48_271 + 16_807 * k
        step1 = f"((CAST({expr} AS BIGINT) * {a} + {12_345 + 977 * k}) % 2147483629)"
        step2 = f"(({step1} * {1_103_515_245 + 2 * k} + {k + 1}) % 2147483587)"
        return f"(({step2} * {b} + {31 * k + 7}) % {MOD})"

    def u(self, expr: str, k: int) -> str:
        """A uniform number in [0, 1) from ``expr`` and stream ``k``."""
        return f"(CAST({self.h(expr, k)} AS DOUBLE PRECISION) / {MOD})"

    def u_pos(self, expr: str, k: int) -> str:
        """A uniform number in (0, 1]."""
        return f"(CAST({self.h(expr, k)} + 1 AS DOUBLE PRECISION) / {MOD})"

    def normal(self, expr: str, k: int) -> str:
        """A standard normal number (Box-Muller) from streams ``k`` and ``k + 1``."""
        return f"(sqrt(-2 * ln({self.u_pos(expr, k)})) * cos(2 * pi() * {self.u(expr, k + 1)}))"

    @staticmethod
    def floor(expr: str) -> str:
        return f"CAST(floor({expr}) AS BIGINT)"

    def index(self, n: int, expr: str, k: int) -> str:
        """A uniform integer in [0, n) from ``expr`` and stream ``k``."""
        return self.floor(f"{n} * {self.u(expr, k)}")

    def pick(self, index: str, options: Sequence[str | int | None]) -> str:
        """``options[index]`` (``index`` an integer expression in range)."""
        whens = " ".join(f"WHEN {i} THEN {o if isinstance(o, int) else q(o)}"
                         for i, o in enumerate(options) if o is not None)
        return f"CASE {index} {whens} ELSE NULL END"

    def least(self, *args: str) -> str:
        return f"{'LEAST' if self.pg else 'min'}({', '.join(args)})"

    def greatest(self, *args: str) -> str:
        return f"{'GREATEST' if self.pg else 'max'}({', '.join(args)})"

    def money(self, expr: str) -> str:
        return f"round(CAST({expr} AS NUMERIC), 2)" if self.pg else f"round({expr}, 2)"

    # ---- text ------------------------------------------------------------------------------------
    def hex8(self, expr: str) -> str:
        """Eight hex digits of ``expr`` (0 <= expr < 2^32)."""
        return f"lpad(to_hex({expr}), 8, '0')" if self.pg else f"printf('%08x', {expr})"

    @staticmethod
    def perm(expr: str, k: int) -> str:
        """A bijection of [0, 2^32) (an odd multiplier modulo 2^32): distinct inputs give distinct outputs."""
        return f"((({expr}) * {(2_654_435_761 + 2_000_006 * k) % 4294967296 | 1}) % 4294967296)"

    def uid(self, prefix: str, expr: str, k: int, length: int) -> str:
        """A unique text id of ``length`` characters for ``expr`` (a distinct prefix per kind of id)."""
        text = f"'{prefix}' || {self.hex8(self.perm(expr, k))} || {self.hex8(self.h(expr, k))}"
        extra = length - len(prefix) - 16
        if extra > 0:
            text += f" || substr({self.hex8(self.h(expr, k + 1))} || {self.hex8(self.h(expr, k + 2))}, 1, {extra})"
        return text

    def key64(self, expr: str, k: int) -> str:
        """A 64-character hex text, distinct for distinct ``expr`` (the shape of the service's keyed hashes)."""
        return f"{self.hex8(self.perm(expr, k))} || '{PAD}'"

    # ---- time ------------------------------------------------------------------------------------
    def ts(self, micros: str) -> str:
        """The naive UTC timestamp ``micros`` microseconds after T0, in the column's storage form."""
        if self.pg:
            return f"(TIMESTAMP '{T0:%Y-%m-%d %H:%M:%S}' + ({micros}) * INTERVAL '1 microsecond')"
        epoch = int(T0.timestamp())
        return (f"(strftime('%Y-%m-%d %H:%M:%S', {epoch} + ({micros}) / 1000000, 'unixepoch') || "
                f"printf('.%06d', ({micros}) % 1000000))")

    def timestamp(self, text: str) -> str:
        return f"TIMESTAMP '{text}'" if self.pg else q(text)

    def day(self, days: str) -> str:
        """The date ``days`` after 2026-07-02 (campaigns start 30 days before the conversions, 3 days apart)."""
        if self.pg:
            return f"(DATE '2026-07-02' + CAST({days} AS INTEGER))"
        return f"date('2026-07-02', '+' || ({days}) || ' days')"

    def json_empty(self) -> str:
        return "CAST('{}' AS JSON)" if self.pg else "'{}'"

    def fence(self) -> str:
        """Keeps a subquery from being merged into its parent (its columns are computed once per row)."""
        return "OFFSET 0" if self.pg else "LIMIT -1 OFFSET 0"

    def series(self, name: str, n: int) -> str:
        """A CTE ``name(i)`` of the integers 0..n-1 (inside ``WITH RECURSIVE``)."""
        if self.pg:
            return f"{name}(i) AS (SELECT generate_series(0, {n - 1}))"
        return f"{name}(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM {name} WHERE i < {n - 1})"


# hash streams (any distinct numbers)
K_P1, K_P2, K_CENTRE, K_OFF, K_LINK, K_QR, K_BOT, K_AGENT, K_REF, K_IP, K_FOLLOW = 1, 2, 3, 4, 6, 7, 8, 9, 10, 11, 12
K_VKIND, K_VUTM, K_VREF, K_PAGE, K_VBOT, K_OKIND, K_OCH, K_OCAMP, K_OCAMP2, K_LABEL = range(20, 30)
K_CJ, K_CWHEN, K_CUNIF, K_CPURCH, K_CVAL = 40, 41, 42, 43, 44
K_PID, K_VID, K_SID, K_CUST, K_TID, K_DEDUPE = 60, 64, 68, 72, 76, 80
K_LCH, K_LCAMP, K_LNOCAMP, K_LMED, K_LSRC, K_LOUT, K_LCONTENT = range(90, 97)


class Store:
    """The statements for one size on one dialect."""

    def __init__(self, sql: Sql, shape: Shape):
        self.s = sql
        self.n = shape

    # ---- per-person and per-touch expressions ----------------------------------------------------
    def person(self, j: str) -> str:
        s, people = self.s, self.n.people
        return f"CASE WHEN {j} < {people} THEN {j} ELSE {s.floor(f'{people} * {s.u(j, K_P1)} * {s.u(j, K_P2)}')} END"

    def centre(self, p: str) -> str:
        """The person's active time, microseconds after T0."""
        start = 14 * DAY_US
        return f"({start} + {self.s.floor(f'{self.s.u(p, K_CENTRE)} * {SPAN_US - start}')})"

    def touch_time(self, p: str, j: str) -> str:
        s = self.s
        offset = s.floor(f"(-6 + 10 * {s.normal(j, K_OFF)}) * {DAY_US}")
        return s.greatest("0", s.least(f"{self.centre(p)} + {offset}", str(SPAN_US)))

    def person_id(self, p: str) -> str:
        return self.s.uid("p", p, K_PID, 22)

    def visitor_id(self, p: str) -> str:
        return self.s.uid("v", p, K_VID, 22)

    def site_id(self, p: str) -> str:
        return self.s.uid("s", p, K_SID, 24)

    def link_of(self, j: str) -> str:
        """A link id, popularity about 1/rank^0.9 (inverse of the continuous distribution's CDF)."""
        s = self.s
        top = (N_LINKS + 1) ** 0.1 - 1
        return s.least(str(N_LINKS), s.floor(f"power(1 + {s.u(j, K_LINK)} * {top!r}, 10)"))

    def agent_of(self, j: str, bot_share: float) -> str:
        s = self.s
        return (f"CASE WHEN {s.u(j, K_BOT)} < {bot_share} THEN {HUMAN} + {s.index(len(AGENTS) - HUMAN, j, K_AGENT)} "
                f"ELSE {s.index(HUMAN, j, K_AGENT)} END")

    def agent_columns(self, ag: str) -> list[str]:
        return [self.s.pick(ag, [a[i] for a in AGENTS]) for i in range(4)]

    def click_rows(self) -> str:
        """CTEs ``cs`` (series) and ``c0``/``c1``: every click's number, touch, person, time, link, agent."""
        s, n = self.s, self.n
        j = "((i / 16) * 20 + i % 16)"
        return (f"{s.series('cs', n.clicks)}, "
                f"c0 AS (SELECT i AS c, {j} AS j FROM cs), "
                f"c1 AS (SELECT c, j, p, {self.touch_time('p', 'j')} AS t, {self.link_of('j')} AS lk, "
                f"{s.u('j', K_QR)} AS uq, {self.agent_of('j', 0.04)} AS ag "
                f"FROM (SELECT c, j, {self.person('j')} AS p FROM c0 {s.fence()}) x {s.fence()})")

    def tid(self, c: str) -> str:
        return self.s.uid("t", c, K_TID, 20)

    # ---- statements -------------------------------------------------------------------------------
    def numbered(self, table: str, ctes: str, source: str, order: str, select: str) -> str:
        """``INSERT INTO table SELECT select`` over the rows of ``source`` numbered ``id`` in ``order`` (time).

        The integer key in time order, as the service appends rows; rows go in in that order too.
        """
        return (f"WITH RECURSIVE {ctes}, numbered AS (SELECT src.*, row_number() OVER (ORDER BY {order}) AS id "
                f"FROM {source} src {self.s.fence()}) {insert(table)} SELECT {select} FROM numbered")

    def campaigns(self) -> str:
        s = self.s
        channel = "(i % 10)"
        names = s.pick(channel, [c.lower().replace(" ", "-") for c in CHANNELS])
        number = "lpad(CAST(i + 1 AS TEXT), 2, '0')" if s.pg else "substr('0' || (i + 1), -2, 2)"
        slug = f"{names} || '-' || {number}"
        return (f"WITH RECURSIVE {s.series('g', N_CAMPAIGNS)} "
                f"{insert('campaigns')} "
                f"SELECT i + 1, {s.pick(channel, CHANNELS)} || ' campaign ' || (i + 1), {slug}, 'Scale benchmark', "
                f"{s.day('i * 3')}, {s.day('i * 3 + 60')}, NULL, {s.timestamp(CREATED)} FROM g")

    def links(self) -> str:
        s = self.s
        shares = [LINK_CHANNELS[c][3] for c in CHANNELS]
        bounds, acc = [], 0.0
        for share in shares[:-1]:
            acc += share
            bounds.append(acc)
        uch = s.u("i", K_LCH)
        whens = " ".join(f"WHEN {uch} < {b!r} THEN {k}" for k, b in enumerate(bounds))
        ch = f"CASE {whens} ELSE {len(shares) - 1} END"

        def per_channel(which: int, k: int) -> str:
            parts = []
            for ci, c in enumerate(CHANNELS):
                options = LINK_CHANNELS[c][which]
                parts.append(f"WHEN {ci} THEN {s.pick(s.index(len(options), 'lid', k), options)}")
            return "CASE ch " + " ".join(parts) + " END"
        kind = ("CASE WHEN ch = 6 AND " + s.u("lid", K_LOUT) + " < 0.3 THEN 'outdoor' ELSE "
                + s.pick("ch", [LINK_CHANNELS[c][2] for c in CHANNELS]) + " END")
        content = f"CASE WHEN {s.u('lid', K_LCONTENT)} < 0.6 THEN NULL ELSE 'variant-' || (lid % 3) END"
        created = s.timestamp(CREATED)
        return (f"WITH RECURSIVE {s.series('g', N_LINKS)}, "
                f"l0 AS (SELECT i + 1 AS lid, {ch} AS ch FROM g), "
                f"l1 AS (SELECT lid, ch, CASE WHEN {s.u('lid', K_LNOCAMP)} < 0.1 THEN NULL ELSE "
                f"ch + 1 + 10 * {s.index(4, 'lid', K_LCAMP)} END AS cid FROM l0) "
                f"{insert('links')} "
                f"SELECT lid, 'b' || (1000 + lid) || {s.hex8(s.h('lid', K_LCH))}, cid, "
                f"'https://{SITE}/landing/' || lid, {per_channel(1, K_LSRC)}, {per_channel(0, K_LMED)}, "
                f"COALESCE(cp.slug, 'evergreen'), NULL, {content}, {s.json_empty()}, {kind}, '', NULL, FALSE, "
                f"{s.key64('lid', K_LCH)}, {created}, {created} "
                "FROM l1 LEFT JOIN campaigns cp ON cp.id = l1.cid ORDER BY lid")

    def clicks(self) -> str:
        s = self.s
        ua, browser, os_name, device = self.agent_columns("ag")
        qr = "(l.kind <> 'online' AND uq < 0.93)"
        referrer = f"CASE WHEN {qr} THEN NULL ELSE {s.pick(s.index(8, 'j', K_REF), CLICK_REFERRERS)} END"
        ip = s.key64(s.floor(f"100000 * {s.u('j', K_IP)}"), K_IP)
        return (f"WITH RECURSIVE {self.click_rows()}, "
                f"c2 AS (SELECT * FROM c1 ORDER BY t, j {s.fence()}) "
                f"{insert('clicks')} "
                f"SELECT {self.tid('c')}, {s.ts('t')}, lk, CASE WHEN {qr} THEN 'qr' ELSE 'link' END, 'redirect', "
                f"CASE WHEN ag >= {HUMAN} THEN NULL ELSE {self.visitor_id('p')} END, {self.person_id('p')}, "
                f"{referrer}, {ua}, {ip}, {browser}, {os_name}, {device}, ag >= {HUMAN}, l.utm_source, l.utm_medium, "
                "l.utm_campaign, NULL, l.utm_content FROM c2 JOIN links l ON l.id = c2.lk")

    def landing_visits(self) -> str:
        """Touch visits and the visits carrying a click's tid (not touches), ids in time order."""
        s, n = self.s, self.n
        j = "((i / 3) * 20 + 16 + i % 3)"
        vk = s.floor(f"3 * {s.u('j', K_VKIND)}")  # 0 UTM, 1 referrer, 2 typed address
        utm = s.floor(f"{len(VISIT_UTMS)} * {s.u('j', K_VUTM)}")
        touch = (f"SELECT j, p, {self.touch_time('p', 'j')} AS t, TRUE AS is_touch, NULL AS tid, "
                 f"CASE WHEN vk = 0 THEN {s.pick('vu', [v[0] for v in VISIT_UTMS])} END AS src, "
                 f"CASE WHEN vk = 0 THEN {s.pick('vu', [v[1] for v in VISIT_UTMS])} END AS med, "
                 "CASE WHEN vk = 0 THEN 'always-on' END AS camp, "
                 f"CASE WHEN vk = 1 THEN {s.pick(s.index(len(VISIT_REFERRERS), 'j', K_VREF), VISIT_REFERRERS)} "
                 f"END AS ref, {s.u('j', K_VBOT)} < 0.01 AS bot "
                 f"FROM (SELECT j, {self.person('j')} AS p, {vk} AS vk, {utm} AS vu FROM "
                 f"(SELECT {j} AS j FROM vs) v0 {s.fence()}) v1")
        follow = (f"SELECT j + {n.touches} AS j, p, t + 2000000 AS t, FALSE AS is_touch, {self.tid('c')} AS tid, "
                  "l.utm_source, l.utm_medium, l.utm_campaign, NULL, FALSE "
                  f"FROM c1 JOIN links l ON l.id = c1.lk WHERE ag < {HUMAN} AND l.kind = 'online' "
                  f"AND {s.u('j', K_FOLLOW)} < 0.1")
        ua = s.pick(s.floor(f"{HUMAN} * {s.u('j', K_AGENT)}"), [a[0] for a in AGENTS[:HUMAN]])
        page = s.pick(s.floor(f"{len(PAGES)} * {s.u('j', K_PAGE)}"), PAGES)
        ip = s.key64(s.floor(f"100000 * {s.u('j', K_IP)}"), K_IP)
        return self.numbered(
            "landing_visits", f"{s.series('vs', n.visits)}, {self.click_rows()}, v AS ({touch} UNION ALL {follow})",
            "v", "t, j", f"id, {s.ts('t')}, {self.person_id('p')}, {self.site_id('p')}, tid, is_touch, {page}, ref, "
            f"src, med, camp, NULL, NULL, {ua}, bot, {ip}")

    def offline_touches(self) -> str:
        s, n = self.s, self.n
        uk = s.u("j", K_OKIND)
        acc, whens = 0.0, []
        for k, (_, share) in enumerate(OFFLINE_KINDS[:-1]):
            acc += share
            whens.append(f"WHEN {uk} < {acc!r} THEN {k}")
        kind_index = f"CASE {' '.join(whens)} ELSE {len(OFFLINE_KINDS) - 1} END"
        kinds = [k for k, _ in OFFLINE_KINDS]
        channel_index = [CHANNELS.index(OFFLINE_CHANNEL[k]) for k in kinds]
        campaign = (f"CASE WHEN {s.u('j', K_OCAMP)} < 0.4 THEN NULL ELSE 1 + {s.pick('ok', channel_index)} "
                    f"+ 10 * {s.index(4, 'j', K_OCAMP2)} END")
        ctes = (f"{s.series('os', n.offline)}, o1 AS (SELECT i, j, p, {self.touch_time('p', 'j')} AS t, ok FROM "
                f"(SELECT i, j, {self.person('j')} AS p, {kind_index} AS ok FROM "
                f"(SELECT i, i * 20 + 19 AS j FROM os) o0 {s.fence()}) x {s.fence()})")
        return self.numbered(
            "offline_touches", ctes, "o1", "t, j",
            f"id, {s.hex8(s.perm('i', K_DEDUPE))} || {s.hex8(s.h('i', K_DEDUPE))} || '{PAD[:48]}', {s.ts('t')}, "
            f"{self.person_id('p')}, {s.key64('p', K_CUST)}, {s.pick('ok', kinds)}, "
            f"CASE WHEN {s.u('j', K_OCH)} < 0.1 THEN {s.pick('ok', [OFFLINE_CHANNEL[k] for k in kinds])} END, "
            f"CAST({campaign} AS INTEGER), NULL, {s.pick(s.index(len(LABELS), 'j', K_LABEL), LABELS)}, "
            f"{s.timestamp(CREATED)}")

    def conversions(self) -> str:
        s, n = self.s, self.n
        start = int((CONV_START - T0).total_seconds()) * 1_000_000
        end = start + CONV_DAYS * DAY_US
        after = s.floor(f"-2 * ln({s.u_pos('k', K_CWHEN)}) * {DAY_US}")
        uniform = f"{start} + {s.index(CONV_DAYS * DAY_US, 'k', K_CUNIF)}"
        normal = s.normal("k", K_CVAL)
        value = f"CASE WHEN purchase THEN {s.money(f'exp(8 + {normal})')} ELSE 0 END"
        ctes = (f"{s.series('ks', n.conversions)}, k1 AS (SELECT k, p, {self.centre('p')} + {after} AS w FROM "
                f"(SELECT k, {self.person('jj')} AS p FROM "
                f"(SELECT i AS k, {s.index(n.touches, 'i', K_CJ)} AS jj FROM ks) k0 {s.fence()}) x {s.fence()}), "
                f"k2 AS (SELECT k, p, CASE WHEN w < {start} OR w >= {end} THEN {uniform} ELSE w END AS t, "
                f"{s.u('k', K_CPURCH)} < 0.3 AS purchase FROM k1)")
        return self.numbered(
            "conversions", ctes, "k2", "t, k",
            f"id, 'deal-' || k, CASE WHEN purchase THEN 'purchase' ELSE 'lead' END, {s.ts('t')}, {value}, {value}, "
            f"'NOK', {self.person_id('p')}, NULL, NULL, {s.key64('p', K_CUST)}, {s.ts('t')}")

    def identities(self) -> str:
        s, n = self.s, self.n
        seen = s.ts(s.greatest("0", f"{self.centre('p')} - {21 * DAY_US}"))
        return (f"WITH RECURSIVE {s.series('ps', n.people)} "
                f"{insert('identities')} "
                f"SELECT 'site', {self.site_id('p')}, {self.person_id('p')}, {seen} FROM (SELECT i AS p FROM ps) a "
                f"UNION ALL SELECT 'visitor', {self.visitor_id('p')}, {self.person_id('p')}, {seen} "
                "FROM (SELECT i AS p FROM ps) b")


TABLES = ("campaigns", "links", "clicks", "landing_visits", "offline_touches", "conversions", "identities")
INTEGER_KEYS = ("campaigns", "links", "landing_visits", "offline_touches", "conversions")


def statements(dialect: str, shape: Shape) -> list[tuple[str, str]]:
    """``(table, statement)`` in load order (parents first)."""
    store = Store(Sql(dialect), shape)
    return [(name, getattr(store, name)()) for name in TABLES]
