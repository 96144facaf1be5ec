"""Branded codes (a logo in the middle, a call to action under) still decode, with zxing-cpp like the plain ones.

PNGs at every size, SVGs rasterised with resvg, print sheets rendered with pdfium; the logo rule
(:func:`tracker.qr.service.logo_box`) is checked on every version 1-25 with an all-black logo, the
worst case for a scanner. Colour pairs with too little contrast, or inverted, are refused naming the field.
"""
from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
from typing import Any

import pytest
import qrcode
import qrcode.constants
from logo_support import BLUE, RED, dark_png, png, transparent_png
from PIL import Image
from test_qr import decode, rasterise, read_sheet
from test_qr import png as png_image
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from tracker.qr.service import MIN_CONTRAST, QrOptions, contrast_ratio, logo_box, qr_png, qr_svg

SVG_NS = "{http://www.w3.org/2000/svg}"


def upload(client: Any, auth: dict[str, str], data: bytes) -> dict[str, Any]:
    boundary, body = encode_multipart({"file": FileStorage(io.BytesIO(data), "logo.png", content_type="image/png")})
    resp = client.post("/api/v1/assets", headers=auth, data=body,
                       content_type=f"multipart/form-data; boundary={boundary}")
    assert resp.status_code in (200, 201), resp.json
    return resp.json


@pytest.fixture
def branded(client, auth, campaign, make_link):
    """A red logo as the campaign's default, a blue one on one link, and a link of another campaign."""
    red, blue = upload(client, auth, png((90, 60), RED)), upload(client, auth, transparent_png())
    client.patch(f"/api/v1/campaigns/{campaign['id']}", json={"logo": red["id"]}, headers=auth)
    flyer = make_link(campaign=campaign["slug"], kind="print", utm_source="oslo-expo", utm_medium="flyer",
                      utm_campaign=None, label="Flyer, Oslo Expo")
    booth = make_link(campaign=campaign["slug"], kind="event", utm_source="oslo-expo", utm_medium="event",
                      utm_campaign=None, label="Booth 12", logo=blue["id"])
    plain = make_link(label="No campaign")
    return {"red": red, "blue": blue, "flyer": flyer, "booth": booth, "plain": plain, "campaign": campaign}


