"""Identity stitching: POST /api/v1/identify, transitive merges, earlier anonymous clicks included."""
from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa

from tracker.people import service
from tracker.people.models import Identity
from tracker.redirects.models import Click


def click(app, code):
    """A click from a browser of its own; returns (tid, visitor cookie)."""
    resp = app.test_client().get(f"/r/{code}")
    assert resp.status_code == 302
    tid = parse_qs(urlsplit(resp.headers["Location"]).query)["tid"][0]
    return tid, resp.headers["Set-Cookie"].split(";")[0].split("=", 1)[1]


def person_of(session, tid):
    session.expire_all()
    return session.scalar(sa.select(Click.person_id).where(Click.tid == tid))


def test_identify_merges_a_chain_including_earlier_anonymous_clicks(app, client, auth, make_link, drain, session):
    link = make_link()
    tid_a, vid_a = click(app, link["code"])
    tid_b, vid_b = click(app, link["code"])
    drain()
    assert person_of(session, tid_a) != person_of(session, tid_b)  # two anonymous people so far

    # A ~ B: the first browser's site visitor id seen with the customer key
    r1 = client.post("/api/v1/identify", json={"tid": tid_a, "site_visitor_id": "site-1"}, headers=auth)
    assert r1.status_code == 200, r1.json
    r2 = client.post("/api/v1/identify", json={"site_visitor_id": "site-1", "customer_key": "ola@example.no"},
                     headers=auth)
    assert r2.json["person_id"] == r1.json["person_id"] == person_of(session, tid_a)
    # B ~ C: the second browser's cookie seen with the same customer key
    r3 = client.post("/api/v1/identify", json={"visitor_id": vid_b, "customer_key": "OLA@example.no "},
                     headers=auth)
    assert r3.status_code == 200
    person = r3.json["person_id"]
    assert person_of(session, tid_a) == person_of(session, tid_b) == person
    people = set(session.scalars(sa.select(Identity.person_id)))
    assert people == {person}
    kinds = sorted(session.scalars(sa.select(Identity.kind)))
    assert kinds == ["customer", "site", "visitor", "visitor"]

    # later clicks with either cookie belong to the merged person
    later = app.test_client()
    later.set_cookie("trk_vid", vid_a, domain="localhost")
    tid_c = parse_qs(urlsplit(later.get(f"/r/{link['code']}").headers["Location"]).query)["tid"][0]
    drain()
    assert person_of(session, tid_c) == person


def test_identify_needs_two_ids_and_a_recorded_tid(client, auth):
    one = client.post("/api/v1/identify", json={"customer_key": "a@example.no"}, headers=auth)
    assert one.status_code == 422 and "two" in one.json["error"]["message"]
    pending = client.post("/api/v1/identify", json={"tid": "notdrainedyet", "site_visitor_id": "s"}, headers=auth)
    assert pending.status_code == 422 and pending.json["error"]["field"] == "tid"
    unknown = client.post("/api/v1/identify", json={"site_visitor_id": "s", "shoe_size": 44}, headers=auth)
    assert unknown.status_code == 422 and unknown.json["error"]["field"] == "shoe_size"
    too_long = client.post("/api/v1/identify", json={"site_visitor_id": "s" * 65, "customer_key": "k"},
                           headers=auth)
    assert too_long.status_code == 422 and too_long.json["error"]["field"] == "site_visitor_id"
    assert client.post("/api/v1/identify", json={"site_visitor_id": "s", "customer_key": "k"}).status_code == 401


def test_identify_is_repeatable(client, auth, session):
    body = {"site_visitor_id": "s1", "customer_key": "c-1001"}
    first = client.post("/api/v1/identify", json=body, headers=auth).json["person_id"]
    assert client.post("/api/v1/identify", json=body, headers=auth).json["person_id"] == first
    assert session.scalar(sa.select(sa.func.count()).select_from(Identity)) == 2


def test_merge_rewrites_every_row_and_the_smallest_id_survives(app, client, auth, session):
    a = client.post("/api/v1/conversions", json={"external_id": "1", "type": "lead", "site_visitor_id": "s-a"},
                    headers=auth).json["person_id"]
    b = client.post("/api/v1/conversions", json={"external_id": "2", "type": "lead", "customer_key": "k-b"},
                    headers=auth).json["person_id"]
    assert a != b
    merged = client.post("/api/v1/identify", json={"site_visitor_id": "s-a", "customer_key": "k-b"},
                         headers=auth).json["person_id"]
    assert merged == min(a, b)
    journey = client.get(f"/api/v1/people/{merged}/journey", headers=auth).json
    assert [i["detail"]["external_id"] for i in journey["items"]] == ["1", "2"]
    gone = max(a, b)
    assert client.get(f"/api/v1/people/{gone}/journey", headers=auth).status_code == 404


@pytest.mark.parametrize("key", ["", "   "])
def test_customer_hash_refuses_empty_keys(key):
    from tracker.errors import ValidationError
    with pytest.raises(ValidationError):
        service.customer_hash(key, b"s")


def test_customer_hash_normalises_emails_only():
    secret = b"secret"
    assert service.customer_hash(" Kari@Example.NO", secret) == service.customer_hash("kari@example.no", secret)
    assert service.customer_hash("CRM-1", secret) != service.customer_hash("crm-1", secret)
    assert service.customer_hash("crm-1", secret) != service.customer_hash("crm-1", b"other")
