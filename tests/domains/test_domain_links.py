"""Links on short-link domains: the domain field, codes per domain, finding a code, bulk CSV, CLI, short URLs."""
from __future__ import annotations

import io
import json

import pypdfium2 as pdfium
import pytest
import zxingcpp
from domains_support import BRAND, EVENT, LINK
from PIL import Image

from tracker.webhooks.models import WebhookDelivery

PUBLIC = "https://go.example.com"


def post_link(client, auth, **fields):
    return client.post("/api/v1/links", json={**LINK, **fields}, headers=auth)


def decode_png(data: bytes) -> list[str]:
    image = Image.open(io.BytesIO(data))
    image.load()
    return [code.text for code in zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)]


def test_a_link_belongs_to_one_domain_and_its_urls_carry_it(client, auth, brand, event):
    resp = post_link(client, auth, domain="GO.Brand.no", slug="expo")
    assert resp.status_code == 201, resp.json
    on_brand = resp.json
    assert on_brand["domain"] == BRAND and on_brand["default_domain"] is False
    assert on_brand["short_url"] == f"https://{BRAND}/r/expo" and on_brand["qr_url"] == f"https://{BRAND}/q/expo"
    on_event = post_link(client, auth, domain=EVENT, slug="expo", utm_content="event").json
    assert on_event["short_url"] == f"http://{EVENT}/r/expo"  # the domain's scheme
    default = post_link(client, auth, slug="expo", utm_content="default").json
    assert default["domain"] == "go.example.com" and default["default_domain"] is True
    assert default["short_url"] == f"{PUBLIC}/r/expo"
    # the default domain named by its host is the default domain
    named = post_link(client, auth, domain="go.example.com", utm_content="named").json
    assert named["default_domain"] is True and named["short_url"].startswith(f"{PUBLIC}/r/")


def test_an_unknown_domain_is_422_naming_domain(client, auth, brand):
    for value in ("nowhere.example", "go.brand.no:443", "https://go.brand.no"):
        resp = post_link(client, auth, domain=value)
        assert resp.status_code == 422 and resp.json["error"]["field"] == "domain", (value, resp.json)
    resp = post_link(client, auth, domain="nowhere.example")
    assert "go.example.com, go.brand.no" in resp.json["error"]["message"]  # says which there are
    assert client.get("/api/v1/links", headers=auth).json["total"] == 0


def test_the_same_code_or_slug_on_two_domains(client, auth, brand, event, session):
    assert post_link(client, auth, domain=BRAND, slug="stand").status_code == 201
    # the same slug on the same domain is taken; on another domain it is free
    resp = post_link(client, auth, domain=BRAND, slug="stand", utm_content="x")
    assert resp.status_code == 409 and resp.json["error"]["field"] == "slug"
    assert "on go.brand.no" in resp.json["error"]["message"]
    assert post_link(client, auth, domain=EVENT, slug="stand", utm_content="x").status_code == 201
    assert post_link(client, auth, slug="stand", utm_content="y").status_code == 201
    resp = post_link(client, auth, slug="stand", utm_content="z")
    assert resp.status_code == 409 and resp.json["error"]["field"] == "slug"


def test_generated_codes_are_unique_per_domain(app, brand, session, monkeypatch):
    """A random code taken on the link's domain is drawn again; taken on another domain, it is used."""
    from tracker.links import service
    settings = app.config["SETTINGS"]
    first = service.create_link(session, settings, {**LINK, "slug": "abc234"})
    draws = iter(["abc234", "abc234", "xyz789"])
    monkeypatch.setattr(service, "generate_code", lambda length=6: next(draws))
    on_brand = service.create_link(session, settings, {**LINK, "domain": BRAND, "utm_content": "b"})
    assert on_brand.code == "abc234" and on_brand.domain.host == BRAND  # free on go.brand.no
    again = service.create_link(session, settings, {**LINK, "utm_content": "c"})
    assert again.code == "xyz789" and first.code == "abc234"  # abc234 taken on the default domain: drawn again


def test_duplicates_are_per_domain(client, auth, brand):
    assert post_link(client, auth).status_code == 201
    resp = post_link(client, auth)
    assert resp.status_code == 409 and "existing" in resp.json["error"]
    # the same destination and tags on another domain is another printed link
    assert post_link(client, auth, domain=BRAND).status_code == 201
    assert post_link(client, auth, domain=BRAND).status_code == 409