def centre(image: Image.Image) -> tuple[int, int, int]:
    rgb = image.convert("RGB")
    side = rgb.width  # the code is square at the top; a caption band may follow
    off = round(side * 0.03)  # beside the logo's white diagonal (logo_support.png)
    return rgb.getpixel((side // 2 + off, side // 2 - off))


def near(colour: tuple[int, ...], expected: tuple[int, ...], slack: int = 12) -> bool:
    return all(abs(a - b) <= slack for a, b in zip(colour, expected, strict=False))


# ---- PNG and SVG ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("size", [64, 128, 240, 400, 1000, 2500])
def test_png_with_the_campaign_logo_decodes_at_level_h_at_every_size(client, auth, branded, size):
    link = branded["flyer"]
    resp = client.get(f"/api/v1/links/{link['code']}/qr.png?size={size}&error=L", headers=auth)
    assert resp.status_code == 200
    image = png_image(resp.data)
    (found,) = decode(image)
    assert found.text == link["qr_url"]
    assert found.ec_level == "H"  # a logo always raises error correction to H
    if size >= 240:
        assert near(centre(image), RED)


@pytest.mark.parametrize("size", [128, 400, 1000])
def test_svg_with_logo_is_one_file_and_decodes_rasterised(client, auth, branded, size):
    link = branded["booth"]  # its own logo wins over the campaign's
    resp = client.get(f"/api/v1/links/{link['code']}/qr.svg?size={size}", headers=auth)
    svg = resp.data
    root = ET.fromstring(svg)
    (image,) = root.iter(f"{SVG_NS}image")
    assert image.get("href").startswith("data:image/png;base64,")
    assert not re.search(rb'(href|src)="(?!data:)', svg)  # nothing to load from elsewhere
    raster = rasterise(svg)
    (found,) = decode(raster)
    assert found.text == link["qr_url"] and found.ec_level == "H"
    if size >= 400:
        assert near(centre(raster), BLUE)


@pytest.mark.parametrize("fmt", ["png", "svg"])
def test_logo_parameter_overrides_and_none_removes(client, auth, branded, fmt):
    flyer, plain = branded["flyer"], branded["plain"]
    read = (lambda data: png_image(data)) if fmt == "png" else (lambda data: rasterise(data))
    cases = [(flyer, "", RED, "H"), (flyer, f"logo={branded['blue']['id']}", BLUE, "H"),
             (flyer, "logo=none", None, "M"), (flyer, "logo=NONE&error=Q", None, "Q"),
             (plain, "", None, "M"), (plain, f"logo={branded['red']['id']}", RED, "H")]
    for link, query, colour, level in cases:
        resp = client.get(f"/api/v1/links/{link['code']}/qr.{fmt}?size=600&{query}", headers=auth)
        assert resp.status_code == 200, (query, resp.data[:200])
        image = read(resp.data)
        (found,) = decode(image)
        assert (found.text, found.ec_level) == (link["qr_url"], level), query
        if colour is not None:
            assert near(centre(image), colour), query
        else:
            assert centre(image) in ((0, 0, 0), (255, 255, 255)), query


@pytest.mark.parametrize("caption", ["Skann meg", "Scan for 10% off at the booth", "Å-ø!"])
def test_caption_is_printed_under_the_code_and_the_code_still_decodes(client, auth, branded, caption):
    link = branded["flyer"]
    query = f"size=400&caption={caption.replace('%', '%25')}&fill=0b5394"
    image = png_image(client.get(f"/api/v1/links/{link['code']}/qr.png?{query}", headers=auth).data).convert("RGB")
    width, height = image.size
    assert height > width * 1.1  # a band under the code
    band = image.crop((0, width, width, height))
    assert (11, 83, 148) in {c for _, c in band.getcolors(100000)}  # text in the fill colour
    (found,) = decode(image)
    assert found.text == link["qr_url"]

    svg = client.get(f"/api/v1/links/{link['code']}/qr.svg?{query}", headers=auth).data
    root = ET.fromstring(svg)
    assert root.get("width") == "400" and int(root.get("height")) > 440
    assert root.find(f"{SVG_NS}text").text == caption
    (found,) = decode(rasterise(svg))
    assert found.text == link["qr_url"]


def test_a_long_code_with_a_logo_decodes(client, auth, campaign, make_link):
    """A 63-character slug makes a large symbol whose centre alignment pattern sits under the logo."""
    logo = upload(client, auth, dark_png())
    link = make_link(slug=("a" + "-oslo-expo-2026-booth-12" * 3)[:63], logo=logo["id"])
    for fmt, read in (("png", png_image), ("svg", rasterise)):
        data = client.get(f"/api/v1/links/{link['code']}/qr.{fmt}?size=1200", headers=auth).data
        (found,) = decode(read(data))
        assert found.text == link["qr_url"] and found.ec_level == "H"


@pytest.mark.parametrize("version", range(1, 26))
def test_the_logo_square_leaves_every_version_readable_even_all_black(version):
    # Fill to the capacity of this version at H, so the symbol is exactly this version.
    capacity = {1: 7, 2: 14, 3: 24, 4: 34, 5: 44, 6: 58, 7: 64, 8: 84, 9: 98, 10: 119, 11: 137, 12: 155,
                13: 177, 14: 194, 15: 220, 16: 250, 17: 280, 18: 310, 19: 338, 20: 382, 21: 403, 22: 439,
                23: 461, 24: 511, 25: 535}[version]
    data = ("https://go.example.com/q/" + "x" * capacity)[:capacity]
    logo = Image.open(io.BytesIO(dark_png(256)))
    image = Image.open(io.BytesIO(qr_png(data, QrOptions(size=max(400, (version * 4 + 25) * 6)), logo)))
    start, side = logo_box(version)
    assert side >= 3 and 2 * start + side == version * 4 + 17  # centred, some room for a logo
    (found,) = decode(image)
    assert found.text == data and found.ec_level == "H"
    probe = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_H)
    probe.add_data(data)
    probe.make(fit=True)
    assert probe.version == version


def test_logo_box_is_at_most_a_third_and_half_the_repair_budget():
    from tracker.qr.service import _codeword_blocks

    for version in range(1, 41):
        start, side = logo_box(version)
        n = version * 4 + 17
        assert side <= n / 3
        where, owner, repairable = _codeword_blocks(version, 2)  # qrcode's ERROR_CORRECT_H
        touched = {where[(r, c)] for r in range(start, start + side) for c in range(start, start + side)
                   if (r, c) in where}
        per_block = [sum(1 for cw in touched if owner[cw] == b) for b in range(len(repairable))]
        assert all(hit <= cap / 2 for hit, cap in zip(per_block, repairable, strict=True)), version


# ---- colours ------------------------------------------------------------------------------------------
def test_contrast_ratio_matches_wcag_worked_examples():
    assert contrast_ratio("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast_ratio("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)
    assert contrast_ratio("#767676", "#ffffff") == pytest.approx(4.54, abs=0.01)
    assert contrast_ratio("#ff0000", "#ffffff") == pytest.approx(4.0, abs=0.01)
    assert contrast_ratio("#ffffff", "#000000") == contrast_ratio("#000000", "#ffffff")  # symmetric


@pytest.mark.parametrize("fmt", ["png", "svg"])
@pytest.mark.parametrize("query,field,words", [
    ("fill=777777", "fill", "contrast ratio of 4.48:1"),
    ("fill=ff0000", "fill", "contrast"),
    ("fill=ffffff&back=000000", "fill", "light code on a dark background"),
    ("fill=ffff00&back=0000ff", "fill", "light code on a dark background"),
    ("back=333333", "back", "contrast ratio of 1.66:1"),  # only the background was chosen: it is named
    ("back=555555", "back", "contrast"),
    ("fill=1a2b3c&back=2b3c4d", "fill", "contrast"),
    ("caption=" + "x" * 41, "caption", "40"),
    ("caption=a%0Ab%07", "caption", "control"),
    ("logo=abc", "logo", "asset"),
    ("logo=999999", "logo", "does not exist"),
])
def test_unreadable_designs_are_422_naming_the_field(client, auth, branded, fmt, query, field, words):
    resp = client.get(f"/api/v1/links/{branded['flyer']['code']}/qr.{fmt}?{query}", headers=auth)
    assert resp.status_code == 422, resp.data[:200]
    assert resp.json["error"]["field"] == field
    assert words in resp.json["error"]["message"]


def test_colours_just_above_the_threshold_are_drawn_and_read(client, auth, branded):
    assert contrast_ratio("#767676", "#ffffff") >= MIN_CONTRAST
    link = branded["flyer"]
    for fmt, read in (("png", png_image), ("svg", rasterise)):
        resp = client.get(f"/api/v1/links/{link['code']}/qr.{fmt}?fill=767676&size=600", headers=auth)
        assert resp.status_code == 200
        assert decode(read(resp.data))[0].text == link["qr_url"]


def test_service_draws_without_http():
    logo = Image.open(io.BytesIO(transparent_png()))
    opts = QrOptions.parse(size="300", fill="#0B5394", back="f4ecf7", caption="  Skann   meg ")
    assert opts.caption == "Skann meg"
    assert decode(Image.open(io.BytesIO(qr_png("https://go.example.com/q/abc", opts, logo))))[0].ec_level == "H"
    assert decode(rasterise(qr_svg("https://go.example.com/q/abc", opts, logo)))[0].text == "https://go.example.com/q/abc"


# ---- print sheets and pages -------------------------------------------------------------------------
def test_sheet_carries_each_links_logo_and_the_call_to_action(client, auth, branded):
    campaign, flyer, booth = branded["campaign"], branded["flyer"], branded["booth"]
    resp = client.get(f"/api/v1/campaigns/{campaign['id']}/qr-sheet.pdf?caption=Skann%20meg", headers=auth)
    assert resp.status_code == 200
    captions = {link["qr_url"]: link["short_url"].split("://", 1)[1] for link in (flyer, booth)}
    (page,) = read_sheet(resp.data, captions)
    assert sorted(c.text for c in page["codes"]) == sorted(captions)
    assert all(c.ec_level == "H" for c in page["codes"])
    assert page["text"].count("Skann meg") == 2
    for code in page["codes"]:  # the logo colour sits in the middle of each code
        p = code.position
        x, y = (p.top_left.x + p.bottom_right.x) // 2, (p.top_left.y + p.bottom_right.y) // 2
        assert code.text  # decoded
        assert x > 0 and y > 0

    plain = client.get(f"/api/v1/campaigns/{campaign['id']}/qr-sheet.pdf?logo=none", headers=auth)
    (page,) = read_sheet(plain.data, captions)
    assert {c.ec_level for c in page["codes"]} == {"Q"} and "Skann meg" not in page["text"]


def test_sheet_logo_colours_are_the_links(client, auth, branded):
    import pypdfium2 as pdfium

    campaign = branded["campaign"]
    data = client.get(f"/api/v1/campaigns/{campaign['id']}/qr-sheet.pdf", headers=auth).data
    doc = pdfium.PdfDocument(data)
    try:
        image = doc[0].render(scale=200 / 72).to_pil().convert("RGB")
    finally:
        doc.close()
    colours = {}
    for code in decode(image):
        p = code.position
        off = (p.bottom_right.x - p.top_left.x) // 30  # beside the logo's white diagonal
        colours[code.text] = image.getpixel(((p.top_left.x + p.bottom_right.x) // 2 + off,
                                             (p.top_left.y + p.bottom_right.y) // 2 - off))
    assert near(colours[branded["flyer"]["qr_url"]], RED, 20)  # the campaign's
    assert near(colours[branded["booth"]["qr_url"]], BLUE, 20)  # its own


@pytest.mark.parametrize("query,field", [("logo=abc", "logo"), ("caption=" + "x" * 41, "caption")])
def test_sheet_bad_branding_is_422(client, auth, branded, query, field):
    resp = client.get(f"/api/v1/campaigns/{branded['campaign']['id']}/qr-sheet.pdf?{query}", headers=auth)
    assert resp.status_code == 422 and resp.json["error"]["field"] == field


def test_pages_draw_branded_codes(signed_in, branded):
    link = branded["flyer"]
    resp = signed_in.get(f"/links/{link['code']}/qr.png?caption=Skann%20meg&size=500")
    assert resp.status_code == 200
    assert decode(png_image(resp.data))[0].ec_level == "H"
    page = signed_in.get(f"/links/{link['code']}?caption=Skann%20meg&logo=none")
    assert page.status_code == 200
    assert "caption=Skann+meg" in page.text and "logo=none" in page.text
    bad = signed_in.get(f"/links/{link['code']}?caption={'x' * 41}&logo=abc")
    assert bad.status_code == 200 and "longer than 40" in bad.text and "asset" in bad.text
    sheet = signed_in.get(f"/campaigns/{branded['campaign']['id']}/sheet.pdf?caption=Skann%20meg")
    assert sheet.status_code == 200
    (found,) = read_sheet(sheet.data)[0:1]
    assert "Skann meg" in found["text"]
