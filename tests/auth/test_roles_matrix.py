"""Every route of ``app.url_map`` x every role (and no credentials): the allowed set, exactly.

The table below is written out by hand from the issue's roles, not read from the code under test:
a new endpoint without an entry here fails :func:`test_every_route_has_an_entry`, and a change of
who may do what fails :func:`test_api_matrix` or :func:`test_page_matrix`.

A request counts as *allowed* when it gets past authentication and the permission check: any
status but 401 and a 403 whose message says the role may not (API), or any answer but a redirect to
the sign-in form and a 403 page (pages). Allowed requests may still be 404 or 422: their ids and
bodies are made up.
"""
from __future__ import annotations

import re
from typing import Any

import pytest
from accounts_support import make_account, make_key, sign_in_as

from tracker.db import get_db

ROLES = ("admin", "marketer", "staff", "analyst", "ingest")
ALL = frozenset(ROLES)
PUBLIC = "public"

A = frozenset({"admin"})
CAMPAIGN_READERS = frozenset({"admin", "marketer", "staff", "analyst"})
CAMPAIGN_WRITERS = frozenset({"admin", "marketer"})
LINK_CREATORS = frozenset({"admin", "marketer", "staff"})
INGEST = frozenset({"admin", "ingest"})
ANALYSTS = frozenset({"admin", "analyst"})
MENTION_WRITERS = frozenset({"admin", "ingest", "marketer"})

