"""Request and response schemas of the conversions API (they also make the OpenAPI document)."""
from __future__ import annotations

from apiflask import Schema
from apiflask.fields import AwareDateTime, Boolean, Date, Integer, List, Nested, String
from apiflask.validators import Length, OneOf, Range


class AtomicQuery(Schema):
    atomic = Boolean(load_default=True)


class ConversionOut(Schema):
    id = Integer()
    external_id = String()
    type = String()
    ts = AwareDateTime()
    value = String(metadata={"description": "In the reporting currency"})
    currency = String(metadata={"description": "The reporting currency"})
    original_value = String()
    original_currency = String()
    person_id = String()
    tid = String(allow_none=True)
    site_visitor_id = String(allow_none=True)
    has_customer_key = Boolean()
    created_at = AwareDateTime()


class ConversionFilter(Schema):
    type = String(validate=Length(1, 40))
    from_ = Date(data_key="from", metadata={"description": "First day (report time zone), inclusive"})
    to = Date(metadata={"description": "Last day (report time zone), inclusive"})
    person_id = String(validate=Length(1, 22))
    page = Integer(load_default=1, validate=Range(1, 100_000))
    per_page = Integer(load_default=100, validate=Range(1, 1000))


class ConversionPage(Schema):
    items = List(Nested(ConversionOut))
    total = Integer()
    page = Integer()
    per_page = Integer()


class ItemOut(Schema):
    index = Integer()
    status = String(validate=OneOf(("created", "duplicate")))
    conversion = Nested(ConversionOut)
