"""Campaign and link services: validation, UTM governance, duplicates, bulk CSV. Each commits once.

Short-link domains (tracker/domains): a link belongs to one domain, given as ``domain`` (a host; empty or
the host of ``public_base_url``: the default domain) when it is created and fixed from then on (its
printed codes carry it). Codes and slugs are unique per domain, and so is the duplicate check (the same
destination and tags on another domain is another printed link). :func:`get_link` finds a code on a
given domain, or without one the default domain's link, else the only link with that code.
"""
from __future__ import annotations

import hashlib
import json
import re
import secrets
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qsl, urlencode

import sqlalchemy as sa
from sqlalchemy.orm import Session

from tracker.assets.service import asset_ref
from tracker.config import Settings
from tracker.db import begin_write, utcnow
from tracker.domains.models import Domain
from tracker.domains.service import resolve_domain
from tracker.errors import Conflict, Forbidden, NotFound, ValidationError
from tracker.inputs import csv_records, nul_field, row_id, to_utc
from tracker.links.models import LINK_KINDS, OFFLINE_KINDS, Campaign, CampaignCost, Link, LinkDestinationChange
from tracker.links.urls import MAX_TAG, merge_query, normalise_tag, validate_tag, validate_url
from tracker.redirects.rules import validate_rules
from tracker.webhooks.events import record_links

# No 0/o, 1/l/i: codes survive print, handwriting and being read aloud. Codes are case-insensitive.
CODE_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"
CODE_LENGTH = 6
SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
MAX_LABEL = 200
MAX_BULK_ROWS = 10_000
MAX_EXTRA_PARAMS = 20
LINK_FIELDS = ("destination", "campaign", "utm_source", "utm_medium", "utm_campaign", "utm_term",
               "utm_content", "extra_params", "kind", "label", "slug", "expires_at", "experiment", "variant", "logo",
               "domain", "rules")
# A/B tests (docs/guides/marketer.md#variants): the experiment is a slug like a campaign's, the variant a short
# arm name ("A", "B", "blue-button"). Links of one experiment with the same variant are one arm.
VARIANT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")


# ---- helpers ------------------------------------------------------------------------------------

def generate_code(length: int = CODE_LENGTH) -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(length))


def normalise_code(code: str) -> str:
    """Codes are case-insensitive: store and look them up in lower case.

    Characters no code can hold and no database text can store (NUL and other control characters, as
    in ``/r/ab%00cd``) are dropped, so a hostile path is an unknown code, never a database error.
    """
    code = code.strip().lower()
    return code if code.isprintable() else "".join(ch for ch in code if ch.isprintable())


RESERVED_CODES = frozenset({"new", "bulk"})  # /links/new (page), /api/v1/links/bulk


def _slug(value: object, field_name: str) -> str:
    slug = normalise_tag(str(value)) if value is not None else ""
    if not SLUG_RE.match(slug):
        raise ValidationError(
            f"{field_name} must be 2-63 characters of a-z, 0-9 and '-', starting with a letter or digit",
            field_name)
    return slug


def _text(value: object, field_name: str, max_len: int, required: bool = False) -> str:
    text = "" if value is None else str(value).strip()
    if required and not text:
        raise ValidationError(f"{field_name} is required", field_name)
    if len(text) > max_len:
        raise ValidationError(f"{field_name} is longer than {max_len} characters", field_name)
    return text


def _tag(value: object, field_name: str, required: bool = False) -> str | None:
    return validate_tag(value, field_name, MAX_TAG, required=required)


def _date(value: object, field_name: str) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ValidationError(f"{field_name} must be a date like 2026-05-31", field_name) from None


def _datetime(value: object, field_name: str) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        parsed = value
    else:
        try:
            parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            raise ValidationError(f"{field_name} must be an ISO 8601 time like 2026-05-31T18:00:00Z",
                                  field_name) from None
    if parsed.tzinfo is None:
        raise ValidationError(f"{field_name} needs a time zone (e.g. a trailing Z for UTC)", field_name)
    return to_utc(parsed, field_name)


