"""The key tables (tracker.reports.models) follow the touch tables, and reports read their keys from them.

The triggers of migration 0013 add a touch's key for its month on every insert and on updates of its
key columns, on SQLite (row triggers) and PostgreSQL (statement triggers on the partitioned tables).
A report lists its elements from those tables; when a touch's key is missing there (written with
the triggers off) it lists them from the touches instead and gives the same paths.
"""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from tracker.conversions.models import Conversion
from tracker.db import get_db
from tracker.links.models import Campaign, Link
from tracker.redirects.models import Click
from tracker.reports.models import NO_KEY, ClickKey, OfflineKey, VisitKey
from tracker.reports.paths import load_paths
from tracker.touchpoints.models import LandingVisit, OfflineTouch

MAY = datetime(2026, 5, 31, 23, 59, 59, 999_999, tzinfo=UTC)  # the last instant of May (UTC)
JUNE = datetime(2026, 6, 1, tzinfo=UTC)


def keys(session: Any, model: Any) -> set[tuple[Any, ...]]:
    columns = list(model.__table__.columns)
    return {tuple(row) for row in session.execute(sa.select(*columns))}


def seed(session: Any) -> tuple[int, int]:
    campaign = Campaign(name="Expo", slug="expo")
    session.add(campaign)
    session.flush()
    link = Link(code="exp", campaign_id=campaign.id, destination="https://example.com/", utm_source="s",
                utm_medium="m", utm_campaign="c", kind="event", fingerprint="exp")
    session.add(link)
    session.flush()
    return link.id, campaign.id


def test_inserts_and_updates_of_touches_add_their_keys_per_month(session: Any) -> None:
    link, campaign = seed(session)
    session.add_all([
        Click(tid="a", ts=MAY, link_id=link, via="qr", outcome="redirect", is_bot=False, utm_source="poster",
              utm_medium=None),
        Click(tid="b", ts=JUNE, link_id=link, via="qr", outcome="redirect", is_bot=True, utm_source="poster",
              utm_medium=None),  # a bot and no person: the key is kept all the same (a superset)
        Click(tid="c", ts=JUNE + timedelta(hours=1), link_id=link, via="qr", outcome="redirect", is_bot=False,
              utm_source="poster", utm_medium=None),  # the same key and month: one row
        LandingVisit(id=1, ts=MAY, person_id="p1", site_visitor_id="v1", is_touch=True,
                     page="shop.example.com/cart", referrer_host=None, utm_source="", utm_medium=None,
                     utm_campaign=None, is_bot=False),
        LandingVisit(id=2, ts=MAY, person_id="p1", site_visitor_id="v1", is_touch=True, page=None,
                     referrer_host="t.co", utm_source=None, utm_medium=None, utm_campaign=None, is_bot=False),
        OfflineTouch(id=1, dedupe_key="k1", ts=JUNE, person_id="p1", customer_hash="h", kind="event",
                     channel=None, campaign_id=campaign, utm_source=None, imported_at=JUNE),
        OfflineTouch(id=2, dedupe_key="k2", ts=JUNE, person_id="p1", customer_hash="h", kind="print",
                     channel="Print", campaign_id=None, utm_source="magazine", imported_at=JUNE),
    ])
    session.commit()
    assert keys(session, ClickKey) == {("2026-05", "poster", NO_KEY, link), ("2026-06", "poster", NO_KEY, link)}
    assert keys(session, VisitKey) == {("2026-05", "", NO_KEY, NO_KEY, NO_KEY, "shop.example.com"),
                                       ("2026-05", NO_KEY, NO_KEY, NO_KEY, "t.co", NO_KEY)}
    assert keys(session, OfflineKey) == {("2026-06", NO_KEY, "event", NO_KEY, campaign),
                                         ("2026-06", "magazine", "print", "Print", -1)}

    # A key column changed: the new key is added (the old one stays: it costs a report nothing).
    session.execute(sa.update(Click).where(Click.tid == "c").values(utm_medium="print"))
    session.execute(sa.update(OfflineTouch).where(OfflineTouch.id == 2).values(channel=None))
    session.execute(sa.update(LandingVisit).where(LandingVisit.id == 2).values(page="www.example.com/a/b"))
    session.commit()
    assert ("2026-06", "poster", "print", link) in keys(session, ClickKey)
    assert ("2026-06", "magazine", "print", NO_KEY, -1) in keys(session, OfflineKey)
    assert ("2026-05", NO_KEY, NO_KEY, NO_KEY, "t.co", "www.example.com") in keys(session, VisitKey)
    assert len(keys(session, ClickKey)) == 3


