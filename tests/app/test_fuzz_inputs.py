"""Hypothesis tests of the input rules: URL validation, UTM normalisation, and CSV parsing end to end.

The URL properties hold for any text and for URLs assembled from hostile parts: an accepted URL is an
absolute http(s) URL without credentials, with an ASCII host, pure ASCII, and validating it again gives
it back unchanged; a refused one is a ValidationError naming the field. The CSV properties hold for
any bytes sent to both import endpoints (never a 5xx; atomic mode writes nothing on any error) and for
generated files mixing good and bad rows with quoted newlines, blank lines and either line ending
(each rejection carries the line the row starts on).
"""
from __future__ import annotations

import io
import re
import unicodedata
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
import sqlalchemy as sa
from accounts_support import make_key
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from tracker.db import get_db
from tracker.errors import ValidationError
from tracker.links.models import Link
from tracker.links.service import parse_csv
from tracker.links.urls import MAX_URL_LENGTH, merge_query, normalise_tag, validate_tag, validate_url
from tracker.touchpoints.models import OfflineTouch

DB_TESTS = settings(max_examples=25, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
PURE = settings(max_examples=300, deadline=None, derandomize=True, database=None)


# ---- URLs ------------------------------------------------------------------------------------------

def check_url_outcome(value: Any, field: str = "destination", domains: tuple[str, ...] = ()) -> str | None:
    """Validate ``value``; assert the properties of an acceptance or a refusal; return the URL or None."""
    try:
        url = validate_url(value, field, domains)
    except ValidationError as exc:
        assert exc.field == field and exc.status == 422 and exc.message
        return None
    parts = urlsplit(url)
    assert parts.scheme in ("http", "https")
    assert url.startswith(parts.scheme + "://")
    assert parts.hostname and parts.netloc.isascii() and url.isascii()
    assert "@" not in parts.netloc and parts.username is None and parts.password is None
    assert not re.search(r"[\x00-\x20\x7f\\]", url)
    assert parts.port is None or 1 <= parts.port <= 65535
    assert len(url) <= MAX_URL_LENGTH
    assert validate_url(url, field, domains) == url  # canonical: round-trips unchanged
    return url


@PURE
@given(st.text(max_size=300))
@example("javascript:alert(1)")
@example("JaVaScRiPt:alert(document.cookie)//https://example.com")
@example("data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==")
@example("vbscript:msgbox(1)")
@example("//evil.example/path")
@example("\\\\evil.example/path")
@example("https:\\\\evil.example")
@example("https://example.com\\@evil.example")
@example("https://user:pw@example.com/")
@example("https://example.com@evil.example/")
@example("https://@example.com/")
@example("java\tscript:alert(1)")
@example("https://exa\nmple.com/")
@example("\x00https://example.com")
@example("https://example.com:0/")
@example("https://example.com:65536/")
@example("https://example.com:80:80/")
@example("http://2130706433/")
@example("http://0x7f.0.0.1/")
@example("http://0177.0.0.1/")
@example("http://127.1/")
@example("http://[::1/")
@example("http://[fe80::1%25eth0]/")
@example("https:///example.com")
@example("https:example.com")
@example("http://xn--zz.example/")
@example("http://a..b/")
@example("https://ex%61mple.com/")
def test_any_text_is_accepted_only_as_a_safe_absolute_url(value: str) -> None:
    check_url_outcome(value)


SCHEMES = st.sampled_from(["http", "https", "HTTPS", "hTtP", "javascript", "data", "vbscript", "ftp", "file",
                           "mailto", "", "ht tp", "jav\tascript", "https\x00"])
SEPARATORS = st.sampled_from(["://", ":", ":/", ":///", "//", ":\\\\", ":/\\", "\\\\", ": //", ":／／"])
USERINFO = st.sampled_from(["", "", "", "user@", "user:pw@", "@", ":@", "a%40b@", "example.com@"])
LABEL = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)
UNICODE_LABEL = st.text(alphabet="abcøæåäöüßéñçΩжк中文ÆØÅＡＢ-", min_size=1, max_size=12)
HOSTS = st.one_of(
    st.lists(LABEL, min_size=1, max_size=4).map(".".join),
    st.lists(st.one_of(LABEL, UNICODE_LABEL), min_size=1, max_size=3).map(".".join),
    st.tuples(*[st.integers(0, 300)] * 4).map(lambda t: ".".join(map(str, t))),
    st.integers(0, 2**32).map(str),
    st.sampled_from(["0x7f.1", "0177.0.0.1", "127.1", "[::1]", "[::ffff:1.2.3.4]", "[fe80::1%25eth0]", "[zz]",
                     "", ".", "localhost", "example.com.", "EXAMPLE.COM", "xn--bker-gra.example", "my_host.io",
                     "exa mple.com", "example.com\\", "a" * 64 + ".com", ".".join(["a" * 60] * 5)]),
)
PORTS = st.one_of(st.just(""), st.integers(0, 70000).map(lambda p: f":{p}"), st.sampled_from([":", ":x", ":-1"]))
PATHS = st.one_of(st.just(""), st.text(max_size=40).map(lambda t: "/" + t),
                  st.sampled_from(["/søk?q=blåbær#topp", "/?next=//evil.example", "/a b", "/%zz", "/\\evil"]))


