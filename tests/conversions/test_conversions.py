"""Server-to-server conversions: validation, idempotency, deal stages, currencies, identity."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from tracker.conversions.models import Conversion
from tracker.people.models import Identity
from tracker.redirects.models import Click

TS = "2026-05-12T10:00:00+02:00"


def conversion(**fields):
    body = {"external_id": "deal-1", "type": "lead", "ts": TS, "customer_key": "Kari@Example.no"}
    body.update(fields)
    return body


def rows(session):
    session.expire_all()
    return list(session.scalars(sa.select(Conversion).order_by(Conversion.id)))


def test_conversion_is_idempotent_on_external_id_and_type(client, auth, session):
    first = client.post("/api/v1/conversions", json=conversion(value="1500"), headers=auth)
    assert first.status_code == 201, first.json
    assert first.json["status"] == "created"
    assert first.json["ts"] == "2026-05-12T08:00:00+00:00"
    again = client.post("/api/v1/conversions", json=conversion(value="99999", ts="2026-05-13T10:00:00Z"),
                        headers=auth)
    assert again.status_code == 200
    assert again.json["status"] == "duplicate"
    assert again.json["id"] == first.json["id"] and again.json["value"] == "1500.00"  # nothing changed
    (row,) = rows(session)
    assert row.value == Decimal("1500.00") and row.ts == datetime(2026, 5, 12, 8, tzinfo=UTC)


def test_a_deal_moves_from_lead_to_purchase(client, auth, session):
    for stage, value in (("lead", "0"), ("opportunity", "0"), ("purchase", "25000")):
        resp = client.post("/api/v1/conversions", json=conversion(type=stage, value=value), headers=auth)
        assert resp.status_code == 201 and resp.json["status"] == "created", resp.json
    stored = rows(session)
    assert [c.type for c in stored] == ["lead", "opportunity", "purchase"]
    assert len({c.person_id for c in stored}) == 1  # the same customer key: one person
    listed = client.get("/api/v1/conversions?type=purchase", headers=auth).json
    assert listed["total"] == 1 and listed["items"][0]["value"] == "25000.00"


def test_the_raw_customer_key_is_never_stored(client, auth, session):
    client.post("/api/v1/conversions", json=conversion(customer_key="  Kari@Example.NO "), headers=auth)
    (row,) = rows(session)
    assert row.customer_hash and "kari" not in row.customer_hash.lower()
    dump = " ".join(str(v) for v in session.execute(sa.select(Identity.value)).scalars())
    assert "@" not in dump
    # e-mails are normalised: another spelling is the same person
    resp = client.post("/api/v1/conversions", json=conversion(type="purchase", customer_key="kari@example.no"),
                       headers=auth)
    assert resp.json["person_id"] == row.person_id


def test_currency_needs_a_configured_rate(make_app, session):
    app = make_app(currency_rates=("EUR=11.6",))
    client = app.test_client()
    from accounts_support import make_key

    from tracker.db import get_db
    with get_db(app).Session() as s:
        plain = make_key(s, "admin")
    auth = {"Authorization": f"Bearer {plain}"}
    resp = client.post("/api/v1/conversions", json=conversion(value="100", currency="eur"), headers=auth)
    assert resp.status_code == 201, resp.json
    assert resp.json["value"] == "1160.00" and resp.json["currency"] == "NOK"
    assert resp.json["original_value"] == "100.00" and resp.json["original_currency"] == "EUR"
    bad = client.post("/api/v1/conversions", json=conversion(external_id="d2", value="100", currency="USD"),
                      headers=auth)
    assert bad.status_code == 422 and bad.json["error"]["field"] == "currency"
    assert "USD" in bad.json["error"]["message"]
    default = client.post("/api/v1/conversions", json=conversion(external_id="d3", value="10.005"), headers=auth)
    assert default.json["value"] == "10.01" and default.json["original_currency"] == "NOK"


@pytest.mark.parametrize(("fields", "field"), [
    ({"type": "signup"}, "type"),
    ({"type": None}, "type"),
    ({"external_id": ""}, "external_id"),
    ({"external_id": "x" * 101}, "external_id"),
    ({"value": "-1"}, "value"),
    ({"value": "lots"}, "value"),
    ({"value": True}, "value"),
    ({"currency": "kroner"}, "currency"),
    ({"ts": "yesterday"}, "ts"),
    ({"ts": "2026-05-12T10:00:00"}, "ts"),  # no offset
    ({"tid": "x" * 40}, "tid"),
    ({"site_visitor_id": 5}, "site_visitor_id"),
    ({"customer_key": "k" * 400}, "customer_key"),
    ({"colour": "red"}, "colour"),
])
def test_validation_names_the_field(client, auth, session, fields, field):
    resp = client.post("/api/v1/conversions", json=conversion(**fields), headers=auth)
    assert resp.status_code == 422, resp.json
    assert resp.json["error"]["field"] == field
    assert rows(session) == []


def test_times_far_in_the_future_are_rejected(client, auth):
    soon = (datetime.now(UTC) + timedelta(minutes=2)).isoformat()
    later = (datetime.now(UTC) + timedelta(minutes=10)).isoformat()
    assert client.post("/api/v1/conversions", json=conversion(ts=soon), headers=auth).status_code == 201
    bad = client.post("/api/v1/conversions", json=conversion(external_id="d2", ts=later), headers=auth)
    assert bad.status_code == 422 and bad.json["error"]["field"] == "ts"


def test_unknown_identity_is_kept_as_its_own_person(client, auth, session):
    a = client.post("/api/v1/conversions", json={"external_id": "o-1", "type": "purchase", "value": 10},
                    headers=auth)
    b = client.post("/api/v1/conversions", json={"external_id": "o-2", "type": "purchase",
                                                 "tid": "notaclickweknow"}, headers=auth)
    assert a.status_code == b.status_code == 201
    assert a.json["person_id"] != b.json["person_id"]
    assert [c.tid for c in rows(session)] == [None, "notaclickweknow"]  # kept for when the click drains
    journey = client.get(f"/api/v1/people/{a.json['person_id']}/journey", headers=auth).json
    assert [i["kind"] for i in journey["items"]] == ["conversion"]


def test_conversion_with_tid_joins_the_click_even_when_drained_later(client, auth, make_link, drain, session):
    link = make_link()
    tid = client.get(f"/r/{link['code']}").headers["Location"].split("tid=")[1].split("&")[0]
    before = client.post("/api/v1/conversions", json={"external_id": "o-1", "type": "lead", "tid": tid},
                         headers=auth).json
    assert before["tid"] == tid
    drain()
    after = client.post("/api/v1/conversions", json={"external_id": "o-1", "type": "purchase", "tid": tid},
                        headers=auth).json
    session.expire_all()
    person = session.scalar(sa.select(Identity.person_id).where(Identity.kind == "visitor"))
    assert {c.person_id for c in rows(session)} == {person}
    assert session.scalar(sa.select(Click.person_id).where(Click.tid == tid)) == person == after["person_id"]


def test_batch_is_atomic_by_default_and_reports_items(client, auth, session):
    batch = {"conversions": [conversion(external_id="a"), conversion(external_id="b", type="nope"),
                             conversion(external_id="c", value="-5")]}
    resp = client.post("/api/v1/conversions", json=batch, headers=auth)
    assert resp.status_code == 422
    assert [(r["index"], r["field"]) for r in resp.json["error"]["rejected"]] == [(1, "type"), (2, "value")]
    assert rows(session) == []

    resp = client.post("/api/v1/conversions?atomic=false", json=batch, headers=auth)
    assert resp.status_code == 201
    assert resp.json["created"] == 1 and [r["index"] for r in resp.json["rejected"]] == [1, 2]
    assert [c.external_id for c in rows(session)] == ["a"]

    resp = client.post("/api/v1/conversions", json={"conversions": [conversion(external_id="a"),
                                                                    conversion(external_id="d"),
                                                                    conversion(external_id="d")]}, headers=auth)
    assert resp.status_code == 201
    assert [i["status"] for i in resp.json["items"]] == ["duplicate", "created", "duplicate"]
    again = client.post("/api/v1/conversions", json={"conversions": [conversion(external_id="d")]}, headers=auth)
    assert again.status_code == 200 and again.json["created"] == 0 and again.json["duplicates"] == 1


@pytest.mark.parametrize("body", [[], "text", {"conversions": "x"}, {"conversions": []},
                                  {"conversions": [{}] * 1001}])
def test_malformed_bodies_are_rejected(client, auth, body):
    resp = client.post("/api/v1/conversions", json=body, headers=auth)
    assert resp.status_code == 422
    assert "error" in resp.json


def test_conversions_need_a_key(client):
    assert client.post("/api/v1/conversions", json=conversion()).status_code == 401
    assert client.get("/api/v1/conversions").status_code == 401


def test_list_filters_by_day_in_the_report_time_zone(client, auth):
    # 23:30 in Oslo on 11 May is 21:30 UTC: it belongs to 11 May
    client.post("/api/v1/conversions", json=conversion(external_id="late", ts="2026-05-11T23:30:00+02:00"),
                headers=auth)
    client.post("/api/v1/conversions", json=conversion(external_id="next", ts="2026-05-12T00:30:00+02:00"),
                headers=auth)
    day = client.get("/api/v1/conversions?from=2026-05-11&to=2026-05-11", headers=auth).json
    assert [c["external_id"] for c in day["items"]] == ["late"]
    both = client.get("/api/v1/conversions?from=2026-05-11", headers=auth).json
    assert [c["external_id"] for c in both["items"]] == ["next", "late"]
    bad = client.get("/api/v1/conversions?from=2026-05-12&to=2026-05-11", headers=auth)
    assert bad.status_code == 422 and bad.json["error"]["field"] == "to"
