"""The funnel report's ``country`` segment: the country of each person's first touch in the period.

Clicks, scans and landing visits carry the country worked out at capture; offline touches have none.
A person whose first touch has no country is ``(not set)`` (as GA4 names a missing value), a person
with a conversion but no touch in the period is ``(none)`` (:data:`attribution.funnel.NO_SEGMENT`).
:func:`funnel_country_counts` counts in the database, as :func:`tracker.reports.paths.funnel_counts`
does for the other segments; :func:`first_touch_countries` is the in-memory reference's part.
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.orm import Session

from attribution.funnel import NO_SEGMENT
from attribution.labels import NOT_SET
from tracker.db import UTCDateTime
from tracker.redirects.models import Click
from tracker.touchpoints.models import LandingVisit

__all__ = ["first_touch_countries", "funnel_country_counts"]

CHUNK = 5000


def funnel_country_counts(session: Session, *, start: datetime, end: datetime,
                          stages: Sequence[str]) -> pd.DataFrame:
    """People of ``start <= ts < end`` by first touch's country and furthest stage: ``segment``, ``stage``, ``people``.

    Entry is a non-bot touch in the period (stage 0); stage k is a conversion of the k-th of ``stages``
    there (the furthest counts), as :func:`tracker.reports.paths.funnel_counts` counts them.
    """
    postgres = session.get_bind().dialect.name == "postgresql"
    text = "text" if postgres else "TEXT"
    order = 'ts, tpid COLLATE "C"' if postgres else "ts, tpid"
    window = "t.ts >= :start AND t.ts < :end"
    ranks = " ".join(f"WHEN :rank{k:03d} THEN {k + 1}" for k in range(len(stages)))
    sql = (
        f"WITH t AS ("
        f"SELECT t.person_id AS pid, t.ts AS ts, 'c:' || CAST(t.tid AS {text}) AS tpid, t.country AS country "
        f"FROM clicks t WHERE NOT t.is_bot AND t.person_id IS NOT NULL AND {window} "
        f"UNION ALL SELECT t.person_id, t.ts, 'v:' || CAST(t.id AS {text}), t.country FROM landing_visits t "
        f"WHERE t.is_touch AND NOT t.is_bot AND {window} "
        f"UNION ALL SELECT t.person_id, t.ts, 'o:' || CAST(t.id AS {text}), NULL FROM offline_touches t "
        f"WHERE {window}), "
        f"f AS (SELECT pid, country FROM (SELECT pid, country, row_number() OVER (PARTITION BY pid ORDER BY {order}) "
        "AS rn FROM t) AS ordered WHERE rn = 1), "
        f"top AS (SELECT person_id AS pid, max(CASE type {ranks} END) AS stage FROM conversions "
        "WHERE ts >= :start AND ts < :end AND type IN :stages GROUP BY person_id) "
        "SELECT CASE WHEN f.pid IS NULL THEN 0 ELSE 1 END AS touched, f.country, COALESCE(top.stage, 0) AS stage, "
        "count(*) AS people FROM f FULL OUTER JOIN top ON top.pid = f.pid GROUP BY 1, 2, 3")
    stmt = sa.text(sql).bindparams(sa.bindparam("stages", expanding=True),
                                   sa.bindparam("start", type_=UTCDateTime), sa.bindparam("end", type_=UTCDateTime))
    params: dict[str, Any] = {"start": start, "end": end, "stages": list(stages),
                              **{f"rank{k:03d}": name for k, name in enumerate(stages)}}
    rows = session.execute(stmt, params).all()
    segment = [(country or NOT_SET) if touched else NO_SEGMENT for touched, country, _, _ in rows]
    frame = pd.DataFrame({"segment": pd.Series(segment, dtype=object),
                          "stage": pd.Series([int(r[2]) for r in rows], dtype="int64"),
                          "people": pd.Series([int(r[3]) for r in rows], dtype="int64")})
    # (touched, NULL country) and (touched, "(not set)") cannot both occur, but sum in case of equal labels
    return frame.groupby(["segment", "stage"], as_index=False, sort=True)["people"].sum()


def first_touch_countries(session: Session, first: pd.DataFrame) -> pd.Series:
    """Per ``person_id`` of ``first`` (one first touch each, ``touchpoint_id`` as ``c:<tid>``/``v:<id>``/``o:<id>``):
    the touch's country, ``(not set)`` when it has none."""
    ids = first["touchpoint_id"].astype(str)
    countries: dict[str, str | None] = {}
    clicks = [i[2:] for i in ids if i.startswith("c:")]
    visits = [int(i[2:]) for i in ids if i.startswith("v:")]
    for start in range(0, len(clicks), CHUNK):
        part = clicks[start:start + CHUNK]
        countries.update({f"c:{tid}": c for tid, c in session.execute(
            sa.select(Click.tid, Click.country).where(Click.tid.in_(part)))})
    for start in range(0, len(visits), CHUNK):
        part = visits[start:start + CHUNK]
        countries.update({f"v:{vid}": c for vid, c in session.execute(
            sa.select(LandingVisit.id, LandingVisit.country).where(LandingVisit.id.in_(part)))})
    values = [countries.get(i) or NOT_SET for i in ids]
    return pd.Series(values, index=first["person_id"].to_numpy(), dtype=object)
