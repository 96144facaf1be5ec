"""Request and response schemas of the campaigns and links API (they also make the OpenAPI document)."""
from __future__ import annotations

from apiflask import Schema
from apiflask.fields import AwareDateTime, Boolean, Date, Decimal, Dict, Integer, List, Nested, String
from apiflask.validators import Length, OneOf, Range

from tracker.links.models import LINK_KINDS
from tracker.links.service import MAX_EXTRA_PARAMS


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


class ForceQuery(Schema):
    force = Boolean(load_default=False)


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


class Stats(Schema):
    clicks = Integer()
    unique_clicks = Integer()
    scans = Integer()
    unique_scans = Integer()
    bots = Integer()
    countries = List(Nested(CountryStats), metadata={
        "description": "Clicks, scans and bot hits per country since the link was made, most first, unknown last "
                       "(tracker/geo)"})


class HistoryOut(Schema):
    destination = String()
    changed_at = AwareDateTime()


class LinkOut(Schema):
    id = Integer()
    code = String()
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
