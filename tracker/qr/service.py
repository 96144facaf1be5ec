"""QR codes as PNG and SVG, and printable PDF sheets of labelled codes (vector, drawn with fpdf2)."""
from __future__ import annotations

import io
import re
from collections.abc import Sequence
from dataclasses import dataclass

import qrcode
import qrcode.constants
from fpdf import FPDF
from qrcode.image.svg import SvgPathImage

from tracker.errors import ValidationError

ERROR_LEVELS = {
    "L": qrcode.constants.ERROR_CORRECT_L, "M": qrcode.constants.ERROR_CORRECT_M,
    "Q": qrcode.constants.ERROR_CORRECT_Q, "H": qrcode.constants.ERROR_CORRECT_H,
}
COLOUR = re.compile(r"^#?([0-9a-fA-F]{6})$")
PAPER = {"a4": (210.0, 297.0), "letter": (215.9, 279.4)}


@dataclass(frozen=True)
class QrOptions:
    """How a code is drawn: ``size`` in pixels (PNG) or user units (SVG) of the whole image."""

    size: int = 400
    border: int = 4
    error: str = "M"
    fill: str = "#000000"
    back: str = "#ffffff"

    @classmethod
    def parse(cls, size: object = None, border: object = None, error: object = None, fill: object = None,
              back: object = None) -> QrOptions:
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
                   error=level, fill=colour(fill, "fill", "#000000"), back=colour(back, "back", "#ffffff"))
        if opts.fill == opts.back:
            raise ValidationError("fill and back must differ or the code cannot be read", "fill")
        return opts


def _qr(data: str, opts: QrOptions, box_size: int = 10) -> qrcode.QRCode:
    qr = qrcode.QRCode(error_correction=ERROR_LEVELS[opts.error], box_size=box_size, border=opts.border)
    qr.add_data(data)
    qr.make(fit=True)
    return qr


def qr_png(data: str, opts: QrOptions) -> bytes:
    """Return a PNG of ``data`` at most ``opts.size`` pixels wide (whole modules, never blurred)."""
    probe = _qr(data, opts)
    modules = probe.modules_count + 2 * opts.border
    box = max(1, opts.size // modules)
    image = _qr(data, opts, box_size=box).make_image(fill_color=opts.fill, back_color=opts.back)
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def qr_svg(data: str, opts: QrOptions) -> bytes:
    """Return a scalable SVG of ``data`` with ``opts.size`` as its width and height."""
    factory = type("TrackerSvg", (SvgPathImage,), {
        "background": opts.back,
        "QR_PATH_STYLE": {**SvgPathImage.QR_PATH_STYLE, "fill": opts.fill},
    })
    image = _qr(data, opts).make_image(image_factory=factory)
    root = image.get_image()
    root.set("width", str(opts.size))
    root.set("height", str(opts.size))
    return image.to_string(encoding="UTF-8")


@dataclass(frozen=True)
class SheetItem:
    url: str        # what the code encodes
    label: str      # printed under the code
    caption: str    # printed under the label (the short URL)


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

    48 mm is readable by a phone camera from 50 cm or more (distance / size of about 10), an arm's
    length. Modules are drawn as vector rectangles, so the sheet prints sharp at any resolution.
    """
    if paper not in PAPER:
        raise ValidationError("paper must be a4 or letter", "paper")
    if not items:
        raise ValidationError("there are no links to print on a sheet", "links")
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
        qr = _qr(item.url, opts)
        matrix = qr.get_matrix()
        n = len(matrix)
        module = code_mm / n
        left = x0 + (cell_w - code_mm) / 2
        top = y0 + 2
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
