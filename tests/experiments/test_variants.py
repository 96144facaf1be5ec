"""Link variants (experiment + variant) through the API, bulk CSV, CLI and the link page's "Duplicate as variant B"."""
from __future__ import annotations

import re
from typing import Any

import pytest
import sqlalchemy as sa

from tracker.links.models import Link

LINK = {"destination": "https://example.com/landing", "utm_source": "expo", "utm_medium": "print",
        "kind": "print"}


def _post(client: Any, auth: dict[str, str], **fields: Any) -> Any:
    return client.post("/api/v1/links", json={**LINK, "utm_campaign": "spring", **fields}, headers=auth)


def test_api_creates_and_shows_variants(client: Any, auth: dict[str, str]) -> None:
    a = _post(client, auth, experiment=" Flyer-Test ", variant="A")
    assert a.status_code == 201, a.json
    assert (a.json["experiment"], a.json["variant"]) == ("flyer-test", "A")
    # The same tags as another arm: a link of its own, not a duplicate (the variant is in the fingerprint).
    b = _post(client, auth, experiment="flyer-test", variant="B")
    assert b.status_code == 201, b.json
    plain = _post(client, auth)
    assert plain.status_code == 201
    again = _post(client, auth)
    assert again.status_code == 409 and again.json["error"]["existing"] == plain.json["code"]
    listed = client.get("/api/v1/links", query_string={"experiment": "flyer-test"}, headers=auth).json
    assert sorted(item["variant"] for item in listed["items"]) == ["A", "B"]
    patched = client.patch(f"/api/v1/links/{plain.json['code']}", json={"experiment": "flyer-test", "variant": "C"},
                           headers=auth)
    assert patched.status_code == 200 and patched.json["variant"] == "C"


@pytest.mark.parametrize(("fields", "field"), [
    ({"variant": "B"}, "experiment"),
    ({"experiment": "flyer"}, "variant"),
    ({"experiment": "Flyer test!", "variant": "A"}, "experiment"),
    ({"experiment": "x", "variant": "A"}, "experiment"),
    ({"experiment": "flyer", "variant": "B side"}, "variant"),
    ({"experiment": "flyer", "variant": "x" * 41}, "variant"),
])
def test_bad_variants_name_the_field(client: Any, auth: dict[str, str], app: Any, fields: dict[str, str],
                                     field: str) -> None:
    resp = _post(client, auth, **fields)
    assert resp.status_code == 422, resp.json
    assert resp.json["error"]["field"] == field
    with app.app_context():
        from tracker.db import get_db
        with get_db().Session() as s:
            assert s.scalar(sa.select(sa.func.count()).select_from(Link)) == 0


def test_patch_cannot_leave_a_variant_alone(client: Any, auth: dict[str, str]) -> None:
    link = _post(client, auth, experiment="flyer", variant="A").json
    resp = client.patch(f"/api/v1/links/{link['code']}", json={"experiment": None}, headers=auth)
    assert resp.status_code == 422 and resp.json["error"]["field"] == "experiment"
    assert client.get(f"/api/v1/links/{link['code']}", headers=auth).json["experiment"] == "flyer"


def test_bulk_csv_sets_variants_with_line_errors(client: Any, auth: dict[str, str]) -> None:
    text = ("destination,utm_source,utm_medium,utm_campaign,utm_content,experiment,variant\n"
            "https://example.com/a,expo,print,spring,flyer-a,flyer,A\n"
            "https://example.com/b,expo,print,spring,flyer-b,,B\n"
            "https://example.com/c,expo,print,spring,flyer-c,flyer,C\n")
    resp = client.post("/api/v1/links/bulk", data=text.encode(), headers={**auth, "Content-Type": "text/csv"})
    assert resp.status_code == 422
    assert resp.json["rejected"] == [{"line": 3, "field": "experiment", "message": resp.json["rejected"][0]["message"]}]
    assert client.get("/api/v1/links", headers=auth).json["total"] == 0  # atomic: nothing half-written
    resp = client.post("/api/v1/links/bulk?atomic=false", data=text.encode(),
                       headers={**auth, "Content-Type": "text/csv"})
    assert resp.status_code == 200
    assert sorted((c["experiment"], c["variant"]) for c in resp.json["created"]) == [("flyer", "A"), ("flyer", "C")]


