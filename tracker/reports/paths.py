"""Reports pushed down into the database: journeys become distinct paths before they reach Python.

What runs where (docs/operations/reports-at-scale.md):

1. **Dimension values** (Python, small). The channel of a touch is derived from its raw values and
   the taxonomy in force, so it is not stored. The database lists the distinct raw keys of the
   window's touches (clicks: source, medium, link; landing visits: source, medium, campaign,
   referrer host, site; offline touches: source, kind, explicit channel, campaign) from the key
   tables it keeps per month (:mod:`tracker.reports.models`; from the touches themselves when a
   touch's key is missing there); Python derives
   each key's dimension values with the same functions the in-memory loading uses
   (:mod:`tracker.reports.loading`), names missing values (:func:`attribution.labels.name_missing`)
   and numbers the distinct tuples of the dimensions the report needs: the *elements*. That list
   grows with distinct UTM values, links and referrers, not with touches.
2. **Journeys and paths** (database). One statement filters the conversions (window, type), joins
   each one to its person's non-bot touches within the lookback (and after the previous conversion
   of the type, with ``since_previous_conversion``), maps every touch to its element through the
   key lists (SQLite: indexed temporary tables; PostgreSQL: JSON parameters, so a read-only replica
   can serve reports), orders each journey by ``(ts, touchpoint_id)`` and aggregates to distinct
   paths: the element ids joined by spaces, with the number of conversions and their total value
   (and, when answers are tied, per tied answer). Non-converting journeys (ATTRIBUTION.md) are
   aggregated the same way; the funnel counts people by segment and furthest stage
   (:func:`funnel_counts`).
3. **Models** (Python, on distinct paths). The rule-based models of :mod:`attribution` run on the
   paths with their counts (``n_conversions``), which is exact: every conversion of a path gets
   the same weights. Their credits are sums over journeys, so a report without data-driven models
   builds the paths' long journey layout a piece at a time (:meth:`Paths.journey_pieces`) and sums
   the pieces' credits: its memory beyond the paths themselves stays that of one piece. Time decay
   needs each touch's age, which a path does not keep: its weights
   are computed in the database (``2^-(age - youngest) / H`` normalised per journey, window
   functions) and only the per-element sums cross into Python.

Self-reported answers are tied to conversions in Python (:func:`attribution.selfreports.tie_answers`
on the window's conversions and answers: rows per conversion and answer, never per touch) and
sent back to the database as one JSON parameter (conversion id -> answer element).

Exactness: positions, lookback bounds and ages are computed on the stored timestamps to the
microsecond (SQLite keeps them as ``YYYY-MM-DD HH:MM:SS.ffffff`` text: the lookback shifts the whole
seconds and keeps the fraction as written, since SQLite's date functions round fractions to
milliseconds; PostgreSQL subtracts intervals), ties are broken by the touchpoint id
in byte order (``COLLATE "C"`` on PostgreSQL), so the paths are the in-memory journeys' paths.
"""
from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
import sqlalchemy as sa
from sqlalchemy.orm import Session

from attribution.channels import DIRECT, assign_channels
from attribution.darkfunnel import SELF_REPORT_KIND
from attribution.labels import name_missing
from attribution.models.base import LinearCredits
from tracker.config import Settings
from tracker.db import UTCDateTime
from tracker.links.models import Campaign
from tracker.reports.loading import fetch_frame, links_frame, offline_channels, visit_channels
from tracker.reports.models import NO_KEY  # a missing text key in the key lists (NULL does not join)

__all__ = ["ELEMENT_DIMENSIONS", "DecaySums", "Paths", "funnel_counts", "load_paths", "path_strings", "time_decay_sums"]

# Every dimension an element can carry (the touch columns reports group by).
ELEMENT_DIMENSIONS = ("channel", "source", "medium", "campaign", "link_code", "kind")
UNMAPPED = -1  # a touch whose key the element list lacked (written meanwhile): the paths are read again
MAX_TRIES = 3
# Rows (touches of distinct paths) per piece of Paths.journey_pieces: a piece's long layout takes about 60 bytes
# a row, so a rule-based report holds some 6 MB of journeys at a time, whatever the number of distinct paths.
PIECE_ROWS = 100_000
# PostgreSQL: memory for the report's sorts and hashes, for its transaction only (SET LOCAL): the default
# 4 MB sends the sort of a window's journey rows to disk.
REPORT_WORK_MEM = "128MB"