def _extra_params(value: object) -> dict[str, str]:
    if value is None or value == "":
        return {}
    if isinstance(value, str):
        value = dict(parse_qsl(value, keep_blank_values=True))
    if not isinstance(value, Mapping):
        raise ValidationError("extra_params must be an object of name: value strings", "extra_params")
    if len(value) > MAX_EXTRA_PARAMS:
        raise ValidationError(f"extra_params may hold at most {MAX_EXTRA_PARAMS} parameters", "extra_params")
    params: dict[str, str] = {}
    for key, val in value.items():
        key = str(key).strip()
        if not key or len(key) > 100 or len(str(val)) > 500:
            raise ValidationError("extra_params names must be 1-100 and values at most 500 characters",
                                  "extra_params")
        if key.lower().startswith("utm_") or key.lower() == "tid":
            raise ValidationError(f"extra_params must not set {key}: use the utm fields", "extra_params")
        params[key] = str(val)
    return params


def _variant(value: object) -> str | None:
    text = "" if value is None else str(value).strip()
    if not text:
        return None
    if not VARIANT_RE.match(text):
        raise ValidationError("variant must be 1-40 characters of letters, digits, '-', '_' and '.', starting with "
                              "a letter or digit (e.g. A, B or blue-button)", "variant")
    return text


def tracked_url(link: Link, destination: str | None = None) -> str:
    """Return the destination with the link's extra parameters and UTM tags merged in.

    ``destination``: another URL to tag the same way (a redirect rule's destination); default the link's own.
    """
    params = dict(link.extra_params or {})
    params.update({
        "utm_source": link.utm_source, "utm_medium": link.utm_medium, "utm_campaign": link.utm_campaign,
        "utm_term": link.utm_term or "", "utm_content": link.utm_content or "",
    })
    return merge_query(link.destination if destination is None else destination, params)


def fingerprint(link: Link) -> str:
    """Hash of what makes two links the same: destination, tags, extra parameters, kind and label.

    A link that is an arm of an experiment adds its experiment and variant: variant B of a flyer may
    carry exactly the tags of variant A (the test is in the print) and is still a link of its own.
    Links without a variant hash as before, so their stored fingerprints stay valid. Redirect rules are
    not part of it (they change while the printed link stays the same one): the same destination and tags
    with other rules is still a duplicate, created with ``force``.
    """
    key: list[Any] = [link.destination, link.utm_source, link.utm_medium, link.utm_campaign, link.utm_term,
                      link.utm_content, sorted((link.extra_params or {}).items()), link.kind, link.label]
    if link.experiment or link.variant:
        key += [link.experiment, link.variant]
    return hashlib.sha256(json.dumps(key, ensure_ascii=False).encode()).hexdigest()


def _resolve_campaign(session: Session, value: object) -> Campaign:
    if isinstance(value, Campaign):
        return value
    campaign: Campaign | None = None
    if isinstance(value, int) or (isinstance(value, str) and value.strip().isdigit()):
        number = row_id(value)
        campaign = session.get(Campaign, number) if number is not None else None
    elif isinstance(value, str) and value.strip():
        campaign = session.scalar(sa.select(Campaign).where(Campaign.slug == normalise_tag(value)))
    if campaign is None:
        raise ValidationError(f"campaign {value!r} does not exist (give its id or slug)", "campaign")
    return campaign


# ---- campaigns ----------------------------------------------------------------------------------

def _apply_campaign(campaign: Campaign, data: Mapping[str, Any], settings: Settings) -> None:
    if "name" in data or campaign.name is None:
        campaign.name = _text(data.get("name"), "name", 200, required=True)
    if "slug" in data or campaign.slug is None:
        campaign.slug = _slug(data.get("slug") or campaign.name, "slug")
    if "description" in data or campaign.description is None:
        campaign.description = _text(data.get("description"), "description", 5000)
    if "start_date" in data:
        campaign.start_date = _date(data.get("start_date"), "start_date")
    if "end_date" in data:
        campaign.end_date = _date(data.get("end_date"), "end_date")
    if campaign.start_date and campaign.end_date and campaign.end_date < campaign.start_date:
        raise ValidationError("end_date is before start_date", "end_date")
    if "fallback_url" in data:
        raw = data.get("fallback_url")
        campaign.fallback_url = validate_url(raw, "fallback_url", settings.destination_domains) if raw else None


def create_campaign(session: Session, settings: Settings, data: Mapping[str, Any]) -> Campaign:
    """Create a campaign; the slug defaults to the normalised name."""
    campaign = Campaign(name=None, slug=None, description=None)  # type: ignore[arg-type]
    _apply_campaign(campaign, data, settings)
    if "logo" in data:  # the default logo of the campaign's QR codes (tracker/assets)
        campaign.logo_asset_id = asset_ref(session, data.get("logo"), "logo")
    _ensure_unique_slug(session, campaign)
    session.add(campaign)
    session.commit()
    return campaign


