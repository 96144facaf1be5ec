"""Request and response schemas of the campaigns and links API (they also make the OpenAPI document)."""
from __future__ import annotations

from apiflask import Schema
from apiflask.fields import AwareDateTime, Boolean, Date, Decimal, Dict, Integer, List, Nested, Raw, String
from apiflask.validators import Length, OneOf, Range

from tracker.links.models import LINK_KINDS
from tracker.links.service import MAX_EXTRA_PARAMS
from tracker.redirects.rules import DEVICES, MAX_LIST, MAX_QUERY, MAX_RULES


class CampaignIn(Schema):
    name = String(required=True, validate=Length(1, 200))
    slug = String(validate=Length(2, 63))
    description = String(validate=Length(0, 5000))
    start_date = Date(allow_none=True)
    end_date = Date(allow_none=True)
    fallback_url = String(allow_none=True, validate=Length(0, 2048),
                          metadata={"description": "Where expired or disabled links of the campaign go."})
    logo = Integer(allow_none=True, validate=Range(1, 2**31 - 1), metadata={
        "description": "Asset id (POST /api/v1/assets) of the default logo of the campaign's QR codes; null: none"})


class CampaignPatch(CampaignIn):
    name = String(validate=Length(1, 200))


class CostIn(Schema):
    date = Date(required=True)
    amount = Decimal(required=True, as_string=True, places=2)
    currency = String(validate=Length(3, 3), metadata={"description": "ISO 4217; default: reporting currency"})
    channel = String(allow_none=True, validate=Length(0, 40))


class CostOut(Schema):
    id = Integer()
    date = Date()
    amount = String()
    currency = String()
    channel = String(allow_none=True)


class CampaignCostOut(CostOut):
    """CostOut nested in a campaign (a separate class keeps the OpenAPI components distinct)."""


class CampaignOut(Schema):
    id = Integer()
    name = String()
    slug = String()
    description = String()
    start_date = Date(allow_none=True)
    end_date = Date(allow_none=True)
    fallback_url = String(allow_none=True)
    logo = Integer(allow_none=True, metadata={"description": "Asset id of the default logo of its QR codes"})
    created_at = AwareDateTime()
    costs = List(Nested(CampaignCostOut))
    link_count = Integer()


class CampaignList(Schema):
    items = List(Nested(CampaignOut))


_TAG = {"validate": Length(0, 200), "allow_none": True}


# A/B tests: links with the same experiment are its arms, named by their variant (both or neither).
_EXPERIMENT = {"allow_none": True, "validate": Length(0, 100),
               "metadata": {"description": "The A/B test this link is an arm of: a slug like a campaign's "
                                           "(lower case a-z, 0-9, '-'); needs `variant`"}}
_VARIANT = {"allow_none": True, "validate": Length(0, 40),
            "metadata": {"description": "The arm's name, e.g. A or B (letters, digits, '-', '_', '.'); needs "
                                        "`experiment`"}}
_LOGO = {"allow_none": True, "validate": Range(1, 2**31 - 1),
         "metadata": {"description": "Asset id (POST /api/v1/assets) of the logo in the link's QR codes; null: the "
                                     "campaign's logo"}}
_CAMPAIGN_REF = {"allow_none": True, "validate": Length(0, 100), "metadata": {"description": "Campaign id or slug"}}
# At most MAX_EXTRA_PARAMS parameters: names 1-100, values 0-500 characters (tracker.links.service).
_EXTRA_PARAMS = {"keys": String(validate=Length(1, 100)), "values": String(validate=Length(0, 500)),
                 "allow_none": True, "validate": Length(max=MAX_EXTRA_PARAMS)}


# Short-link domains (tracker/domains): a host; empty or the host of public_base_url is the default domain.
_DOMAIN = {"allow_none": True, "validate": Length(0, 253),
           "metadata": {"description": "The short-link domain's host (GET /api/v1/domains); default: the host of "
                                       "public_base_url. Fixed once the link exists (another one is refused)."}}


