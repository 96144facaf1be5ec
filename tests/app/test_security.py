"""Security headers on every answer, and what can never move a redirect.

The header test walks every rule of ``app.url_map`` (with and without a key, so both the answer and the
refusal are seen), the error answers (404, 405, 413, 500), static files, the snippet, ``/collect`` and
every answer of the redirect handler in front of Flask.
"""
from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from accounts_support import bearer, make_key
from werkzeug.routing import AnyConverter, IntegerConverter

from tracker.db import get_db
from tracker.security import HSTS

ORIGIN = "https://www.example.com"


def assert_secure(resp: Any, what: str, framed_by: str | None = None, hsts: bool = True) -> None:
    """Check the headers every answer must carry; ``framed_by`` is the one origin allowed to frame it."""
    headers = resp.headers
    assert headers.get("X-Content-Type-Options") == "nosniff", what
    assert headers.get("Referrer-Policy") in ("strict-origin-when-cross-origin", "no-referrer-when-downgrade"), what
    csp = headers.get("Content-Security-Policy", "")
    ancestors = re.findall(r"frame-ancestors ([^;]*)", csp)
    assert len(ancestors) == 1, (what, csp)
    if framed_by is None:
        assert ancestors == ["'none'"], (what, csp)
        assert headers.get("X-Frame-Options") == "DENY", what
    else:
        assert ancestors == [framed_by], (what, csp)
        assert "X-Frame-Options" not in headers, what
    assert "base-uri 'none'" in csp, (what, csp)
    assert (headers.get("Strict-Transport-Security") == HSTS) is hsts, what
    resp.close()  # static files are streamed from an open file


def _example_url(rule: Any) -> str:
    values = {}
    for name, converter in rule._converters.items():
        if isinstance(converter, AnyConverter):
            values[name] = sorted(converter.items)[0]
        elif isinstance(converter, IntegerConverter):
            values[name] = 1
        else:
            values[name] = "x"
    path = rule.rule
    for name, value in values.items():
        path = re.sub(rf"<(?:[^<>]*:)?{name}>", str(value), path)
    return path


@pytest.fixture
def framing_app(make_app: Any) -> Any:
    app = make_app(landing_origins=ORIGIN)

    @app.get("/__test_crash")
    def crash() -> str:
        raise RuntimeError("a bug")

    app.config.update(TESTING=False, PROPAGATE_EXCEPTIONS=False)
    return app


def test_every_flask_rule_answers_with_the_security_headers(framing_app: Any, api_key: str) -> None:
    client = framing_app.test_client()
    walked = 0
    for rule in framing_app.url_map.iter_rules():
        url = _example_url(rule)
        for method in sorted(rule.methods - {"HEAD"}):
            for headers in ({}, {"Authorization": f"Bearer {api_key}"}):
                resp = client.open(url, method=method, headers={**headers, "Origin": ORIGIN})
                framed = ORIGIN if rule.rule == "/ask" and method in ("GET", "POST") else None
                assert_secure(resp, f"{method} {url} -> {resp.status_code}", framed_by=framed)
                walked += 1
    assert walked > 60


def test_error_answers_carry_the_headers(framing_app: Any, auth: dict[str, str]) -> None:
    client = framing_app.test_client()
    checks = {
        "404": client.get("/no/such/page"),
        "404 api": client.get("/api/v1/no-such-thing", headers=auth),
        "405": client.delete("/login"),
        "413": client.post("/api/v1/links", data=b"x" * (framing_app.config["MAX_CONTENT_LENGTH"] + 1),
                           content_type="application/json", headers=auth),
        "500": client.get("/__test_crash"),
        "static": client.get("/static/app.css"),
        "snippet": client.get("/t.js"),
        "collect": client.post("/collect", json={"type": "visit"}, headers={"Origin": ORIGIN}),
        "collect preflight": client.options("/collect", headers={"Origin": ORIGIN}),
        "openapi": client.get("/api/openapi.json", headers=auth),
    }
    assert checks["413"].status_code == 413
    assert checks["413"].json["error"]["code"] == "too_large"
    assert checks["500"].status_code == 500
    assert checks["405"].status_code == 405
    for what, resp in checks.items():
        assert_secure(resp, what)


