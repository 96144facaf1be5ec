"""QR images of links and printable sheets of a campaign's offline codes."""
from __future__ import annotations

from apiflask import APIBlueprint, Schema
from apiflask.fields import Boolean, Integer, String
from apiflask.validators import Length, OneOf, Range
from flask import Response, current_app

from tracker.auth.access import campaign_scope, requires
from tracker.db import db_session
from tracker.domains.service import qr_url
from tracker.links.service import get_campaign, get_link
from tracker.qr import sheets
from tracker.qr.branding import NO_LOGO, link_image
from tracker.qr.service import MAX_CAPTION, MIN_CONTRAST

bp = APIBlueprint("api_qr", __name__, url_prefix="/api/v1", tag="QR codes")


class QrQuery(Schema):
    size = Integer(validate=Range(64, 4000),
                   metadata={"description": "Width in pixels (PNG) or user units (SVG), 64-4000"})
    border = Integer(validate=Range(0, 20), metadata={"description": "Quiet zone in modules, 0-20 (4 is the standard)"})
    error = String(validate=Length(1, 1), metadata={"description": "Error correction: L, M, Q or H"})
    fill = String(validate=Length(1, 9), metadata={
        "description": f"Hex colour of the modules: darker than `back`, contrast ratio at least {MIN_CONTRAST}:1"})
    back = String(validate=Length(1, 9), metadata={"description": "Hex colour of the background"})
    logo = String(validate=Length(1, 12), metadata={
        "description": f"Asset id of a logo for the middle (POST /api/v1/assets), or `{NO_LOGO}`; default: the "
                       "link's logo, else its campaign's. With a logo, error correction is H."})
    caption = String(validate=Length(0, MAX_CAPTION), metadata={
        "description": "A call to action printed under the code, e.g. `Skann meg`"})
    domain = String(validate=Length(0, 253), metadata={
        "description": "The link's short-link domain, when its code is on more than one (GET /api/v1/links/<code>)"})


class SheetQuery(Schema):
    paper = String(load_default="a4", validate=OneOf(["a4", "letter"]))
    all = Boolean(load_default=False, metadata={"description": "Include online links, not only offline"})
    logo = String(validate=Length(1, 12), metadata={
        "description": f"Asset id of a logo for every code, or `{NO_LOGO}`; default: each link's, else the "
                       "campaign's"})
    caption = String(validate=Length(0, MAX_CAPTION), metadata={
        "description": "A call to action printed under every code"})


def _image(code: str, query: dict[str, object], svg: bool) -> Response:
    settings = current_app.config["SETTINGS"]
    domain = query.get("domain")
    link = get_link(db_session(), code, campaign_scope(), domain=str(domain) if domain else None, settings=settings)
    body = link_image(db_session(), link, qr_url(link, settings), query, svg)  # the URL on the link's domain
    resp = Response(body, mimetype="image/svg+xml" if svg else "image/png")
    resp.headers["Content-Disposition"] = f'inline; filename="{link.code}.{"svg" if svg else "png"}"'
    return resp


@bp.get("/links/<code>/qr.png")
@requires("qr:read")
@bp.input(QrQuery, location="query", arg_name="query")
@bp.doc(responses={200: {"description": "PNG image", "content": {"image/png": {}}}})
def link_qr_png(code: str, query: dict[str, object]) -> Response:
    """QR code (PNG) encoding the link's scan URL"""
    return _image(code, query, svg=False)


@bp.get("/links/<code>/qr.svg")
@requires("qr:read")
@bp.input(QrQuery, location="query", arg_name="query")
@bp.doc(responses={200: {"description": "SVG image", "content": {"image/svg+xml": {}}}})
def link_qr_svg(code: str, query: dict[str, object]) -> Response:
    """QR code (SVG) encoding the link's scan URL"""
    return _image(code, query, svg=True)


@bp.get("/campaigns/<campaign_id>/qr-sheet.pdf")
@requires("qr:read")
@bp.input(SheetQuery, location="query", arg_name="query")
@bp.doc(responses={200: {"description": "PDF sheet", "content": {"application/pdf": {}}}})
def campaign_sheet(campaign_id: str, query: dict[str, object]) -> Response:
    """Printable sheet (A4 or Letter) of the campaign's offline codes, each labelled"""
    settings = current_app.config["SETTINGS"]
    get_campaign(db_session(), campaign_id, campaign_scope())  # 404 or 403 before any work
    filename, pdf = sheets.campaign_sheet(db_session(), settings, campaign_id, paper=str(query["paper"]),
                                          include_online=bool(query["all"]), logo=query.get("logo"),
                                          caption=query.get("caption"))
    resp = Response(pdf, mimetype="application/pdf")
    resp.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return resp