@dataclass(frozen=True)
class Paths:
    """The distinct paths of a report's journeys, as the database aggregated them.

    Attributes
    ----------
    elements
        One row per element id (0..n-1): the dimension values it stands for (categoricals).
    converting
        ``path`` (an int64 array of element ids per row; a conversion without a touch has the
        ``[Direct]`` path), ``answer`` (the tied answer's element id, -1 for none),
        ``fallback`` (True for the ``[Direct]`` journeys of conversions without a touch),
        ``conversions`` and ``value``.
    non_converting
        ``path`` and ``null`` (journeys ending in ``(null)``), or None when not asked for.
    touches
        How many touches the converting journeys hold (each conversion's touches counted).
    stored_keys
        Whether the elements were listed from the key tables (:mod:`tracker.reports.models`), not from
        the touches; :func:`time_decay_sums` lists them the same way, so that their ids agree.
    """

    elements: pd.DataFrame
    converting: pd.DataFrame
    non_converting: pd.DataFrame | None
    touches: int
    stored_keys: bool = True

    def journeys(self, *, self_report_as_first_touch: bool = False, non_converting: bool = False) -> pd.DataFrame:
        """Return the converting paths in the long journey layout of :mod:`attribution`, weighed by counts.

        One journey per (path, answer) with ``n_conversions`` and ``value`` (their total), the
        element's dimension columns, ``answer_channel``, ``is_fallback`` and ``element`` (its id). With
        ``self_report_as_first_touch`` the answer's element leads its path (and replaces a
        ``[Direct]`` fallback), as :func:`attribution.self_report_as_first_touch` does. With
        ``non_converting`` (the paths must have been loaded with them) the non-converting paths follow,
        one journey each with ``n_conversions`` 0 and ``n_null`` their count (``n_null`` is 0 on the
        converting ones), as the data-driven models take them.
        """
        frame = self.converting
        if non_converting:
            if self.non_converting is None:
                raise ValueError("these paths were loaded without their non-converting journeys")
            nulls = self.non_converting
            frame = pd.concat([frame.assign(null=0), pd.DataFrame({
                "path": nulls["path"], "answer": -1, "fallback": False, "conversions": 0, "value": 0.0,
                "null": nulls["null"]})], ignore_index=True)
        return self._journeys(frame, self_report_as_first_touch=self_report_as_first_touch,
                              non_converting=non_converting)

    def journey_pieces(self, *, self_report_as_first_touch: bool = False,
                       rows: int | None = None) -> Iterator[pd.DataFrame]:
        """Yield the converting journeys of :meth:`journeys` in pieces of whole journeys, ``rows`` rows or so each.

        For the models whose credits are sums over journeys (every rule-based model): crediting each
        piece and summing the credits gives the credits of the whole, while the report holds one
        piece's long layout at a time, not every path's (which grows with the distinct paths). The
        ``conversion_id`` numbers go on from piece to piece. Yields one empty piece when there are no
        conversions. ``rows`` defaults to ``PIECE_ROWS``.
        """
        rows = rows or PIECE_ROWS
        frame = self.converting
        sizes = np.fromiter((len(p) for p in frame["path"]), dtype=np.int64, count=len(frame))
        # A path belongs to the piece its first row falls in: a piece has fewer than ``rows`` + the longest path.
        piece = (np.cumsum(sizes) - sizes) // rows
        cuts = [0, *(np.flatnonzero(np.diff(piece)) + 1).tolist(), len(frame)]
        for start, stop in zip(cuts[:-1], cuts[1:], strict=True):
            yield self._journeys(frame.iloc[start:stop], self_report_as_first_touch=self_report_as_first_touch,
                                 first_id=start)

    def _journeys(self, frame: pd.DataFrame, *, self_report_as_first_touch: bool, non_converting: bool = False,
                  first_id: int = 0) -> pd.DataFrame:
        paths = list(frame["path"])
        if self_report_as_first_touch:
            answer = frame["answer"].to_numpy()
            fallback = frame["fallback"].to_numpy()
            paths = [np.array([a], dtype=np.int64) if a >= 0 and f else
                     np.concatenate([[a], p]).astype(np.int64) if a >= 0 else p
                     for p, a, f in zip(paths, answer, fallback, strict=True)]
            fallback = fallback & (answer < 0)
        else:
            fallback = frame["fallback"].to_numpy()
        sizes = np.fromiter((len(p) for p in paths), dtype=np.int64, count=len(paths))
        ids = np.concatenate(paths) if paths else np.zeros(0, dtype=np.int64)
        journey = np.repeat(np.arange(first_id, first_id + len(paths)), sizes)
        position = np.arange(len(ids)) - np.repeat(np.cumsum(sizes) - sizes, sizes)
        answers = self.elements["channel"].astype(object).to_numpy()
        said = np.where(frame["answer"].to_numpy() >= 0, answers[np.maximum(frame["answer"].to_numpy(), 0)], None) \
            if len(frame) else np.zeros(0, dtype=object)
        out = pd.DataFrame({
            "conversion_id": journey, "position": position, "n_touches": np.repeat(sizes, sizes),
            "value": np.repeat(frame["value"].to_numpy(dtype=float), sizes),
            "n_conversions": np.repeat(frame["conversions"].to_numpy(dtype=float), sizes),
            "answer_channel": np.repeat(said, sizes),
            "is_fallback": np.repeat(fallback, sizes), "element": ids,
        }, copy=False)  # the arrays are this frame's own: not copying them spares the peak one copy of each
        if non_converting:
            out["n_null"] = np.repeat(frame["null"].to_numpy(dtype=float), sizes)
        for name in self.elements.columns:
            column = self.elements[name]
            # The element list may hold keys no journey met (it is read from the key tables): their values go.
            out[name] = pd.Categorical.from_codes(column.cat.codes.to_numpy()[ids], categories=column.cat.categories) \
                .remove_unused_categories()
        return out


def path_strings(paths: Sequence[np.ndarray], elements: pd.DataFrame, by: Sequence[str],
                 separator: str = " > ", joiner: str = " / ") -> list[str]:
    """Write paths as text: each element's ``by`` values joined by ``joiner``, elements by ``separator``."""
    labels = elements[list(by)].astype(str).agg(joiner.join, axis=1).to_numpy(dtype=object) if len(elements) \
        else np.zeros(0, dtype=object)
    return [separator.join(labels[p]) for p in paths]


# ---- the SQL of each dialect -------------------------------------------------------------------

@dataclass(frozen=True)
class _Dialect:
    name: str

    @property
    def postgres(self) -> bool:
        return self.name == "postgresql"

    def lower_bound(self, ts: str, days: int) -> str:
        """``ts - days`` to the microsecond."""
        if self.postgres:
            return f"({ts} - INTERVAL '{int(days)} days')"
        # Shift the whole seconds only and keep the fraction as written: SQLite's date functions round
        # fractions to milliseconds, so .999999 would become the next second.
        return f"(datetime(substr({ts}, 1, 19), '-{int(days)} days') || substr({ts}, 20))"

    def age_seconds(self, later: str, earlier: str) -> str:
        if self.postgres:
            return f"CAST(EXTRACT(EPOCH FROM ({later} - {earlier})) AS double precision)"
        return (f"((unixepoch(substr({later}, 1, 19)) - unixepoch(substr({earlier}, 1, 19))) + "
                f"(CAST(substr({later}, 20) AS REAL) - CAST(substr({earlier}, 20) AS REAL)))")

    def site(self, page: str) -> str:
        if self.postgres:
            return f"split_part({page}, '/', 1)"
        return f"CASE WHEN instr({page}, '/') > 0 THEN substr({page}, 1, instr({page}, '/') - 1) ELSE {page} END"

    def keys(self, param: str, columns: Sequence[tuple[str, str]]) -> str:
        """A relation of the rows of the JSON array parameter ``param`` (objects with ``columns``)."""
        if self.postgres:
            spec = ", ".join(f"{name} {'bigint' if kind == 'int' else 'text'}" for name, kind in columns)
            return f"SELECT * FROM jsonb_to_recordset(CAST(:{param} AS jsonb)) AS m({spec})"
        picks = ", ".join(f"json_extract(value, '$.{name}') AS {name}" for name, _ in columns)
        return f"SELECT {picks} FROM json_each(:{param})"

    def tpid(self, prefix: str, column: str) -> str:
        return f"('{prefix}' || CAST({column} AS TEXT))" if not self.postgres else f"('{prefix}' || {column}::text)"

    @property
    def order(self) -> str:
        return 'ts, tpid COLLATE "C"' if self.postgres else "ts, tpid"

    def paths(self, rows: str, key: str) -> str:
        """Per ``key`` of ``rows`` (ts, tpid, e): the element ids in journey order joined by spaces, and how many."""
        if self.postgres:
            return (f"SELECT {key}, string_agg(CAST(e AS text), ' ' ORDER BY {self.order}) AS path, count(*) AS n "
                    f"FROM {rows} GROUP BY {key}")
        # SQLite before 3.44 takes no ORDER BY inside group_concat: it concatenates in the order the rows
        # reach the aggregate, which for a GROUP BY over a subquery sorted on the group key is the subquery's
        # order (a window function with the same ORDER BY is exact too, but slower). The
        # property test (tests/reports/test_report_pushdown.py) checks the order with tied timestamps on every run.
        return (f"SELECT {key}, group_concat(e, ' ') AS path, count(*) AS n FROM "
                f"(SELECT {key}, e FROM {rows} ORDER BY {key}, {self.order}) AS ordered GROUP BY {key}")

    @property
    def real(self) -> str:
        return "double precision" if self.postgres else "REAL"