# Redirect rules (tracker/redirects/rules.py). The service validates them, so that every error names its path
# (rules[2].conditions.device); the schema below only documents their shape.
_STRINGS = {"type": "array", "items": {"type": "string"}, "maxItems": MAX_LIST}
_RULE = {
    "type": "object", "required": ["conditions", "destination"], "additionalProperties": False,
    "properties": {
        "conditions": {
            "type": "object", "minProperties": 1, "additionalProperties": False,
            "description": "All must hold: device (any of), language (the primary tag of the browser's most "
                           "preferred language is one of), country (ISO 3166-1 alpha-2, one of), query (every "
                           "param of the short link's query string has its value; null: any value)",
            "properties": {
                "device": {"oneOf": [{"type": "string", "enum": list(DEVICES)},
                                     {"type": "array", "items": {"type": "string", "enum": list(DEVICES)}}]},
                "language": {**_STRINGS, "example": ["nb", "no", "nn"]},
                "country": {**_STRINGS, "example": ["NO", "SE"]},
                "query": {"type": "object", "maxProperties": MAX_QUERY,
                          "additionalProperties": {"type": ["string", "null"]}},
            }},
        "destination": {"type": "string", "description": "Absolute http(s) URL, checked like the link's; gets "
                                                         "the link's UTM tags, extra parameters and tid"},
    },
}


def _rules_field() -> List:
    return List(Raw(metadata=_RULE), allow_none=True, metadata={
        "maxItems": MAX_RULES, "description": f"Redirect rules, at most {MAX_RULES}: the first whose conditions all "
                                              "hold sends the visitor to its destination, else the link's own. "
                                              "[] or null: none. Staff may not set them."})


class LinkIn(Schema):
    destination = String(required=True, validate=Length(1, 2048))
    campaign = String(**_CAMPAIGN_REF)
    utm_source = String(required=True, validate=Length(1, 200))
    utm_medium = String(required=True, validate=Length(1, 200),
                        metadata={"description": "One of the allowed mediums in config/channels.toml"})
    utm_campaign = String(**_TAG, metadata={"description": "Defaults to the campaign's slug"})
    utm_term = String(**_TAG)
    utm_content = String(**_TAG)
    extra_params = Dict(**_EXTRA_PARAMS)
    kind = String(validate=OneOf(LINK_KINDS))
    label = String(validate=Length(0, 200), allow_none=True)
    slug = String(allow_none=True, validate=Length(0, 63), metadata={"description": "Custom short code"})
    expires_at = AwareDateTime(allow_none=True)
    experiment = String(**_EXPERIMENT)
    variant = String(**_VARIANT)
    logo = Integer(**_LOGO)
    domain = String(**_DOMAIN)
    rules = _rules_field()


class LinkPatch(Schema):
    destination = String(validate=Length(1, 2048))
    campaign = String(**_CAMPAIGN_REF)
    utm_source = String(validate=Length(1, 200))
    utm_medium = String(validate=Length(1, 200))
    utm_campaign = String(**_TAG)
    utm_term = String(**_TAG)
    utm_content = String(**_TAG)
    extra_params = Dict(**_EXTRA_PARAMS)
    kind = String(validate=OneOf(LINK_KINDS))
    label = String(validate=Length(0, 200), allow_none=True)
    expires_at = AwareDateTime(allow_none=True)
    disabled = Boolean()
    experiment = String(**_EXPERIMENT)
    variant = String(**_VARIANT)
    logo = Integer(**_LOGO)
    domain = String(**_DOMAIN)
    rules = _rules_field()


class ForceQuery(Schema):
    force = Boolean(load_default=False)


class DomainQuery(Schema):
    domain = String(validate=Length(0, 253), metadata={
        "description": "The link's short-link domain (its host), when the code is on more than one; default: the "
                       "default domain's link, else the only link with the code"})