def update_campaign(session: Session, settings: Settings, campaign_id: int, data: Mapping[str, Any]) -> Campaign:
    campaign = get_campaign(session, campaign_id)
    _apply_campaign(campaign, data, settings)
    if "logo" in data:  # the default logo of the campaign's QR codes (tracker/assets)
        campaign.logo_asset_id = asset_ref(session, data.get("logo"), "logo")
    _ensure_unique_slug(session, campaign)
    session.commit()
    return campaign


def _ensure_unique_slug(session: Session, campaign: Campaign) -> None:
    clash = session.scalar(sa.select(Campaign.id).where(Campaign.slug == campaign.slug, Campaign.id != campaign.id)
                           if campaign.id else sa.select(Campaign.id).where(Campaign.slug == campaign.slug))
    if clash is not None:
        session.rollback()
        raise Conflict(f"a campaign with slug {campaign.slug!r} already exists", "slug", existing_id=clash)


# ``scope``: the campaign ids a caller is limited to (staff accounts: their assigned campaigns, see
# tracker/auth/access.py), or None for callers who are not limited. Reads outside it are 403, lists
# leave the rest out.
Scope = Collection[int] | None


def _check_scope(scope: Scope, campaign_id: int | None, what: str) -> None:
    if scope is not None and campaign_id not in scope:
        raise Forbidden(f"{what} belongs to a campaign you are not assigned to", "campaign")


def get_campaign(session: Session, campaign_id: int | str, scope: Scope = None) -> Campaign:
    if str(campaign_id).isdigit():
        number = row_id(campaign_id)
        campaign = session.get(Campaign, number) if number is not None else None
    else:
        campaign = session.scalar(sa.select(Campaign).where(Campaign.slug == normalise_tag(str(campaign_id))))
    if campaign is None:
        raise NotFound(f"campaign {campaign_id} does not exist", "campaign")
    _check_scope(scope, campaign.id, f"campaign {campaign_id}")
    return campaign


def list_campaigns(session: Session, scope: Scope = None) -> list[Campaign]:
    stmt = sa.select(Campaign).order_by(Campaign.created_at.desc(), Campaign.id.desc())
    if scope is not None:
        stmt = stmt.where(Campaign.id.in_(scope))
    return list(session.scalars(stmt))


def add_cost(session: Session, settings: Settings, campaign_id: int, data: Mapping[str, Any]) -> CampaignCost:
    """Record a dated cost entry for a campaign (optionally for one channel of the taxonomy)."""
    campaign = get_campaign(session, campaign_id)
    cost_date = _date(data.get("date"), "date")
    if cost_date is None:
        raise ValidationError("date is required", "date")
    try:
        amount = Decimal(str(data.get("amount")))
    except (InvalidOperation, ValueError):
        raise ValidationError("amount must be a number like 1250.50", "amount") from None
    if not amount.is_finite() or amount < 0 or amount >= Decimal("1e12"):
        raise ValidationError("amount must be a non-negative number below 10^12", "amount")
    currency = str(data.get("currency") or settings.reporting_currency).strip().upper()
    if not re.fullmatch(r"[A-Z]{3}", currency):
        raise ValidationError("currency must be a three-letter ISO 4217 code such as NOK", "currency")
    channel = data.get("channel") or None
    if channel is not None and channel not in settings.taxonomy.channels:
        raise ValidationError(f"channel must be one of {', '.join(settings.taxonomy.channels)}", "channel")
    cost = CampaignCost(campaign=campaign, date=cost_date, amount=amount.quantize(Decimal("0.01")),
                        currency=currency, channel=channel)
    session.add(cost)
    session.commit()
    return cost


# ---- links --------------------------------------------------------------------------------------

