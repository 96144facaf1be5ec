"""Logo uploads: PNG or JPEG by content, at most 1 MB and 16M pixels, decoded and re-encoded, stored once.

Also the ``logo`` field of links (API, bulk CSV) and campaigns, which must name a stored asset.
"""
from __future__ import annotations

import hashlib
import io
from typing import Any

import pytest
from logo_support import jpeg, png, transparent_png
from PIL import Image
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from tracker.assets.service import MAX_UPLOAD_BYTES


def upload(client: Any, auth: dict[str, str], data: bytes, filename: str = "logo.png",
           content_type: str = "image/png", **form: str) -> Any:
    # Encoded in memory: the test client would spool a body over 500 KB to a temporary file it never closes.
    boundary, body = encode_multipart({"file": FileStorage(io.BytesIO(data), filename, content_type=content_type),
                                       **form})
    return client.post("/api/v1/assets", headers=auth, data=body,
                       content_type=f"multipart/form-data; boundary={boundary}")


def stored(client: Any, auth: dict[str, str], asset: dict[str, Any]) -> bytes:
    resp = client.get(asset["url"], headers=auth)
    assert resp.status_code == 200 and resp.mimetype == "image/png"
    return resp.data


def test_png_is_decoded_and_re_encoded_without_its_metadata(client, auth):
    raw = png((120, 80), text={"Comment": "secret-agency-notes", "Author": "someone"})
    resp = upload(client, auth, raw, filename="/home/me/brand logo.png")
    assert resp.status_code == 201, resp.json
    asset = resp.json
    assert asset["name"] == "brand logo.png"  # the path of the uploader's machine is not kept
    assert (asset["media_type"], asset["width"], asset["height"]) == ("image/png", 120, 80)
    data = stored(client, auth, asset)
    assert data != raw and b"secret-agency-notes" not in data and b"Author" not in data
    assert hashlib.sha256(data).hexdigest() == asset["sha256"]
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG" and image.size == (120, 80) and image.getpixel((60, 10))[:3] == (208, 49, 45)
    assert client.get(f"/api/v1/assets/{asset['id']}", headers=auth).json == asset
    assert [a["id"] for a in client.get("/api/v1/assets", headers=auth).json["items"]] == [asset["id"]]


def test_the_same_image_is_stored_once(client, auth):
    first = upload(client, auth, png(), name="Brand")
    again = upload(client, auth, png(), filename="copy.png")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json["id"] == first.json["id"] and again.json["name"] == "Brand"
    assert len(client.get("/api/v1/assets", headers=auth).json["items"]) == 1


def test_jpeg_is_stored_as_png_turned_upright(client, auth):
    resp = upload(client, auth, jpeg((80, 40), orientation=6), filename="photo.jpg", content_type="image/jpeg")
    assert resp.status_code == 201, resp.json
    assert (resp.json["width"], resp.json["height"]) == (40, 80)  # EXIF 6: rotated 90 degrees
    assert Image.open(io.BytesIO(stored(client, auth, resp.json))).format == "PNG"


def test_transparency_is_kept(client, auth):
    resp = upload(client, auth, transparent_png())
    image = Image.open(io.BytesIO(stored(client, auth, resp.json)))
    assert image.mode == "RGBA" and image.getpixel((1, 1))[3] == 0 and image.getpixel((50, 50))[3] == 255


def test_big_logos_are_scaled_down_to_1024(client, auth):
    resp = upload(client, auth, png((3000, 1500)))
    assert resp.status_code == 201 and (resp.json["width"], resp.json["height"]) == (1024, 512)


def _bomb(size: tuple[int, int]) -> bytes:
    buf = io.BytesIO()
    Image.new("1", size, 1).save(buf, format="PNG")  # a few KB that unpack to millions of pixels
    return buf.getvalue()


def _svg() -> bytes:
    return (b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>alert(1)</script>'
            b'<rect width="10" height="10"/></svg>')


def _gif() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (40, 40), "red").save(buf, format="GIF")
    return buf.getvalue()


def _noise(side: int) -> bytes:
    buf = io.BytesIO()
    Image.frombytes("RGB", (side, side), bytes((i * 7919) % 251 for i in range(side * side * 3))).save(
        buf, format="PNG", compress_level=0)
    return buf.getvalue()


@pytest.mark.parametrize("make,filename,content_type,words", [
    (_svg, "logo.svg", "image/svg+xml", "PNG or JPEG"),
    (_svg, "logo.png", "image/png", "PNG or JPEG"),  # the name and declared type do not matter
    (_gif, "logo.png", "image/png", "PNG or JPEG"),
    (lambda: b"GIF89a not really", "logo.gif", "image/gif", "PNG or JPEG"),
    (lambda: b"", "logo.png", "image/png", "empty"),
    (lambda: png()[:200], "cut.png", "image/png", "damaged"),
    (lambda: _noise(640), "huge.png", "image/png", "1 MB"),
    (lambda: _bomb((9000, 100)), "wide.png", "image/png", "pixels"),
    (lambda: _bomb((5000, 5000)), "bomb.png", "image/png", "pixels"),
    (lambda: png((8, 8)), "tiny.png", "image/png", "at least 16"),
])
def test_bad_uploads_are_422_naming_file_and_store_nothing(client, auth, make, filename, content_type, words):
    raw = make()
    if words == "1 MB":
        assert len(raw) > MAX_UPLOAD_BYTES
    resp = upload(client, auth, raw, filename=filename, content_type=content_type)
    assert resp.status_code == 422, resp.json
    assert resp.json["error"]["field"] == "file" and words in resp.json["error"]["message"]
    assert client.get("/api/v1/assets", headers=auth).json["items"] == []


