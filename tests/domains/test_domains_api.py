"""The domains API: add, list, read, change, delete; host rules, duplicates, the default domain, roles."""
from __future__ import annotations

import pytest
from domains_support import BRAND, EVENT, LINK

from tracker.domains.models import Domain

PUBLIC_HOST = "go.example.com"  # the host of the tests' public_base_url (tests/conftest.py)


def test_add_list_read_change_delete(client, auth, session):
    resp = client.post("/api/v1/domains", json={"host": BRAND, "not_found_url": "https://Brand.example/home"},
                       headers=auth)
    assert resp.status_code == 201
    assert resp.json == {"host": BRAND, "default": False, "scheme": "https", "links": 0,
                         "not_found_url": "https://brand.example/home", "created_at": resp.json["created_at"]}
    assert client.post("/api/v1/domains", json={"host": EVENT, "scheme": "http"}, headers=auth).status_code == 201

    items = client.get("/api/v1/domains", headers=auth).json["items"]
    # the default domain first (from the settings), then the others by host
    assert [(d["host"], d["default"], d["scheme"]) for d in items] == [
        (PUBLIC_HOST, True, "https"), (BRAND, False, "https"), (EVENT, False, "http")]
    assert items[0]["not_found_url"] is None and items[0]["created_at"] is None

    assert client.get(f"/api/v1/domains/{BRAND.upper()}", headers=auth).json["host"] == BRAND
    assert client.get(f"/api/v1/domains/{PUBLIC_HOST}", headers=auth).json["default"] is True

    resp = client.patch(f"/api/v1/domains/{EVENT}", json={"scheme": "https", "not_found_url": "https://expo.no/"},
                        headers=auth)
    assert resp.status_code == 200 and resp.json["scheme"] == "https" and resp.json["not_found_url"] == "https://expo.no/"
    resp = client.patch(f"/api/v1/domains/{EVENT}", json={"not_found_url": None}, headers=auth)
    assert resp.status_code == 200 and resp.json["not_found_url"] is None

    assert client.delete(f"/api/v1/domains/{EVENT}", headers=auth).status_code == 204
    assert client.get(f"/api/v1/domains/{EVENT}", headers=auth).status_code == 404
    assert [d.host for d in session.query(Domain)] == [BRAND]


def test_international_hosts_are_stored_in_punycode(client, auth):
    resp = client.post("/api/v1/domains", json={"host": "Gå.Bøker.NO."}, headers=auth)
    assert resp.status_code == 201
    assert resp.json["host"] == "xn--g-2fa.xn--bker-gra.no"
    # found by either spelling; the same name again is a duplicate
    assert client.get("/api/v1/domains/gå.bøker.no", headers=auth).json["host"] == "xn--g-2fa.xn--bker-gra.no"
    resp = client.post("/api/v1/domains", json={"host": "xn--g-2fa.xn--bker-gra.no"}, headers=auth)
    assert resp.status_code == 409 and resp.json["error"]["field"] == "host"


@pytest.mark.parametrize("host", ["https://go.brand.no", "go.brand.no:8443", "go.brand.no/expo", "user@go.brand.no",
                                  "go brand.no", "go..brand.no", "-", "a" * 64 + ".no", "bad_char$.no",
                                  "example.123", "xn--zz.no", "[::1]", ""])
def test_bad_hosts_are_422_naming_host(client, auth, host):
    resp = client.post("/api/v1/domains", json={"host": host}, headers=auth)
    assert resp.status_code == 422, resp.json
    assert resp.json["error"]["field"] == "host"
    assert client.get("/api/v1/domains", headers=auth).json["items"][1:] == []  # nothing written


@pytest.mark.parametrize(("body", "field"), [
    ({"host": BRAND, "scheme": "ftp"}, "scheme"),
    ({"host": BRAND, "not_found_url": "javascript:alert(1)"}, "not_found_url"),
    ({"host": BRAND, "not_found_url": "https://user@evil.example/"}, "not_found_url"),
    ({"host": BRAND, "colour": "red"}, "colour"),
    ({"scheme": "https"}, "host"),
    ({"host": 42}, "host"),
])
def test_bad_fields_are_422_naming_the_field(client, auth, body, field):
    resp = client.post("/api/v1/domains", json=body, headers=auth)
    assert resp.status_code == 422 and resp.json["error"]["field"] == field, resp.json


def test_not_found_url_obeys_destination_domains(make_app, auth):
    app = make_app(destination_domains=("brand.example",))
    from accounts_support import make_key

    from tracker.db import get_db
    with get_db(app).Session() as s:
        headers = {"Authorization": f"Bearer {make_key(s, 'admin')}"}
    client = app.test_client()
    resp = client.post("/api/v1/domains", json={"host": BRAND, "not_found_url": "https://elsewhere.example/"},
                       headers=headers)
    assert resp.status_code == 422 and resp.json["error"]["field"] == "not_found_url"
    resp = client.post("/api/v1/domains", json={"host": BRAND, "not_found_url": "https://www.brand.example/"},
                       headers=headers)
    assert resp.status_code == 201