@PURE
@given(SCHEMES, SEPARATORS, USERINFO, HOSTS, PORTS, PATHS)
def test_urls_from_hostile_parts(scheme: str, separator: str, userinfo: str, host: str, port: str,
                                 path: str) -> None:
    raw = f"{scheme}{separator}{userinfo}{host}{port}{path}"
    url = check_url_outcome(raw)
    if url is None:
        return
    # only ever accepted as what it says: an http(s) URL to that host, without credentials
    assert scheme.lower() in ("http", "https") and separator == "://" and not userinfo
    assert "\\" not in raw and not re.search(r"[\x00-\x20\x7f]", raw.strip(" "))
    expected_host = host.lower().rstrip(".")
    if expected_host.isascii() and not expected_host.startswith("["):
        assert urlsplit(url).hostname == expected_host


@PURE
@given(st.sampled_from(["http", "https"]), st.lists(LABEL, min_size=2, max_size=4).map(".".join),
       st.one_of(st.none(), st.integers(1, 65535)),
       st.lists(st.from_regex(r"[A-Za-z0-9._~-]{1,8}", fullmatch=True), max_size=4).map("/".join))
def test_plain_urls_are_accepted_as_they_are(scheme: str, host: str, port: int | None, path: str) -> None:
    assume(not re.fullmatch(r"(0x[0-9a-f]*|[0-9]+)", host.rsplit(".", 1)[1]))  # a numeric last label is refused
    raw = f"{scheme}://{host}{'' if port is None else f':{port}'}/{path}"
    assert check_url_outcome(raw) == raw


@PURE
@given(st.lists(UNICODE_LABEL, min_size=1, max_size=3).map(".".join), st.text(max_size=20))
def test_international_names_are_stored_in_ascii(host: str, path: str) -> None:
    url = check_url_outcome(f"https://{host}.example/{path}")
    if url is not None:
        stored = urlsplit(url).hostname
        assert stored.isascii() and stored.endswith(".example")
        assert check_url_outcome(f"https://{stored}/") == f"https://{stored}/"


@PURE
@given(st.lists(LABEL, min_size=1, max_size=3).map(".".join),
       st.lists(st.sampled_from(["example.com", "*.example.org", ".shop.example.net", "bøker.example"]),
                min_size=1, max_size=3).map(tuple))
def test_allow_list_admits_listed_domains_and_their_subdomains_only(sub: str, domains: tuple[str, ...]) -> None:
    for base in ("example.com", "example.org", "shop.example.net", "xn--bker-gra.example", "evil.example",
                 "example.com.evil.example", "notexample.com"):
        for host in (base, f"{sub}.{base}"):
            url = check_url_outcome(f"https://{host}/p", domains=domains)
            allowed = [d.lstrip("*.").replace("bøker", "xn--bker-gra") for d in domains]
            assert (url is not None) == any(host == d or host.endswith("." + d) for d in allowed), (host, domains)