def test_upload_without_a_file_is_422(client, auth):
    resp = client.post("/api/v1/assets", headers=auth, data={"name": "x"}, content_type="multipart/form-data")
    assert resp.status_code == 422 and resp.json["error"]["field"] == "file"
    resp = client.post("/api/v1/assets", headers=auth, json={"file": "aGVsbG8="})
    assert resp.status_code == 422 and resp.json["error"]["field"] == "file"


def test_long_name_is_422(client, auth):
    resp = upload(client, auth, png(), name="n" * 201)
    assert resp.status_code == 422 and resp.json["error"]["field"] == "name"


@pytest.mark.parametrize("path", ["/api/v1/assets/999999", "/api/v1/assets/999999.png"])
def test_unknown_asset_is_404(client, auth, path):
    resp = client.get(path, headers=auth)
    assert resp.status_code == 404 and resp.json["error"]["code"] == "not_found"


def test_staff_and_analysts_read_but_do_not_upload(client, auth, role_key):
    asset = upload(client, auth, png()).json
    for role in ("staff", "analyst"):
        headers = {"Authorization": f"Bearer {role_key(role)}"}
        assert client.get(asset["url"], headers=headers).status_code == 200
        resp = upload(client, headers, transparent_png())
        assert resp.status_code == 403 and "assets:write" in resp.json["error"]["message"]
    marketer = {"Authorization": f"Bearer {role_key('marketer')}"}
    assert upload(client, marketer, transparent_png()).status_code == 201


# ---- the logo field of links and campaigns -------------------------------------------------------------
@pytest.fixture
def logo(client, auth) -> dict[str, Any]:
    return upload(client, auth, png()).json


def test_link_and_campaign_take_a_logo(client, auth, campaign, make_link, logo):
    link = make_link(campaign=campaign["slug"], kind="print", utm_medium="flyer", logo=logo["id"])
    assert link["logo"] == logo["id"]
    assert client.get(f"/api/v1/links/{link['code']}", headers=auth).json["logo"] == logo["id"]
    resp = client.patch(f"/api/v1/links/{link['code']}", json={"logo": None}, headers=auth)
    assert resp.status_code == 200 and resp.json["logo"] is None

    assert campaign["logo"] is None
    resp = client.patch(f"/api/v1/campaigns/{campaign['id']}", json={"logo": logo["id"]}, headers=auth)
    assert resp.status_code == 200 and resp.json["logo"] == logo["id"]
    resp = client.post("/api/v1/campaigns", json={"name": "Bergen", "logo": logo["id"]}, headers=auth)
    assert resp.status_code == 201 and resp.json["logo"] == logo["id"]


@pytest.mark.parametrize("value", [999999, "abc", 0, -1, True])
def test_a_logo_that_is_no_asset_is_422_and_changes_nothing(client, auth, campaign, make_link, logo, value):
    resp = client.post("/api/v1/links", headers=auth, json={
        "destination": "https://example.com/x", "utm_source": "expo", "utm_medium": "flyer", "utm_campaign": "x",
        "logo": value})
    assert resp.status_code == 422 and resp.json["error"]["field"] == "logo"
    assert client.get("/api/v1/links", headers=auth).json["total"] == 0
    link = make_link(logo=logo["id"])
    resp = client.patch(f"/api/v1/links/{link['code']}", json={"logo": value, "label": "changed"}, headers=auth)
    assert resp.status_code == 422 and resp.json["error"]["field"] == "logo"
    after = client.get(f"/api/v1/links/{link['code']}", headers=auth).json
    assert after["logo"] == logo["id"] and after["label"] == link["label"]
    resp = client.patch(f"/api/v1/campaigns/{campaign['id']}", json={"logo": value, "name": "Renamed"}, headers=auth)
    assert resp.status_code == 422 and resp.json["error"]["field"] == "logo"
    assert client.get(f"/api/v1/campaigns/{campaign['id']}", headers=auth).json["name"] == campaign["name"]


def test_bulk_csv_takes_a_logo_column(client, auth, logo):
    csv = ("destination,utm_source,utm_medium,utm_campaign,label,logo\n"
           f"https://example.com/a,expo,flyer,x,A,{logo['id']}\n"
           "https://example.com/b,expo,flyer,x,B,\n"
           "https://example.com/c,expo,flyer,x,C,999999\n")
    resp = client.post("/api/v1/links/bulk?atomic=false", data=csv, headers={**auth, "Content-Type": "text/csv"})
    assert resp.status_code == 200, resp.json
    assert [(link["label"], link["logo"]) for link in resp.json["created"]] == [("A", logo["id"]), ("B", None)]
    assert [(r["line"], r["field"]) for r in resp.json["rejected"]] == [(4, "logo")]