def test_finding_a_code_on_several_domains(client, auth, brand, event):
    on_brand = post_link(client, auth, domain=BRAND, slug="fair").json
    # only on go.brand.no: found without naming the domain
    assert client.get("/api/v1/links/fair", headers=auth).json["id"] == on_brand["id"]
    on_event = post_link(client, auth, domain=EVENT, slug="fair", utm_content="e").json
    # on two domains, neither the default: ambiguous, the hosts listed
    resp = client.get("/api/v1/links/fair", headers=auth)
    assert resp.status_code == 409 and resp.json["error"]["field"] == "domain"
    assert resp.json["error"]["hosts"] == [BRAND, EVENT]
    assert client.get(f"/api/v1/links/fair?domain={EVENT}", headers=auth).json["id"] == on_event["id"]
    assert client.get(f"/api/v1/links/FAIR?domain={BRAND.upper()}", headers=auth).json["id"] == on_brand["id"]
    # the default domain's link wins when no domain is named
    default = post_link(client, auth, slug="fair", utm_content="d").json
    assert client.get("/api/v1/links/fair", headers=auth).json["id"] == default["id"]
    assert client.get("/api/v1/links/fair?domain=go.example.com", headers=auth).json["id"] == default["id"]
    # a domain without that code, and a host that is no domain
    other = client.post("/api/v1/domains", json={"host": "go.other.no"}, headers=auth)
    assert other.status_code == 201
    resp = client.get("/api/v1/links/fair?domain=go.other.no", headers=auth)
    assert resp.status_code == 404
    resp = client.get("/api/v1/links/fair?domain=nowhere.example", headers=auth)
    assert resp.status_code == 422 and resp.json["error"]["field"] == "domain"


def test_staff_never_learn_of_links_outside_their_campaigns(client, auth, role_key, brand, event):
    mine = client.post("/api/v1/campaigns", json={"name": "Mine"}, headers=auth).json
    theirs = client.post("/api/v1/campaigns", json={"name": "Theirs"}, headers=auth).json
    post_link(client, auth, domain=BRAND, slug="booth", campaign=mine["slug"], kind="print")
    post_link(client, auth, domain=EVENT, slug="booth", campaign=theirs["slug"], kind="print")
    staff = {"Authorization": f"Bearer {role_key('staff', [mine['slug']])}"}
    resp = client.get("/api/v1/links/booth", headers=staff)  # not ambiguous for them: they see one
    assert resp.status_code == 200 and resp.json["domain"] == BRAND
    assert client.get(f"/api/v1/links/booth?domain={EVENT}", headers=staff).status_code == 403


def test_patch_finds_the_link_on_its_domain_and_never_moves_it(client, auth, brand, event):
    post_link(client, auth, domain=BRAND, slug="promo")
    post_link(client, auth, domain=EVENT, slug="promo", utm_content="e")
    resp = client.patch(f"/api/v1/links/promo?domain={EVENT}", json={"label": "Event"}, headers=auth)
    assert resp.status_code == 200 and resp.json["domain"] == EVENT and resp.json["label"] == "Event"
    assert client.get(f"/api/v1/links/promo?domain={BRAND}", headers=auth).json["label"] == ""
    resp = client.patch(f"/api/v1/links/promo?domain={EVENT}", json={"domain": BRAND, "label": "Moved"}, headers=auth)
    assert resp.status_code == 422 and resp.json["error"]["field"] == "domain"
    resp = client.patch(f"/api/v1/links/promo?domain={EVENT}", json={"domain": None}, headers=auth)
    assert resp.status_code == 422 and resp.json["error"]["field"] == "domain"  # null: the default domain
    # naming its own domain is no change
    resp = client.patch(f"/api/v1/links/promo?domain={EVENT}", json={"domain": EVENT.upper(), "label": "Same"},
                        headers=auth)
    assert resp.status_code == 200 and resp.json["label"] == "Same" and resp.json["domain"] == EVENT
    assert client.patch("/api/v1/links/promo", json={"label": "?"}, headers=auth).status_code == 409


def test_the_link_list_shows_each_links_domain(client, auth, brand):
    post_link(client, auth, domain=BRAND, slug="one")
    post_link(client, auth, slug="two", utm_content="two")
    items = client.get("/api/v1/links", headers=auth).json["items"]
    assert {(i["code"], i["domain"], i["short_url"]) for i in items} == {
        ("one", BRAND, f"https://{BRAND}/r/one"), ("two", "go.example.com", f"{PUBLIC}/r/two")}


def test_bulk_csv_with_a_domain_column(client, auth, brand, event):
    csv = ("destination,utm_source,utm_medium,utm_campaign,slug,domain\n"
           f"https://example.com/a,expo,print,spring,hall-a,{BRAND}\n"
           f"https://example.com/a,expo,print,spring,hall-a,{EVENT}\n"
           "https://example.com/a,expo,print,spring,hall-a,\n")
    resp = client.post("/api/v1/links/bulk", data=csv, content_type="text/csv", headers=auth)
    assert resp.status_code == 201, resp.json
    assert [c["short_url"] for c in resp.json["created"]] == [
        f"https://{BRAND}/r/hall-a", f"http://{EVENT}/r/hall-a", f"{PUBLIC}/r/hall-a"]

    # all or nothing: an unknown domain on line 3 and a slug taken on its domain on line 4 are named
    bad = ("destination,utm_source,utm_medium,utm_campaign,slug,domain\n"
           f"https://example.com/b,expo,print,spring,hall-b,{BRAND}\n"
           "https://example.com/b,expo,print,spring,hall-b,nowhere.example\n"
           f"https://example.com/c,expo,print,spring,hall-a,{EVENT}\n")
    resp = client.post("/api/v1/links/bulk", data=bad, content_type="text/csv", headers=auth)
    assert resp.status_code == 422 and resp.json["committed"] is False
    assert [(r["line"], r["field"]) for r in resp.json["rejected"]] == [(3, "domain"), (4, "slug")]
    assert client.get("/api/v1/links", headers=auth).json["total"] == 3
    assert client.get(f"/api/v1/links/hall-b?domain={BRAND}", headers=auth).status_code == 404