CLICK_KEYS = (("a", "text"), ("b", "text"), ("c", "int"), ("e", "int"))
VISIT_KEYS = (("a", "text"), ("b", "text"), ("c", "text"), ("d", "text"), ("f", "text"), ("e", "int"))
OFFLINE_KEYS = (("a", "text"), ("b", "text"), ("c", "text"), ("d", "int"), ("e", "int"))
ANSWER_KEYS = (("cid", "int"), ("e", "int"))


def _touch_branches(d: _Dialect, owner: str, extra: str) -> list[str]:
    """The three touch tables as selects of (``owner`` join columns..., ts, tpid, e), each mapped to its element.

    ``owner`` is the FROM/JOIN text that each branch starts with, with ``{t}`` for the touch table's
    alias; ``extra`` is the WHERE text added to every branch.
    """
    site = d.site("t.page")
    z = ":z"
    clicks = (f"SELECT {{cols}}, t.ts AS ts, {d.tpid('c:', 't.tid')} AS tpid, COALESCE(m.e, {UNMAPPED}) AS e{{age}} "
              f"{owner.format(table='clicks')} LEFT JOIN cmap m ON m.a = COALESCE(t.utm_source, {z}) "
              f"AND m.b = COALESCE(t.utm_medium, {z}) AND m.c = t.link_id "
              f"WHERE NOT t.is_bot AND t.person_id IS NOT NULL{extra}")
    visits = (f"SELECT {{cols}}, t.ts AS ts, {d.tpid('v:', 't.id')} AS tpid, COALESCE(m.e, {UNMAPPED}) AS e{{age}} "
              f"{owner.format(table='landing_visits')} LEFT JOIN vmap m ON m.a = COALESCE(t.utm_source, {z}) "
              f"AND m.b = COALESCE(t.utm_medium, {z}) AND m.c = COALESCE(t.utm_campaign, {z}) "
              f"AND m.d = COALESCE(t.referrer_host, {z}) AND m.f = COALESCE({site}, {z}) "
              f"WHERE t.is_touch AND NOT t.is_bot{extra}")
    offline = (f"SELECT {{cols}}, t.ts AS ts, {d.tpid('o:', 't.id')} AS tpid, COALESCE(m.e, {UNMAPPED}) AS e{{age}} "
               f"{owner.format(table='offline_touches')} LEFT JOIN omap m ON m.a = COALESCE(t.utm_source, {z}) "
               f"AND m.b = t.kind AND m.c = COALESCE(t.channel, {z}) AND m.d = COALESCE(t.campaign_id, -1) "
               f"WHERE 1 = 1{extra}")
    return [clicks, visits, offline]


MAPS = {"cmap": CLICK_KEYS, "vmap": VISIT_KEYS, "omap": OFFLINE_KEYS}


def _maps(d: _Dialect) -> str:
    """CTEs ``cmap``, ``vmap`` and ``omap``: the key lists (PostgreSQL: from the JSON parameters, hash-joined).

    SQLite would scan a JSON list once per touch (its planner takes ``json_each`` for tiny and builds
    no index for it), so there the lists are indexed temporary tables (:func:`_sqlite_maps`), which
    a read-only replica of PostgreSQL could not have.
    """
    if d.postgres:
        return ", ".join(f"{name} AS MATERIALIZED ({d.keys(name, keys)})" for name, keys in MAPS.items())
    return ", ".join(f"{name} AS (SELECT * FROM temp.report_{name})" for name in MAPS)


def _prepare(session: Session, d: _Dialect) -> None:
    if d.postgres:
        session.execute(sa.text(f"SET LOCAL work_mem = '{REPORT_WORK_MEM}'"))
        # A report's statements run once each: compiling them (JIT) cost more than it saved.
        session.execute(sa.text("SET LOCAL jit = off"))


def _sqlite_maps(session: Session, keys: dict[str, list[dict[str, Any]]],
                 tables: dict[str, tuple[tuple[str, str], ...]] = MAPS) -> None:
    """Fill this connection's temporary key tables (SQLite), each with an index on its keys."""
    connection = session.connection()
    for name, columns in tables.items():
        names = [c for c, _ in columns]
        # Declared types: an untyped column compared with an INTEGER one gets NUMERIC affinity applied, and
        # then the index serves only the text columns before it (every click looked up by source and medium
        # alone and filtered on link_id row by row).
        typed = ", ".join(f"{c} {'INTEGER' if kind == 'int' else 'TEXT'}" for c, kind in columns)
        connection.exec_driver_sql(f"CREATE TEMP TABLE IF NOT EXISTS report_{name} ({typed})")
        connection.exec_driver_sql(f"CREATE INDEX IF NOT EXISTS temp.report_{name}_keys ON report_{name} "
                                   f"({', '.join(names)})")
        connection.exec_driver_sql(f"DELETE FROM temp.report_{name}")
        if keys[name]:
            connection.exec_driver_sql(
                f"INSERT INTO temp.report_{name} VALUES ({', '.join('?' for _ in names)})",
                [tuple(row[c] for c in names) for row in keys[name]])


def _conversions_sql(d: _Dialect, *, types: bool, since_previous: bool, lookback_days: int) -> str:
    """CTEs ``conv_all`` and ``conv`` (id, person_id, ts, value, lo, prev) of the report's conversions."""
    type_filter = " AND type IN :types" if types else ""
    prev = ", LAG(ts) OVER (PARTITION BY person_id, type ORDER BY ts, id) AS prev" if since_previous else \
        ", CAST(NULL AS TIMESTAMP) AS prev" if d.postgres else ", NULL AS prev"
    # PostgreSQL: inlined where used, so the planner keeps the statistics of conversions.person_id (a
    # materialised CTE has none: it then hashes the window's millions of touches instead of the conversions).
    inline = " NOT MATERIALIZED" if d.postgres else ""
    return (f"conv_all AS{inline} (SELECT id, person_id, ts, value{prev} FROM conversions "
            f"WHERE ts >= :clo AND ts < :end{type_filter}), "
            f"conv AS{inline} (SELECT id, person_id, ts, value, prev, {d.lower_bound('ts', lookback_days)} AS lo "
            f"FROM conv_all WHERE ts >= :start)")