# (method, rule) -> roles allowed, or PUBLIC (no sign-in, no key).
EXPECTED: dict[tuple[str, str], frozenset[str] | str] = {
    # public: redirects are answered before Flask (not in the URL map), the rest is here
    ("GET", "/ask"): PUBLIC,
    ("POST", "/ask"): PUBLIC,
    ("OPTIONS", "/collect"): PUBLIC,
    ("POST", "/collect"): PUBLIC,
    ("GET", "/t.js"): PUBLIC,
    ("GET", "/static/<path:filename>"): PUBLIC,
    ("GET", "/login"): PUBLIC,
    ("POST", "/login"): PUBLIC,
    ("POST", "/logout"): PUBLIC,
    # the OpenAPI document: any valid key
    ("GET", "/api/openapi.json"): ALL,
    # campaigns, costs, links, QR codes
    ("GET", "/api/v1/campaigns"): CAMPAIGN_READERS,
    ("POST", "/api/v1/campaigns"): CAMPAIGN_WRITERS,
    ("GET", "/api/v1/campaigns/<campaign_id>"): CAMPAIGN_READERS,
    ("PATCH", "/api/v1/campaigns/<campaign_id>"): CAMPAIGN_WRITERS,
    ("POST", "/api/v1/campaigns/<campaign_id>/costs"): CAMPAIGN_WRITERS,
    ("GET", "/api/v1/campaigns/<campaign_id>/qr-sheet.pdf"): CAMPAIGN_READERS,
    ("GET", "/api/v1/links"): CAMPAIGN_READERS,
    ("POST", "/api/v1/links"): LINK_CREATORS,
    ("GET", "/api/v1/links/<code>"): CAMPAIGN_READERS,
    ("PATCH", "/api/v1/links/<code>"): CAMPAIGN_WRITERS,
    ("POST", "/api/v1/links/bulk"): CAMPAIGN_WRITERS,
    ("GET", "/api/v1/links/<code>/qr.png"): CAMPAIGN_READERS,
    ("GET", "/api/v1/links/<code>/qr.svg"): CAMPAIGN_READERS,
    # logos for branded QR codes: upload (admins, marketers), read (whoever reads QR codes)
    ("POST", "/api/v1/assets"): CAMPAIGN_WRITERS,
    ("GET", "/api/v1/assets"): CAMPAIGN_READERS,
    ("GET", "/api/v1/assets/<int:asset_id>"): CAMPAIGN_READERS,
    ("GET", "/api/v1/assets/<int:asset_id>.png"): CAMPAIGN_READERS,
    # short-link domains: add, change, delete (admins, marketers); read (whoever picks a link's domain)
    ("POST", "/api/v1/domains"): CAMPAIGN_WRITERS,
    ("GET", "/api/v1/domains"): CAMPAIGN_READERS,
    ("GET", "/api/v1/domains/<host>"): CAMPAIGN_READERS,
    ("PATCH", "/api/v1/domains/<host>"): CAMPAIGN_WRITERS,
    ("DELETE", "/api/v1/domains/<host>"): CAMPAIGN_WRITERS,
    # server-side data in
    ("POST", "/api/v1/conversions"): INGEST,
    ("POST", "/api/v1/identify"): INGEST,
    ("POST", "/api/v1/touchpoints/import"): INGEST,
    ("POST", "/api/v1/self-reports"): INGEST,
    ("POST", "/api/v1/mentions"): MENTION_WRITERS,
    ("POST", "/api/v1/mentions/import"): MENTION_WRITERS,
    ("DELETE", "/api/v1/mentions/<int:mention_id>"): MENTION_WRITERS,
    # webhooks (admins and marketers)
    ("POST", "/api/v1/webhooks"): CAMPAIGN_WRITERS,
    ("GET", "/api/v1/webhooks"): CAMPAIGN_WRITERS,
    ("GET", "/api/v1/webhooks/<int:webhook_id>"): CAMPAIGN_WRITERS,
    ("PATCH", "/api/v1/webhooks/<int:webhook_id>"): CAMPAIGN_WRITERS,
    ("DELETE", "/api/v1/webhooks/<int:webhook_id>"): CAMPAIGN_WRITERS,
    ("POST", "/api/v1/webhooks/<int:webhook_id>/rotate-secret"): CAMPAIGN_WRITERS,
    ("GET", "/api/v1/webhooks/<int:webhook_id>/deliveries"): CAMPAIGN_WRITERS,
    ("POST", "/api/v1/webhook-deliveries/<int:delivery_id>/resend"): CAMPAIGN_WRITERS,
    # reading, reports
    ("GET", "/api/v1/conversions"): ANALYSTS,
    ("GET", "/api/v1/people/<person_id>/journey"): ANALYSTS,
    ("GET", "/api/v1/self-reports"): ANALYSTS,
    ("GET", "/api/v1/self-reports/unmatched"): ANALYSTS,
    ("GET", "/api/v1/answer-rules"): ANALYSTS,
    ("GET", "/api/v1/answer-rules/check"): ANALYSTS,
    ("POST", "/api/v1/answer-rules"): ANALYSTS,
    ("DELETE", "/api/v1/answer-rules/<int:rule_id>"): ANALYSTS,
    ("GET", "/api/v1/reports/attribution"): ANALYSTS,
    ("GET", "/api/v1/reports/dark-funnel"): ANALYSTS,
    ("GET", "/api/v1/reports/funnel"): ANALYSTS,
    ("GET", "/api/v1/reports/paths"): ANALYSTS,
    ("GET", "/api/v1/reports/experiments"): ANALYSTS,
    ("GET", "/api/v1/reports/experiments/list"): ANALYSTS,
    ("GET", "/api/v1/reports/cohorts"): ANALYSTS,
    ("GET", "/api/v1/reports/mentions"): ANALYSTS,
    ("GET", "/api/v1/mentions"): ANALYSTS,
    # erasing a person everywhere
    ("DELETE", "/api/v1/people/<person_id>"): A,
    # accounts (admins) and keys (everyone: their own)
    ("GET", "/api/v1/accounts"): A,
    ("POST", "/api/v1/accounts"): A,
    ("GET", "/api/v1/accounts/me"): ALL,
    ("GET", "/api/v1/accounts/<int:account_id>"): A,
    ("PATCH", "/api/v1/accounts/<int:account_id>"): A,
    ("POST", "/api/v1/accounts/<int:account_id>/campaigns"): A,
    ("DELETE", "/api/v1/accounts/<int:account_id>/campaigns/<campaign>"): A,
    ("GET", "/api/v1/keys"): ALL,
    ("POST", "/api/v1/keys"): ALL,
    ("DELETE", "/api/v1/keys/<key_ref>"): ALL,
    # pages
    ("GET", "/"): ALL,
    ("GET", "/docs/api/"): ALL,  # the browsable API reference, its OpenAPI copy and Swagger UI's files
    ("GET", "/docs/api/openapi.json"): ALL,
    ("GET", "/docs/api/assets/<name>"): ALL,
    ("POST", "/campaigns"): CAMPAIGN_WRITERS,
    ("GET", "/campaigns/<campaign_id>"): CAMPAIGN_READERS,
    ("GET", "/campaigns/<campaign_id>/sheet.pdf"): CAMPAIGN_READERS,
    ("GET", "/links/new"): LINK_CREATORS,
    ("POST", "/links/new"): LINK_CREATORS,
    ("GET", "/links/<code>"): CAMPAIGN_READERS,
    ("GET", "/links/<code>/qr.svg"): CAMPAIGN_READERS,
    ("GET", "/links/<code>/qr.png"): CAMPAIGN_READERS,
    ("POST", "/links/<code>/rules"): CAMPAIGN_WRITERS,  # the redirect rules editor (staff see the rules only)
    ("GET", "/assets/<int:asset_id>.png"): CAMPAIGN_READERS,
    ("POST", "/campaigns/<campaign_id>/logo"): CAMPAIGN_WRITERS,
    ("GET", "/people"): ANALYSTS,
    ("GET", "/people/<person_id>"): ANALYSTS,
    ("GET", "/answers"): ANALYSTS,
    ("POST", "/answers/rules"): ANALYSTS,
    ("POST", "/answers/rules/<int:rule_id>/delete"): ANALYSTS,
    ("GET", "/reports"): ANALYSTS,
    ("GET", "/reports/<any(attribution, funnel, 'dark-funnel'):name>"): ANALYSTS,
    ("GET", "/reports/<any(attribution, funnel, 'dark-funnel'):name>/<table>.csv"): ANALYSTS,
    ("GET", "/reports/<any(attribution, funnel, 'dark-funnel'):name>/<chart>.<any(svg, png):fmt>"): ANALYSTS,
    ("GET", "/reports/experiments"): ANALYSTS,
    ("GET", "/reports/experiments/arms.csv"): ANALYSTS,
    ("GET", "/reports/experiments/chart.<any(svg, png):fmt>"): ANALYSTS,
    ("GET", "/reports/cohorts"): ANALYSTS,
    ("GET", "/reports/cohorts/cohorts.csv"): ANALYSTS,
    ("GET", "/reports/cohorts/<chart>.<any(svg, png):fmt>"): ANALYSTS,
    ("GET", "/reports/mentions"): ANALYSTS,
    ("GET", "/reports/mentions/<table>.csv"): ANALYSTS,
    ("GET", "/reports/mentions/chart.<any(svg, png):fmt>"): ANALYSTS,
    ("GET", "/mentions/import"): MENTION_WRITERS,
    ("POST", "/mentions/import"): MENTION_WRITERS,
    ("GET", "/webhooks"): CAMPAIGN_WRITERS,
    ("POST", "/webhooks"): CAMPAIGN_WRITERS,
    ("GET", "/webhooks/<int:webhook_id>"): CAMPAIGN_WRITERS,
    ("POST", "/webhooks/deliveries/<int:delivery_id>/resend"): CAMPAIGN_WRITERS,
}