def test_duplicate_and_default_hosts_are_409(client, auth, add_domain):
    add_domain(BRAND)
    resp = client.post("/api/v1/domains", json={"host": "GO.BRAND.NO"}, headers=auth)
    assert resp.status_code == 409 and resp.json["error"]["field"] == "host"
    assert "already a short-link domain" in resp.json["error"]["message"]
    resp = client.post("/api/v1/domains", json={"host": PUBLIC_HOST}, headers=auth)
    assert resp.status_code == 409 and "already the default domain" in resp.json["error"]["message"]


def test_patch_cannot_change_the_host_or_the_default_domain(client, auth, add_domain):
    add_domain(BRAND)
    resp = client.patch(f"/api/v1/domains/{BRAND}", json={"host": "go.other.no"}, headers=auth)
    assert resp.status_code == 422 and resp.json["error"]["field"] == "host"
    resp = client.patch(f"/api/v1/domains/{BRAND}", json={"scheme": "gopher"}, headers=auth)
    assert resp.status_code == 422 and resp.json["error"]["field"] == "scheme"
    resp = client.patch(f"/api/v1/domains/{BRAND}", json={"not_found_url": "data:text/html,x"}, headers=auth)
    assert resp.status_code == 422 and resp.json["error"]["field"] == "not_found_url"
    assert client.get(f"/api/v1/domains/{BRAND}", headers=auth).json["scheme"] == "https"  # nothing written
    # the default domain is configured by the settings, not through the API
    assert client.patch(f"/api/v1/domains/{PUBLIC_HOST}", json={"scheme": "http"}, headers=auth).status_code == 404
    assert client.delete(f"/api/v1/domains/{PUBLIC_HOST}", headers=auth).status_code == 404


def test_a_domain_with_links_cannot_be_deleted(client, auth, add_domain):
    add_domain(BRAND)
    for content in ("a", "b"):
        assert client.post("/api/v1/links", json={**LINK, "domain": BRAND, "utm_content": content},
                           headers=auth).status_code == 201
    resp = client.delete(f"/api/v1/domains/{BRAND}", headers=auth)
    assert resp.status_code == 409
    assert resp.json["error"]["links"] == 2 and "2 link(s) use go.brand.no" in resp.json["error"]["message"]
    assert client.get(f"/api/v1/domains/{BRAND}", headers=auth).json["links"] == 2
    listed = {d["host"]: d["links"] for d in client.get("/api/v1/domains", headers=auth).json["items"]}
    assert listed == {PUBLIC_HOST: 0, BRAND: 2}


def test_unknown_domain_is_404(client, auth):
    for method in ("get", "patch", "delete"):
        resp = getattr(client, method)("/api/v1/domains/nowhere.example", headers=auth, json={})
        assert resp.status_code == 404 and resp.json["error"]["field"] == "host"


@pytest.mark.parametrize("role", ["staff", "analyst", "ingest"])
def test_only_admins_and_marketers_write_domains(client, role_key, add_domain, role):
    add_domain(BRAND)
    headers = {"Authorization": f"Bearer {role_key(role)}"}
    for method, path, body in (("post", "/api/v1/domains", {"host": EVENT}),
                               ("patch", f"/api/v1/domains/{BRAND}", {"scheme": "http"}),
                               ("delete", f"/api/v1/domains/{BRAND}", None)):
        resp = getattr(client, method)(path, json=body, headers=headers)
        assert resp.status_code == 403 and resp.json["error"]["code"] == "forbidden", (method, path)
    # staff and analysts may read them (to pick one); ingest keys may not
    resp = client.get("/api/v1/domains", headers=headers)
    assert resp.status_code == (403 if role == "ingest" else 200)
    resp = client.get(f"/api/v1/domains/{BRAND}", headers=headers)
    assert resp.status_code == (403 if role == "ingest" else 200)
    if role != "ingest":
        assert resp.json["scheme"] == "https"


def test_marketers_add_domains(client, role_key):
    headers = {"Authorization": f"Bearer {role_key('marketer')}"}
    assert client.post("/api/v1/domains", json={"host": BRAND}, headers=headers).status_code == 201
    assert client.delete(f"/api/v1/domains/{BRAND}", headers=headers).status_code == 204


def test_the_default_domain_shows_the_not_found_url_setting(make_app):
    app = make_app(not_found_url="https://example.com/where-did-it-go")
    from accounts_support import make_key

    from tracker.db import get_db
    with get_db(app).Session() as s:
        headers = {"Authorization": f"Bearer {make_key(s, 'analyst')}"}
    (default,) = app.test_client().get("/api/v1/domains", headers=headers).json["items"]
    assert default == {"host": PUBLIC_HOST, "default": True, "scheme": "https", "links": 0, "created_at": None,
                       "not_found_url": "https://example.com/where-did-it-go"}