# The columns each touch table's branch reads (PostgreSQL materialises them with the conversion's id and time).
TOUCH_READS = {
    "clicks": "person_id, ts, tid, utm_source, utm_medium, link_id, is_bot",
    "landing_visits": "person_id, ts, id, utm_source, utm_medium, utm_campaign, referrer_host, page, is_touch, is_bot",
    "offline_touches": "person_id, ts, id, utm_source, kind, channel, campaign_id",
}


# A touch ``t`` is in the journey of conversion ``c`` (``c`` a row of the ``conv`` CTE).
JOURNEY_CONDITION = "t.person_id = c.person_id AND t.ts >= c.lo AND t.ts <= c.ts AND (c.prev IS NULL OR t.ts > c.prev)"


def _journey_rows_sql(d: _Dialect, *, age: bool) -> str:
    """CTE ``j`` (cid, ts, tpid, e[, age]): every conversion's eligible touches.

    SQLite drives the join from the conversions through the ``(person_id, ts, ...)`` indexes. On
    PostgreSQL the touch tables are read once for the report's whole range (constant bounds, so only
    the window's monthly partitions are scanned) and hash-joined to the conversions; the rows are
    materialised before the key lists are joined, which a nested plan would otherwise rehash once per
    conversion. (A LATERAL index-only range scan per conversion measured slower on the 10M store of
    ``make bench-scale``.)
    """
    condition = JOURNEY_CONDITION
    if not d.postgres:
        owner = "FROM conv c JOIN {table} t ON " + condition
        age_column = f", {d.age_seconds('c.ts', 't.ts')} AS age" if age else ""
        branches = [b.replace("{cols}", "c.id AS cid").replace("{age}", age_column)
                    for b in _touch_branches(d, owner, "")]
        return "j AS (" + " UNION ALL ".join(branches) + ")"
    raw = ", ".join(
        f"jr_{table} AS (SELECT c.id AS cid, c.ts AS cts, "
        f"{', '.join('t.' + column.strip() for column in reads.split(','))} "
        f"FROM {table} t JOIN conv c ON {condition} WHERE t.ts >= :klo AND t.ts <= :end)"
        for table, reads in TOUCH_READS.items())
    age_column = f", {d.age_seconds('t.cts', 't.ts')} AS age" if age else ""
    branches = [b.replace("{cols}", "t.cid AS cid").replace("{age}", age_column)
                for b in _touch_branches(d, "FROM jr_{table} t", "")]
    return raw + ", j AS (" + " UNION ALL ".join(branches) + ")"


def _key_sql(d: _Dialect, *, people: bool, types: bool) -> list[str]:
    """The distinct raw keys of each touch table in [:klo, :end] (of the conversions' people when ``people``)."""
    type_filter = " AND type IN :types" if types else ""
    # SQLite reads the people's touches through the (person_id, ts) indexes; PostgreSQL scans the window's
    # partitions once (a semi-join with the people measured slower on the 10M store), which lists a few
    # more keys than the journeys use, all of them mapped.
    who = (f" AND t.person_id IN (SELECT person_id FROM conversions WHERE ts >= :start AND ts < :end{type_filter})"
           if people and not d.postgres else "")
    window = f" AND t.ts >= :klo AND t.ts <= :end{who}"
    return [
        f"SELECT DISTINCT t.utm_source, t.utm_medium, t.link_id FROM clicks t "
        f"WHERE NOT t.is_bot AND t.person_id IS NOT NULL{window}",
        f"SELECT DISTINCT t.utm_source, t.utm_medium, t.utm_campaign, t.referrer_host, {d.site('t.page')} AS site "
        f"FROM landing_visits t WHERE t.is_touch AND NOT t.is_bot{window}",
        f"SELECT DISTINCT t.utm_source, t.kind, t.channel, t.campaign_id FROM offline_touches t WHERE 1 = 1{window}",
    ]


def _stored_key_sql() -> list[str]:
    """The distinct raw keys of each touch table in the months of [:mlo, :mhi], from the key tables.

    The same columns as :func:`_key_sql`, with :data:`NO_KEY` and -1 read back as NULL. The key tables
    (:mod:`tracker.reports.models`) hold every key of their months, a few hundred rows, where listing
    them from the touches read the window's touches once more.
    """
    months = " WHERE month >= :mlo AND month <= :mhi"
    return [
        f"SELECT DISTINCT NULLIF(utm_source, :z), NULLIF(utm_medium, :z), link_id FROM click_keys{months}",
        "SELECT DISTINCT NULLIF(utm_source, :z), NULLIF(utm_medium, :z), NULLIF(utm_campaign, :z), "
        f"NULLIF(referrer_host, :z), NULLIF(site, :z) FROM visit_keys{months}",
        f"SELECT DISTINCT NULLIF(utm_source, :z), kind, NULLIF(channel, :z), NULLIF(campaign_id, -1) FROM offline_keys"
        f"{months}",
    ]


def _month(value: datetime) -> str:
    """The ``YYYY-MM`` of a UTC time, as the key tables write a touch's month."""
    return value.astimezone(UTC).strftime("%Y-%m")


# ---- elements ----------------------------------------------------------------------------------

@dataclass
class _Elements:
    """The element list and the key lists that map each touch table's raw keys onto it."""

    dims: tuple[str, ...]
    frame: pd.DataFrame
    index: dict[tuple[Any, ...], int]
    keys: dict[str, list[dict[str, Any]]]

    def element(self, values: dict[str, Any]) -> int:
        """The id of the element with these dimension values (added when new)."""
        named = name_missing(pd.DataFrame([{d: values.get(d) for d in ELEMENT_DIMENSIONS}]))
        key = tuple(named.iloc[0][list(self.dims)])
        if key not in self.index:
            self.index[key] = len(self.index)
            self.frame = pd.concat([self.frame, pd.DataFrame([dict(zip(self.dims, key, strict=True))])],
                                   ignore_index=True)
        return self.index[key]

    def categorical(self) -> pd.DataFrame:
        return pd.DataFrame({d: pd.Categorical(self.frame[d].astype(object)) for d in self.dims})


def _text(value: Any) -> str:
    return NO_KEY if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)


def _number(value: Any) -> int:
    return -1 if value is None or pd.isna(value) else int(value)


