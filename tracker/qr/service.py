"""QR codes as PNG and SVG, and printable PDF sheets of labelled codes (vector, drawn with fpdf2).

Branded codes (docs/guides/marketer.md#branded-qr-codes) add a logo in the middle and a call to action
(``caption``) under the code:

- **Error correction goes to H** whenever a logo is drawn (whatever ``error`` asked for).
- **The logo never covers more than the level can repair, with half to spare.** The modules under
  the logo are cleared to the background colour and counted as lost. :func:`logo_box` picks the
  largest centred square of whole modules such that, in every Reed-Solomon block of the symbol, the
  codewords it touches are at most half of what that block can correct (``(total - data) // 2``
  codewords). The other half is left for what happens to printed codes: dirt, creases, glare, blur.
  The square is also at most a third of the symbol's side. Finder, timing, format and version
  modules are never under it (it is centred and small); a centred alignment pattern (versions 7 and
  up) may be, which decoders tolerate (the tests decode such codes). The logo is drawn inside that
  square with half a module of background around it, scaled to fit, its aspect ratio kept.
- **Colours must contrast**: :data:`MIN_CONTRAST` (WCAG 2.x contrast ratio of ``fill`` to ``back``),
  and the modules must be darker than the background (inverted codes are refused): many phone
  scanners, including older iOS and Android camera apps, read neither.
"""
from __future__ import annotations

import base64
import functools
import io
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import qrcode
import qrcode.base
import qrcode.constants
import qrcode.main
from coloraide import Color
from PIL import Image, ImageDraw, ImageFont, ImageOps
from qrcode.image.svg import SvgPathImage

from tracker.errors import ValidationError

if TYPE_CHECKING:
    from fpdf import FPDF

ERROR_LEVELS = {
    "L": qrcode.constants.ERROR_CORRECT_L, "M": qrcode.constants.ERROR_CORRECT_M,
    "Q": qrcode.constants.ERROR_CORRECT_Q, "H": qrcode.constants.ERROR_CORRECT_H,
}
COLOUR = re.compile(r"^#?([0-9a-fA-F]{6})$")
PAPER = {"a4": (210.0, 297.0), "letter": (215.9, 279.4)}
# WCAG 2.x contrast ratio the module colour must have against the background. 4.5:1 is WCAG's AA level
# for text: dark-blue, dark-green or dark-brown on white or pastel pass, mid-grey (#777777) on white
# (4.48:1) or saturated red on white (4.0:1) do not. Phone scanners binarise the camera's grey image,
# and in dim light, on glossy paper or at a slant a weaker contrast is what fails first.
MIN_CONTRAST = 4.5
MAX_CAPTION = 40  # characters of the call to action under a code ("Skann meg", "Scan for 10% off")
CAPTION_BAND = 0.16  # height of the caption band under a code, as a share of the code image's width
LOGO_REPAIR_SHARE = 0.5  # of each block's error correction the logo may use (the rest is for wear)
LOGO_MAX_SIDE = 1 / 3  # of the symbol's side (modules, quiet zone not counted)
LOGO_EMBED_SIDE = 512  # pixels: logos embedded in SVG and PDF are scaled down to this


def contrast_ratio(fill: str, back: str) -> float:
    """WCAG 2.x contrast ratio of two sRGB colours, from 1 (same) to 21 (black on white).

    >>> round(contrast_ratio("#000000", "#ffffff"), 1), round(contrast_ratio("#777777", "#ffffff"), 2)
    (21.0, 4.48)
    """
    return float(Color(fill).contrast(Color(back), method="wcag21"))


def _luminance(colour: str) -> float:
    return float(Color(colour).luminance())


