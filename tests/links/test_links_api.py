"""Campaigns and links through the JSON API: governance, duplicates, bulk CSV, history, errors."""
from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from tracker.links.service import CODE_ALPHABET


def test_api_requires_a_key(client):
    resp = client.get("/api/v1/links")
    assert resp.status_code == 401
    assert resp.json["error"]["code"] == "unauthorized"
    resp = client.get("/api/v1/links", headers={"Authorization": "Bearer trk_nothing_here"})
    assert resp.status_code == 401


def test_revoked_key_is_refused(client, app, api_key, auth):
    from tracker.auth.service import revoke_key
    from tracker.db import get_db
    assert client.get("/api/v1/links", headers=auth).status_code == 200
    with get_db(app).Session() as s:
        revoke_key(s, api_key.split("_")[1])
    assert client.get("/api/v1/links", headers=auth).status_code == 401


def test_campaign_create_get_patch_and_costs(client, auth):
    resp = client.post("/api/v1/campaigns", json={"name": "Spring Sale 2026", "start_date": "2026-03-01",
                                                   "end_date": "2026-04-30"}, headers=auth)
    assert resp.status_code == 201
    camp = resp.json
    assert camp["slug"] == "spring-sale-2026"
    assert client.get(f"/api/v1/campaigns/{camp['id']}", headers=auth).json["name"] == "Spring Sale 2026"
    assert client.get("/api/v1/campaigns/spring-sale-2026", headers=auth).json["id"] == camp["id"]

    resp = client.patch(f"/api/v1/campaigns/{camp['id']}", json={"description": "Posters + email",
                                                                  "fallback_url": "https://example.com/"},
                        headers=auth)
    assert resp.status_code == 200
    assert resp.json["description"] == "Posters + email"
    bad = client.patch(f"/api/v1/campaigns/{camp['id']}", json={"end_date": "2026-01-01"}, headers=auth)
    assert bad.status_code == 422 and bad.json["error"]["field"] == "end_date"

    cost = client.post(f"/api/v1/campaigns/{camp['id']}/costs",
                       json={"date": "2026-03-02", "amount": "1250.50", "currency": "nok", "channel": "Print"},
                       headers=auth)
    assert cost.status_code == 201
    assert cost.json == {"id": cost.json["id"], "date": "2026-03-02", "amount": "1250.50", "currency": "NOK",
                         "channel": "Print"}
    bad = client.post(f"/api/v1/campaigns/{camp['id']}/costs",
                      json={"date": "2026-03-02", "amount": "-3", "currency": "NOK"}, headers=auth)
    assert bad.status_code == 422 and bad.json["error"]["field"] == "amount"
    bad = client.post(f"/api/v1/campaigns/{camp['id']}/costs",
                      json={"date": "2026-03-02", "amount": "3", "channel": "Telepathy"}, headers=auth)
    assert bad.status_code == 422 and bad.json["error"]["field"] == "channel"
    assert len(client.get(f"/api/v1/campaigns/{camp['id']}", headers=auth).json["costs"]) == 1

    dup = client.post("/api/v1/campaigns", json={"name": "Spring sale 2026"}, headers=auth)
    assert dup.status_code == 409 and dup.json["error"]["field"] == "slug"
    assert client.get("/api/v1/campaigns/9999", headers=auth).status_code == 404


def test_link_normalises_tags_and_builds_urls(client, auth, campaign):
    resp = client.post("/api/v1/links", json={
        "destination": "https://Example.com/landing?ref=abc&utm_source=stale#top",
        "campaign": campaign["slug"], "utm_source": "  Oslo  Expo ", "utm_medium": "EVENT",
        "utm_content": "Booth 12", "extra_params": {"lang": "no"}, "kind": "event", "label": "Booth 12, Oslo Expo",
    }, headers=auth)
    assert resp.status_code == 201, resp.json
    link = resp.json
    assert link["utm_source"] == "oslo-expo"
    assert link["utm_medium"] == "event"
    assert link["utm_campaign"] == campaign["slug"]  # defaults to the campaign slug
    assert link["utm_content"] == "booth-12"
    assert link["channel"] == "Events"
    code = link["code"]
    assert 6 <= len(code) <= 8 and set(code) <= set(CODE_ALPHABET)
    assert not set(code) & set("0o1liI")
    assert link["short_url"] == f"https://go.example.com/r/{code}"
    assert link["qr_url"] == f"https://go.example.com/q/{code}"
    parts = urlsplit(link["tracked_url"])
    assert parts.netloc == "example.com" and parts.fragment == "top"
    query = parse_qs(parts.query)
    assert query == {"ref": ["abc"], "lang": ["no"], "utm_source": ["oslo-expo"], "utm_medium": ["event"],
                     "utm_campaign": [campaign["slug"]], "utm_content": ["booth-12"]}