def test_refusals_name_the_field_through_the_api(client: Any, auth: dict[str, str], campaign: dict[str, Any]) -> None:
    for bad in ("javascript:alert(1)", "//evil.example", "https://u:p@example.com", "http://0x7f.1/",
                "https://exa mple.com", "http://xn--zz.example/"):
        resp = client.post("/api/v1/links", json={"destination": bad, "utm_source": "a", "utm_medium": "email",
                                                  "utm_campaign": "c"}, headers=auth)
        assert resp.status_code == 422 and resp.json["error"]["field"] == "destination", (bad, resp.json)
        resp = client.patch(f"/api/v1/campaigns/{campaign['id']}", json={"fallback_url": bad}, headers=auth)
        assert resp.status_code == 422 and resp.json["error"]["field"] == "fallback_url", (bad, resp.json)


def test_destination_domains_setting_limits_destinations_and_fallbacks(make_app: Any) -> None:
    app = make_app(destination_domains="example.com,*.bøker.example")
    with get_db(app).Session() as s:
        headers = {"Authorization": f"Bearer {make_key(s, 'admin')}"}
    client = app.test_client()
    body = {"utm_source": "a", "utm_medium": "email", "utm_campaign": "c"}
    for ok in ("https://example.com/", "https://www.example.com/x", "https://shop.xn--bker-gra.example/",
               "https://bøker.example/"):
        resp = client.post("/api/v1/links", json={**body, "destination": ok}, headers=headers)
        assert resp.status_code == 201, (ok, resp.json)
    for bad in ("https://example.org/", "https://notexample.com/", "https://example.com.evil.example/",
                "https://1.2.3.4/"):
        resp = client.post("/api/v1/links", json={**body, "destination": bad}, headers=headers)
        assert resp.status_code == 422 and resp.json["error"]["field"] == "destination", (bad, resp.json)
        assert "allowed destination domains" in resp.json["error"]["message"]
        resp = client.post("/api/v1/campaigns", json={"name": "Fair", "fallback_url": bad}, headers=headers)
        assert resp.status_code == 422 and resp.json["error"]["field"] == "fallback_url", (bad, resp.json)


# ---- UTM tags -----------------------------------------------------------------------------------------

@PURE
@given(st.text(max_size=150))
@example(" Spring Sale ")
@example("İstanbul")
@example("Cafe\u0301")
@example("a\u200bb")
@example("x\x00y")
def test_utm_normalisation(value: str) -> None:
    tag = normalise_tag(value)
    assert normalise_tag(tag) == tag  # idempotent
    assert tag == tag.lower() and tag == tag.strip()
    assert not any(ch.isspace() for ch in tag)
    assert unicodedata.is_normalized("NFC", tag)
    try:
        checked = validate_tag(value, "utm_source")
    except ValidationError as exc:
        assert exc.field == "utm_source"
        assert len(tag) > 100 or any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn") for ch in tag)
        return
    assert checked == (tag or None)
    assert len(tag) <= 100
    assert validate_tag(checked, "utm_source") == checked


@PURE
@given(st.sampled_from(["http", "https"]), st.from_regex(r"[a-z][a-z0-9-]{0,20}\.(com|no|org)", fullmatch=True),
       st.dictionaries(st.from_regex(r"[a-z]{1,8}", fullmatch=True), st.text(max_size=10), max_size=4))
def test_merge_query_keeps_the_destinations_parameters_and_host(scheme: str, host: str,
                                                                 params: dict[str, str]) -> None:
    url = validate_url(f"{scheme}://{host}/p?keep=1", "destination")
    merged = merge_query(url, {"utm_source": "x", **{f"e_{k}": v for k, v in params.items()}})
    assert "keep=1" in merged and "utm_source=x" in merged
    assert urlsplit(merged).netloc == host


# ---- CSV: line numbers -----------------------------------------------------------------------------

CELL = st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=12)


def _line_starts(text: str) -> list[int]:
    """Offsets of the line breaks of ``text`` (\\r\\n, \\r and \\n, as editors and spreadsheets count them)."""
    return [m.start() for m in re.finditer(r"\r\n|\r|\n", text)]


def _line_at(breaks: list[int], offset: int) -> int:
    return 1 + sum(1 for b in breaks if b < offset)