def test_redirect_answers_carry_the_headers(make_app: Any, make_link: Any, client: Any, auth: dict[str, str],
                                           campaign: dict[str, Any]) -> None:
    link = make_link()
    gone = make_link(destination="https://example.com/gone")
    client.patch(f"/api/v1/links/{gone['code']}", json={"disabled": True}, headers=auth)
    fallback = make_link(destination="https://example.com/old", campaign=campaign["slug"])
    client.patch(f"/api/v1/links/{fallback['code']}", json={"disabled": True}, headers=auth)
    answers = {
        "click": client.get(f"/r/{link['code']}"),
        "scan": client.get(f"/q/{link['code']}"),
        "head": client.head(f"/r/{link['code']}"),
        "unknown": client.get("/r/zzzzzz"),
        "gone": client.get(f"/r/{gone['code']}"),
        "fallback": client.get(f"/r/{fallback['code']}"),
        "post": client.post(f"/r/{link['code']}"),
    }
    assert [r.status_code for r in answers.values()] == [302, 302, 302, 404, 410, 302, 405]
    for what, resp in answers.items():
        assert_secure(resp, what)
    bad_host = make_app(trusted_hosts="go.example.com").test_client().get("/r/abcdef", headers={"Host": "evil"})
    assert bad_host.status_code == 400
    assert_secure(bad_host, "bad host")


def test_no_hsts_when_the_public_base_is_plain_http(make_app: Any, make_link: Any) -> None:
    app = make_app(public_base_url="http://127.0.0.1:5000")
    client = app.test_client()
    for resp in (client.get("/login"), client.get("/r/zzzzzz"), client.get("/api/v1/links")):
        assert_secure(resp, resp.request.path, hsts=False)


def test_ask_without_landing_origins_cannot_be_framed(client: Any) -> None:
    assert_secure(client.get("/ask"), "/ask")


def test_openapi_documents_the_error_body(client: Any, auth: dict[str, str]) -> None:
    spec = client.get("/api/openapi.json", headers=auth).json
    create = spec["paths"]["/api/v1/links"]["post"]["responses"]
    for status in ("400", "401", "403", "409", "413", "422"):
        schema = create[status]["content"]["application/json"]["schema"]
        if "$ref" in schema:
            schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
        assert schema["required"] == ["error"], status


# ---- nothing in a request moves a redirect ---------------------------------------------------------

HOSTILE_HEADERS = {
    "Host": "evil.example", "X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "javascript",
    "X-Forwarded-For": "203.0.113.9", "X-Forwarded-Prefix": "/evil", "X-Forwarded-Port": "1",
    "Forwarded": 'for=203.0.113.9;host=evil.example;proto=http', "X-Original-URL": "/r/other",
    "X-Rewrite-URL": "/r/other", "Referer": "https://evil.example/", "Origin": "https://evil.example",
}
HOSTILE_QUERY = ("?next=https://evil.example/&url=//evil.example&redirect=https://evil.example/&dest=x"
                 "&destination=https://evil.example/&tid=forged&utm_source=evil&Location=https://evil.example/")