@pytest.mark.parametrize("body, field", [
    ({"destination": "javascript:alert(1)"}, "destination"),
    ({"destination": "//evil.example/x"}, "destination"),
    ({"destination": "https://user:pw@example.com/"}, "destination"),
    ({"destination": "ftp://example.com/"}, "destination"),
    ({"destination": "https://exa mple.com/"}, "destination"),
    ({"utm_source": "   "}, "utm_source"),
    ({"utm_medium": "carrier-pigeon"}, "utm_medium"),
    ({"kind": "telepathy"}, "kind"),
    ({"slug": "no spaces!"}, "slug"),
    ({"expires_at": "2026-05-01T10:00:00"}, "expires_at"),
    ({"extra_params": {"utm_source": "x"}}, "extra_params"),
    ({"unexpected": 1}, "unexpected"),
])
def test_bad_link_input_names_the_field(client, auth, body, field):
    payload = {"destination": "https://example.com/", "utm_source": "news", "utm_medium": "email",
               "utm_campaign": "c"}
    payload.update(body)
    resp = client.post("/api/v1/links", json=payload, headers=auth)
    assert 400 <= resp.status_code < 500
    assert resp.json["error"]["field"] == field, resp.json


def test_missing_required_fields(client, auth):
    resp = client.post("/api/v1/links", json={"destination": "https://example.com/"}, headers=auth)
    assert resp.status_code == 422
    assert resp.json["error"]["field"] in ("utm_source", "utm_medium")
    resp = client.post("/api/v1/links", json={"destination": "https://example.com/", "utm_source": "a",
                                              "utm_medium": "email"}, headers=auth)
    assert resp.status_code == 422 and resp.json["error"]["field"] == "utm_campaign"
    resp = client.post("/api/v1/links", data="not json", headers={**auth, "Content-Type": "application/json"})
    assert resp.status_code in (400, 422) and "error" in resp.json


def test_idn_destination_is_punycoded(client, auth, make_link):
    link = make_link(destination="https://blåbær.no/tilbud")
    assert link["destination"] == "https://" + "blåbær.no".encode("idna").decode() + "/tilbud"
    assert link["destination"].startswith("https://xn--")


def test_duplicate_answers_409_with_existing_then_force(client, auth, make_link):
    first = make_link(label="Flyer A")
    body = {"destination": "https://example.com/landing", "utm_source": "Newsletter", "utm_medium": "email",
            "utm_campaign": "spring", "label": "Flyer A"}
    dup = client.post("/api/v1/links", json=body, headers=auth)
    assert dup.status_code == 409
    assert dup.json["error"]["existing"] == first["code"]
    forced = client.post("/api/v1/links?force=true", json=body, headers=auth)
    assert forced.status_code == 201 and forced.json["code"] != first["code"]
    other_label = client.post("/api/v1/links", json={**body, "label": "Flyer B"}, headers=auth)
    assert other_label.status_code == 201


def test_custom_slug_is_case_insensitive_and_unique(client, auth, make_link):
    link = make_link(slug="TechTalk")
    assert link["code"] == "techtalk"
    assert client.get("/api/v1/links/TECHTALK", headers=auth).json["id"] == link["id"]
    again = client.post("/api/v1/links", json={"destination": "https://example.com/x", "utm_source": "p",
                                               "utm_medium": "podcast", "utm_campaign": "c", "slug": "techtalk"},
                        headers=auth)
    assert again.status_code == 409 and again.json["error"]["field"] == "slug"


@pytest.mark.parametrize("slug", ["new", "NEW", "bulk"])
def test_custom_slug_cannot_take_a_reserved_word(client, auth, slug):
    resp = client.post("/api/v1/links", json={"destination": "https://example.com/x", "utm_source": "p",
                                              "utm_medium": "podcast", "utm_campaign": "c", "slug": slug},
                       headers=auth)
    assert resp.status_code == 422 and resp.json["error"]["field"] == "slug"


def test_patch_keeps_destination_history_and_code(client, auth, make_link):
    link = make_link()
    resp = client.patch(f"/api/v1/links/{link['code']}", json={"destination": "https://example.com/new"},
                        headers=auth)
    assert resp.status_code == 200
    assert [h["destination"] for h in resp.json["history"]] == ["https://example.com/landing",
                                                                "https://example.com/new"]
    assert resp.json["code"] == link["code"]
    resp = client.patch(f"/api/v1/links/{link['code']}", json={"utm_medium": "nope"}, headers=auth)
    assert resp.status_code == 422 and resp.json["error"]["field"] == "utm_medium"
    # a failed patch changed nothing
    assert client.get(f"/api/v1/links/{link['code']}", headers=auth).json["utm_medium"] == "email"
    resp = client.patch(f"/api/v1/links/{link['code']}", json={"slug": "other"}, headers=auth)
    assert resp.status_code == 422