def _apply_link(session: Session, settings: Settings, link: Link, data: Mapping[str, Any], creating: bool) -> None:
    """Validate and normalise ``data`` onto ``link`` (only the keys present when updating)."""
    unknown = set(data) - set(LINK_FIELDS) - {"disabled", "force"}
    if unknown:
        name = sorted(unknown)[0]
        raise ValidationError(f"unknown field {name}", name)

    def given(name: str) -> bool:
        return creating or name in data

    if creating:  # the short-link domain (tracker/domains); None: the default domain
        link.domain = resolve_domain(session, settings, data.get("domain"))
    elif "domain" in data and resolve_domain(session, settings, data.get("domain")) is not link.domain:
        raise ValidationError("a link's domain cannot change (its short URL and QR codes may be printed): create "
                              "a new link on the other domain", "domain")
    if given("campaign"):
        raw = data.get("campaign")
        link.campaign = _resolve_campaign(session, raw) if raw not in (None, "") else None
    if given("destination"):
        link.destination = validate_url(data.get("destination"), "destination", settings.destination_domains)
    if given("utm_source"):
        link.utm_source = _tag(data.get("utm_source"), "utm_source", required=True)  # type: ignore[assignment]
    if given("utm_medium"):
        medium = _tag(data.get("utm_medium"), "utm_medium", required=True)
        if medium not in settings.taxonomy.allowed_mediums:
            raise ValidationError(
                f"utm_medium {medium!r} is not allowed; use one of: "
                + ", ".join(sorted(settings.taxonomy.allowed_mediums)), "utm_medium")
        link.utm_medium = medium
    if given("utm_campaign"):
        utm_campaign = _tag(data.get("utm_campaign"), "utm_campaign")
        if utm_campaign is None:
            if link.campaign is None:
                raise ValidationError("utm_campaign is required when the link has no campaign", "utm_campaign")
            utm_campaign = link.campaign.slug
        link.utm_campaign = utm_campaign
    for name in ("utm_term", "utm_content"):
        if given(name):
            setattr(link, name, _tag(data.get(name), name))
    if given("extra_params"):
        link.extra_params = _extra_params(data.get("extra_params"))
    if given("kind"):
        kind = normalise_tag(data.get("kind") or "online")
        if kind not in LINK_KINDS:
            raise ValidationError(f"kind must be one of {', '.join(LINK_KINDS)}", "kind")
        link.kind = kind
    if given("label"):
        link.label = _text(data.get("label"), "label", MAX_LABEL)
    if given("expires_at"):
        link.expires_at = _datetime(data.get("expires_at"), "expires_at")
    if given("experiment"):
        raw = data.get("experiment")
        link.experiment = _slug(raw, "experiment") if raw not in (None, "") else None
    if given("variant"):
        link.variant = _variant(data.get("variant"))
    if given("logo"):  # the logo drawn in the link's QR codes (tracker/assets); none: the campaign's
        link.logo_asset_id = asset_ref(session, data.get("logo"), "logo")
    if link.variant and not link.experiment:
        raise ValidationError("a variant needs an experiment: give experiment (the test's name, e.g. the "
                              "campaign's slug)", "experiment")
    if link.experiment and not link.variant:
        raise ValidationError("a link in an experiment needs a variant (the arm's name, e.g. A or B)", "variant")
    if "disabled" in data:
        if not isinstance(data["disabled"], bool):
            raise ValidationError("disabled must be true or false", "disabled")
        link.disabled = data["disabled"]
    if given("rules"):  # redirect rules (tracker/redirects/rules.py); their counts start when they change
        rules = validate_rules(data.get("rules"), settings.destination_domains)
        if rules != (link.rules or []):
            link.rules, link.rules_changed_at = rules, utcnow()
        elif creating:
            link.rules = rules
    link.fingerprint = fingerprint(link)


def _new_link(session: Session, settings: Settings, data: Mapping[str, Any], force: bool,
              scope: Scope = None) -> Link:
    """Build, validate and add (not commit) a new link; raise Conflict for a duplicate.

    A caller limited to campaigns (``scope``) may only create links of an offline kind in one of them
    (else Forbidden). That is checked before looking for a duplicate or a taken slug, so a refusal never
    names a link the caller may not see. Such a caller may not set redirect rules either (Forbidden, before
    they are validated); empty ones (null, ``""``, ``[]``) are the same as none.
    """
    if scope is not None and data.get("rules") not in (None, "", []):
        raise Forbidden("your role may not set redirect rules: ask a marketer or an admin", "rules")
    link = Link(extra_params={}, disabled=False)
    _apply_link(session, settings, link, data, creating=True)
    if scope is not None:
        if link.kind not in OFFLINE_KINDS:
            raise Forbidden(f"you may only create offline links (kind one of {', '.join(OFFLINE_KINDS)})", "kind")
        _check_scope(scope, link.campaign.id if link.campaign is not None else None, "the link")
    slug = data.get("slug")
    if slug not in (None, ""):
        link.code = _slug(slug, "slug")
        if link.code in RESERVED_CODES:
            raise ValidationError(f"the short code {link.code!r} is reserved (it names a page or endpoint)", "slug")
        if session.scalar(sa.select(Link.id).where(Link.code == link.code, _on_domain(link.domain))) is not None:
            where = f" on {link.domain.host}" if link.domain is not None else ""
            raise Conflict(f"the short code {link.code!r} is taken{where}", "slug")
    if not force:
        existing = session.scalar(sa.select(Link).where(Link.fingerprint == link.fingerprint, _on_domain(link.domain))
                                  .order_by(Link.id))
        if existing is not None:
            raise Conflict("a link with the same destination, tags, kind and label exists "
                           "(send force=true to create another)", None, existing=existing.code)
    if not slug:
        link.code = _unused_code(session, link.domain)
    link.history.append(LinkDestinationChange(destination=link.destination, changed_at=utcnow()))
    session.add(link)
    session.flush()
    return link


