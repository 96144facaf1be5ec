"""Logos for branded QR codes: upload (multipart), list, metadata and the re-encoded PNG (thin)."""
from __future__ import annotations

from typing import Any

from apiflask import APIBlueprint, Schema
from apiflask.fields import AwareDateTime, File, Integer, List, Nested, String
from apiflask.validators import Length
from flask import Response, url_for

from tracker.assets import service
from tracker.assets.models import Asset
from tracker.auth.access import requires
from tracker.db import db_session
from tracker.errors import ValidationError

bp = APIBlueprint("api_assets", __name__, url_prefix="/api/v1", tag="Assets (logos)")


class AssetUpload(Schema):
    file = File(metadata={"description": f"A PNG or JPEG, at most {service.MAX_UPLOAD_BYTES} bytes (1 MB) and "
                                         f"{service.MAX_PIXELS:,} pixels; SVG and other types are refused"})
    name = String(validate=Length(0, service.MAX_NAME),
                  metadata={"description": "What to call it (default: the file's name)"})


class AssetOut(Schema):
    id = Integer(metadata={"description": "Give it as `logo` on a link or campaign, or `logo=<id>` on a QR code"})
    name = String()
    media_type = String(metadata={"description": "Always image/png: uploads are decoded and re-encoded"})
    width = Integer()
    height = Integer()
    sha256 = String(metadata={"description": "Of the re-encoded PNG; the same image uploaded again is this asset"})
    url = String(metadata={"description": "The re-encoded image (GET, with a key)"})
    created_at = AwareDateTime()


class AssetList(Schema):
    items = List(Nested(AssetOut))


def asset_out(asset: Asset) -> dict[str, Any]:
    return {"id": asset.id, "name": asset.name, "media_type": asset.media_type, "width": asset.width,
            "height": asset.height, "sha256": asset.sha256, "created_at": asset.created_at,
            "url": url_for("api_assets.asset_png", asset_id=asset.id)}


@bp.post("/assets")
@requires("assets:write")
@bp.input(AssetUpload, location="form_and_files", arg_name="upload")
@bp.output(AssetOut, status_code=201)
@bp.doc(description="Send the image as the multipart field `file`. It is decoded and stored as a new PNG "
                    "(never as uploaded); 201 when stored, 200 with the stored asset when the same image "
                    "was uploaded before.",
        responses={200: "The same image is stored already: that asset", 422: "Not a PNG or JPEG, damaged, "
                   "larger than 1 MB or too many pixels (field `file`)"})
def upload_asset(upload: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """Upload a logo (PNG or JPEG)"""
    storage = upload.get("file")
    if storage is None:
        raise ValidationError("file is required: send the logo as the multipart field file", "file")
    try:
        raw = storage.read(service.MAX_UPLOAD_BYTES + 1)
    finally:
        storage.close()  # large uploads are spooled to a temporary file: close it now
    name = upload.get("name") or (storage.filename or "").rsplit("/", 1)[-1].rsplit("\\", 1)[-1]
    asset, created = service.store_image(db_session(), raw, name[:service.MAX_NAME])
    return asset_out(asset), 201 if created else 200


@bp.get("/assets")
@requires("assets:read")
@bp.output(AssetList)
def list_assets() -> dict[str, Any]:
    """List uploaded logos, newest first"""
    return {"items": [asset_out(a) for a in service.list_assets(db_session())]}


@bp.get("/assets/<int:asset_id>")
@requires("assets:read")
@bp.output(AssetOut)
def get_asset(asset_id: int) -> dict[str, Any]:
    """An uploaded logo's metadata"""
    return asset_out(service.get_asset(db_session(), asset_id))


@bp.get("/assets/<int:asset_id>.png")
@requires("assets:read")
@bp.doc(responses={200: {"description": "The re-encoded PNG", "content": {"image/png": {}}}})
def asset_png(asset_id: int) -> Response:
    """The logo as the service re-encoded it (PNG)"""
    asset = service.get_asset(db_session(), asset_id)
    resp = Response(asset.data, mimetype="image/png")
    resp.headers["Content-Disposition"] = f'inline; filename="logo-{asset.id}.png"'
    resp.headers["X-Content-Type-Options"] = "nosniff"
    return resp