@dataclass(frozen=True)
class QrOptions:
    """How a code is drawn: ``size`` in pixels (PNG) or user units (SVG) of the code's width.

    ``caption`` (a call to action) adds a band under the code, :data:`CAPTION_BAND` of the width high.
    """

    size: int = 400
    border: int = 4
    error: str = "M"
    fill: str = "#000000"
    back: str = "#ffffff"
    caption: str = ""

    @classmethod
    def parse(cls, size: object = None, border: object = None, error: object = None, fill: object = None,
              back: object = None, caption: object = None) -> QrOptions:
        """Validate query-string values; raise ``ValidationError`` naming the bad one."""
        def number(value: object, name: str, low: int, high: int, default: int) -> int:
            if value in (None, ""):
                return default
            try:
                n = int(str(value))
            except ValueError:
                raise ValidationError(f"{name} must be a whole number between {low} and {high}", name) from None
            if not low <= n <= high:
                raise ValidationError(f"{name} must be between {low} and {high}", name)
            return n

        def colour(value: object, name: str, default: str) -> str:
            if value in (None, ""):
                return default
            match = COLOUR.match(str(value))
            if not match:
                raise ValidationError(f"{name} must be a hex colour like 000000 or #1a2b3c", name)
            return "#" + match.group(1).lower()

        level = str(error or "M").upper()
        if level not in ERROR_LEVELS:
            raise ValidationError("error must be one of L, M, Q, H (7%, 15%, 25%, 30% recovery)", "error")
        opts = cls(size=number(size, "size", 64, 4000, 400), border=number(border, "border", 0, 20, 4),
                   error=level, fill=colour(fill, "fill", "#000000"), back=colour(back, "back", "#ffffff"),
                   caption=parse_caption(caption))
        if opts.fill == opts.back:
            raise ValidationError("fill and back must differ or the code cannot be read", "fill")
        # Name the colour the caller chose: only a background given means the background is the problem.
        blame = "back" if back not in (None, "") and fill in (None, "") else "fill"
        if _luminance(opts.fill) > _luminance(opts.back):
            raise ValidationError(f"{blame}: a light code on a dark background (fill {opts.fill} is lighter than "
                                  f"back {opts.back}) cannot be read by many phone scanners; use a dark fill "
                                  "on a light back", blame)
        ratio = contrast_ratio(opts.fill, opts.back)
        if ratio < MIN_CONTRAST:
            raise ValidationError(f"{blame}: fill {opts.fill} on back {opts.back} has a contrast ratio of "
                                  f"{ratio:.2f}:1, below the {MIN_CONTRAST}:1 phone scanners need; make the fill "
                                  "darker or the back lighter", blame)
        return opts


def parse_caption(value: object) -> str:
    """Return the call to action printed under a code: one line, at most :data:`MAX_CAPTION` characters."""
    text = " ".join(str(value or "").split())
    if len(text) > MAX_CAPTION:
        raise ValidationError(f"caption is longer than {MAX_CAPTION} characters: keep the call to action short "
                              "(e.g. Skann meg)", "caption")
    if not text.isprintable():
        raise ValidationError("caption must be plain text without control characters", "caption")
    return text


def _qr(data: str, opts: QrOptions, box_size: int = 10) -> qrcode.QRCode:
    qr = qrcode.QRCode(error_correction=ERROR_LEVELS[opts.error], box_size=box_size, border=opts.border)
    qr.add_data(data)
    qr.make(fit=True)
    return qr


