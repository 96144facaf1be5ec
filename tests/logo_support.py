"""Logos the branded-code tests upload: made with Pillow here, nothing downloaded."""
from __future__ import annotations

import io

from PIL import Image, ImageDraw
from PIL.PngImagePlugin import PngInfo

RED = (208, 49, 45)
BLUE = (11, 83, 148)


def png(size: tuple[int, int] = (120, 80), colour: tuple[int, ...] = RED, mode: str = "RGB",
        text: dict[str, str] | None = None) -> bytes:
    """A solid PNG with a white diagonal (a shape, so scaling shows), optionally with text chunks."""
    image = Image.new(mode, size, colour)
    ImageDraw.Draw(image).line([(0, 0), size], fill=(255, 255, 255) if mode != "L" else 255, width=3)
    info = PngInfo()
    for key, value in (text or {}).items():
        info.add_text(key, value)
    buf = io.BytesIO()
    image.save(buf, format="PNG", pnginfo=info)
    return buf.getvalue()


def transparent_png(size: tuple[int, int] = (100, 100)) -> bytes:
    """A blue disc on a transparent background."""
    image = Image.new("RGBA", size, (0, 0, 0, 0))
    ImageDraw.Draw(image).ellipse([(5, 5), (size[0] - 5, size[1] - 5)], fill=BLUE + (255,))
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def jpeg(size: tuple[int, int] = (80, 40), orientation: int | None = None) -> bytes:
    image = Image.new("RGB", size, RED)
    exif = Image.Exif()
    if orientation:
        exif[0x0112] = orientation
    buf = io.BytesIO()
    image.save(buf, format="JPEG", quality=90, exif=exif.tobytes())
    return buf.getvalue()


def dark_png(size: int = 64) -> bytes:
    """All black: the worst case for a scanner (every module under the logo reads as dark)."""
    return png((size, size), (0, 0, 0))