@pytest.mark.parametrize("proxies", [0, 2])
@pytest.mark.parametrize("prefix", ["r", "q"])
def test_no_parameter_or_header_changes_where_a_redirect_goes(make_app: Any, proxies: int, prefix: str) -> None:
    app = make_app(trusted_proxy_count=proxies)
    client = app.test_client()
    resp = client.post("/api/v1/campaigns", json={"name": "Fair", "fallback_url": "https://example.com/ended"},
                       headers=_admin(app))
    assert resp.status_code == 201
    body = {"destination": "https://example.com/landing?keep=1", "utm_source": "flyer", "utm_medium": "print",
            "utm_campaign": "fair", "campaign": "fair"}
    link = client.post("/api/v1/links", json=body, headers=_admin(app)).json
    plain = client.get(f"/{prefix}/{link['code']}")
    hostile = client.get(f"/{prefix}/{link['code']}{HOSTILE_QUERY}", headers=HOSTILE_HEADERS)
    assert plain.status_code == hostile.status_code == 302
    a, b = urlsplit(plain.headers["Location"]), urlsplit(hostile.headers["Location"])
    assert (a.scheme, a.netloc, a.path) == (b.scheme, b.netloc, b.path) == ("https", "example.com", "/landing")
    qa, qb = parse_qs(a.query), parse_qs(b.query)
    assert qb["tid"] != ["forged"] and qb["utm_source"] == ["flyer"]
    assert {k: v for k, v in qa.items() if k != "tid"} == {k: v for k, v in qb.items() if k != "tid"}
    assert "evil" not in hostile.headers["Location"]
    # HEAD and the fallback of a disabled link are just as fixed
    assert client.head(f"/{prefix}/{link['code']}", headers=HOSTILE_HEADERS).headers["Location"].startswith(
        "https://example.com/landing?")
    client.patch(f"/api/v1/links/{link['code']}", json={"disabled": True}, headers=_admin(app))
    fallback = client.get(f"/{prefix}/{link['code']}{HOSTILE_QUERY}", headers=HOSTILE_HEADERS)
    assert fallback.headers["Location"] == "https://example.com/ended"


def _admin(app: Any) -> dict[str, str]:
    cache = app.extensions.setdefault("tests.admin", {})
    if "key" not in cache:
        with get_db(app).Session() as s:
            cache["key"] = make_key(s, "admin")
    return bearer(cache["key"])


def test_a_nul_or_control_character_in_a_short_code_is_an_unknown_code(client: Any, make_link: Any,
                                                                      drain: Any) -> None:
    link = make_link()
    assert client.get(f"/r/{link['code']}%00").status_code == 302  # the same code once NUL is dropped
    for path in ("/r/zz%00zz", "/q/%00", "/r/%1b%5b31m", "/r/%7f"):
        resp = client.get(path)
        assert resp.status_code == 404, path
        assert_secure(resp, path)
    assert drain() == 5  # every visit reaches the database (PostgreSQL text cannot hold NUL)


# ---- length limits ---------------------------------------------------------------------------------

def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    return spec["components"]["schemas"][ref.rsplit("/", 1)[1]] if ref else schema


def _string_inputs(spec: dict[str, Any]) -> list[tuple[str, str, str, str, dict[str, Any]]]:
    """(method, path, location, name, schema) of every string a request can carry."""
    found = []
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method not in ("get", "post", "patch", "put", "delete"):
                continue
            for param in op.get("parameters", []):
                if param["in"] == "query" and param["schema"].get("type") == "string":
                    found.append((method, path, "query", param["name"], param["schema"]))
            body = op.get("requestBody", {}).get("content", {}).get("application/json")
            if body:
                for name, prop in _resolve(spec, body["schema"]).get("properties", {}).items():
                    if prop.get("readOnly"):
                        continue
                    if prop.get("type") == "string":
                        found.append((method, path, "json", name, prop))
                    elif prop.get("type") in ("array", "object"):
                        found.append((method, path, "json", name, prop))
    return found


def test_every_string_input_of_the_api_has_a_length_limit(client: Any, auth: dict[str, str]) -> None:
    spec = client.get("/api/openapi.json", headers=auth).json
    inputs = _string_inputs(spec)
    assert len(inputs) > 60
    unbounded = []
    for method, path, location, name, schema in inputs:
        bounded = ("maxLength" in schema or "enum" in schema or schema.get("format") in ("date", "date-time")
                   or "maxItems" in schema or "maxProperties" in schema)
        if not bounded:
            unbounded.append(f"{method.upper()} {path} {location} {name}")
    assert not unbounded, unbounded


def test_over_long_values_are_refused_naming_the_field(client: Any, auth: dict[str, str],
                                                       campaign: dict[str, Any], make_link: Any) -> None:
    spec = client.get("/api/openapi.json", headers=auth).json
    link = make_link()
    values = {"campaign_id": str(campaign["id"]), "code": link["code"], "person_id": "p" + "x" * 21,
              "rule_id": "1", "account_id": "1", "campaign": campaign["slug"], "key_id": "1"}
    checked = 0
    for method, path, location, name, schema in _string_inputs(spec):
        if "maxLength" not in schema:
            continue
        url = re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), "1"), path)
        too_long = "x" * (schema["maxLength"] + 1)
        if location == "query":
            resp = client.open(url, method=method.upper(), query_string={name: too_long}, headers=auth)
        else:
            resp = client.open(url, method=method.upper(), json={name: too_long}, headers=auth)
        assert resp.status_code == 422, (method, path, name, resp.status_code, resp.json)
        assert name in resp.json["error"]["detail"][location], (method, path, name, resp.json)
        checked += 1
    assert checked > 40