def test_cli_creates_a_link_on_a_domain(runner, brand, session):
    result = runner.invoke(args=["links", "create", "--destination", "https://example.com/cli", "--source", "expo",
                                 "--medium", "print", "--utm-campaign", "spring", "--slug", "cli",
                                 "--domain", BRAND])
    assert result.exit_code == 0, result.output
    assert f"short_url    https://{BRAND}/r/cli" in result.output
    assert f"qr_url       https://{BRAND}/q/cli" in result.output
    result = runner.invoke(args=["links", "create", "--destination", "https://example.com/cli", "--source", "expo",
                                 "--medium", "print", "--utm-campaign", "spring", "--domain", "nowhere.example"])
    assert result.exit_code == 1
    assert "nowhere.example is not a short-link domain" in result.output and "(domain)" in result.output


@pytest.mark.parametrize("fmt", ["png", "svg"])
def test_qr_codes_encode_the_domains_url(client, auth, brand, event, fmt):
    import resvg_py
    post_link(client, auth, domain=BRAND, slug="scan")
    on_event = post_link(client, auth, domain=EVENT, slug="scan", utm_content="e").json
    resp = client.get(f"/api/v1/links/scan/qr.{fmt}?domain={EVENT}", headers=auth)
    assert resp.status_code == 200
    data = resp.data if fmt == "png" else bytes(resvg_py.svg_to_bytes(svg_string=resp.data.decode()))
    assert decode_png(data) == [on_event["qr_url"]] == [f"http://{EVENT}/q/scan"]
    resp = client.get(f"/api/v1/links/scan/qr.{fmt}?domain={BRAND}", headers=auth)
    data = resp.data if fmt == "png" else bytes(resvg_py.svg_to_bytes(svg_string=resp.data.decode()))
    assert decode_png(data) == [f"https://{BRAND}/q/scan"]
    assert client.get(f"/api/v1/links/scan/qr.{fmt}", headers=auth).status_code == 409  # which one?


def test_print_sheets_use_each_links_domain(client, auth, brand):
    campaign = client.post("/api/v1/campaigns", json={"name": "Expo"}, headers=auth).json
    on_brand = post_link(client, auth, domain=BRAND, campaign=campaign["slug"], kind="print", label="Brand").json
    default = post_link(client, auth, campaign=campaign["slug"], kind="print", label="Default", utm_content="d").json
    resp = client.get(f"/api/v1/campaigns/{campaign['id']}/qr-sheet.pdf", headers=auth)
    assert resp.status_code == 200
    pdf = pdfium.PdfDocument(resp.data)
    page = pdf[0]
    image = page.render(scale=200 / 72).to_pil()
    found = sorted(code.text for code in zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode))
    assert found == sorted([on_brand["qr_url"], default["qr_url"]]) == sorted(
        [f"https://{BRAND}/q/{on_brand['code']}", f"{PUBLIC}/q/{default['code']}"])
    text = page.get_textpage().get_text_range()
    assert f"{BRAND}/r/{on_brand['code']}" in text and f"go.example.com/r/{default['code']}" in text
    pdf.close()


def test_link_created_webhook_payload_carries_the_domain(app, client, auth, brand, session):
    from tracker.webhooks import service as webhooks
    webhooks.create_webhook(session, _private(app), {"url": "http://127.0.0.1:9/hook", "events": ["link.created"]})
    post_link(client, auth, domain=BRAND, slug="hook")
    session.expire_all()
    (delivery,) = session.query(WebhookDelivery).all()
    data = json.loads(delivery.payload)["data"]
    assert data["domain"] == BRAND
    assert data["short_url"] == f"https://{BRAND}/r/hook" and data["qr_url"] == f"https://{BRAND}/q/hook"


def _private(app):
    """The app's settings, allowing a local webhook target (only saved here, never sent)."""
    from dataclasses import replace
    return replace(app.config["SETTINGS"], webhook_allow_private_addresses=True)


def test_service_get_link_needs_the_settings_for_a_domain(app, brand, session):
    from tracker.links import service
    link = service.create_link(session, app.config["SETTINGS"], {**LINK, "domain": BRAND, "slug": "svc"})
    assert service.get_link(session, "svc").id == link.id
    assert service.get_link(session, "svc", domain=BRAND, settings=app.config["SETTINGS"]).id == link.id
    with pytest.raises(TypeError):
        service.get_link(session, "svc", domain=BRAND)