class BulkQuery(Schema):
    atomic = Boolean(load_default=True)
    force = Boolean(load_default=False)


class LinkFilter(Schema):
    campaign = String(validate=Length(0, 100))
    kind = String(validate=Length(0, 40))
    utm_source = String(validate=Length(0, 200))
    utm_medium = String(validate=Length(0, 200))
    q = String(validate=Length(0, 200))
    experiment = String(validate=Length(0, 100), metadata={"description": "Only the arms of this experiment"})
    page = Integer(load_default=1, validate=Range(1, 100_000))
    per_page = Integer(load_default=50, validate=Range(1, 500))


class CountryStats(Schema):
    country = String(allow_none=True, metadata={"description": "ISO 3166-1 alpha-2 code; null: unknown"})
    clicks = Integer()
    scans = Integer()
    bots = Integer()


class RuleStats(Schema):
    rule = Integer(allow_none=True, metadata={"description": "The rule's index in `rules`; null: the link's own "
                                                             "destination"})
    destination = String()
    clicks = Integer(metadata={"description": "Human clicks and scans it sent since the rules last changed "
                                              "(from that day on, report time zone)"})


class Stats(Schema):
    clicks = Integer()
    unique_clicks = Integer()
    scans = Integer()
    unique_scans = Integer()
    bots = Integer()
    countries = List(Nested(CountryStats), metadata={
        "description": "Clicks, scans and bot hits per country since the link was made, most first, unknown last "
                       "(tracker/geo)"})
    rules = List(Nested(RuleStats), metadata={
        "description": "Per redirect rule, then the default (rule null): human clicks and scans since the rules "
                       "last changed; [] when the link has no rules"})


class ConditionsOut(Schema):
    device = List(String())
    language = List(String())
    country = List(String())
    query = Dict(keys=String(), values=String(allow_none=True))


class RuleOut(Schema):
    conditions = Nested(ConditionsOut)
    destination = String()


class HistoryOut(Schema):
    destination = String()
    changed_at = AwareDateTime()


class LinkOut(Schema):
    id = Integer()
    code = String()
    domain = String(metadata={"description": "The short-link domain's host (tracker/domains)"})
    default_domain = Boolean(metadata={"description": "true: the default domain (the host of public_base_url)"})
    short_url = String()
    qr_url = String()
    tracked_url = String()
    destination = String()
    campaign = String(allow_none=True, metadata={"description": "Campaign slug"})
    campaign_id = Integer(allow_none=True)
    utm_source = String()
    utm_medium = String()
    utm_campaign = String()
    utm_term = String(allow_none=True)
    utm_content = String(allow_none=True)
    extra_params = Dict()
    kind = String()
    label = String()
    experiment = String(allow_none=True, metadata={"description": "The A/B test this link is an arm of"})
    variant = String(allow_none=True, metadata={"description": "The arm's name in the experiment"})
    logo = Integer(allow_none=True, metadata={"description": "Asset id of the logo in its QR codes (null: the "
                                                             "campaign's, if any)"})
    expires_at = AwareDateTime(allow_none=True)
    disabled = Boolean()
    channel = String(metadata={"description": "Channel derived from the taxonomy in force"})
    created_at = AwareDateTime()
    rules = List(Nested(RuleOut), metadata={"description": "Redirect rules as stored (the first that holds wins)"})
    rules_changed_at = AwareDateTime(allow_none=True, metadata={"description": "When the rules last changed"})
    stats = Nested(Stats)
    history = List(Nested(HistoryOut))


class LinkPage(Schema):
    items = List(Nested(LinkOut))
    total = Integer()
    page = Integer()
    per_page = Integer()


class Rejection(Schema):
    line = Integer()
    field = String(allow_none=True)
    message = String()
    existing = String()


class BulkOut(Schema):
    atomic = Boolean()
    committed = Boolean()
    created = List(Nested(LinkOut))
    rejected = List(Nested(Rejection))
