"""The pages with short-link domains: the builder's domain select, and every page URL of a link carrying its domain."""
from __future__ import annotations

import html as html_lib
import io
import re
from typing import Any

import zxingcpp
from domains_support import BRAND, EVENT, LINK
from PIL import Image

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(client: Any, path: str) -> str:
    match = TOKEN.search(client.get(path).text)
    assert match, f"no CSRF field on {path}"
    return match.group(1)


def form(**fields: str) -> dict[str, str]:
    return {**LINK, "kind": "online", **fields}


def test_the_builder_offers_the_domains_once_there_are_any(signed_in, add_domain):
    page = signed_in.get("/links/new").text
    assert 'name="domain"' not in page  # only the default domain: nothing to choose
    add_domain(BRAND)
    add_domain(EVENT)
    page = signed_in.get("/links/new").text
    options = re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', page.split('id="f-domain"')[1].split(
        "</select>")[0])
    assert options == [("", "go.example.com (default)"), (BRAND, BRAND), (EVENT, EVENT)]


def test_a_link_made_on_the_page_for_a_domain(signed_in, add_domain, client, auth):
    add_domain(BRAND)
    token = csrf_of(signed_in, "/links/new")
    resp = signed_in.post("/links/new", data={**form(domain=BRAND, slug="expo"), "csrf_token": token})
    assert resp.status_code == 303 and resp.headers["Location"] == f"/links/expo?domain={BRAND}"
    page = signed_in.get(resp.headers["Location"]).text
    assert f'value="https://{BRAND}/r/expo"' in page and f'value="https://{BRAND}/q/expo"' in page
    # the QR card's image, downloads and options form all name the domain
    assert f"/links/expo/qr.svg?domain={BRAND}&amp;size=240" in page
    assert f"/links/expo/qr.png?domain={BRAND}&amp;size=1200" in page
    assert f'<input type="hidden" name="domain" value="{BRAND}">' in page

    # an unknown domain is shown next to the field, nothing made
    resp = signed_in.post("/links/new", data={**form(domain="nowhere.example", utm_content="x"), "csrf_token": token})
    assert resp.status_code == 422
    assert re.search(r'id="f-domain-error">[^<]*nowhere.example is not a short-link domain', resp.text)
    assert client.get("/api/v1/links", headers=auth).json["total"] == 1


def test_every_page_url_of_a_link_carries_its_domain(signed_in, client, auth, add_domain):
    add_domain(BRAND)
    add_domain(EVENT, scheme="http")
    campaign = client.post("/api/v1/campaigns", json={"name": "Fair"}, headers=auth).json
    for domain in (BRAND, EVENT):
        resp = client.post("/api/v1/links", json={**LINK, "slug": "fair", "domain": domain, "utm_content": domain,
                                                  "campaign": campaign["slug"], "kind": "print"}, headers=auth)
        assert resp.status_code == 201
    resp = client.post("/api/v1/links", json={**LINK, "slug": "home", "campaign": campaign["slug"]}, headers=auth)
    assert resp.status_code == 201
    for page in (signed_in.get("/").text, signed_in.get(f"/campaigns/{campaign['id']}").text):
        hrefs = set(re.findall(r'href="(/links/(?:fair|home)[^"]*)"', html_lib.unescape(page)))
        assert hrefs == {f"/links/fair?domain={BRAND}", f"/links/fair?domain={EVENT}", "/links/home"}

    assert signed_in.get("/links/fair").status_code == 409  # which one? the error page says
    assert BRAND in signed_in.get("/links/fair").text
    page = signed_in.get(f"/links/fair?domain={EVENT}").text
    assert f'value="http://{EVENT}/r/fair"' in page

    resp = signed_in.get(f"/links/fair/qr.png?domain={EVENT}")
    assert resp.status_code == 200
    image = Image.open(io.BytesIO(resp.data))
    image.load()
    assert [c.text for c in zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)] == [
        f"http://{EVENT}/q/fair"]


def test_a_variant_is_made_beside_its_original_on_its_domain(signed_in, client, auth, add_domain):
    add_domain(BRAND)
    add_domain(EVENT)
    for domain in (BRAND, EVENT):
        client.post("/api/v1/links", json={**LINK, "slug": "flyer", "domain": domain, "utm_content": domain},
                    headers=auth)
    page = signed_in.get(f"/links/flyer?domain={EVENT}").text
    href = html_lib.unescape(re.search(r'id="duplicate-variant" href="([^"]+)"', page).group(1))
    assert href == f"/links/new?variant_of=flyer&variant_domain={EVENT}"
    builder = signed_in.get(href).text
    assert f'<input type="hidden" name="variant_domain" value="{EVENT}">' in builder
    assert re.search(rf'<option value="{re.escape(EVENT)}" selected>', builder)  # the original's domain
    token = TOKEN.search(builder).group(1)
    fields = dict(re.findall(r'<input id="f-(\w+)" name="\w+"[^>]*value="([^"]*)"', builder))
    data = {**form(), **{k: html_lib.unescape(v) for k, v in fields.items()}, "domain": EVENT,
            "variant_of": "flyer", "variant_domain": EVENT, "csrf_token": token}
    resp = signed_in.post("/links/new", data=data)
    assert resp.status_code == 303, resp.text[:2000]
    assert resp.headers["Location"].endswith(f"?domain={EVENT}")
    on_event = client.get(f"/api/v1/links/flyer?domain={EVENT}", headers=auth).json
    on_brand = client.get(f"/api/v1/links/flyer?domain={BRAND}", headers=auth).json
    assert on_event["variant"] == "A" and on_brand["variant"] is None  # only the original on its domain