def test_cli_links_create_with_a_variant(runner: Any, client: Any, auth: dict[str, str]) -> None:
    args = ["links", "create", "--destination", "https://example.com/x", "--source", "expo", "--medium", "print",
            "--utm-campaign", "spring"]
    ok = runner.invoke(args=[*args, "--experiment", "flyer", "--variant", "B", "--json"])
    assert ok.exit_code == 0, ok.output
    assert '"variant": "B"' in ok.output and '"experiment": "flyer"' in ok.output
    bad = runner.invoke(args=[*args, "--variant", "C"])
    assert bad.exit_code != 0 and "(experiment)" in bad.output


def test_duplicate_as_variant_b_on_the_link_page(page_client: Any, client: Any, auth: dict[str, str],
                                                 campaign: dict[str, Any], app: Any) -> None:
    original = _post(client, auth, campaign=campaign["slug"], utm_content="flyer", label="Flyer").json
    pages = page_client("marketer")
    page = pages.get(f"/links/{original['code']}").get_data(as_text=True)
    assert "Duplicate as variant B" in page
    form = pages.get(f"/links/new?variant_of={original['code']}")
    html = form.get_data(as_text=True)
    assert form.status_code == 200 and "Creating it marks the original as variant A" in html

    def value(name: str) -> str:
        found = re.search(rf'name="{name}"[^>]*value="([^"]*)"', html)
        return found.group(1) if found else ""

    assert (value("experiment"), value("variant"), value("utm_content")) == (campaign["slug"], "B", "flyer-b")
    assert value("variant_of") == original["code"] and value("label") == "Flyer (variant B)"
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    fields = {name: value(name) for name in ("destination", "utm_source", "utm_campaign", "utm_content", "label",
                                             "experiment", "variant", "variant_of", "extra_params", "utm_term")}
    fields.update({"campaign": str(campaign["id"]), "utm_medium": "print", "kind": "print", "csrf_token": token})
    done = pages.post("/links/new", data=fields)
    assert done.status_code == 303, done.get_data(as_text=True)
    new_code = done.headers["Location"].rsplit("/", 1)[-1]
    new = client.get(f"/api/v1/links/{new_code}", headers=auth).json
    assert (new["experiment"], new["variant"], new["utm_content"]) == (campaign["slug"], "B", "flyer-b")
    old = client.get(f"/api/v1/links/{original['code']}", headers=auth).json
    assert (old["experiment"], old["variant"]) == (campaign["slug"], "A")
    assert "Duplicate as variant C" in pages.get(f"/links/{original['code']}").get_data(as_text=True)
    # A bad variant: nothing changes, not even the original.
    other = _post(client, auth, campaign=campaign["slug"], utm_content="poster", label="Poster").json
    bad = pages.post("/links/new", data={**fields, "variant_of": other["code"], "variant": "A", "utm_content": "p2",
                                         "label": "Poster 2", "experiment": "posters"})
    assert bad.status_code == 422 and "variant A is the original" in bad.get_data(as_text=True)
    assert client.get(f"/api/v1/links/{other['code']}", headers=auth).json["experiment"] is None


def test_staff_cannot_mark_an_original(page_client: Any, client: Any, auth: dict[str, str],
                                       campaign: dict[str, Any]) -> None:
    original = _post(client, auth, campaign=campaign["slug"]).json
    staff = page_client("staff", [campaign["slug"]])
    assert "Duplicate as variant" not in staff.get(f"/links/{original['code']}").get_data(as_text=True)
    assert staff.get(f"/links/new?variant_of={original['code']}").status_code == 403