def _on_domain(domain: Domain | None) -> sa.ColumnElement[bool]:
    """The condition "a link of ``domain``" (None: the default domain)."""
    return Link.domain_id.is_(None) if domain is None else Link.domain_id == domain.id


def _unused_code(session: Session, domain: Domain | None = None) -> str:
    for length in (CODE_LENGTH, CODE_LENGTH, CODE_LENGTH + 1, CODE_LENGTH + 2):
        code = generate_code(length)
        if session.scalar(sa.select(Link.id).where(Link.code == code, _on_domain(domain))) is None:
            return code
    raise RuntimeError("could not find an unused short code")  # 31^8 codes: never in practice


def create_link(session: Session, settings: Settings, data: Mapping[str, Any], force: bool = False,
                scope: Scope = None) -> Link:
    """Create a tracked link.

    A caller limited to campaigns (``scope``) may only create links of an offline kind
    (``OFFLINE_KINDS``) in one of those campaigns (else Forbidden).

    Raises
    ------
    ValidationError
        A field is missing or not allowed (the error names it).
    Conflict
        The same destination, tags, kind and label exist already and ``force`` is false.
    """
    try:
        link = _new_link(session, settings, data, force, scope)
    except Exception:
        session.rollback()
        raise
    record_links(session, [link])  # webhooks: link.created deliveries, in this transaction
    session.commit()
    return link


def next_variant(session: Session, experiment: str, taken: Collection[str] = ()) -> str:
    """Return the first letter B, C, ... Z not yet a variant of ``experiment`` (A is the original's).

    Raises ValidationError (naming ``variant``) when all 26 letters are taken.
    """
    used = {v.upper() for v in session.scalars(sa.select(Link.variant).where(Link.experiment == experiment))
            if v} | {v.upper() for v in taken} | {"A"}
    for letter in "BCDEFGHIJKLMNOPQRSTUVWXYZ":
        if letter not in used:
            return letter
    raise ValidationError(f"experiment {experiment!r} has a variant for every letter: name the variant yourself",
                          "variant")


def variant_defaults(session: Session, original: Link) -> dict[str, str]:
    """The builder's values for a new variant of ``original`` (docs/guides/marketer.md#variants).

    Same destination, tags, kind and campaign; the experiment is the original's, else the campaign's
    slug, else its ``utm_campaign``; the variant is the next free letter; ``utm_content`` gets the
    letter as a suffix so the arms also differ in analytics tools that only see the UTM tags.
    """
    experiment = original.experiment or (original.campaign.slug if original.campaign else
                                         normalise_tag(original.utm_campaign))
    letter = next_variant(session, experiment)
    content = original.utm_content or "variant"
    base = re.sub(r"-[a-z]$", "", content) if original.variant and content.endswith(f"-{original.variant.lower()}") \
        else content
    extra = urlencode(original.extra_params or {})
    return {"destination": original.destination, "campaign": str(original.campaign_id or ""),
            "utm_source": original.utm_source, "utm_medium": original.utm_medium,
            "utm_campaign": original.utm_campaign, "utm_term": original.utm_term or "",
            "utm_content": f"{base}-{letter.lower()}"[:MAX_TAG], "extra_params": extra, "kind": original.kind,
            "label": f"{original.label} (variant {letter})"[:MAX_LABEL] if original.label else f"Variant {letter}",
            "slug": "", "expires_at": "", "experiment": experiment, "variant": letter,
            "domain": original.domain.host if original.domain is not None else ""}