def _elements(session: Session, settings: Settings, d: _Dialect, dims: tuple[str, ...],
              params: dict[str, Any], *, people: bool, types: bool, stored: bool = False) -> _Elements:
    """Read the distinct raw keys of the window's touches and number the dimension tuples they give.

    ``stored``: from the key tables of the months of ``[klo, end]`` (a superset; a report whose touches
    meet a key they lack reads them again with ``stored`` False), else from the touches of the window
    (of the conversions' people with ``people``).
    """
    taxonomy = settings.taxonomy.as_dict()
    if stored:
        clicks_sql, visits_sql, offline_sql = _stored_key_sql()
        params = {**params, "mlo": _month(params["klo"]), "mhi": _month(params["end"])}
    else:
        clicks_sql, visits_sql, offline_sql = _key_sql(d, people=people, types=types)

    def read(sql: str, columns: Sequence[str]) -> pd.DataFrame:
        return fetch_frame(session, _bound(sql, params), columns, times=())

    clicks = read(clicks_sql, ("source", "medium", "link_id"))
    links = links_frame(session)
    at = pd.Index(links["id"]).get_indexer(clicks["link_id"])
    found = at >= 0
    clicks_dims = pd.DataFrame({
        "channel": assign_channels(clicks, taxonomy, source="source", medium="medium").to_numpy(),
        "source": clicks["source"].to_numpy(dtype=object), "medium": clicks["medium"].to_numpy(dtype=object),
        "campaign": np.where(found, links["campaign"].astype(object).to_numpy()[np.maximum(at, 0)], None),
        "link_code": np.where(found, links["link_code"].astype(object).to_numpy()[np.maximum(at, 0)], None),
        "kind": np.where(found, links["kind"].astype(object).to_numpy()[np.maximum(at, 0)], None),
    })

    visits = read(visits_sql, ("source", "medium", "campaign", "referrer_host", "site"))
    visits_dims = pd.DataFrame({
        "channel": visit_channels(visits, settings),
        "source": visits["source"].to_numpy(dtype=object), "medium": visits["medium"].to_numpy(dtype=object),
        "campaign": visits["campaign"].to_numpy(dtype=object), "link_code": None, "kind": "landing",
    }, index=visits.index)

    offline = read(offline_sql, ("source", "kind", "given_channel", "campaign_id"))
    slugs = dict(session.execute(sa.select(Campaign.id, Campaign.slug)).all())
    offline_dims = pd.DataFrame({
        "channel": offline_channels(offline, taxonomy),
        "source": offline["source"].to_numpy(dtype=object),
        "medium": offline["kind"].where(offline["kind"] != "other").to_numpy(dtype=object),
        "campaign": [slugs.get(c) if c is not None and not pd.isna(c) else None for c in offline["campaign_id"]],
        "link_code": None, "kind": offline["kind"].to_numpy(dtype=object),
    }, index=offline.index)

    every = name_missing(pd.concat([clicks_dims, visits_dims, offline_dims], ignore_index=True))
    tuples = list(every[list(dims)].astype(object).itertuples(index=False, name=None))
    codes, uniques = pd.factorize(pd.Series(tuples, dtype=object)) if tuples else (np.zeros(0, dtype=np.int64), [])
    index = {tuple(u): i for i, u in enumerate(uniques)}
    frame = pd.DataFrame(list(index), columns=list(dims)) if index else pd.DataFrame(columns=list(dims))
    n_clicks, n_visits = len(clicks), len(visits)
    keys = {
        "cmap": [{"a": _text(s), "b": _text(m), "c": _number(k), "e": int(e)} for s, m, k, e in zip(
            clicks["source"], clicks["medium"], clicks["link_id"], codes[:n_clicks], strict=True)],
        "vmap": [{"a": _text(s), "b": _text(m), "c": _text(c), "d": _text(h), "f": _text(f), "e": int(e)}
                 for s, m, c, h, f, e in zip(visits["source"], visits["medium"], visits["campaign"],
                                             visits["referrer_host"], visits["site"],
                                             codes[n_clicks:n_clicks + n_visits], strict=True)],
        "omap": [{"a": _text(s), "b": _text(k), "c": _text(c), "d": _number(i), "e": int(e)}
                 for s, k, c, i, e in zip(offline["source"], offline["kind"], offline["given_channel"],
                                          offline["campaign_id"], codes[n_clicks + n_visits:], strict=True)],
    }
    return _Elements(dims, frame, index, keys)


def _send_keys(session: Session, d: _Dialect, elements: _Elements, params: dict[str, Any],
               answers: pd.DataFrame | None = None) -> int:
    """Put the key lists (and the tied answers' elements) where the report's statement reads them.

    Sets the ``cmap``/``vmap``/``omap`` and ``tie`` JSON parameters (SQLite also fills its temporary
    tables) and returns the element id of the ``[Direct]`` journey's touch.
    """
    direct = elements.element({"channel": DIRECT})
    tie = []
    if answers is not None and len(answers):
        said = answers.dropna(subset=["answer_channel"])
        tie = [{"cid": int(c), "e": elements.element({"channel": a, "kind": SELF_REPORT_KIND})}
               for c, a in zip(said["conversion_id"], said["answer_channel"], strict=True)]
    params.update({name: json.dumps(rows) for name, rows in elements.keys.items()})
    params["tie"] = json.dumps(tie)
    if not d.postgres:
        _sqlite_maps(session, elements.keys)
    return direct


def _bound(sql: str, params: dict[str, Any]) -> sa.TextClause:
    """``sql`` with its parameters bound: times as the service stores them, ``types`` as an expanding list."""
    clause = sa.text(sql)
    binds = []
    for name, value in params.items():
        if f":{name}" not in sql:
            continue
        if isinstance(value, datetime):
            binds.append(sa.bindparam(name, value, type_=UTCDateTime()))
        elif name in ("types", "stages"):
            binds.append(sa.bindparam(name, list(value), expanding=True))
        else:
            binds.append(sa.bindparam(name, value))
    return clause.bindparams(*binds)


def _decode(texts: Sequence[str]) -> list[np.ndarray]:
    """Element-id arrays from the database's space-separated paths ('' for none)."""
    lengths = np.fromiter((0 if not t else t.count(" ") + 1 for t in texts), dtype=np.int64, count=len(texts))
    joined = " ".join(t for t in texts if t)
    # Parsed by numpy straight from the text: no list of a Python string per id (half the peak memory).
    ids = np.fromstring(joined, dtype=np.int64, sep=" ") if joined else np.zeros(0, dtype=np.int64)
    return np.split(ids, np.cumsum(lengths)[:-1]) if len(texts) else []


