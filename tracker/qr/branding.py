"""Which logo a link's QR code carries, and the one function the API and the pages draw codes with.

A code's logo is, in this order: the ``logo`` query parameter (an asset id, or ``none`` for no logo),
the link's own ``logo``, its campaign's ``logo``, else none. ``caption`` (a call to action) is only
ever a query parameter: it is part of the printed design, not of the link.
"""
from __future__ import annotations

import functools
import io
from collections.abc import Mapping
from typing import Any

from PIL import Image
from sqlalchemy.orm import Session

from tracker.assets.models import Asset
from tracker.assets.service import asset_ref, get_asset, list_assets
from tracker.errors import ValidationError
from tracker.links.models import Campaign, Link
from tracker.qr.service import QrOptions, parse_caption, qr_png, qr_svg

__all__ = ["NO_LOGO", "QR_PARAMS", "default_logo_id", "link_image", "logo_choices", "logo_image", "logo_override",
           "qr_preview"]

NO_LOGO = "none"
QR_PARAMS = ("size", "border", "error", "fill", "back", "caption")  # besides ``logo``

DEFAULT = object()  # no ``logo`` parameter: the link's or campaign's logo is used


def logo_override(session: Session, raw: object) -> int | None | object:
    """Read the ``logo`` query parameter: :data:`DEFAULT` when absent, None for ``none``, else an asset id.

    Raises ``ValidationError`` naming ``logo`` for anything else or an asset that does not exist.
    """
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return DEFAULT
    if isinstance(raw, str) and raw.strip().lower() == NO_LOGO:
        return None
    try:
        return asset_ref(session, raw, "logo")
    except ValidationError as exc:
        raise ValidationError(exc.message.replace("or null", f"or {NO_LOGO}"), "logo") from None


def default_logo_id(link: Link, campaign: Campaign | None = None) -> int | None:
    """The asset id a link's codes carry without a ``logo`` parameter: its own, else its campaign's."""
    campaign = campaign if campaign is not None else link.campaign
    return link.logo_asset_id or (campaign.logo_asset_id if campaign is not None else None)


@functools.lru_cache(maxsize=32)
def _decoded(sha256: str, data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data), formats=["PNG"])
    image.load()
    return image


def logo_image(session: Session, asset_id: int | None) -> Image.Image | None:
    """The stored (re-encoded) image of asset ``asset_id``, decoded once per process and image."""
    if asset_id is None:
        return None
    asset = session.get(Asset, asset_id)
    if asset is None:
        return None
    return _decoded(asset.sha256, asset.data)


def link_image(session: Session, link: Link, url: str, args: Mapping[str, object], svg: bool) -> bytes:
    """Draw ``link``'s code for ``url`` as SVG or PNG from query-string ``args`` (checked here).

    Raises ``ValidationError`` naming the parameter: ``size``, ``border``, ``error``, ``fill``, ``back``
    (too little contrast, or a light code on a dark background), ``caption`` or ``logo``.
    """
    opts = QrOptions.parse(**{name: args.get(name) for name in QR_PARAMS})
    chosen = logo_override(session, args.get("logo"))
    asset_id = default_logo_id(link) if chosen is DEFAULT else chosen
    logo = logo_image(session, asset_id)  # type: ignore[arg-type]
    return qr_svg(url, opts, logo) if svg else qr_png(url, opts, logo)


def logo_choices(session: Session) -> list[tuple[str, str]]:
    """(asset id, "name (width x height)") of the stored logos, newest first, for a select."""
    return [(str(a.id), f"{a.name} ({a.width} x {a.height})") for a in list_assets(session)]


def qr_preview(session: Session, link: Link, args: Mapping[str, str]) -> dict[str, Any]:
    """The link page's QR options from its query string: values, the image URLs' parameters, errors.

    A bad value is shown next to its field and left out of the image URLs, so the preview still shows.
    """
    values = {"logo": (args.get("logo") or "").strip(), "caption": (args.get("caption") or "").strip()}
    errors: dict[str, str] = {}
    query: dict[str, str] = {}
    if values["logo"]:
        try:
            logo_override(session, values["logo"])
            query["logo"] = NO_LOGO if values["logo"].lower() == NO_LOGO else values["logo"]
        except ValidationError as exc:
            errors["logo"] = exc.message
    try:
        caption = parse_caption(values["caption"])
        if caption:
            query["caption"] = caption
    except ValidationError as exc:
        errors["caption"] = exc.message
    default_id = default_logo_id(link)
    default = get_asset(session, default_id) if default_id else None
    return {"fields": values, "errors": errors, "query": query, "choices": logo_choices(session), "default": default}
