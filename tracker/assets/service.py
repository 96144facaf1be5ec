"""Logos for branded QR codes: uploads checked by content, decoded with Pillow, re-encoded as PNG.

An upload is never stored or served as it came. It must be a PNG or a JPEG *by its content* (the file
name and the declared type are ignored), at most :data:`MAX_UPLOAD_BYTES`, at most
:data:`MAX_PIXELS` pixels and :data:`MAX_SIDE` on a side (checked from the header before anything is
decoded, so a decompression bomb is refused before it is unpacked; Pillow's own bomb guard stays on as
a second line). It is decoded, turned upright (JPEG EXIF orientation), scaled down to at most
:data:`STORED_SIDE` pixels on its longer side and saved as a new PNG without metadata. SVG is
refused: a vector logo can carry scripts and external references, and Bitly and Dub also take raster
logos only. The same image uploaded twice is stored once (``sha256`` of the re-encoded bytes).
"""
from __future__ import annotations

import hashlib
import io
import warnings

import sqlalchemy as sa
from PIL import Image, ImageOps, UnidentifiedImageError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tracker.assets.models import Asset
from tracker.errors import NotFound, ValidationError
from tracker.inputs import row_id

__all__ = ["MAX_PIXELS", "MAX_SIDE", "MAX_UPLOAD_BYTES", "MIN_SIDE", "STORED_SIDE", "asset_ref", "get_asset",
           "list_assets", "store_image"]

MAX_UPLOAD_BYTES = 1024 * 1024  # 1 MB
MAX_SIDE = 8000  # pixels on either side of an upload
MAX_PIXELS = 16_000_000  # width x height of an upload (a 4000 x 4000 logo); Pillow's bomb guard is at 89M
MIN_SIDE = 16  # smaller than this cannot be a legible logo
STORED_SIDE = 1024  # longer side as stored: a logo covers at most ~30% of a 4000 px code
MAX_NAME = 200
FORMATS = ("PNG", "JPEG")


def _decode(raw: bytes) -> Image.Image:
    """Decode ``raw`` (PNG or JPEG by content) into an upright RGB or RGBA image; raise naming ``file``."""
    if not raw:
        raise ValidationError("file is empty: send a PNG or JPEG logo as the multipart field file", "file")
    if len(raw) > MAX_UPLOAD_BYTES:
        raise ValidationError(f"file is larger than {MAX_UPLOAD_BYTES} bytes (1 MB): make the logo smaller",
                              "file")
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(raw), formats=FORMATS)
            width, height = image.size
            if width > MAX_SIDE or height > MAX_SIDE or width * height > MAX_PIXELS:
                raise ValidationError(f"file is {width} x {height} pixels: at most {MAX_SIDE} on a side and "
                                      f"{MAX_PIXELS:,} in all (a logo needs far fewer)", "file")
            if min(width, height) < MIN_SIDE:
                raise ValidationError(f"file is {width} x {height} pixels: a logo needs at least {MIN_SIDE} on "
                                      "each side", "file")
            image.load()
        except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise ValidationError("file must be a PNG or JPEG image (SVG, GIF, WebP and other types are "
                                  "refused)", "file") from None
        except (OSError, SyntaxError, ValueError):  # truncated or corrupt data inside a valid header
            raise ValidationError("file is not a readable PNG or JPEG (it is damaged or cut short)", "file") from None
    image = ImageOps.exif_transpose(image) or image
    has_alpha = image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info) \
        or (image.mode in ("RGB", "L") and "transparency" in image.info)
    return image.convert("RGBA" if has_alpha else "RGB")


def reencode(raw: bytes) -> Image.Image:
    """Return the stored form of an upload: decoded, upright, at most :data:`STORED_SIDE` on a side."""
    image = _decode(raw)
    if max(image.size) > STORED_SIDE:
        image.thumbnail((STORED_SIDE, STORED_SIDE), Image.Resampling.LANCZOS)
    return image


def _png(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG", optimize=True)  # no metadata is passed on: only pixels are kept
    return buf.getvalue()


def store_image(session: Session, raw: bytes, name: str = "") -> tuple[Asset, bool]:
    """Check, decode and re-encode an uploaded logo and store it; return (asset, created).

    ``created`` is False when the same image (after re-encoding) is stored already: that asset is
    returned and nothing is written.

    Raises
    ------
    ValidationError
        ``file`` is empty, larger than 1 MB, not a PNG or JPEG by content, damaged, or too many pixels;
        ``name`` is too long.
    """
    name = " ".join((name or "").split())
    if len(name) > MAX_NAME:
        raise ValidationError(f"name is longer than {MAX_NAME} characters", "name")
    image = reencode(raw)
    data = _png(image)
    digest = hashlib.sha256(data).hexdigest()
    existing = session.scalar(sa.select(Asset).where(Asset.sha256 == digest))
    if existing is not None:
        return existing, False
    asset = Asset(name=name or "logo", media_type="image/png", width=image.width, height=image.height,
                  sha256=digest, data=data)
    session.add(asset)
    try:
        session.commit()
    except IntegrityError:  # the same image stored by a concurrent upload
        session.rollback()
        existing = session.scalar(sa.select(Asset).where(Asset.sha256 == digest))
        if existing is None:
            raise
        return existing, False
    return asset, True


def get_asset(session: Session, asset_id: int | str, field: str = "asset") -> Asset:
    """Return the asset ``asset_id``; raise NotFound naming ``field``."""
    number = row_id(asset_id)
    asset = session.get(Asset, number) if number is not None else None
    if asset is None:
        raise NotFound(f"asset {asset_id} does not exist", field)
    return asset


def list_assets(session: Session, limit: int = 500) -> list[Asset]:
    """The stored assets, newest first (metadata is all a caller should read from them in a list)."""
    return list(session.scalars(sa.select(Asset).order_by(Asset.id.desc()).limit(limit)))


def asset_ref(session: Session, value: object, field: str = "logo") -> int | None:
    """Read a ``logo`` value (an asset id, or null/empty for none) and check the asset exists.

    Raises ``ValidationError`` naming ``field`` when it is not a whole number or names no asset.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise ValidationError(f"{field} must be the id of an uploaded asset (POST /api/v1/assets) or null", field)
    number = row_id(value)
    if number is None:
        raise ValidationError(f"{field} must be the id of an uploaded asset (POST /api/v1/assets) or null", field)
    if session.scalar(sa.select(Asset.id).where(Asset.id == number)) is None:
        raise ValidationError(f"{field}: asset {number} does not exist (upload it with POST /api/v1/assets)", field)
    return number