def _csv_line(cells: list[str], ending: str) -> str:
    """One CSV record as a spreadsheet writes it: cells with a comma, quote or line break are quoted."""
    return ",".join('"' + c.replace('"', '""') + '"' if re.search(r'[,"\r\n]', c) else c for c in cells) + ending


@settings(PURE, max_examples=150)
@given(st.lists(st.tuples(st.lists(CELL, min_size=3, max_size=3), st.integers(0, 2)), min_size=1, max_size=8),
       st.sampled_from(["\r\n", "\n", "\r"]))
def test_link_csv_line_numbers_count_quoted_newlines_and_blank_lines(rows: list[Any], ending: str) -> None:
    text = _csv_line(["destination", "utm_source", "label"], ending)
    expected = []
    for cells, blanks in rows:
        text += ending * blanks
        line = _line_at(_line_starts(text), len(text))
        text += _csv_line(cells, ending)
        row = {k: v.strip() for k, v in zip(["destination", "utm_source", "label"], cells, strict=True) if v.strip()}
        if row:
            expected.append((line, row))
    assert list(parse_csv(text)) == expected


# ---- CSV through the API: arbitrary bytes -----------------------------------------------------------

def _count(session: Any, model: Any) -> int:
    session.expire_all()
    return session.scalar(sa.select(sa.func.count()).select_from(model))


ENCODINGS = st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "latin-1", "cp1252"])
LINK_HEADER = "destination,utm_source,utm_medium,utm_campaign,label\n"
TOUCH_HEADER = "customer_key,ts,kind,label\n"


def _bytes_bodies(header: str) -> Any:
    text_body = st.text(alphabet=st.characters(blacklist_categories=["Cs"]).filter(lambda c: True), max_size=200)
    encoded = st.tuples(text_body, ENCODINGS).map(lambda t: t[0].encode(t[1], errors="replace"))
    with_header = st.tuples(st.text(max_size=200), ENCODINGS).map(
        lambda t: (header + t[0]).encode(t[1], errors="replace"))
    return st.one_of(st.binary(max_size=300), encoded, with_header,
                     st.sampled_from([b"", b"\xef\xbb\xbf", b"\xef\xbb\xbf" + header.encode(), b'"', b'a,"b\n',
                                      header.encode() + b'"unterminated', header.encode() + b"\x00,\x00\n",
                                      header.encode() + b",,,,\n\n\r\n", b"\xff\xfe" + header.encode("utf-16-le")]))


def _assert_error_shape(resp: Any) -> None:
    assert resp.status_code < 500, resp.data[:500]
    body = resp.json
    if resp.status_code >= 400 and "error" in body:
        assert {"code", "message", "field"} <= set(body["error"]), body


@DB_TESTS
@given(body=_bytes_bodies(LINK_HEADER), atomic=st.booleans(), as_file=st.booleans())
def test_bulk_links_any_bytes_never_5xx_and_atomic_writes_nothing_on_error(client: Any, auth: dict[str, str],
                                                                           session: Any, body: bytes,
                                                                           atomic: bool, as_file: bool) -> None:
    before = _count(session, Link)
    url = f"/api/v1/links/bulk?atomic={str(atomic).lower()}&force=true"
    if as_file:
        resp = client.post(url, data={"file": (io.BytesIO(body), "links.csv")}, headers=auth,
                           content_type="multipart/form-data")
    else:
        resp = client.post(url, data=body, headers={**auth, "Content-Type": "text/csv"})
    _assert_error_shape(resp)
    after = _count(session, Link)
    if resp.status_code == 201:
        assert after - before == len(resp.json["created"]) and not resp.json["rejected"]
    elif resp.status_code == 200:
        assert not atomic and after - before == len(resp.json["created"])
    else:
        assert resp.status_code in (400, 413, 415, 422) and after == before
    for rejection in (resp.json or {}).get("rejected", []):
        assert rejection["line"] >= 2 and rejection["message"]


@DB_TESTS
@given(body=_bytes_bodies(TOUCH_HEADER), atomic=st.booleans())
def test_touchpoint_import_any_bytes_never_5xx_and_atomic_writes_nothing_on_error(
        client: Any, auth: dict[str, str], session: Any, body: bytes, atomic: bool) -> None:
    before = _count(session, OfflineTouch)
    resp = client.post(f"/api/v1/touchpoints/import?atomic={str(atomic).lower()}", data=body,
                       headers={**auth, "Content-Type": "text/csv"})
    _assert_error_shape(resp)
    after = _count(session, OfflineTouch)
    if resp.status_code >= 400:
        assert after == before
    elif resp.json["rejected"]:
        assert not atomic
    assert after - before == (resp.json.get("created", 0) if resp.status_code < 400 else 0)