# ---- the queries -------------------------------------------------------------------------------

def load_paths(session: Session, settings: Settings, *, start: datetime, end: datetime, lookback_days: int,
               types: Sequence[str] | None, dims: Sequence[str], since_previous_conversion: bool = False,
               answers: pd.DataFrame | None = None, non_converting: bool = False) -> Paths:
    """Aggregate the journeys of the conversions with ``start <= ts < end`` to distinct paths in the database.

    Parameters
    ----------
    start, end
        The report's UTC bounds (``end`` exclusive).
    lookback_days
        How far before each conversion its touches may be.
    types
        Conversion types (None: every type).
    dims
        The dimensions each path element carries (``by`` and any filter columns; ``channel`` is
        always added, for last_non_direct and the dark funnel).
    since_previous_conversion
        Journeys start after the person's previous conversion of the same type.
    answers
        Tied answers: ``conversion_id`` and ``answer_channel`` (rows without one are left out); paths
        are then counted per (path, answer).
    non_converting
        Also aggregate the non-converting journeys (ATTRIBUTION.md): each person's touches in the
        period after their last conversion of the types there, no earlier than the lookback before
        the period's end.
    """
    d = _Dialect(session.connection().dialect.name)
    _prepare(session, d)
    dims = tuple(dict.fromkeys(["channel", *dims]))
    lookback = timedelta(days=lookback_days)
    params: dict[str, Any] = {"start": start, "end": end, "clo": start - lookback, "z": NO_KEY,
                              "klo": start - lookback, "nlo": max(start, end - lookback)}
    if types:
        params["types"] = list(types)
    for attempt in range(MAX_TRIES):
        # The key tables first; touches they lack (written with the triggers off): the keys from the touches.
        stored = attempt == 0
        elements = _elements(session, settings, d, dims, params, people=not non_converting, types=bool(types),
                             stored=stored)
        direct = _send_keys(session, d, elements, params, answers)
        converting = _converting(session, d, params, lookback_days, types, since_previous_conversion,
                                 answers is not None, direct)
        nulls = _non_converting(session, d, params, types) if non_converting else None
        stale = any((p == UNMAPPED).any() for p in converting["path"]) or \
            (nulls is not None and any((p == UNMAPPED).any() for p in nulls["path"]))
        if not stale:
            touches = int((converting["touches"]).sum())
            return Paths(elements.categorical(), converting.drop(columns="touches"), nulls, touches, stored)
    raise RuntimeError("touches with new channel keys kept arriving while the report read them; try again")


def _converting(session: Session, d: _Dialect, params: dict[str, Any], lookback_days: int,
                types: Sequence[str] | None, since_previous: bool, answered: bool, direct: int) -> pd.DataFrame:
    answer = "COALESCE(a.e, -1)" if answered else "-1"
    join_answer = f" LEFT JOIN ({d.keys('tie', ANSWER_KEYS)}) AS a ON a.cid = c.id" if answered else ""
    conversions = _conversions_sql(d, types=bool(types), since_previous=since_previous, lookback_days=lookback_days)
    if d.postgres:
        sql = (f"WITH {conversions}, "
               f"{_maps(d)}, {_journey_rows_sql(d, age=False)}, p AS ({d.paths('j', 'cid')}) "
               f"SELECT COALESCE(p.path, '') AS path, {answer} AS answer, count(*) AS conversions, "
               f"CAST(sum(c.value) AS {d.real}) AS value "
               f"FROM conv c LEFT JOIN p ON p.cid = c.id{join_answer} GROUP BY 1, 2")
    else:
        # One correlated subquery per conversion reads its touches through the (person_id, ts, ...) indexes and
        # joins them in journey order: small sorts per conversion, where one statement over every conversion's
        # touches sorted them all at once and then grouped them by conversion (a fifth more instructions on the
        # 1M store of make bench-scale). group_concat takes the rows in the order the sorted subquery gives
        # them (see _Dialect.paths).
        owner = "FROM {table} t"
        condition = " AND " + JOURNEY_CONDITION
        branches = [b.replace("{cols}", "c.id AS cid").replace("{age}", "")
                    for b in _touch_branches(d, owner, condition)]
        journey = (f"(SELECT group_concat(e, ' ') FROM (SELECT e FROM ({' UNION ALL '.join(branches)}) AS j "
                   f"ORDER BY {d.order}) AS ordered)")
        sql = (f"WITH {conversions}, {_maps(d)}, p AS (SELECT c.id AS cid, c.value AS value, {journey} AS path "
                f"FROM conv c) "
               f"SELECT COALESCE(p.path, '') AS path, {answer} AS answer, count(*) AS conversions, "
               f"CAST(sum(p.value) AS REAL) AS value "
               f"FROM p{join_answer.replace('c.id', 'p.cid')} GROUP BY 1, 2")
    frame = fetch_frame(session, _bound(sql, params), ("path", "answer", "conversions", "value"), times=())
    fallback = (frame["path"] == "").to_numpy()
    paths = _decode(list(frame["path"]))
    conversions = frame["conversions"].astype(np.int64).to_numpy()
    touches = conversions * np.fromiter((len(p) for p in paths), dtype=np.int64, count=len(paths))
    paths = [np.array([direct], dtype=np.int64) if f else p for p, f in zip(paths, fallback, strict=True)]
    return pd.DataFrame({"path": pd.Series(paths, dtype=object), "answer": frame["answer"].astype(np.int64),
                         "fallback": fallback, "conversions": conversions,
                         "value": frame["value"].astype(float).fillna(0.0), "touches": touches})


def _non_converting(session: Session, d: _Dialect, params: dict[str, Any], types: Sequence[str] | None) -> pd.DataFrame:
    type_filter = " AND type IN :types" if types else ""
    owner = "FROM {table} t LEFT JOIN lastconv l ON l.person_id = t.person_id"
    extra = " AND t.ts >= :nlo AND t.ts < :end AND (l.last IS NULL OR t.ts > l.last)"
    branches = [b.replace("{cols}", "t.person_id AS pid").replace("{age}", "")
                for b in _touch_branches(d, owner, extra)]
    branches[2] = branches[2].replace("WHERE 1 = 1", "WHERE t.person_id IS NOT NULL")
    sql = (f"WITH lastconv AS (SELECT person_id, max(ts) AS last FROM conversions WHERE ts >= :start AND ts < :end"
           f"{type_filter} GROUP BY person_id), {_maps(d)}, nj AS ({' UNION ALL '.join(branches)}), "
           f"p AS ({d.paths('nj', 'pid')}) SELECT path, count(*) AS nulls FROM p GROUP BY path")
    frame = fetch_frame(session, _bound(sql, params), ("path", "null"), times=())
    return pd.DataFrame({"path": pd.Series(_decode(list(frame["path"])), dtype=object),
                         "null": frame["null"].astype(np.int64)})


