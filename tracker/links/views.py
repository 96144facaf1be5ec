"""JSON API for campaigns and links (thin: parse, call a service, serialize)."""
from __future__ import annotations

from typing import Any

from apiflask import APIBlueprint
from flask import current_app, request

from tracker.auth.access import campaign_scope, requires
from tracker.db import db_session
from tracker.errors import ValidationError
from tracker.links import service
from tracker.links.schemas import (
    BulkOut,
    BulkQuery,
    CampaignIn,
    CampaignList,
    CampaignOut,
    CampaignPatch,
    CostIn,
    CostOut,
    DomainQuery,
    ForceQuery,
    LinkFilter,
    LinkIn,
    LinkOut,
    LinkPage,
    LinkPatch,
)
from tracker.links.serialize import campaign_out, links_out

bp = APIBlueprint("api_links", __name__, url_prefix="/api/v1", tag="Campaigns and links")


def _settings():  # type: ignore[no-untyped-def]
    return current_app.config["SETTINGS"]


@bp.post("/campaigns")
@requires("campaigns:write")
@bp.input(CampaignIn, arg_name="data")
@bp.output(CampaignOut, status_code=201)
def create_campaign(data: dict[str, Any]) -> dict[str, Any]:
    """Create a campaign"""
    session = db_session()
    return campaign_out(session, service.create_campaign(session, _settings(), data))


@bp.get("/campaigns")
@requires("campaigns:read")
@bp.output(CampaignList)
def list_campaigns() -> dict[str, Any]:
    """List campaigns, newest first"""
    session = db_session()
    return {"items": [campaign_out(session, c) for c in service.list_campaigns(session, campaign_scope())]}


@bp.get("/campaigns/<campaign_id>")
@requires("campaigns:read")
@bp.output(CampaignOut)
def get_campaign(campaign_id: str) -> dict[str, Any]:
    """Get a campaign by id or slug"""
    session = db_session()
    return campaign_out(session, service.get_campaign(session, campaign_id, campaign_scope()))


@bp.patch("/campaigns/<campaign_id>")
@requires("campaigns:write")
@bp.input(CampaignPatch, arg_name="data")
@bp.output(CampaignOut)
def update_campaign(campaign_id: str, data: dict[str, Any]) -> dict[str, Any]:
    """Change a campaign"""
    session = db_session()
    campaign = service.get_campaign(session, campaign_id)
    return campaign_out(session, service.update_campaign(session, _settings(), campaign.id, data))


@bp.post("/campaigns/<campaign_id>/costs")
@requires("costs:write")
@bp.input(CostIn, arg_name="data")
@bp.output(CostOut, status_code=201)
def add_cost(campaign_id: str, data: dict[str, Any]) -> dict[str, Any]:
    """Add a dated cost entry to a campaign"""
    cost = service.add_cost(db_session(), _settings(), campaign_id, data)  # type: ignore[arg-type]
    return {"id": cost.id, "date": cost.date, "amount": str(cost.amount), "currency": cost.currency,
            "channel": cost.channel}


@bp.post("/links")
@requires("links:create")
@bp.input(ForceQuery, location="query", arg_name="query")
@bp.input(LinkIn, arg_name="data")
@bp.output(LinkOut, status_code=201)
@bp.doc(responses={409: "A link with the same destination, tags, kind and label exists; "
                        "`error.existing` is its code. Send `force=true` to create another."})
def create_link(query: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    """Create a tracked link"""
    session = db_session()
    link = service.create_link(session, _settings(), data, force=query["force"], scope=campaign_scope())
    return links_out(session, _settings(), [link], history=True)[0]


@bp.get("/links")
@requires("links:read")
@bp.input(LinkFilter, location="query", arg_name="query")
@bp.output(LinkPage)
def list_links(query: dict[str, Any]) -> dict[str, Any]:
    """List links (newest first) with filters"""
    session = db_session()
    links, total = service.list_links(session, **query, scope=campaign_scope())
    return {"items": links_out(session, _settings(), links), "total": total,
            "page": query["page"], "per_page": query["per_page"]}


@bp.get("/links/<code>")
@requires("links:read")
@bp.input(DomainQuery, location="query", arg_name="query")
@bp.output(LinkOut)
@bp.doc(responses={409: "The code is on several short-link domains and none is the default: give `domain` "
                        "(`error.hosts` lists them)"})
def get_link(code: str, query: dict[str, Any]) -> dict[str, Any]:
    """Get a link by its code, with totals and destination history"""
    session = db_session()
    link = service.get_link(session, code, campaign_scope(), domain=query.get("domain"), settings=_settings())
    return links_out(session, _settings(), [link], history=True)[0]


@bp.patch("/links/<code>")
@requires("links:write")
@bp.input(DomainQuery, location="query", arg_name="query")
@bp.input(LinkPatch, arg_name="data")
@bp.output(LinkOut)
def update_link(code: str, query: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    """Change a link (destination changes are kept as history; the code and domain never change)"""
    session = db_session()
    link = service.update_link(session, _settings(), code, data, domain=query.get("domain"))
    current_app.extensions["tracker.redirects"]["cache"].clear()
    return links_out(session, _settings(), [link], history=True)[0]


@bp.post("/links/bulk")
@requires("links:write")
@bp.input(BulkQuery, location="query", arg_name="query")
@bp.output(BulkOut)
@bp.doc(description="Send the CSV as the request body (`Content-Type: text/csv`) or as the multipart "
                    "field `file`. Columns: " + ", ".join(service.LINK_FIELDS) + ". With `atomic=true` "
                    "(default) one bad row rejects the whole file (422); with `atomic=false` good rows "
                    "are created and bad ones listed with their line numbers.",
        responses={422: "Rows were rejected (atomic) or the file cannot be read"})
def bulk_links(query: dict[str, Any]) -> Any:
    """Create links from a CSV file"""
    settings = _settings()
    upload = request.files.get("file")
    raw = upload.read(settings.max_upload_bytes + 1) if upload else request.get_data(cache=False)
    if len(raw) > settings.max_upload_bytes:
        raise ValidationError(f"the CSV is larger than {settings.max_upload_bytes} bytes", "file")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationError("the CSV must be UTF-8 text", "file") from None
    session = db_session()
    result = service.bulk_create_links(session, settings, text, atomic=query["atomic"], force=query["force"])
    body = {"atomic": result.atomic, "committed": result.committed,
            "created": links_out(session, settings, result.created), "rejected": result.rejected}
    return body, (201 if result.committed and not result.rejected else 200 if result.committed else 422)