def create_variant(session: Session, settings: Settings, original_code: str, data: Mapping[str, Any],
                   force: bool = False, scope: Scope = None, original_domain: str | None = None) -> Link:
    """Create a link as another arm of ``original_code``'s experiment; mark the original as variant A.

    The original gets ``experiment`` and variant ``A`` only if it had no experiment yet (a link already
    in a test keeps its arm); both changes are committed together.

    Raises
    ------
    ValidationError
        The new link is not valid, has no experiment, or takes the original's variant A.
    NotFound, Forbidden
        The original does not exist (on ``original_domain``, see :func:`get_link`) or is outside ``scope``.
    """
    original = get_link(session, original_code, scope, domain=original_domain, settings=settings)
    try:
        if not data.get("experiment") or not data.get("variant"):
            raise ValidationError("a variant needs an experiment and a variant name", "experiment"
                                  if not data.get("experiment") else "variant")
        if original.experiment is None:
            if str(data["variant"]).strip().upper() == "A":
                raise ValidationError("variant A is the original link's: give the new link another letter",
                                      "variant")
            original.experiment = _slug(data["experiment"], "experiment")
            original.variant = "A"
            original.fingerprint = fingerprint(original)
        link = _new_link(session, settings, data, force, scope)
    except Exception:
        session.rollback()
        raise
    record_links(session, [link])  # webhooks: link.created deliveries, in this transaction
    session.commit()
    return link


def get_link(session: Session, code_or_id: str | int, scope: Scope = None, *, domain: str | None = None,
             settings: Settings | None = None) -> Link:
    """Find a link by its code (or id) on a short-link domain.

    With ``domain`` (a host; ``settings`` then needed to know the default domain's), that domain's link.
    Without, the default domain's link with the code if there is one, else the only link with that code
    on any domain; a code on several other domains is ambiguous. A caller limited to campaigns
    (``scope``) only sees the links of those campaigns here: an ambiguity among links it cannot see is
    never reported to it.

    Raises
    ------
    NotFound
        No such link (on that domain).
    ValidationError
        ``domain`` is not a short-link domain (names ``domain``).
    Conflict
        No ``domain`` given and the code is on several domains, none the default: ``error.hosts`` lists them.
    Forbidden
        The link is outside ``scope``.
    """
    code = normalise_code(str(code_or_id))
    if domain not in (None, ""):
        if settings is None:
            raise TypeError("get_link needs the settings to read a domain")
        on = resolve_domain(session, settings, domain)
        link = session.scalar(sa.select(Link).where(Link.code == code, _on_domain(on)))
        if link is None:
            raise NotFound(f"link {code_or_id} does not exist on {domain}", "code")
        _check_scope(scope, link.campaign_id, f"link {code_or_id}")
        return link
    found = list(session.scalars(sa.select(Link).where(Link.code == code).order_by(Link.id)))
    visible = [lk for lk in found if scope is None or lk.campaign_id in scope]
    if found and not visible:
        _check_scope(scope, found[0].campaign_id, f"link {code_or_id}")
    if len(visible) > 1:
        default = [lk for lk in visible if lk.domain_id is None]
        if not default:
            hosts = sorted(lk.domain.host for lk in visible if lk.domain is not None)
            raise Conflict(f"the code {code} is on several short-link domains ({', '.join(hosts)}): say which "
                           "with domain", "domain", hosts=hosts)
        return default[0]
    link = visible[0] if visible else None
    if link is None and row_id(str(code_or_id)) is not None:
        link = session.get(Link, row_id(str(code_or_id)))
    if link is None:
        raise NotFound(f"link {code_or_id} does not exist", "code")
    _check_scope(scope, link.campaign_id, f"link {code_or_id}")
    return link


def update_link(session: Session, settings: Settings, code: str, data: Mapping[str, Any],
                domain: str | None = None) -> Link:
    """Change a link (found as :func:`get_link` does, on ``domain``); a new destination is appended to its history.

    The code never changes, nor the domain (``domain`` in ``data`` naming another one is refused, naming it).
    """
    link = get_link(session, code, domain=domain, settings=settings)
    if "slug" in data:
        raise ValidationError("a link's short code cannot change (it may be printed)", "slug")
    before = link.destination
    try:
        _apply_link(session, settings, link, data, creating=False)
    except Exception:
        session.rollback()
        raise
    if link.destination != before:
        link.history.append(LinkDestinationChange(destination=link.destination, changed_at=utcnow()))
    session.commit()
    return link