@dataclass(frozen=True)
class DecaySums:
    """Time-decay credits summed in the database (:func:`time_decay_sums`)."""

    sums: pd.DataFrame  # the credited elements' dimension columns, conversions and value
    conversions: int  # the conversions credited
    paths: Paths | None = None  # the paths the per-path weights refer to
    per_path: pd.DataFrame | None = None  # path (text), answer, e, weight: summed per distinct path and element

    def replicator(self, journeys: pd.DataFrame, by: Sequence[str]) -> LinearCredits:
        """The time-decay credits as a function of each journey's counts, for the bootstrap.

        ``journeys`` are ``paths.journeys(...)``: one journey per converting (path, answer) row, in
        order. A journey's weight for an element is the mean over its conversions, so the resamples
        give each resampled conversion of a path its path's mean time-decay weights (and mean value).
        """
        if self.paths is None or self.per_path is None:
            raise ValueError("these sums were made without per-path weights (per_path=)")
        frame = self.paths.converting
        texts = ["" if f else " ".join(map(str, p.tolist())) for p, f in
                 zip(frame["path"], frame["fallback"].to_numpy(), strict=True)]
        row = pd.Series(np.arange(len(frame)), index=pd.MultiIndex.from_arrays(
            [pd.Index(texts, dtype=object), frame["answer"].to_numpy()]))
        found = pd.MultiIndex.from_arrays([pd.Index(self.per_path["path"], dtype=object),
                                           self.per_path["answer"].to_numpy()])
        at = row.reindex(found).to_numpy()
        if np.isnan(at).any():
            raise RuntimeError("conversions changed while the report read them; try again")
        journey = at.astype(np.int64)
        columns = list(by)
        elements = self.paths.elements[columns].iloc[self.per_path["e"].to_numpy(dtype=np.int64)]
        key = elements.groupby(columns, dropna=False, observed=True, sort=False).ngroup().to_numpy()
        keys = elements.iloc[np.unique(key, return_index=True)[1]].reset_index(drop=True)
        per_conversion = self.per_path["weight"].to_numpy(dtype=float) / frame["conversions"].to_numpy()[journey]
        starts = np.flatnonzero(journeys["position"].to_numpy() == 0)
        matrix = sp.csr_matrix((per_conversion, (journey, key)), shape=(len(starts), len(keys)))
        return LinearCredits(keys, matrix)


def time_decay_sums(session: Session, settings: Settings, *, start: datetime, end: datetime, lookback_days: int,
                    types: Sequence[str] | None, dims: Sequence[str], half_life_days: float,
                    since_previous_conversion: bool = False, answers: pd.DataFrame | None = None,
                    self_report_as_first_touch: bool = False, per_path: Paths | None = None) -> DecaySums:
    """Time-decay credits per element, computed in the database.

    With ``per_path`` (the report's paths, loaded with the same parameters) the weights are also
    summed per distinct (path, tied answer) and element, for the bootstrap
    (:meth:`DecaySums.replicator`): rows that grow with distinct paths, not touches.

    Each touch's weight is ``2^-((age - youngest) / H)`` over the sum of its journey's, ``age`` the
    time before the conversion in seconds (exact to the microsecond) and ``youngest`` the journey's
    smallest age (the same normalised weights as ``2^-(age / H)``, without underflow). With
    ``self_report_as_first_touch``, a tied answer's element joins the journey with the age of its
    oldest touch (the first one). A conversion without a touch credits 1 to ``[Direct]`` (or to its
    answer, with that option).
    """
    d = _Dialect(session.connection().dialect.name)
    _prepare(session, d)
    dims = tuple(dict.fromkeys(["channel", *dims]))
    lookback = timedelta(days=lookback_days)
    params: dict[str, Any] = {"start": start, "end": end, "clo": start - lookback, "z": NO_KEY,
                              "klo": start - lookback, "h": float(half_life_days) * 86400.0}
    if types:
        params["types"] = list(types)
    heads = self_report_as_first_touch and answers is not None
    for attempt in range(MAX_TRIES):
        # With per_path, the elements are listed as load_paths listed them, so their ids are the paths' ids.
        people = per_path is None or per_path.non_converting is None
        stored = per_path.stored_keys if per_path is not None else attempt == 0
        elements = _elements(session, settings, d, dims, params, people=people, types=bool(types), stored=stored)
        # The answers number their elements as load_paths numbers them; they lead journeys only with heads.
        params["direct"] = _send_keys(session, d, elements, params,
                                      answers if heads or per_path is not None else None)
        head = "CASE WHEN a.e IS NULL THEN 0 ELSE s.head END"
        tied = d.keys("tie", ANSWER_KEYS)
        heads_of = tied if heads else f"SELECT * FROM ({tied}) AS x WHERE 1 = 0"
        conversions = _conversions_sql(d, types=bool(types), since_previous=since_previous_conversion,
                                       lookback_days=lookback_days)
        sql = (f"WITH {conversions}, "
               f"{_maps(d)}, {_journey_rows_sql(d, age=True)}, a AS ({heads_of}), "
               "w AS (SELECT cid, e, age, min(age) OVER (PARTITION BY cid) AS young, "
               "max(age) OVER (PARTITION BY cid) AS old FROM j), "
               "r AS (SELECT cid, e, power(2.0, -(age - young) / :h) AS raw, power(2.0, -(old - young) / :h) AS head "
               "FROM w), "
               "s AS (SELECT cid, sum(raw) AS total, max(head) AS head FROM r GROUP BY cid), "
               "credit AS ("
               f"SELECT r.e AS e, r.raw / (s.total + {head}) AS weight, c.value AS value FROM r "
               "JOIN s ON s.cid = r.cid JOIN conv c ON c.id = r.cid LEFT JOIN a ON a.cid = r.cid "
               "UNION ALL "
               "SELECT a.e, s.head / (s.total + s.head), c.value FROM s JOIN a ON a.cid = s.cid "
               "JOIN conv c ON c.id = s.cid "
               "UNION ALL "
               "SELECT COALESCE(a.e, :direct), 1.0, c.value FROM conv c LEFT JOIN s ON s.cid = c.id "
               "LEFT JOIN a ON a.cid = c.id WHERE s.cid IS NULL) ")
        totals = (f"SELECT e, CAST(sum(weight) AS {d.real}) AS conversions, "
                  f"CAST(sum(weight * value) AS {d.real}) AS value FROM credit GROUP BY e")
        sums = fetch_frame(session, _bound(sql + totals, params), ("e", "conversions", "value"), times=())
        if (sums["e"] == UNMAPPED).any():
            continue
        paths_sums = None
        if per_path is not None:  # the same weights per (path, tied answer, element): the path as load_paths writes it
            keyed = sql.replace("credit AS (SELECT r.e AS e,", "credit AS (SELECT r.cid AS cid, r.e AS e,") \
                .replace("SELECT a.e, s.head", "SELECT s.cid, a.e, s.head") \
                .replace("SELECT COALESCE(a.e, :direct), 1.0", "SELECT c.id, COALESCE(a.e, :direct), 1.0")
            answer = "COALESCE(t.e, -1)" if answers is not None else "-1"
            tie = f" LEFT JOIN ({d.keys('tie', ANSWER_KEYS)}) AS t ON t.cid = credit.cid" if answers is not None \
                else ""
            keyed = keyed.replace("a AS (", f"p AS ({d.paths('j', 'cid')}), a AS (")
            keyed += (f"SELECT COALESCE(p.path, '') AS path, {answer} AS answer, credit.e, "
                      f"CAST(sum(credit.weight) AS {d.real}) AS weight FROM credit LEFT JOIN p ON p.cid = credit.cid"
                      f"{tie} GROUP BY 1, 2, 3")
            paths_sums = fetch_frame(session, _bound(keyed, params), ("path", "answer", "e", "weight"), times=())
            if (paths_sums["e"] == UNMAPPED).any():
                continue
        count = session.execute(_bound(
            f"WITH {_conversions_sql(d, types=bool(types), since_previous=False, lookback_days=lookback_days)} "
            "SELECT count(*) FROM conv", params)).scalar_one()
        frame = elements.categorical()
        at = sums["e"].to_numpy(dtype=np.int64)
        credited = frame.iloc[at].reset_index(drop=True)
        credited["conversions"] = sums["conversions"].astype(float).to_numpy()
        credited["value"] = sums["value"].astype(float).fillna(0.0).to_numpy()
        return DecaySums(credited, int(count), per_path, paths_sums)
    raise RuntimeError("touches with new channel keys kept arriving while the report read them; try again")


