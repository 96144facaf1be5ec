"""Fixtures of the geolocation tests (helpers in geo_support.py)."""
from __future__ import annotations

from pathlib import Path

import pytest
from geo_support import city, write_mmdb


@pytest.fixture
def city_mmdb(tmp_path: Path) -> Path:
    """A GeoLite2-City-shaped file: Oslo (IPv4), Berlin (IPv6), an EU-coded block and a record without country."""
    return write_mmdb(tmp_path / "GeoLite2-City.mmdb", "GeoLite2-City", {
        "81.0.0.0/16": city("NO", "Oslo"),
        "2a01:4f8::/32": city("DE", "Berlin"),
        "90.224.0.0/16": {"country": {"iso_code": "SE"}},  # a country without a city
        "92.0.0.0/16": {"country": {"iso_code": "EU"}},  # not an ISO 3166-1 country
        "93.0.0.0/16": {"registered_country": {"iso_code": "US"}},  # no location: never the registry's guess
    })


@pytest.fixture
def country_mmdb(tmp_path: Path) -> Path:
    return write_mmdb(tmp_path / "dbip-country-lite.mmdb", "DBIP-Country-Lite", {
        "81.0.0.0/16": {"country": {"iso_code": "NO"}, "city": {"names": {"en": "Ignored"}}},
    })