def list_links(session: Session, *, campaign: str | int | None = None, kind: str | None = None,
               utm_source: str | None = None, utm_medium: str | None = None, q: str | None = None,
               page: int = 1, per_page: int = 50, scope: Scope = None,
               experiment: str | None = None) -> tuple[list[Link], int]:
    """Return one page of links (newest first) matching the filters, and the total count."""
    stmt = sa.select(Link)
    if experiment:
        stmt = stmt.where(Link.experiment == normalise_tag(experiment))
    if scope is not None:
        stmt = stmt.where(Link.campaign_id.in_(scope))
    if campaign not in (None, ""):
        stmt = stmt.where(Link.campaign_id == get_campaign(session, campaign, scope).id)  # type: ignore[arg-type]
    if kind:
        stmt = stmt.where(Link.kind == normalise_tag(kind))
    if utm_source:
        stmt = stmt.where(Link.utm_source == normalise_tag(utm_source))
    if utm_medium:
        stmt = stmt.where(Link.utm_medium == normalise_tag(utm_medium))
    if q:
        pattern = f"%{q.strip()}%"
        stmt = stmt.where(sa.or_(Link.label.ilike(pattern), Link.destination.ilike(pattern), Link.code == q))
    total = session.scalar(sa.select(sa.func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(stmt.order_by(Link.id.desc()).limit(per_page).offset((page - 1) * per_page))
    return list(rows), total


# ---- bulk CSV -----------------------------------------------------------------------------------

@dataclass
class BulkResult:
    created: list[Link] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    atomic: bool = True

    @property
    def committed(self) -> bool:
        return not (self.atomic and self.rejected)


def parse_csv(text: str) -> Iterable[tuple[int, dict[str, str]]]:
    """Yield (line number, row) for each CSV record; the header is line 1 (quoted newlines counted)."""
    records = csv_records(text)
    first = next(records, None)
    if first is None:
        raise ValidationError("the CSV is empty: it needs a header row", "file")
    names = [n.strip().lower() for n in first[1]]
    unknown = sorted(set(names) - set(LINK_FIELDS) - {"force"})
    if unknown:
        raise ValidationError(f"unknown CSV column(s): {', '.join(unknown)}; allowed: {', '.join(LINK_FIELDS)}",
                              "file")
    if "destination" not in names:
        raise ValidationError("the CSV header must have a destination column", "file")
    if len(set(names)) != len(names):
        raise ValidationError("the CSV header names a column twice", "file")
    for line, values in records:
        if len(values) > len(names):
            yield line, {"__error__": f"{len(values)} values but {len(names)} header columns"}
        else:
            yield line, {k: v.strip() for k, v in zip(names, values, strict=False) if v.strip()}


def bulk_create_links(session: Session, settings: Settings, text: str, *, atomic: bool = True,
                      force: bool = False) -> BulkResult:
    """Create links from CSV text. ``atomic``: all or nothing; otherwise good rows are kept.

    Each row runs in a savepoint, so a bad row never leaves half its data behind.
    """
    result = BulkResult(atomic=atomic)
    rows = list(parse_csv(text))
    if not rows:
        raise ValidationError("the CSV has a header but no rows", "file")
    if len(rows) > MAX_BULK_ROWS:
        raise ValidationError(f"at most {MAX_BULK_ROWS} links per file: split it", "file")
    begin_write(session)
    for line, row in rows:
        if "__error__" in row:
            result.rejected.append({"line": line, "field": None, "message": row["__error__"]})
            continue
        nul = nul_field(row)
        if nul is not None:  # PostgreSQL text cannot hold NUL
            result.rejected.append({"line": line, "field": nul, "message": f"{nul} contains a NUL character"})
            continue
        savepoint = session.begin_nested()
        try:
            link = _new_link(session, settings, row, force)
        except (ValidationError, Conflict) as exc:
            savepoint.rollback()
            rejection = {"line": line, "field": exc.field, "message": exc.message}
            rejection.update(exc.extra)
            result.rejected.append(rejection)
            continue
        savepoint.commit()
        result.created.append(link)
    if result.committed:
        record_links(session, result.created)  # webhooks: link.created deliveries, in this transaction
        session.commit()
    else:
        session.rollback()
        result.created = []
    return result