SEGMENT_KEYS = (("pid", "text"), ("label", "text"))


def funnel_counts(session: Session, settings: Settings, *, start: datetime, end: datetime, stages: Sequence[str],
                  segment: str | None = None, said: dict[str, str] | None = None) -> pd.DataFrame:
    """Count the period's people by segment and the furthest funnel stage they reached, in the database.

    People are those with a non-bot touch in ``start <= ts < end`` (entry, stage 0) and those with a
    conversion of one of ``stages`` there (stage k for the k-th type; the furthest counts). A
    person's segment is the ``segment`` dimension of their first touch in the period (by
    ``(ts, touchpoint_id)``), or ``said[person_id]`` (the channel of their latest answer) when
    ``said`` is given; people without one are ``(none)``. Returns ``segment``, ``stage``, ``people``:
    one row per (segment, stage), whatever the number of touches, for
    :func:`attribution.funnel.stage_table`.
    """
    from attribution.funnel import NO_SEGMENT

    d = _Dialect(session.connection().dialect.name)
    _prepare(session, d)
    dims = tuple(dict.fromkeys(["channel", segment or "channel"]))
    params: dict[str, Any] = {"start": start, "end": end, "klo": start, "z": NO_KEY, "stages": list(stages),
                              **{f"rank{k:03d}": name for k, name in enumerate(stages)}}
    ranks = " ".join(f"WHEN :rank{k:03d} THEN {k + 1}" for k in range(len(stages)))
    segments = [{"pid": p, "label": label} for p, label in (said or {}).items()]
    for attempt in range(MAX_TRIES):
        elements = _elements(session, settings, d, dims, {**params, "end": end - timedelta(microseconds=1)},
                             people=False, types=False, stored=attempt == 0)
        params.update({name: json.dumps(rows) for name, rows in elements.keys.items()})
        params["segments"] = json.dumps(segments)
        if d.postgres:
            segment_map = d.keys("segments", SEGMENT_KEYS)
        else:
            _sqlite_maps(session, {**elements.keys, "segments": segments}, {**MAPS, "segments": SEGMENT_KEYS})
            segment_map = "SELECT * FROM temp.report_segments"
        branches = [b.replace("{cols}", "t.person_id AS pid").replace("{age}", "")
                    for b in _touch_branches(d, "FROM {table} t", " AND t.ts >= :start AND t.ts < :end")]
        first = (f"SELECT pid, e FROM (SELECT pid, e, row_number() OVER (PARTITION BY pid ORDER BY {d.order}) AS rn "
                 "FROM t) AS ordered WHERE rn = 1") if segment else "SELECT DISTINCT pid, -2 AS e FROM t"
        sql = (f"WITH {_maps(d)}, t AS ({' UNION ALL '.join(branches)}), f AS ({first}), "
               f"top AS (SELECT person_id AS pid, max(CASE type {ranks} END) AS stage FROM conversions "
               "WHERE ts >= :start AND ts < :end AND type IN :stages GROUP BY person_id), "
               f"s AS ({segment_map}), "
               "people AS (SELECT COALESCE(f.pid, top.pid) AS pid, COALESCE(f.e, -2) AS e, "
               "COALESCE(top.stage, 0) AS stage FROM f FULL OUTER JOIN top ON top.pid = f.pid) "
               "SELECT people.e, s.label, people.stage, count(*) FROM people LEFT JOIN s ON s.pid = people.pid "
               "GROUP BY 1, 2, 3")
        frame = fetch_frame(session, _bound(sql, params), ("e", "label", "stage", "people"), times=())
        if (frame["e"] == UNMAPPED).any():
            continue
        if said is not None:
            label = frame["label"].astype(object).where(frame["label"].notna(), NO_SEGMENT)
        elif segment:
            values = elements.categorical()[segment].astype(object).to_numpy()
            e = frame["e"].to_numpy(dtype=np.int64)
            label = pd.Series(np.where(e >= 0, values[np.maximum(e, 0)] if len(values) else NO_SEGMENT, NO_SEGMENT),
                              dtype=object)
        else:
            label = pd.Series("", index=frame.index, dtype=object)
        return pd.DataFrame({"segment": label.to_numpy(), "stage": frame["stage"].astype(np.int64).to_numpy(),
                             "people": frame["people"].astype(np.int64).to_numpy()})
    raise RuntimeError("touches with new channel keys kept arriving while the report read them; try again")