def routes(app: Any) -> set[tuple[str, str]]:
    found = set()
    for rule in app.url_map.iter_rules():
        methods = rule.methods - {"HEAD"}
        if methods != {"OPTIONS"}:  # automatic OPTIONS answers are Flask's, not an endpoint's
            methods -= {"OPTIONS"}
        found |= {(m, rule.rule) for m in methods}
    return found


@pytest.fixture
def world(app: Any, client: Any, api_key: str) -> dict[str, Any]:
    """A campaign with a link (staff are assigned to it) and the values for every URL variable."""
    auth = {"Authorization": f"Bearer {api_key}"}
    campaign = client.post("/api/v1/campaigns", json={"name": "Matrix"}, headers=auth).json
    link = client.post("/api/v1/links", headers=auth, json={
        "destination": "https://example.com/x", "campaign": campaign["slug"], "utm_source": "expo",
        "utm_medium": "poster", "kind": "print"}).json
    with get_db(app).Session() as s:
        other = make_account(s, "marketer")
        values = {"campaign_id": str(campaign["id"]), "code": link["code"], "person_id": "p" + "x" * 21,
                  "rule_id": "999999", "mention_id": "999999", "asset_id": "999999", "host": "go.nowhere.example",
                  "webhook_id": "999999", "delivery_id": "999999", "key_ref": "nokey", "account_id": str(other.id),
                  "campaign": campaign["slug"], "filename": "app.css", "name": "attribution",
                  "table": "credits", "chart": "credits", "fmt": "svg"}
    return {"campaign": campaign, "values": values}


def fill(rule: str, values: dict[str, str]) -> str:
    return re.sub(r"<(?:[^<>:]+(?:\([^)]*\))?:)?(\w+)>", lambda m: values[m.group(1)], rule)


