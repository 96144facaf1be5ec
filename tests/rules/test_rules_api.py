"""Setting redirect rules: the links API (422 naming the path, nothing written), PATCH, roles (staff 403), the
bulk CSV ``rules`` column and the CLI. SQLite and PostgreSQL."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tracker.links.models import Link

APP_STORE = "https://apps.apple.com/app/id1"
BODY = {"destination": "https://example.com/landing", "utm_source": "flyer", "utm_medium": "print",
        "utm_campaign": "expo", "kind": "print"}
RULES = [{"conditions": {"device": "ios", "country": ["no"]}, "destination": APP_STORE},
         {"conditions": {"language": ["NB", "nn"], "query": {"src": None}}, "destination": "https://example.com/nb"}]
STORED = [{"conditions": {"device": ["ios"], "country": ["NO"]}, "destination": APP_STORE},
          {"conditions": {"language": ["nb", "nn"], "query": {"src": None}}, "destination": "https://example.com/nb"}]


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def link_count(session: Any) -> int:
    session.expire_all()
    return session.scalar(sa.select(sa.func.count()).select_from(Link))


def test_create_with_rules_and_read_them_back(client: Any, auth: dict[str, str]) -> None:
    resp = client.post("/api/v1/links", json={**BODY, "rules": RULES}, headers=auth)
    assert resp.status_code == 201, resp.json
    link = resp.json
    assert link["rules"] == STORED and link["rules_changed_at"] is not None
    assert link["stats"]["rules"] == [{"rule": 0, "destination": APP_STORE, "clicks": 0},
                                      {"rule": 1, "destination": "https://example.com/nb", "clicks": 0},
                                      {"rule": None, "destination": "https://example.com/landing", "clicks": 0}]
    again = client.get(f"/api/v1/links/{link['code']}", headers=auth).json
    assert again["rules"] == STORED and again["rules_changed_at"] == link["rules_changed_at"]
    listed = client.get("/api/v1/links", headers=auth).json["items"]
    assert listed[0]["rules"] == STORED and len(listed[0]["stats"]["rules"]) == 3


def test_a_link_without_rules(client: Any, auth: dict[str, str]) -> None:
    for extra in ({}, {"rules": []}, {"rules": None}):
        resp = client.post("/api/v1/links?force=true", json={**BODY, **extra}, headers=auth)
        assert resp.status_code == 201, resp.json
        assert resp.json["rules"] == [] and resp.json["rules_changed_at"] is None and resp.json["stats"]["rules"] == []


@pytest.mark.parametrize(("rules", "field"), [
    ([RULES[0], RULES[0], {"conditions": {"device": "fridge"}, "destination": APP_STORE}],
     "rules[2].conditions.device"),
    ([{"conditions": {"device": "ios"}, "destination": "ftp://example.com/"}], "rules[0].destination"),
    ([RULES[0], {"conditions": {}, "destination": APP_STORE}], "rules[1].conditions"),
    ([{"conditions": {"language": ["nb-NO"]}, "destination": APP_STORE}], "rules[0].conditions.language"),
    ([{"conditions": {"country": ["ZZ"]}, "destination": APP_STORE}], "rules[0].conditions.country"),
    ([{"conditions": {"query": {"src": 1}}, "destination": APP_STORE}], "rules[0].conditions.query"),
    ([{"conditions": {"os": "ios"}, "destination": APP_STORE}], "rules[0].conditions.os"),
    ([{"conditions": {"device": "ios"}, "destination": APP_STORE, "when": "now"}], "rules[0].when"),
    ([7], "rules[0]"),
    ([RULES[0]] * 21, "rules"),
    ("not a list", "rules"),
])
def test_bad_rules_are_422_naming_the_path_and_write_nothing(client: Any, auth: dict[str, str], session: Any,
                                                             rules: Any, field: str) -> None:
    resp = client.post("/api/v1/links", json={**BODY, "rules": rules}, headers=auth)
    assert resp.status_code == 422, resp.json
    assert resp.json["error"]["code"] == "invalid" and resp.json["error"]["field"] == field
    assert link_count(session) == 0


def test_patch_sets_changes_and_clears_rules(client: Any, auth: dict[str, str], make_link: Any) -> None:
    link = make_link()
    assert link["rules_changed_at"] is None
    code = link["code"]
    first = client.patch(f"/api/v1/links/{code}", json={"rules": RULES}, headers=auth).json
    assert first["rules"] == STORED and first["rules_changed_at"] is not None
    same = client.patch(f"/api/v1/links/{code}", json={"rules": STORED, "label": "Flyer"}, headers=auth).json
    assert same["rules_changed_at"] == first["rules_changed_at"]  # the same rules: counts keep going
    other = client.patch(f"/api/v1/links/{code}", json={"label": "Flyer 2"}, headers=auth).json
    assert other["rules"] == STORED and other["rules_changed_at"] == first["rules_changed_at"]
    changed = client.patch(f"/api/v1/links/{code}", json={"rules": RULES[:1]}, headers=auth).json
    assert changed["rules"] == STORED[:1] and changed["rules_changed_at"] > first["rules_changed_at"]
    bad = client.patch(f"/api/v1/links/{code}", json={"rules": [{"conditions": {"device": "ios"}}]}, headers=auth)
    assert bad.status_code == 422 and bad.json["error"]["field"] == "rules[0].destination"
    assert client.get(f"/api/v1/links/{code}", headers=auth).json["rules"] == STORED[:1]  # unchanged
    cleared = client.patch(f"/api/v1/links/{code}", json={"rules": []}, headers=auth).json
    assert cleared["rules"] == [] and cleared["stats"]["rules"] == []
    assert cleared["rules_changed_at"] > changed["rules_changed_at"]
    client.patch(f"/api/v1/links/{code}", json={"rules": RULES}, headers=auth)
    assert client.patch(f"/api/v1/links/{code}", json={"rules": None}, headers=auth).json["rules"] == []


def test_rule_destinations_pass_destination_domains(make_app: Any, api_key: str) -> None:
    client = make_app(destination_domains=["example.com"]).test_client()
    auth = bearer(api_key)
    bad = client.post("/api/v1/links", json={**BODY, "rules": RULES}, headers=auth)  # apps.apple.com
    assert bad.status_code == 422 and bad.json["error"]["field"] == "rules[0].destination"
    good = client.post("/api/v1/links", json={**BODY, "rules": [
        {"conditions": {"device": "ios"}, "destination": "https://app.example.com/ios"}]}, headers=auth)
    assert good.status_code == 201, good.json


def test_staff_may_not_set_rules(client: Any, auth: dict[str, str], campaign: dict[str, Any], role_key: Any,
                                 session: Any) -> None:
    staff = bearer(role_key("staff", [campaign["slug"]]))
    body = {**BODY, "campaign": campaign["slug"]}
    refused = client.post("/api/v1/links", json={**body, "rules": RULES}, headers=staff)
    assert refused.status_code == 403 and refused.json["error"]["field"] == "rules"
    # Refused before the rules are read: a bad rule from staff is 403 too, never a 422 about the rule.
    bad = client.post("/api/v1/links", json={**body, "rules": [{"conditions": {"device": "tv"}}]}, headers=staff)
    assert bad.status_code == 403
    assert link_count(session) == 0
    made = client.post("/api/v1/links", json={**body, "rules": []}, headers=staff)  # no rules: allowed
    assert made.status_code == 201 and made.json["rules"] == []
    patch = client.patch(f"/api/v1/links/{made.json['code']}", json={"rules": RULES}, headers=staff)
    assert patch.status_code == 403
    # Staff and analysts read them.
    client.patch(f"/api/v1/links/{made.json['code']}", json={"rules": RULES}, headers=auth)
    assert client.get(f"/api/v1/links/{made.json['code']}", headers=staff).json["rules"] == STORED
    analyst = bearer(role_key("analyst"))
    assert client.get(f"/api/v1/links/{made.json['code']}", headers=analyst).json["rules"] == STORED


def test_the_openapi_document_describes_rules(client: Any, auth: dict[str, str]) -> None:
    spec = client.get("/api/openapi.json", headers=auth).json
    schemas = spec["components"]["schemas"]
    link_in = schemas["LinkIn"]["properties"]["rules"]
    assert link_in["maxItems"] == 20 and link_in["items"]["required"] == ["conditions", "destination"]
    assert set(link_in["items"]["properties"]["conditions"]["properties"]) == {"device", "language", "country",
                                                                                "query"}
    assert "rules" in schemas["LinkPatch"]["properties"] and "rules" in schemas["Stats"]["properties"]


# ---- bulk CSV -----------------------------------------------------------------------------------

def csv_field(value: Any) -> str:
    return '"' + json.dumps(value).replace('"', '""') + '"'


def bulk_csv(*rules: Any) -> str:
    lines = ["destination,utm_source,utm_medium,utm_campaign,label,rules"]
    for i, value in enumerate(rules):
        cell = "" if value is None else csv_field(value) if not isinstance(value, str) else value
        lines.append(f"https://example.com/{i},flyer,print,expo,Row {i},{cell}")
    return "\n".join(lines) + "\n"


def test_bulk_csv_takes_a_rules_column(client: Any, auth: dict[str, str]) -> None:
    resp = client.post("/api/v1/links/bulk", data=bulk_csv(RULES, None, RULES[:1]),
                       headers={**auth, "Content-Type": "text/csv"})
    assert resp.status_code == 201, resp.json
    assert [link["rules"] for link in resp.json["created"]] == [STORED, [], STORED[:1]]


def test_a_bad_rules_cell_names_the_line_and_field(client: Any, auth: dict[str, str], session: Any) -> None:
    text = bulk_csv(RULES, [{"conditions": {"device": "ios"}, "destination": "nope"}], "[not json", RULES)
    resp = client.post("/api/v1/links/bulk", data=text, headers={**auth, "Content-Type": "text/csv"})
    assert resp.status_code == 422 and resp.json["committed"] is False
    assert [(r["line"], r["field"]) for r in resp.json["rejected"]] == [(3, "rules[0].destination"), (4, "rules")]
    assert "must be JSON" in resp.json["rejected"][1]["message"]
    assert link_count(session) == 0  # all or nothing
    partial = client.post("/api/v1/links/bulk?atomic=false", data=text, headers={**auth, "Content-Type": "text/csv"})
    assert partial.status_code == 200 and [link["label"] for link in partial.json["created"]] == ["Row 0", "Row 3"]


# ---- CLI ----------------------------------------------------------------------------------------

CLI = ["links", "create", "--destination", "https://example.com/expo", "--source", "flyer", "--medium", "print",
       "--utm-campaign", "expo", "--kind", "print", "--json"]


def test_cli_create_with_rules_as_json_or_a_file(runner: Any, tmp_path: Path) -> None:
    made = runner.invoke(args=[*CLI, "--rules", json.dumps(RULES)])
    assert made.exit_code == 0, made.output
    assert json.loads(made.stdout)["rules"] == STORED
    rules_file = tmp_path / "rules.json"
    rules_file.write_text(json.dumps(RULES[1:]), encoding="utf-8")
    from_file = runner.invoke(args=[*CLI, "--label", "from a file", "--rules", f"@{rules_file}"])
    assert from_file.exit_code == 0, from_file.output
    assert json.loads(from_file.stdout)["rules"] == STORED[1:]


@pytest.mark.parametrize(("rules", "expected"), [
    ('[{"conditions": {"device": "ios"}, "destination": "javascript:x"}]', "(rules[0].destination)"),
    ('[{"conditions": {"country": "Norway"}, "destination": "https://example.com/"}]', "(rules[0].conditions.country)"),
    ("{oops", "must be JSON"),
    ("@/no/such/file.json", "cannot read /no/such/file.json"),
])
def test_cli_bad_rules_exit_non_zero_naming_the_field(runner: Any, session: Any, rules: str, expected: str) -> None:
    result = runner.invoke(args=[*CLI, "--rules", rules])
    assert result.exit_code != 0 and expected in result.output
    assert link_count(session) == 0


def test_cli_links_rules_shows_sets_and_clears(runner: Any, make_link: Any, tmp_path: Path, client: Any,
                                               auth: dict[str, str]) -> None:
    code = make_link()["code"]
    shown = runner.invoke(args=["links", "rules", code])
    assert shown.exit_code == 0 and json.loads(shown.stdout) == []
    rules_file = tmp_path / "rules.json"
    rules_file.write_text(json.dumps(RULES), encoding="utf-8")
    set_ = runner.invoke(args=["links", "rules", code, f"@{rules_file}"])
    assert set_.exit_code == 0, set_.output
    assert json.loads(set_.stdout) == STORED
    assert client.get(f"/api/v1/links/{code}", headers=auth).json["rules"] == STORED
    bad = runner.invoke(args=["links", "rules", code, '[{"conditions": {"device": "tv"}, "destination": "x"}]'])
    assert bad.exit_code == 1 and "(rules[0].conditions.device)" in bad.output
    assert runner.invoke(args=["links", "rules", code, "[]", "--clear"]).exit_code == 2
    cleared = runner.invoke(args=["links", "rules", code, "--clear"])
    assert cleared.exit_code == 0 and json.loads(cleared.stdout) == []
    assert runner.invoke(args=["links", "rules", "nosuchcode"]).exit_code == 1
