"""The link page's redirect rules: the table with counts, the editor (plain form: order by position, remove,
add; errors beside their field, nothing saved), read-only for staff and analysts. SQLite and PostgreSQL."""
from __future__ import annotations

import re
from typing import Any

import pytest

from tracker.errors import ValidationError
from tracker.pages.rules_form import form_rows, query_text, row_errors, rules_of

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
          "Version/17.4 Mobile/15E148 Safari/604.1")
RULES = [{"conditions": {"device": ["ios"]}, "destination": "https://apps.apple.com/app/id1"},
         {"conditions": {"language": ["nb", "nn"], "query": {"src": "flyer", "ref": None}},
          "destination": "https://example.com/nb"}]


def token(client: Any, path: str) -> str:
    match = TOKEN.search(client.get(path).text)
    assert match, path
    return match.group(1)


def row(i: int, position: int | str, destination: str = "", device: tuple[str, ...] = (), language: str = "",
        country: str = "", query: str = "", remove: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {f"rule-{i}-position": str(position), f"rule-{i}-destination": destination,
                            f"rule-{i}-language": language, f"rule-{i}-country": country, f"rule-{i}-query": query}
    if device:
        data[f"rule-{i}-device"] = list(device)
    if remove:
        data[f"rule-{i}-remove"] = "1"
    return data


def save(client: Any, code: str, *rows: dict[str, Any]) -> Any:
    data: dict[str, Any] = {"csrf_token": token(client, f"/links/{code}")}
    for r in rows:
        data.update(r)
    return client.post(f"/links/{code}/rules", data=data)


@pytest.fixture
def flyer(make_link: Any) -> dict[str, Any]:
    return make_link(kind="print", utm_medium="print", rules=RULES)


def test_the_page_shows_the_rules_with_their_counts(page_client: Any, flyer: dict[str, Any], client: Any,
                                                   drain: Any) -> None:
    for ua in (IPHONE, IPHONE, "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0"):
        client.get(f"/q/{flyer['code']}", headers={"User-Agent": ua})
    drain()
    page = page_client("marketer").get(f"/links/{flyer['code']}").text
    table = page[page.index('id="rules-table"'):page.index("</table>", page.index('id="rules-table"'))]
    cells = [" ".join(re.sub(r"<[^>]+>", " ", c).split()) for c in re.findall(r"<td[^>]*>(.*?)</td>", table, re.S)]
    assert cells == ["1", "Device: iPhone / iPad", "https://apps.apple.com/app/id1", "2",
                     "2", "Language: nb, nn · Query: ref&amp;src=flyer", "https://example.com/nb", "0",
                     "Otherwise", "no rule holds", "https://example.com/landing", "1"]
    assert 'id="rules-form"' in page and 'name="rule-0-destination" type="url" value="https://apps.apple.com/app/id1"' \
        in page
    assert 'name="rule-1-query" type="text" value="ref&amp;src=flyer"' in page  # (the test client sorts JSON keys)
    assert 'name="rule-2-destination" type="url" value=""' in page  # a blank rule to add one with
    assert 'id="add-rule" hidden' in page  # shown by app.js (the form works without it)


@pytest.mark.parametrize("role", ["staff", "analyst"])
def test_staff_and_analysts_see_the_rules_but_no_editor(page_client: Any, flyer: dict[str, Any], campaign: Any,
                                                        client: Any, auth: dict[str, str], role: str,
                                                        make_link: Any) -> None:
    link = make_link(kind="print", utm_medium="print", campaign=campaign["slug"], rules=RULES, label="staff's")
    reader = page_client(role, [campaign["slug"]] if role == "staff" else None)
    page = reader.get(f"/links/{link['code']}")
    assert page.status_code == 200
    assert 'id="rules-table"' in page.text and "https://apps.apple.com/app/id1" in page.text
    assert 'id="rules-form"' not in page.text and 'id="rule-template"' not in page.text
    resp = reader.post(f"/links/{link['code']}/rules",
                       data={"csrf_token": token(reader, f"/links/{link['code']}"), **row(0, 1, "https://x.example/",
                                                                                          ("ios",))})
    assert resp.status_code == 403
    assert client.get(f"/api/v1/links/{link['code']}", headers=auth).json["rules"] == RULES


def test_save_orders_by_position_drops_removed_and_blank_rows(page_client: Any, flyer: dict[str, Any], client: Any,
                                                             auth: dict[str, str]) -> None:
    editor = page_client("marketer")
    resp = save(editor, flyer["code"],
                row(0, 3, "https://apps.apple.com/app/id1", ("ios",)),
                row(1, 1, "https://example.com/nb", language="nb nn, no", query="src=flyer&ref"),
                row(2, 2, "https://example.com/old", ("desktop",), remove=True),
                row(5, 2, "https://example.com/se", country="se, dk", query="q=a+b%26c&x="),
                row(6, 4))  # blank: no rule
    assert resp.status_code == 303 and resp.headers["Location"].endswith(f"/links/{flyer['code']}#rules")
    rules = client.get(f"/api/v1/links/{flyer['code']}", headers=auth).json["rules"]
    assert rules == [
        {"conditions": {"language": ["nb", "nn", "no"], "query": {"src": "flyer", "ref": None}},
         "destination": "https://example.com/nb"},
        {"conditions": {"country": ["SE", "DK"], "query": {"q": "a b&c", "x": ""}}, "destination": "https://example.com/se"},
        {"conditions": {"device": ["ios"]}, "destination": "https://apps.apple.com/app/id1"}]
    page = editor.get(resp.headers["Location"]).text
    assert "Redirect rules saved." in page
    assert 'name="rule-1-query" type="text" value="q=a+b%26c&amp;x="' in page  # written back as it reads
    # Saved rules take effect at once on this worker.
    assert client.get(f"/r/{flyer['code']}", headers={"User-Agent": IPHONE}).headers["Location"].startswith(
        "https://apps.apple.com/app/id1?")


def test_removing_every_rule(page_client: Any, flyer: dict[str, Any], client: Any, auth: dict[str, str]) -> None:
    editor = page_client("admin")
    resp = save(editor, flyer["code"], row(0, 1, "https://apps.apple.com/app/id1", ("ios",), remove=True),
                row(1, 2, "https://example.com/nb", language="nb", remove=True), row(2, 3))
    assert resp.status_code == 303
    assert client.get(f"/api/v1/links/{flyer['code']}", headers=auth).json["rules"] == []
    page = editor.get(resp.headers["Location"]).text
    assert "Redirect rules removed." in page and 'id="rules-none"' in page


@pytest.mark.parametrize(("bad_row", "field", "message"), [
    (row(7, 2, "https://example.com/x", country="NO, XX"), "rule-7-country", "&#39;XX&#39; is not an ISO 3166-1"),
    (row(7, 2, "https://example.com/x", language="nb-NO"), "rule-7-language", "use its primary tag"),
    (row(7, 2, "javascript:alert(1)", ("ios",)), "rule-7-destination", "Must start with http:// or https://"),
    (row(7, 2, "https://example.com/x"), "rule-7", "needs at least one of device, language, country, query"),
    (row(7, 2, "", ("android",)), "rule-7-destination", "Is required: an absolute http(s) URL"),
])
def test_a_bad_rule_shows_its_error_beside_the_field_and_saves_nothing(page_client: Any, flyer: dict[str, Any],
                                                                       client: Any, auth: dict[str, str],
                                                                       bad_row: dict[str, Any], field: str,
                                                                       message: str) -> None:
    editor = page_client("marketer")
    resp = save(editor, flyer["code"], row(0, 1, "https://example.com/first", ("ios",)), bad_row)
    assert resp.status_code == 422
    page = resp.text
    error = re.search(rf'<p class="field-error" id="f-{field}-error">([^<]*)</p>', page)
    assert error and message in error.group(1), page[page.find('id="rules-errors"'):][:600]
    assert f'href="#f-{field}"' in page  # the summary at the top of the form links to it
    assert 'value="https://example.com/first"' in page  # what was sent is shown again, not the stored rules
    assert client.get(f"/api/v1/links/{flyer['code']}", headers=auth).json["rules"] == RULES


def test_too_many_rules_is_an_error_of_the_form(page_client: Any, flyer: dict[str, Any]) -> None:
    editor = page_client("marketer")
    rows = [row(i, i + 1, f"https://example.com/{i}", ("ios",)) for i in range(21)]
    resp = save(editor, flyer["code"], *rows)
    assert resp.status_code == 422 and "at most 20 rules per link" in resp.text


def test_form_helpers_round_trip() -> None:
    from werkzeug.datastructures import MultiDict
    query = {"src": "a b&c=d", "ref": None, "pct": "100%+", "": "x"}
    form = MultiDict([("rule-3-position", "1"), ("rule-3-query", query_text(query)), ("rule-3-destination", "d"),
                      ("rule-3-device", "ios"), ("rule-3-device", "tv"), ("rule-x-destination", "ignored")])
    rows = form_rows(form)
    assert [r["id"] for r in rows] == ["3"] and rows[0]["device"] == ["ios"]  # unknown devices are not kept
    rules, ids = rules_of(rows)
    assert rules == [{"conditions": {"device": ["ios"], "query": query}, "destination": "d"}] and ids == ["3"]
    assert row_errors(ValidationError("rules[0].conditions.query.src must be a string", "rules[0].conditions.query"),
                      ids) == {"rule-3-query": "rules[0].conditions.query.src must be a string"}
    assert row_errors(ValidationError("rules: at most 20", "rules"), ids) == {"rules": "rules: at most 20"}
    assert row_errors(ValidationError("rules[4].destination x", "rules[4].destination"), ids) == {
        "rules": "rules[4].destination x"}
