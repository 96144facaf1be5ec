"""Logo pages: a campaign's default logo (upload or pick) and a signed-in view of a logo.

Thin like every page: parse the form, call :mod:`tracker.assets.service` and
:func:`tracker.links.service.update_campaign`, redirect back with a message.
"""
from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, request, url_for
from werkzeug.wrappers import Response

from tracker.assets import service
from tracker.auth.access import page_requires
from tracker.config import Settings
from tracker.db import db_session
from tracker.errors import DomainError, ValidationError
from tracker.links import service as links
from tracker.pages import csrf
from tracker.pages.views import domain_error, no_store, principal_context, too_large
from tracker.qr.branding import logo_choices

bp = Blueprint("assets_pages", __name__)
bp.enable_openapi = False  # type: ignore[attr-defined]  # pages are not part of the API (see tracker.pages.views)
csrf.protect(bp)
bp.context_processor(principal_context)
bp.after_request(no_store)
bp.register_error_handler(DomainError, domain_error)
bp.register_error_handler(413, too_large)


def _settings() -> Settings:
    return current_app.config["SETTINGS"]  # type: ignore[no-any-return]


@bp.get("/assets/<int:asset_id>.png")
@page_requires("assets:read")
def asset_png(asset_id: int) -> Response:
    asset = service.get_asset(db_session(), asset_id)
    resp = Response(asset.data, mimetype="image/png")
    resp.headers["Content-Disposition"] = f'inline; filename="logo-{asset.id}.png"'
    return resp


@bp.post("/campaigns/<campaign_id>/logo")
@page_requires("campaigns:write")
def campaign_logo(campaign_id: str) -> Response:
    """Set the campaign's default logo: a new upload (``file``) wins over a pick from the list (``asset``)."""
    db = db_session()
    campaign = links.get_campaign(db, campaign_id)
    upload = request.files.get("file")
    try:
        if upload is not None and upload.filename:
            try:
                raw = upload.read(service.MAX_UPLOAD_BYTES + 1)
            finally:
                upload.close()  # large uploads are spooled to a temporary file: close it now
            asset, created = service.store_image(db, raw, request.form.get("name") or upload.filename)
            logo: int | None = asset.id
            note = "uploaded" if created else "was uploaded before and is reused"
        else:
            logo = service.asset_ref(db, request.form.get("asset"), "asset")
            note = ""
        links.update_campaign(db, _settings(), campaign.id, {"logo": logo})
    except ValidationError as exc:
        flash(f"The logo was not changed: {exc.message}", "error")
        return redirect(url_for("pages.campaign", campaign_id=campaign.id) + "#logo-heading", 303)
    if logo is None:
        flash("The campaign's codes have no default logo now.", "success")
    else:
        flash(f"Logo {note + ': ' if note else ''}the campaign's QR codes and print sheets carry it unless a "
              "link has its own.", "success")
    return redirect(url_for("pages.campaign", campaign_id=campaign.id) + "#logo-heading", 303)


@bp.app_template_global("logo_choices")
def logo_choices_global() -> list[tuple[str, str]]:
    """The stored logos for the pages' selects (the campaign page's logo card)."""
    return logo_choices(db_session())