GOOD_TOUCH = ["{i}@example.no", "2026-05-12T10:00:00Z", "event", "row {i}"]
BAD_TOUCHES = [("customer_key", ["", "2026-05-12T10:00:00Z", "event", "no key"]),
               ("ts", ["{i}@example.no", "next week", "event", "bad time"]),
               ("ts", ["{i}@example.no", "0001-01-01T00:00:00+01:00", "event", "before year 1 in UTC"]),
               ("kind", ["{i}@example.no", "2026-05-12T10:00:00Z", "juggling", "bad kind"]),
               ("customer_key", ["{i}" * 400, "2026-05-12T10:00:00Z", "event", "key too long"]),
               ("label", ["{i}@example.no", "2026-05-12T10:00:00Z", "event", "x" * 201])]


@DB_TESTS
@given(plan=st.lists(st.tuples(st.one_of(st.none(), st.integers(0, len(BAD_TOUCHES) - 1)), st.integers(0, 2),
                               st.booleans()), min_size=1, max_size=6),
       ending=st.sampled_from(["\r\n", "\n", "\r"]), bom=st.booleans(), atomic=st.booleans())
def test_touchpoint_rejections_carry_the_line_each_row_starts_on(client: Any, auth: dict[str, str], session: Any,
                                                                 plan: list[Any], ending: str, bom: bool,
                                                                 atomic: bool) -> None:
    """Good and bad rows, blank lines, labels with quoted newlines: rejections name field and line."""
    marker = _count(session, OfflineTouch)
    buf = io.StringIO()
    buf.write(_csv_line(["customer_key", "ts", "kind", "label"], ending))
    expected, good = [], 0
    for i, (bad, blanks, multiline) in enumerate(plan):
        buf.write(ending * blanks)
        start = buf.tell()
        n = f"{marker}-{i}"
        field, cells = BAD_TOUCHES[bad] if bad is not None else (None, GOOD_TOUCH)
        cells = [c.replace("{i}", n) for c in cells]
        if multiline and len(cells[3]) < 100:
            cells[3] = cells[3] + ending + "second line"
        buf.write(_csv_line(cells, ending))
        if field is None:
            good += 1
        else:
            expected.append((_line_at(_line_starts(buf.getvalue()), start), field))
    data = ("\ufeff" if bom else "") + buf.getvalue()
    resp = client.post(f"/api/v1/touchpoints/import?atomic={str(atomic).lower()}", data=data.encode(),
                       headers={**auth, "Content-Type": "text/csv"})
    assert resp.status_code in (200, 201, 422), resp.json
    assert [(r["line"], r["field"]) for r in resp.json["rejected"]] == expected
    written = _count(session, OfflineTouch) - marker
    assert written == (0 if atomic and expected else good)


@DB_TESTS
@given(plan=st.lists(st.tuples(st.booleans(), st.integers(0, 2), st.booleans()), min_size=1, max_size=5),
       ending=st.sampled_from(["\r\n", "\n", "\r"]), atomic=st.booleans())
def test_bulk_link_rejections_carry_the_line_each_row_starts_on(client: Any, auth: dict[str, str], session: Any,
                                                                plan: list[Any], ending: str,
                                                                atomic: bool) -> None:
    marker = _count(session, Link)
    buf = io.StringIO()
    buf.write(_csv_line(["destination", "utm_source", "utm_medium", "utm_campaign", "label"], ending))
    expected, good = [], 0
    for i, (bad, blanks, multiline) in enumerate(plan):
        buf.write(ending * blanks)
        start = buf.tell()
        label = f"row {marker}-{i}" + (ending + "second line" if multiline else "")
        destination = "javascript:alert(1)" if bad else f"https://example.com/{marker}/{i}"
        buf.write(_csv_line([destination, "flyer", "print", "fuzz", label], ending))
        if bad:
            expected.append((_line_at(_line_starts(buf.getvalue()), start), "destination"))
        else:
            good += 1
    resp = client.post(f"/api/v1/links/bulk?atomic={str(atomic).lower()}", data=buf.getvalue().encode(),
                       headers={**auth, "Content-Type": "text/csv"})
    assert resp.status_code in (200, 201, 422), resp.json
    assert [(r["line"], r["field"]) for r in resp.json["rejected"]] == expected
    assert _count(session, Link) - marker == (0 if atomic and expected else good)