@functools.lru_cache(maxsize=128)
def _codeword_blocks(version: int, level: int) -> tuple[dict[tuple[int, int], int], tuple[int, ...], tuple[int, ...]]:
    """Where each data module of a symbol belongs: (module -> codeword index, codeword -> RS block, repairable).

    Walks the symbol the way ``qrcode.QRCode.map_data`` places bits (two-column zigzag from the
    bottom right, skipping function modules), and interleaves the blocks as ``qrcode.util.create_bytes``
    does (data codewords first, then error correction, one from each block in turn).
    """
    probe = qrcode.QRCode(version=version, error_correction=level)
    probe.add_data("")
    probe.make(fit=False)  # fills qrcode's blank for this version (function patterns only)
    n = probe.modules_count
    probe.modules = qrcode.main.copy_2d_array(qrcode.main.precomputed_qr_blanks[version])
    probe.setup_type_info(False, 0)
    if version >= 7:
        probe.setup_type_number(False)
    blocks = qrcode.base.rs_blocks(version, level)
    owner: list[int] = []
    for i in range(max(b.data_count for b in blocks)):
        owner += [j for j, b in enumerate(blocks) if i < b.data_count]
    for i in range(max(b.total_count - b.data_count for b in blocks)):
        owner += [j for j, b in enumerate(blocks) if i < b.total_count - b.data_count]
    where: dict[tuple[int, int], int] = {}
    bit, row, step = 0, n - 1, -1
    for col in range(n - 1, 0, -2):
        if col <= 6:
            col -= 1  # the vertical timing pattern is skipped
        while True:
            for c in (col, col - 1):
                if probe.modules[row][c] is None:
                    if bit // 8 < len(owner):  # remainder bits belong to no codeword
                        where[(row, c)] = bit // 8
                    bit += 1
            row += step
            if row < 0 or row >= n:
                row -= step
                step = -step
                break
    repairable = tuple((b.total_count - b.data_count) // 2 for b in blocks)
    return where, tuple(owner), repairable


@functools.lru_cache(maxsize=128)
def logo_box(version: int, level: str = "H") -> tuple[int, int]:
    """Return (first module, modules across) of the centred square cleared for a logo.

    The largest square whose touched codewords are, in every block, at most
    :data:`LOGO_REPAIR_SHARE` of what the block can correct, and at most :data:`LOGO_MAX_SIDE` of the
    symbol's side. Its side has the parity of the symbol's, so it sits exactly in the middle.

    >>> logo_box(4)  # a 33 x 33 symbol: https://go.example.com/q/abcdef at level H
    (13, 7)
    """
    where, owner, repairable = _codeword_blocks(version, ERROR_LEVELS[level])
    n = version * 4 + 17
    best = (n // 2, 0)
    for side in range(n % 2 or 2, int(n * LOGO_MAX_SIDE) + 1, 2):
        start = (n - side) // 2
        touched = {where[(r, c)] for r in range(start, start + side) for c in range(start, start + side)
                   if (r, c) in where}
        per_block = [0] * len(repairable)
        for codeword in touched:
            per_block[owner[codeword]] += 1
        if any(hit > LOGO_REPAIR_SHARE * cap for hit, cap in zip(per_block, repairable, strict=True)):
            break
        best = (start, side)
    return best


def _with_logo(data: str, opts: QrOptions, logo: Image.Image | None,
               box_size: int = 10) -> tuple[qrcode.QRCode, tuple[int, int] | None]:
    """The symbol of ``data``, at level H with the logo's square cleared when there is a logo."""
    if logo is None:
        return _qr(data, opts, box_size), None
    qr = _qr(data, replace(opts, error="H"), box_size)
    start, side = logo_box(qr.version)
    for r in range(start, start + side):
        for c in range(start, start + side):
            qr.modules[r][c] = False
    return qr, (start, side)


def _fit(logo: Image.Image, side: int) -> Image.Image:
    """The logo scaled to fit a ``side`` x ``side`` square, its aspect ratio kept, in RGBA."""
    return ImageOps.contain(logo.convert("RGBA"), (max(1, side), max(1, side)), Image.Resampling.LANCZOS)


def _caption_font(text: str, width: int, band: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """Pillow's bundled font at the largest size (up to 55% of the band) that fits ``width``."""
    size = max(6, int(band * 0.55))
    font = ImageFont.load_default(size=size)
    while size > 6 and font.getlength(text) > width:
        size -= 1
        font = ImageFont.load_default(size=size)
    return font


def _png_caption(image: Image.Image, opts: QrOptions) -> Image.Image:
    width = image.width
    band = max(12, round(width * CAPTION_BAND))
    out = Image.new("RGB", (width, image.height + band), opts.back)
    out.paste(image, (0, 0))
    font = _caption_font(opts.caption, int(width * 0.9), band)
    draw = ImageDraw.Draw(out)
    draw.text((width / 2, image.height + band * 0.45), opts.caption, fill=opts.fill, font=font, anchor="mm")
    return out


def qr_png(data: str, opts: QrOptions, logo: Image.Image | None = None) -> bytes:
    """Return a PNG of ``data`` at most ``opts.size`` pixels wide (whole modules, never blurred).

    With ``logo`` the code is drawn at level H with the logo in the middle (see :func:`logo_box`); with
    ``opts.caption`` a band with the call to action is added under it.
    """
    probe = _qr(data, replace(opts, error="H") if logo is not None else opts)
    modules = probe.modules_count + 2 * opts.border
    box = max(1, opts.size // modules)
    qr, square = _with_logo(data, opts, logo, box_size=box)
    drawn = qr.make_image(fill_color=opts.fill, back_color=opts.back)
    if logo is None and not opts.caption:
        buf = io.BytesIO()
        drawn.save(buf, format="PNG")
        return buf.getvalue()
    image = drawn.get_image().convert("RGB")
    if logo is not None and square is not None:
        start, side = square
        inset = box // 2
        fitted = _fit(logo, side * box - 2 * inset)
        left = (opts.border + start) * box + (side * box - fitted.width) // 2
        top = (opts.border + start) * box + (side * box - fitted.height) // 2
        image.paste(fitted, (left, top), fitted)
    if opts.caption:
        image = _png_caption(image, opts)
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def _embed_png(logo: Image.Image) -> bytes:
    """The logo as a PNG of at most :data:`LOGO_EMBED_SIDE` pixels, to embed in an SVG or a PDF."""
    small = logo.copy()
    small.thumbnail((LOGO_EMBED_SIDE, LOGO_EMBED_SIDE), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    small.save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def _png_data_uri(logo: Image.Image) -> str:
    return "data:image/png;base64," + base64.b64encode(_embed_png(logo)).decode("ascii")


def qr_svg(data: str, opts: QrOptions, logo: Image.Image | None = None) -> bytes:
    """Return a scalable SVG of ``data`` with ``opts.size`` as its width (and height, without a caption).

    A logo is embedded as a PNG ``data:`` URI (at most :data:`LOGO_EMBED_SIDE` pixels), so the file
    stands alone and loads nothing from elsewhere.
    """
    factory = type("TrackerSvg", (SvgPathImage,), {
        "background": opts.back,
        "QR_PATH_STYLE": {**SvgPathImage.QR_PATH_STYLE, "fill": opts.fill},
    })
    qr, square = _with_logo(data, opts, logo)
    image = qr.make_image(image_factory=factory)
    root = image.get_image()
    across = qr.modules_count + 2 * opts.border  # the viewBox is in modules
    if logo is not None and square is not None:
        start, side = square
        ET.SubElement(root, "image", {
            "x": str(opts.border + start + 0.5), "y": str(opts.border + start + 0.5),
            "width": str(side - 1), "height": str(side - 1), "preserveAspectRatio": "xMidYMid meet",
            "href": _png_data_uri(logo)})
    height = opts.size
    if opts.caption:
        band = across * CAPTION_BAND
        root.set("viewBox", f"0 0 {across} {across + band:g}")
        height = round(opts.size * (1 + CAPTION_BAND))
        font = _caption_font(opts.caption, 900, round(1000 * CAPTION_BAND))  # measured at 1000 units wide
        text = ET.SubElement(root, "text", {
            "x": f"{across / 2:g}", "y": f"{across + band * 0.45:g}", "text-anchor": "middle",
            "dominant-baseline": "central", "fill": opts.fill, "font-family": "Helvetica, Arial, sans-serif",
            "font-size": f"{font.size * across / 1000:.3f}"})
        text.text = opts.caption
    root.set("width", str(opts.size))
    root.set("height", str(height))
    return image.to_string(encoding="UTF-8")


@dataclass(frozen=True)
class SheetItem:
    url: str        # what the code encodes
    label: str      # printed under the code
    caption: str    # printed under the label (the short URL)
    logo: Image.Image | None = None  # drawn in the middle (the code goes to level H)
    call_to_action: str = ""  # printed in bold right under the code ("Skann meg")


def _pdf_text(text: str) -> str:
    # The built-in PDF fonts cover Latin-1 (Norwegian letters included); anything else prints as '?'.
    return text.encode("latin-1", "replace").decode("latin-1")


LABEL_LINES = 3  # lines of label under each code; longer labels end in "..."


def _fit_lines(pdf: FPDF, text: str, width: float, max_lines: int) -> str:
    """Wrap ``text`` to ``width`` in the current font, keeping at most ``max_lines`` lines."""
    lines = pdf.multi_cell(width, 4.5, text, dry_run=True, output="LINES")
    if len(lines) <= max_lines:
        return text
    last = lines[max_lines - 1].rstrip()
    while last and pdf.get_string_width(last + "...") > width:
        last = last[:-1].rstrip()
    return "\n".join([*lines[:max_lines - 1], last + "..."])


def qr_sheet_pdf(items: Sequence[SheetItem], title: str, paper: str = "a4", error: str = "Q") -> bytes:
    """Return a PDF with a grid of labelled codes (3 x 3 per page, 48 mm codes).

    An item with a logo is drawn at level H with the logo in the middle (see :func:`logo_box`); its
    call to action, if any, is printed in bold right under the code, above the label.
    48 mm is readable by a phone camera from 50 cm or more (distance / size of about 10), an arm's
    length. Modules are drawn as vector rectangles, so the sheet prints sharp at any resolution.
    """
    if paper not in PAPER:
        raise ValidationError("paper must be a4 or letter", "paper")
    if not items:
        raise ValidationError("there are no links to print on a sheet", "links")
    from fpdf import FPDF  # here, not at the top: fpdf2 takes about 16 MB of every process that imports it

    width, height = PAPER[paper]
    pdf = FPDF(unit="mm", format=(width, height))
    pdf.set_auto_page_break(False)
    pdf.set_title(_pdf_text(title))
    pdf.set_creator("tracker")
    cols, rows, margin, header = 3, 3, 12.0, 12.0
    cell_w = (width - 2 * margin) / cols
    cell_h = (height - 2 * margin - header) / rows
    code_mm = 48.0
    opts = QrOptions(border=0, error=error)
    per_page = cols * rows
    logos: dict[int, bytes] = {}  # one embedded PNG per distinct logo
    for index, item in enumerate(items):
        slot = index % per_page
        if slot == 0:
            pdf.add_page()
            pdf.set_font("helvetica", "B", 12)
            pdf.set_xy(margin, margin)
            page = index // per_page + 1
            pages = (len(items) + per_page - 1) // per_page
            pdf.cell(width - 2 * margin, 8, _pdf_text(f"{title} ({page}/{pages})"))
        col, row = slot % cols, slot // cols
        x0 = margin + col * cell_w
        y0 = margin + header + row * cell_h
        qr, square = _with_logo(item.url, opts, item.logo)
        matrix = qr.get_matrix()
        n = len(matrix)
        module = code_mm / n
        left = x0 + (cell_w - code_mm) / 2
        top = y0 + 2
        if item.logo is not None and square is not None:
            start, side = square
            key = id(item.logo)
            if key not in logos:
                logos[key] = _embed_png(item.logo)
            pdf.image(io.BytesIO(logos[key]), x=left + (start + 0.5) * module, y=top + (start + 0.5) * module,
                      w=(side - 1) * module, h=(side - 1) * module, keep_aspect_ratio=True)
        pdf.set_fill_color(0, 0, 0)
        for r, line in enumerate(matrix):
            c = 0
            while c < n:  # one rectangle per horizontal run of dark modules
                if line[c]:
                    start = c
                    while c < n and line[c]:
                        c += 1
                    pdf.rect(left + start * module, top + r * module, (c - start) * module, module, style="F")
                else:
                    c += 1
        pdf.set_xy(x0 + 2, top + code_mm + 2)
        if item.call_to_action:
            pdf.set_font("helvetica", "B", 11)
            pdf.cell(cell_w - 4, 5, _pdf_text(item.call_to_action), align="C")
            pdf.set_xy(x0 + 2, top + code_mm + 7.5)
        pdf.set_font("helvetica", "B", 10)
        label = _fit_lines(pdf, _pdf_text(item.label), cell_w - 4, LABEL_LINES)
        pdf.multi_cell(cell_w - 4, 4.5, label, align="C", max_line_height=4.5)
        pdf.set_x(x0 + 2)
        caption = _pdf_text(item.caption)
        size = 8.0
        pdf.set_font("helvetica", "", size)
        while size > 5 and pdf.get_string_width(caption) > cell_w - 4:  # long URLs: smaller, never cut
            size -= 0.5
            pdf.set_font_size(size)
        pdf.cell(cell_w - 4, 4, caption, align="C")
    return bytes(pdf.output())
