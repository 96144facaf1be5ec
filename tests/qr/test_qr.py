"""QR codes decode to the link's scan URL with a standard decoder: PNG, SVG and every code of a PDF sheet.

PNGs are decoded with zxing-cpp through Pillow, SVGs are rasterised with resvg first, and sheets are
rendered page by page with pdfium at 200 dpi; the printed labels and short URLs are read back from the
PDF's text and must sit under their own code.
"""
from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from typing import Any

import pypdfium2 as pdfium
import pytest
import resvg_py
import zxingcpp
from PIL import Image

DPI = 200
SCALE = DPI / 72  # PDF points to pixels
MM = DPI / 25.4   # millimetres to pixels
PAGE_POINTS = {"a4": (595.28, 841.89), "letter": (612.0, 792.0)}
SVG_NS = "{http://www.w3.org/2000/svg}"


# ---- decoding helpers ---------------------------------------------------------------------------------
def decode(image: Image.Image) -> list[zxingcpp.Barcode]:
    return list(zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode))


def png(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    assert image.format == "PNG"
    return image


def rasterise(svg: bytes, **kwargs: Any) -> Image.Image:
    image = Image.open(io.BytesIO(bytes(resvg_py.svg_to_bytes(svg_string=svg.decode("utf-8"), **kwargs))))
    image.load()
    return image


def _text_box(textpage: Any, height: float, needle: str) -> tuple[float, float, float, float] | None:
    """Return the pixel box of the first occurrence of ``needle`` on one line, or None."""
    searcher = textpage.search(needle, match_case=True)
    found = searcher.get_next()
    if not found:
        return None
    index, count = found
    boxes = [textpage.get_charbox(i) for i in range(index, index + count)]
    left, right = min(b[0] for b in boxes), max(b[2] for b in boxes)
    bottom, top = min(b[1] for b in boxes), max(b[3] for b in boxes)
    return left * SCALE, (height - top) * SCALE, right * SCALE, (height - bottom) * SCALE


def read_sheet(pdf: bytes, captions: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """Render each page, decode every code on it and read its text.

    ``captions`` maps a code's URL to the caption expected under it; each is located on the page.
    """
    assert pdf.startswith(b"%PDF-")
    doc = pdfium.PdfDocument(pdf)
    pages = []
    try:
        for page in doc:
            width, height = page.get_size()
            image = page.render(scale=SCALE).to_pil()
            textpage = page.get_textpage()
            codes = decode(image)
            boxes = {}
            for code in codes:
                caption = (captions or {}).get(code.text)
                if caption:
                    boxes[code.text] = _text_box(textpage, height, caption)
            pages.append({"size": (width, height), "codes": codes,
                          "text": " ".join(textpage.get_text_bounded().split()), "caption_boxes": boxes})
    finally:
        doc.close()
    return pages


def code_box(code: zxingcpp.Barcode) -> tuple[int, int, int, int]:
    p = code.position
    xs = [p.top_left.x, p.top_right.x, p.bottom_left.x, p.bottom_right.x]
    ys = [p.top_left.y, p.top_right.y, p.bottom_left.y, p.bottom_right.y]
    return min(xs), min(ys), max(xs), max(ys)


# ---- fixtures -----------------------------------------------------------------------------------------
EXPO_OFFLINE = [
    ("event", "event", "Booth 12, Oslo Expo", "booth-12"),
    ("print", "flyer", "Flyer A5, Oslo Expo", "flyer-a5"),
    ("partner", "partner", "Table card, Bergen Næringsråd", "table-card"),
    ("outdoor", "poster", "Poster, Byparken stop", "byparken"),
    ("podcast", "podcast", "Host read-out, Tech Talk", "read-out"),
]


@pytest.fixture
def expo(campaign, make_link):
    """The Oslo Expo campaign with five offline links (different kinds) and one online link."""
    offline = [make_link(campaign=campaign["slug"], kind=kind, utm_source="oslo-expo", utm_medium=medium,
                         utm_campaign=None, utm_content=content, label=label)
               for kind, medium, label, content in EXPO_OFFLINE]
    online = make_link(campaign=campaign["slug"], utm_source="linkedin", utm_medium="social",
                       utm_campaign=None, label="Expo post, LinkedIn")
    return {"campaign": campaign, "offline": offline, "online": online}


# ---- single codes -------------------------------------------------------------------------------------
def test_qr_url_is_the_public_scan_url(app, expo):
    base = app.config["SETTINGS"].public_base_url
    for link in expo["offline"] + [expo["online"]]:
        assert link["qr_url"] == f"{base}/q/{link['code']}"
        assert link["short_url"] == f"{base}/r/{link['code']}"


@pytest.mark.parametrize("error", ["L", "M", "Q", "H"])
def test_every_png_decodes_to_its_qr_url(client, auth, expo, error):
    for link in expo["offline"] + [expo["online"]]:
        resp = client.get(f"/api/v1/links/{link['code']}/qr.png?error={error}", headers=auth)
        assert resp.status_code == 200
        assert resp.mimetype == "image/png"
        assert resp.headers["Content-Disposition"] == f'inline; filename="{link["code"]}.png"'
        (found,) = decode(png(resp.data))
        assert found.text == link["qr_url"]
        assert found.ec_level == error


@pytest.mark.parametrize("error", ["L", "H"])
def test_every_svg_rasterised_decodes_to_its_qr_url(client, auth, expo, error):
    for link in expo["offline"] + [expo["online"]]:
        resp = client.get(f"/api/v1/links/{link['code']}/qr.svg?error={error}", headers=auth)
        assert resp.status_code == 200
        assert resp.mimetype == "image/svg+xml"
        assert resp.headers["Content-Disposition"] == f'inline; filename="{link["code"]}.svg"'
        (found,) = decode(rasterise(resp.data))
        assert found.text == link["qr_url"]
        assert found.ec_level == error


def test_code_lookup_is_case_insensitive(client, auth, expo):
    link = expo["offline"][0]
    resp = client.get(f"/api/v1/links/{link['code'].upper()}/qr.png", headers=auth)
    assert resp.status_code == 200
    assert decode(png(resp.data))[0].text == link["qr_url"]


@pytest.mark.parametrize("size", [200, 400, 1000, 2500])
def test_png_size_is_close_to_the_request_in_whole_modules(client, auth, expo, size):
    link = expo["offline"][0]
    image = png(client.get(f"/api/v1/links/{link['code']}/qr.png?size={size}", headers=auth).data)
    width, height = image.size
    assert width == height
    # Rounded down to whole pixels per module (sharp edges): never larger, at most a module-row smaller.
    assert 0.85 * size <= width <= size
    assert decode(image)[0].text == link["qr_url"]


def test_png_default_size_is_about_400(client, auth, expo):
    link = expo["offline"][0]
    width, _ = png(client.get(f"/api/v1/links/{link['code']}/qr.png", headers=auth).data).size
    assert 340 <= width <= 400


@pytest.mark.parametrize("size", [64, 128, 500, 4000])
def test_svg_size_is_exact(client, auth, expo, size):
    link = expo["offline"][0]
    svg = client.get(f"/api/v1/links/{link['code']}/qr.svg?size={size}", headers=auth).data
    root = ET.fromstring(svg)
    assert root.get("width") == str(size) and root.get("height") == str(size)
    assert rasterise(svg).size == (size, size)


def test_border_is_the_quiet_zone_in_modules(client, auth, expo):
    code = expo["offline"][0]["code"]
    boxes = {}
    for border in (0, 4, 10):
        svg = client.get(f"/api/v1/links/{code}/qr.svg?border={border}", headers=auth).data
        boxes[border] = int(ET.fromstring(svg).get("viewBox").split()[2])  # modules across
    assert boxes[4] - boxes[0] == 8 and boxes[10] - boxes[0] == 20

    zero = png(client.get(f"/api/v1/links/{code}/qr.png?border=0", headers=auth).data).convert("L")
    assert zero.getpixel((0, 0)) == 0  # the finder pattern starts at the very corner
    ten = png(client.get(f"/api/v1/links/{code}/qr.png?border=10&size=1000", headers=auth).data).convert("L")
    module = ten.size[0] // (boxes[10])
    quiet = range(0, 10 * module, 3)
    assert all(ten.getpixel((x, y)) == 255 for x in quiet for y in quiet)
    assert ten.getpixel((10 * module + 1, 10 * module + 1)) == 0
    # Without a quiet zone a scanner needs one from the surroundings: pad and it reads.
    padded = Image.new("L", (zero.size[0] + 80, zero.size[1] + 80), 255)
    padded.paste(zero, (40, 40))
    assert decode(padded)[0].text == expo["offline"][0]["qr_url"]


@pytest.mark.parametrize("fill,back", [("1a2b3c", "ffeecc"), ("#0B5394", "#FFFFFF"), ("5b2c6f", "f4ecf7")])
def test_custom_colours_are_used_and_still_decode(client, auth, expo, fill, back):
    link = expo["offline"][1]
    query = f"fill={fill.replace('#', '%23')}&back={back.replace('#', '%23')}"
    rgb = {name: tuple(int(value.lstrip("#")[i:i + 2], 16) for i in (0, 2, 4))
           for name, value in (("fill", fill), ("back", back))}

    image = png(client.get(f"/api/v1/links/{link['code']}/qr.png?{query}", headers=auth).data).convert("RGB")
    assert {c for _, c in image.getcolors(16)} == {rgb["fill"], rgb["back"]}  # two colours, no blur
    assert image.getpixel((0, 0)) == rgb["back"]
    (found,) = decode(image)
    assert found.text == link["qr_url"]
    corner = found.position.top_left
    assert image.getpixel((corner.x + 2, corner.y + 2)) == rgb["fill"]

    svg = client.get(f"/api/v1/links/{link['code']}/qr.svg?{query}", headers=auth).data
    root = ET.fromstring(svg)
    assert root.find(f"{SVG_NS}rect").get("fill") == "#" + back.lstrip("#").lower()
    assert root.find(f"{SVG_NS}path").get("fill") == "#" + fill.lstrip("#").lower()
    raster = rasterise(svg).convert("RGB")
    assert raster.getpixel((0, 0)) == rgb["back"]
    assert decode(raster)[0].text == link["qr_url"]


def test_higher_error_correction_uses_more_modules(client, auth, expo):
    code = expo["offline"][0]["code"]
    modules = [int(ET.fromstring(client.get(f"/api/v1/links/{code}/qr.svg?error={e}&border=0",
                                            headers=auth).data).get("viewBox").split()[2])
               for e in ("L", "H")]
    assert modules[0] < modules[1]


@pytest.mark.parametrize("fmt", ["png", "svg"])
@pytest.mark.parametrize("query,field", [
    ("size=10", "size"), ("size=4001", "size"), ("size=abc", "size"), ("size=12.5", "size"),
    ("border=-1", "border"), ("border=21", "border"), ("error=Z", "error"), ("error=medium", "error"),
    ("fill=red", "fill"), ("fill=%23ff", "fill"), ("back=12345g", "back"), ("back=%231234567", "back"),
    ("fill=000000&back=%23000000", "fill"),
])
def test_bad_options_are_422_naming_the_field(client, auth, expo, fmt, query, field):
    code = expo["offline"][0]["code"]
    resp = client.get(f"/api/v1/links/{code}/qr.{fmt}?{query}", headers=auth)
    assert resp.status_code == 422, resp.data[:200]
    assert resp.mimetype == "application/json"
    error = resp.json["error"]
    assert error["code"] == "invalid" and error["field"] == field
    assert field in error["message"]


def test_error_level_is_case_insensitive(client, auth, expo):
    code = expo["offline"][0]["code"]
    resp = client.get(f"/api/v1/links/{code}/qr.png?error=q", headers=auth)
    assert resp.status_code == 200 and decode(png(resp.data))[0].ec_level == "Q"


@pytest.mark.parametrize("path", ["/api/v1/links/nosuch2/qr.png", "/api/v1/links/nosuch2/qr.svg",
                                  "/api/v1/campaigns/nosuch-campaign/qr-sheet.pdf",
                                  "/api/v1/campaigns/9999/qr-sheet.pdf"])
def test_unknown_code_or_campaign_is_404(client, auth, path):
    resp = client.get(path, headers=auth)
    assert resp.status_code == 404
    assert resp.json["error"]["code"] == "not_found"


@pytest.mark.parametrize("suffix", ["qr.png", "qr.svg"])
def test_images_need_a_key(client, expo, suffix):
    url = f"/api/v1/links/{expo['offline'][0]['code']}/{suffix}"
    for headers in ({}, {"Authorization": "Bearer trk_00000000_wrong"}):
        resp = client.get(url, headers=headers)
        assert resp.status_code == 401
        assert resp.json["error"]["code"] == "unauthorized"


def test_sheet_needs_a_key(client, expo):
    resp = client.get(f"/api/v1/campaigns/{expo['campaign']['id']}/qr-sheet.pdf")
    assert resp.status_code == 401 and resp.json["error"]["code"] == "unauthorized"


# ---- sheets -------------------------------------------------------------------------------------------
def _caption(link: dict[str, Any]) -> str:
    return link["short_url"].split("://", 1)[1]


def _sheet(client, auth, campaign_id, **query):
    qs = "&".join(f"{k}={v}" for k, v in query.items())
    resp = client.get(f"/api/v1/campaigns/{campaign_id}/qr-sheet.pdf?{qs}", headers=auth)
    assert resp.status_code == 200, resp.data[:300]
    assert resp.mimetype == "application/pdf"
    return resp


def assert_captions_under_codes(page: dict[str, Any]) -> None:
    """Each code's short URL is printed centred under that code, not under a neighbour."""
    for code in page["codes"]:
        left, _, right, bottom = code_box(code)
        box = page["caption_boxes"].get(code.text)
        assert box is not None, f"no caption for {code.text}"
        centre = (box[0] + box[2]) / 2
        assert left <= centre <= right
        assert abs(centre - (left + right) / 2) < 3 * MM
        assert bottom < box[1] < bottom + 25 * MM


@pytest.mark.parametrize("paper", ["a4", "letter"])
def test_sheet_holds_exactly_the_offline_codes_with_their_labels(client, auth, expo, paper):
    offline, online = expo["offline"], expo["online"]
    resp = _sheet(client, auth, expo["campaign"]["id"], paper=paper)
    assert resp.headers["Content-Disposition"] == 'attachment; filename="oslo-expo-2026-qr-sheet.pdf"'
    captions = {link["qr_url"]: _caption(link) for link in offline + [online]}
    (page,) = read_sheet(resp.data, captions)
    assert page["size"] == pytest.approx(PAGE_POINTS[paper], abs=0.5)
    decoded = [c.text for c in page["codes"]]
    assert sorted(decoded) == sorted(link["qr_url"] for link in offline)
    assert online["qr_url"] not in decoded
    assert all(c.ec_level == "Q" for c in page["codes"])
    text = page["text"]
    assert "Oslo Expo 2026 (1/1)" in text
    for link in offline:
        assert link["label"] in text  # Latin-1 letters (æ, å) print as themselves
        assert _caption(link) in text
    assert online["label"] not in text and _caption(online) not in text
    assert_captions_under_codes(page)


def test_sheet_with_all_includes_online_links(client, auth, expo):
    everything = expo["offline"] + [expo["online"]]
    resp = _sheet(client, auth, expo["campaign"]["slug"], all="true")
    (page,) = read_sheet(resp.data, {link["qr_url"]: _caption(link) for link in everything})
    assert sorted(c.text for c in page["codes"]) == sorted(link["qr_url"] for link in everything)
    assert expo["online"]["label"] in page["text"]
    assert_captions_under_codes(page)


@pytest.mark.parametrize("paper", ["a4", "letter"])
def test_sheet_of_many_codes_runs_over_pages(client, auth, campaign, make_link, paper):
    links = [make_link(campaign=campaign["slug"], kind="event", utm_source="oslo-expo", utm_medium="event",
                       utm_campaign=None, utm_content=f"booth-{n}", label=f"Booth {n}, Oslo Expo")
             for n in range(1, 12)]
    make_link(campaign=campaign["slug"], utm_source="linkedin", utm_medium="social", utm_campaign=None)
    resp = _sheet(client, auth, campaign["id"], paper=paper)
    pages = read_sheet(resp.data, {link["qr_url"]: _caption(link) for link in links})
    assert [len(p["codes"]) for p in pages] == [9, 2]
    decoded = [c.text for p in pages for c in p["codes"]]
    assert len(decoded) == len(set(decoded))
    assert set(decoded) == {link["qr_url"] for link in links}
    # In creation order: the first nine on page one.
    assert {c.text for c in pages[0]["codes"]} == {link["qr_url"] for link in links[:9]}
    assert "Oslo Expo 2026 (1/2)" in pages[0]["text"] and "Oslo Expo 2026 (2/2)" in pages[1]["text"]
    for page in pages:
        assert page["size"] == pytest.approx(PAGE_POINTS[paper], abs=0.5)
        assert_captions_under_codes(page)
    assert all(link["label"] in pages[0]["text"] for link in links[:9])
    assert all(link["label"] in pages[1]["text"] for link in links[9:])


def test_sheet_skips_disabled_links(client, auth, expo):
    gone = expo["offline"][0]
    resp = client.patch(f"/api/v1/links/{gone['code']}", json={"disabled": True}, headers=auth)
    assert resp.status_code == 200
    (page,) = read_sheet(_sheet(client, auth, expo["campaign"]["id"]).data)
    assert sorted(c.text for c in page["codes"]) == sorted(link["qr_url"] for link in expo["offline"][1:])


def test_sheet_label_outside_latin1_prints_question_marks_and_code_still_reads(client, auth, campaign,
                                                                               make_link):
    link = make_link(campaign=campaign["slug"], kind="print", utm_source="oslo-expo", utm_medium="flyer",
                     utm_campaign=None, label="Flyer \u2713 Oslo")
    (page,) = read_sheet(_sheet(client, auth, campaign["id"]).data)
    assert [c.text for c in page["codes"]] == [link["qr_url"]]
    assert "Flyer ? Oslo" in page["text"]


def test_sheet_without_offline_links_is_422(client, auth, campaign, make_link):
    make_link(campaign=campaign["slug"], utm_source="linkedin", utm_medium="social", utm_campaign=None)
    resp = client.get(f"/api/v1/campaigns/{campaign['id']}/qr-sheet.pdf", headers=auth)
    assert resp.status_code == 422
    assert resp.json["error"]["field"] == "links"


@pytest.mark.parametrize("query,field", [("paper=a3", "paper"), ("all=maybe", "all")])
def test_sheet_bad_options_are_422_naming_the_field(client, auth, expo, query, field):
    resp = client.get(f"/api/v1/campaigns/{expo['campaign']['id']}/qr-sheet.pdf?{query}", headers=auth)
    assert resp.status_code == 422
    assert resp.json["error"]["field"] == field


def test_long_labels_and_urls_are_fitted_under_their_code():
    from tracker.qr.service import SheetItem, qr_sheet_pdf

    label = "Stand 12 in hall B at the Oslo Expo, beside the coffee bar, " * 4
    caption = "go.a-rather-long-short-link-domain.example/r/abcdef"
    items = [SheetItem(url="https://go.example/q/abcdef", label=label, caption=caption)]
    (page,) = read_sheet(qr_sheet_pdf(items, title="Long"), {"https://go.example/q/abcdef": caption})
    assert [c.text for c in page["codes"]] == ["https://go.example/q/abcdef"]
    assert "..." in page["text"] and label.strip() not in page["text"]  # three lines, then cut
    box = page["caption_boxes"]["https://go.example/q/abcdef"]
    assert box is not None  # the whole URL is printed (smaller), never cut
    left, _, right, _ = box
    assert (right - left) / SCALE <= (210 - 24) / 3 * 72 / 25.4  # within its cell, in points