def keys_by_role(app: Any, campaign_slug: str) -> dict[str | None, str | None]:
    with get_db(app).Session() as s:
        keys: dict[str | None, str | None] = {
            role: make_key(s, role, [campaign_slug] if role == "staff" else None) for role in ROLES}
    keys[None] = None
    return keys


def test_every_route_has_an_entry(app: Any) -> None:
    present = routes(app)
    assert sorted(present - EXPECTED.keys()) == [], "routes without an expected entry: add them to EXPECTED"
    assert sorted(EXPECTED.keys() - present) == [], "entries without a route"


def _api_allowed(resp: Any) -> bool:
    if resp.status_code == 401:
        return False
    if resp.status_code == 403:
        error = resp.get_json()["error"]
        assert error["code"] == "forbidden"
        return not error["message"].startswith("your role")
    return True


def test_api_matrix(app: Any, world: dict[str, Any]) -> None:
    keys = keys_by_role(app, world["campaign"]["slug"])
    client = app.test_client()
    wrong: list[str] = []
    for method, rule in sorted(EXPECTED):
        if not rule.startswith("/api/"):
            continue
        path = fill(rule, world["values"])
        for role, key in keys.items():
            headers = {"Authorization": f"Bearer {key}"} if key else {}
            resp = client.open(path, method=method, headers=headers, json={})
            expected = EXPECTED[(method, rule)]
            should = role in expected if expected != PUBLIC else True
            if _api_allowed(resp) != should:
                wrong.append(f"{method} {rule} as {role}: {resp.status_code} (expected "
                             f"{'allowed' if should else 'refused'})")
    assert wrong == []


def test_api_refusals_are_json_401_and_403(app: Any, client: Any, role_key: Any) -> None:
    resp = client.get("/api/v1/links")
    assert resp.status_code == 401 and resp.json["error"]["code"] == "unauthorized"
    resp = client.get("/api/v1/links", headers={"Authorization": "Bearer trk_00000000_nothing"})
    assert resp.status_code == 401 and resp.json["error"]["code"] == "unauthorized"
    resp = client.get("/api/v1/reports/funnel", headers={"Authorization": f"Bearer {role_key('ingest')}"})
    assert resp.status_code == 403 and resp.mimetype == "application/json"
    assert resp.json["error"]["code"] == "forbidden"
    assert "ingest" in resp.json["error"]["message"] and "reports:read" in resp.json["error"]["message"]


def _page_allowed(resp: Any) -> bool:
    if resp.status_code == 302 and resp.headers["Location"].startswith("/login"):
        return False
    return resp.status_code != 403


def test_page_matrix(app: Any, world: dict[str, Any]) -> None:
    wrong: list[str] = []
    clients: dict[str | None, Any] = {None: app.test_client()}
    for role in ROLES:
        clients[role] = app.test_client()
        sign_in_as(clients[role], role, [world["campaign"]["slug"]] if role == "staff" else None)
    for client in clients.values():
        with client.session_transaction() as sess:
            sess["csrf_token"] = "matrix-token"
    for method, rule in sorted(EXPECTED):
        if rule.startswith("/api/") or EXPECTED[(method, rule)] == PUBLIC:
            continue
        path = fill(rule, world["values"])
        for role, client in clients.items():
            resp = client.open(path, method=method, data={"csrf_token": "matrix-token"})
            should = role in EXPECTED[(method, rule)]
            if _page_allowed(resp) != should:
                wrong.append(f"{method} {rule} as {role}: {resp.status_code} (expected "
                             f"{'allowed' if should else 'refused'})")
    assert wrong == []


def test_public_routes_need_no_credentials(app: Any) -> None:
    client = app.test_client()
    for method, rule in sorted(EXPECTED):
        if EXPECTED[(method, rule)] != PUBLIC:
            continue
        with client.open(fill(rule, {"filename": "app.css"}), method=method) as resp:
            assert resp.status_code != 401, (method, rule)
            assert not (resp.status_code == 302 and resp.headers["Location"].startswith("/login")), (method, rule)


def test_redirects_need_no_credentials(app: Any, world: dict[str, Any]) -> None:
    client = app.test_client()
    for prefix in ("r", "q"):
        resp = client.get(f"/{prefix}/{world['values']['code']}")
        assert resp.status_code == 302 and resp.headers["Location"].startswith("https://example.com/x")