def test_over_long_form_fields_and_csv_cells_name_the_field(client: Any, auth: dict[str, str],
                                                            page_client: Any) -> None:
    pages = page_client("admin")
    form = pages.get("/links/new").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    resp = pages.post("/links/new", data={"csrf_token": token, "destination": "https://example.com/",
                                          "utm_source": "a", "utm_medium": "email", "utm_campaign": "c",
                                          "label": "x" * 201, "kind": "online"})
    assert resp.status_code == 422 and "label is longer than 200 characters" in resp.text
    csv_text = ("destination,utm_source,utm_medium,utm_campaign,label\n"
                "https://example.com/a,a,email,c,ok\n"
                f"https://example.com/b,{'s' * 101},email,c,ok\n")
    resp = client.post("/api/v1/links/bulk", data=csv_text.encode(), headers={**auth, "Content-Type": "text/csv"})
    assert resp.status_code == 422
    assert [(r["line"], r["field"]) for r in resp.json["rejected"]] == [(3, "utm_source")]


@pytest.mark.parametrize("target", ["/\\evil.example", "/\t/evil.example", "/\n/evil.example", "//evil.example",
                                    "https://evil.example/", "/%09/evil.example"])
def test_sign_in_next_never_leaves_the_site(app: Any, target: str) -> None:
    from accounts_support import PASSWORD, make_account

    with get_db(app).Session() as s:
        make_account(s, "admin", email="next@example.com", password=PASSWORD)
    client = app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
    resp = client.post("/login", query_string={"next": target},
                       data={"csrf_token": token, "email": "next@example.com", "password": PASSWORD})
    assert resp.status_code in (302, 303)
    # read the Location as a browser does: tabs and newlines dropped, backslashes as slashes
    location = re.sub(r"[\t\n\r]", "", resp.headers["Location"]).replace("\\", "/")
    assert location.startswith("/") and not location.startswith("//"), resp.headers["Location"]


def test_nul_characters_are_refused_before_any_view(client: Any, auth: dict[str, str], make_app: Any) -> None:
    collect_client = make_app(landing_origins=ORIGIN).test_client()
    answers = {
        "path": client.get("/api/v1/links/ab%00cd", headers=auth),
        "query": client.get("/api/v1/links", query_string={"q": "a\x00b"}, headers=auth),
        "json": client.post("/api/v1/campaigns", json={"name": "a\x00b"}, headers=auth),
        "json key": client.post("/api/v1/campaigns", json={"name": "ok", "x\x00": 1}, headers=auth),
        "header": collect_client.post("/collect", json={"type": "visit"},
                                      headers={"Origin": ORIGIN, "User-Agent": "a\x00b"}),
        "collect body": collect_client.post("/collect", headers={"Origin": ORIGIN},
                                            json={"type": "visit", "site_visitor_id": "a\x00b"}),
    }
    for what, resp in answers.items():
        assert resp.status_code in (400, 422), (what, resp.status_code)
        assert "NUL" in resp.json["error"]["message"], (what, resp.json)


def test_short_urls_come_from_the_public_base_not_the_host(client: Any, auth: dict[str, str]) -> None:
    resp = client.post("/api/v1/links", json={"destination": "https://example.com/", "utm_source": "a",
                                              "utm_medium": "email", "utm_campaign": "c"},
                       headers={**auth, "Host": "evil.example", "X-Forwarded-Host": "evil.example",
                                "Forwarded": "host=evil.example"})
    assert resp.status_code == 201
    assert resp.json["short_url"].startswith("https://go.example.com/r/")
    assert resp.json["qr_url"].startswith("https://go.example.com/q/")