@pytest.mark.parametrize("endpoint", ["/api/v1/links/bulk", "/api/v1/touchpoints/import"])
def test_oversized_csv_is_refused_with_413_or_422(make_app: Any, endpoint: str) -> None:
    app = make_app(max_upload_bytes=1000)
    with get_db(app).Session() as s:
        key = make_key(s, "admin")
    body = (LINK_HEADER if "links" in endpoint else TOUCH_HEADER) + "x" * 200_000
    resp = app.test_client().post(endpoint, data=body.encode(),
                                  headers={"Authorization": f"Bearer {key}", "Content-Type": "text/csv"})
    assert resp.status_code in (413, 422)
    assert resp.json["error"]["field"] in ("file", None) and resp.json["error"]["code"] in ("too_large", "invalid")


# ---- pages and every other route: any path value or query never gives a 5xx -------------------------

ROUTE_TEXT = st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=30)


@settings(DB_TESTS, max_examples=15)
@given(data=st.data())
def test_every_get_route_survives_hostile_path_values_and_queries(app: Any, page_client: Any, data: Any) -> None:
    """Signed in as an admin (pages) and with an admin key (API): no GET answers a server error."""
    client = page_client("admin")
    with get_db(app).Session() as s:
        headers = {"Authorization": f"Bearer {make_key(s, 'admin')}"}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if "GET" not in rule.methods or rule.rule.startswith("/static"):
            continue
        path = rule.rule
        for name, converter in rule._converters.items():
            options = getattr(converter, "items", None)
            value = data.draw(st.sampled_from(sorted(options)) if options else
                              st.one_of(ROUTE_TEXT, st.integers(-2**40, 2**40).map(str)), label=name)
            path = re.sub(rf"<(?:[^<>]*:)?{name}>", quote(str(value), safe="") or "x", path)
        query = data.draw(st.dictionaries(st.sampled_from(["page", "q", "from", "to", "model", "by", "size", "error",
                                                           "paper", "campaign", "kind", "format", "per_page", "all",
                                                           "lookback_days", "segment", "download", "next"]),
                                          ROUTE_TEXT, max_size=4), label=f"query of {rule.rule}")
        resp = client.get(path, query_string=query, headers=headers if rule.rule.startswith("/api/") else {})
        assert resp.status_code < 500, (path, query, resp.status_code, resp.data[:300])
        resp.close()


FORM_FIELDS = ("name", "slug", "description", "start_date", "end_date", "fallback_url", "destination", "campaign",
               "utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content", "extra_params", "kind",
               "label", "expires_at", "force", "phrase", "channel", "email", "password", "role", "option", "text",
               "form_token", "key", "campaigns")


@settings(DB_TESTS, max_examples=15)
@given(data=st.data())
def test_every_form_survives_hostile_values(app: Any, page_client: Any, data: Any) -> None:
    """Every POST route of the pages, with the session's CSRF token and generated fields: no 5xx."""
    client = page_client("admin")  # a new session each example (one of the routes signs out)
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/links/new").text).group(1)
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if "POST" not in rule.methods or rule.rule.startswith("/api/") or rule.rule == "/collect":
            continue
        path = rule.rule
        for name in rule._converters:
            path = re.sub(rf"<(?:[^<>]*:)?{name}>", data.draw(st.sampled_from(["1", "x", "2147483648"]), label=name),
                          path)
        form = data.draw(st.dictionaries(st.sampled_from(FORM_FIELDS), ROUTE_TEXT, max_size=6), label=rule.rule)
        resp = client.post(path, data={**form, "csrf_token": token})
        assert resp.status_code < 500, (path, form, resp.status_code, resp.data[:300])
