"""Short-link domains API: add, list, read, change and delete (thin: parse, call the service, serialize)."""
from __future__ import annotations

from typing import Any

from apiflask import APIBlueprint, Schema
from apiflask.fields import AwareDateTime, Boolean, Integer, List, Nested, String
from apiflask.validators import Length, OneOf
from flask import Response, current_app

from tracker.auth.access import requires
from tracker.config import Settings
from tracker.db import db_session
from tracker.domains import service

bp = APIBlueprint("api_domains", __name__, url_prefix="/api/v1", tag="Short-link domains")

_NOT_FOUND = {"allow_none": True, "validate": Length(0, 2048), "metadata": {
    "description": "Where unknown codes on this host go (302, no tid); null or empty: a 404 page. They are "
                   "recorded as orphan visits either way"}}


def _settings() -> Settings:
    return current_app.config["SETTINGS"]  # type: ignore[no-any-return]


def _domains_changed() -> None:
    """This worker routes the change at once; the others within link_cache_seconds."""
    current_app.extensions["tracker.redirects"]["cache"].clear()


class DomainIn(Schema):
    host = String(required=True, validate=Length(1, 300), metadata={
        "description": "The host name only, e.g. go.brand.no (international names are stored in punycode)"})
    scheme = String(load_default="https", validate=OneOf(service.SCHEMES),
                    metadata={"description": "Scheme of the domain's short URLs and QR codes"})
    not_found_url = String(**_NOT_FOUND)


class DomainPatch(Schema):
    scheme = String(validate=OneOf(service.SCHEMES))
    not_found_url = String(**_NOT_FOUND)


class DomainOut(Schema):
    host = String()
    default = Boolean(metadata={"description": "true: the default domain, the host of public_base_url (its "
                                               "not_found_url is the setting of that name)"})
    scheme = String()
    not_found_url = String(allow_none=True)
    links = Integer(metadata={"description": "How many links are on it"})
    created_at = AwareDateTime(allow_none=True)


class DomainList(Schema):
    items = List(Nested(DomainOut))


def _out(domain: Any) -> dict[str, Any]:
    counts = service.link_counts(db_session())
    return service.domain_out(domain, _settings(), counts.get(domain.id if domain is not None else None, 0))


@bp.post("/domains")
@requires("domains:write")
@bp.input(DomainIn, arg_name="data")
@bp.output(DomainOut, status_code=201)
@bp.doc(responses={409: "The host is a domain already, or is the default domain (the host of public_base_url)",
                   422: "Bad host (a host name only: no scheme, port or path), scheme or not_found_url"})
def create(data: dict[str, Any]) -> dict[str, Any]:
    """Add a short-link domain"""
    domain = service.create_domain(db_session(), _settings(), data)
    _domains_changed()
    return _out(domain)


@bp.get("/domains")
@requires("domains:read")
@bp.output(DomainList)
def list_all() -> dict[str, Any]:
    """List the short-link domains: the default one first, then the others by host"""
    session = db_session()
    counts = service.link_counts(session)
    items = [service.domain_out(None, _settings(), counts.get(None, 0))]
    items += [service.domain_out(d, _settings(), counts.get(d.id, 0)) for d in service.list_domains(session)]
    return {"items": items}


@bp.get("/domains/<host>")
@requires("domains:read")
@bp.output(DomainOut)
@bp.doc(responses={404: "No such domain"})
def get(host: str) -> dict[str, Any]:
    """Read one short-link domain (the default domain's host too)"""
    if service.parse_host_or_none(host) == service.default_host(_settings()):
        return _out(None)
    return _out(service.get_domain(db_session(), host))


@bp.patch("/domains/<host>")
@requires("domains:write")
@bp.input(DomainPatch, arg_name="data")
@bp.output(DomainOut)
@bp.doc(description="Change `not_found_url` or `scheme`; the host never changes. The default domain is set with "
                    "the settings `public_base_url` and `not_found_url`, not here (404).",
        responses={404: "No such domain", 422: "Bad field (named)"})
def update(host: str, data: dict[str, Any]) -> dict[str, Any]:
    """Change a short-link domain"""
    domain = service.update_domain(db_session(), _settings(), host, data)
    _domains_changed()
    return _out(domain)


@bp.delete("/domains/<host>")
@requires("domains:write")
@bp.doc(responses={204: "Deleted", 404: "No such domain",
                   409: "Links use it (`error.links` is how many): their printed codes carry it"})
def delete(host: str) -> Response:
    """Delete a short-link domain no link uses"""
    service.delete_domain(db_session(), host)
    _domains_changed()
    return Response(status=204)