def test_list_filters_and_pagination(client, auth, campaign, make_link):
    make_link(campaign=campaign["slug"], kind="event", label="Booth", utm_source="expo", utm_medium="event")
    make_link(campaign=campaign["slug"], kind="print", label="Poster", utm_source="poster", utm_medium="print")
    make_link(label="Mail")
    all_links = client.get("/api/v1/links", headers=auth).json
    assert all_links["total"] == 3
    by_campaign = client.get(f"/api/v1/links?campaign={campaign['slug']}", headers=auth).json
    assert {i["label"] for i in by_campaign["items"]} == {"Booth", "Poster"}
    assert client.get("/api/v1/links?kind=print", headers=auth).json["items"][0]["label"] == "Poster"
    assert client.get("/api/v1/links?utm_medium=email", headers=auth).json["total"] == 1
    assert client.get("/api/v1/links?q=post", headers=auth).json["total"] == 1
    page = client.get("/api/v1/links?per_page=2&page=2", headers=auth).json
    assert page["total"] == 3 and len(page["items"]) == 1
    assert client.get("/api/v1/links?per_page=0", headers=auth).status_code == 422


CSV_GOOD_BAD = (
    "destination,campaign,utm_source,utm_medium,kind,label\n"
    "https://example.com/a,oslo-expo-2026,Expo,event,event,Booth 1\n"       # line 2 ok
    "notaurl,oslo-expo-2026,Expo,event,event,Booth 2\n"                     # line 3 bad destination
    "https://example.com/c,oslo-expo-2026,Expo,smoke-signal,event,Booth 3\n"  # line 4 bad medium
    "https://example.com/a,oslo-expo-2026,expo,event,event,Booth 1\n"       # line 5 duplicate of line 2
    "\"https://example.com/d\",oslo-expo-2026,Expo,print,print,\"Poster,\nwith newline\"\n"  # lines 6-7 ok
    "https://example.com/e,nope,Expo,print,print,Poster\n"                  # line 8 unknown campaign
)


def test_bulk_csv_non_atomic_keeps_good_rows(client, auth, campaign):
    resp = client.post("/api/v1/links/bulk?atomic=false", data=CSV_GOOD_BAD,
                       headers={**auth, "Content-Type": "text/csv"})
    assert resp.status_code == 200, resp.json
    assert [(r["line"], r["field"]) for r in resp.json["rejected"]] == [
        (3, "destination"), (4, "utm_medium"), (5, None), (8, "campaign")]
    assert [link["label"] for link in resp.json["created"]] == ["Booth 1", "Poster,\nwith newline"]
    assert client.get("/api/v1/links", headers=auth).json["total"] == 2


def test_bulk_csv_atomic_writes_nothing_on_a_bad_row(client, auth, campaign):
    resp = client.post("/api/v1/links/bulk", data=CSV_GOOD_BAD, headers={**auth, "Content-Type": "text/csv"})
    assert resp.status_code == 422
    assert resp.json["committed"] is False and resp.json["created"] == []
    assert len(resp.json["rejected"]) == 4
    assert client.get("/api/v1/links", headers=auth).json["total"] == 0


def test_bulk_csv_multipart_and_all_good(client, auth, campaign):
    import io
    text = "destination,utm_source,utm_medium,utm_campaign\nhttps://example.com/1,a,email,c\nhttps://example.com/2,b,email,c\n"
    resp = client.post("/api/v1/links/bulk", data={"file": (io.BytesIO(text.encode()), "links.csv")},
                       headers=auth, content_type="multipart/form-data")
    assert resp.status_code == 201 and len(resp.json["created"]) == 2


@pytest.mark.parametrize("text, message", [
    ("", "empty"),
    ("destination,colour\nhttps://example.com,red\n", "unknown CSV column"),
    ("utm_source,utm_medium\nx,email\n", "destination column"),
    ("destination,utm_source,utm_medium\n", "no rows"),
])
def test_bulk_csv_unreadable_files(client, auth, text, message):
    resp = client.post("/api/v1/links/bulk", data=text, headers={**auth, "Content-Type": "text/csv"})
    assert resp.status_code == 422
    assert resp.json["error"]["field"] == "file" and message in resp.json["error"]["message"]


def test_bulk_csv_rejects_non_utf8(client, auth):
    resp = client.post("/api/v1/links/bulk", data="destination\nhttps://é.com\n".encode("utf-16"),
                       headers={**auth, "Content-Type": "text/csv"})
    assert resp.status_code == 422 and resp.json["error"]["field"] == "file"