def test_a_report_reads_its_keys_from_the_key_tables_and_falls_back_to_the_touches(app: Any, session: Any) -> None:
    link, _ = seed(session)
    for i, (source, medium) in enumerate([("poster", "print"), ("newsletter", "email"), (None, None)]):
        session.add(Click(tid=f"t{i}", ts=JUNE + timedelta(days=i), link_id=link, via="link", outcome="redirect",
                          person_id=f"p{i % 2}", is_bot=False, utm_source=source, utm_medium=medium))
    session.add(OfflineTouch(id=1, dedupe_key="k1", ts=JUNE, person_id="p1", customer_hash="h", kind="event",
                             channel=None, campaign_id=None, utm_source=None, imported_at=JUNE))
    for i, person in enumerate(["p0", "p1", "p2"]):
        session.add(Conversion(id=i + 1, external_id=f"o{i}", type="lead", ts=JUNE + timedelta(days=5),
                               value=10, original_value=10, original_currency="NOK", person_id=person,
                               created_at=JUNE))
    session.commit()
    config = app.config["SETTINGS"]
    window = {"start": JUNE, "end": JUNE + timedelta(days=30), "lookback_days": 30, "types": None,
              "dims": ["channel", "source"]}
    with get_db(app).Session() as s:
        stored = load_paths(s, config, non_converting=True, **window)
    assert stored.stored_keys

    # Keys lost (as if written with the triggers off): the report lists them from the touches.
    session.execute(sa.delete(ClickKey))
    session.execute(sa.delete(OfflineKey))
    session.commit()
    with get_db(app).Session() as s:
        scanned = load_paths(s, config, non_converting=True, **window)
    assert not scanned.stored_keys

    def table(paths: Any) -> list[tuple[Any, ...]]:
        journeys = paths.journeys(non_converting=True)
        labels = journeys["channel"].astype(str) + "/" + journeys["source"].astype(str)
        rows = journeys.assign(label=labels).groupby("conversion_id").agg(
            path=("label", " > ".join), conversions=("n_conversions", "first"), null=("n_null", "first"),
            value=("value", "first"))
        return sorted(rows.itertuples(index=False, name=None))

    assert table(stored) == table(scanned)
    assert len(table(stored)) >= 3


def test_keys_no_journey_meets_give_no_rows(app: Any, session: Any) -> None:
    """The key tables are a superset: a key of a bot's click or of a person who never converted shows nowhere."""
    from tracker.reports.params import parse_params
    from tracker.reports.service import attribution_report

    link, _ = seed(session)
    session.add_all([
        Click(tid="human", ts=JUNE, link_id=link, via="link", outcome="redirect", person_id="p1", is_bot=False,
              utm_source="newsletter", utm_medium="email"),
        Click(tid="bot", ts=JUNE, link_id=link, via="link", outcome="redirect", person_id="p1", is_bot=True,
              utm_source="google", utm_medium="cpc"),
        Click(tid="other", ts=JUNE, link_id=link, via="link", outcome="redirect", person_id="p9", is_bot=False,
              utm_source="facebook", utm_medium="social"),
        Conversion(id=1, external_id="o1", type="lead", ts=JUNE + timedelta(days=1), value=10, original_value=10,
                   original_currency="NOK", person_id="p1", created_at=JUNE),
    ])
    session.commit()
    config = app.config["SETTINGS"]
    params = parse_params({"from": "2026-06-01", "to": "2026-06-30", "by": "channel,source",
                           "model": "first_touch,linear,time_decay,position_based"}, config)
    with get_db(app).Session() as s:
        report = attribution_report(s, config, params, engine="database")
    assert {(r["model"], r["source"]) for r in report["rows"]} == {
        (m, "newsletter") for m in ("first_touch", "linear", "time_decay", "position_based")}
    assert keys(session, ClickKey) >= {("2026-06", "google", "cpc", link), ("2026-06", "facebook", "social", link)}
