"""The lookup itself: the bundled country table, MaxMind DB files, what is never located, settings."""
from __future__ import annotations

import os
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from geo_support import BERLIN_V6, OSLO_V4, STOCKHOLM_V4, write_mmdb

from tracker.config import ConfigError, load_settings
from tracker.geo.lookup import UNKNOWN, Locator, Place, bundled_data_date, country_name, normal_country


@pytest.fixture
def settings(tmp_path: Path):
    return load_settings({"instance_path": str(tmp_path / "instance"), "secret_key": "s", "ip_hash_secret": "i"},
                         environ={})


# Registry allocations that have not moved in decades (checked against the RIRs' delegation files).
BUNDLED = [
    ("8.8.8.8", "US"),                     # Google, ARIN
    ("193.90.0.1", "NO"),                  # RIPE NCC, Norway
    ("158.36.0.1", "NO"),                  # Uninett
    ("2001:4860:4860::8888", "US"),        # Google's IPv6 resolver
    ("2a02:2121::1", "NO"),                # RIPE NCC IPv6 block, Norway
    ("::ffff:193.90.0.1", "NO"),           # an IPv4 client as a dual-stack socket reports it
]

NEVER = ["127.0.0.1", "10.1.2.3", "172.16.5.4", "192.168.1.10", "100.64.0.1", "169.254.169.254", "::1",
         "fe80::1", "fc00::1", "192.0.2.1", "198.51.100.7", "203.0.113.9", "2001:db8::1", "224.0.0.1", "0.0.0.0",
         "255.255.255.255", "not an address", "", "1.2.3.4.5", "8.8.8.8/32", "x" * 500]


@pytest.mark.parametrize(("address", "country"), BUNDLED)
def test_the_bundled_table_knows_public_addresses(settings, address, country):
    locate = Locator.from_settings(settings)
    assert locate(address) == Place(country, None)  # countries only: the table has no cities


@pytest.mark.parametrize("address", NEVER)
def test_private_loopback_documentation_and_malformed_addresses_are_unknown(settings, address, city_mmdb):
    assert Locator.from_settings(settings)(address) == UNKNOWN
    with_file = Locator.from_settings(replace(settings, geoip_database=str(city_mmdb)))
    assert with_file(address) == UNKNOWN
    assert Locator.from_settings(settings)(None) == UNKNOWN


def test_the_bundled_table_says_how_old_it_is(settings):
    described = Locator.from_settings(settings).describe()
    assert described["source"].startswith("iptocc ") and described["cities"] is False
    built = date.fromisoformat(bundled_data_date())
    assert described["data_date"] == built.isoformat()
    assert date(2026, 1, 1) <= built <= date.today()


def test_a_city_database_gives_country_and_city(settings, city_mmdb):
    locate = Locator.from_settings(replace(settings, geoip_database=str(city_mmdb)))
    assert locate(OSLO_V4) == Place("NO", "Oslo")
    assert locate(BERLIN_V6) == Place("DE", "Berlin")
    assert locate(f"::ffff:{OSLO_V4}") == Place("NO", "Oslo")
    assert locate(STOCKHOLM_V4) == Place("SE", None)
    assert locate("92.0.1.1") == UNKNOWN  # "EU" is no ISO 3166-1 country
    assert locate("93.0.1.1") == UNKNOWN  # only a registered country: never a guess
    assert locate("8.8.8.8") == UNKNOWN  # not in the file: the bundled table is not asked
    described = locate.describe()
    assert described["cities"] is True and described["source"] == "GeoLite2-City (GeoLite2-City.mmdb)"
    assert described["data_date"] == date.today().isoformat()  # the file's build_epoch


def test_a_country_database_stores_no_city(settings, country_mmdb):
    locate = Locator.from_settings(replace(settings, geoip_database=str(country_mmdb)))
    assert locate(OSLO_V4) == Place("NO", None) and locate.describe()["cities"] is False


def test_a_relative_path_is_in_the_instance_folder(settings, tmp_path):
    folder = Path(settings.instance_path)
    folder.mkdir(parents=True, exist_ok=True)
    write_mmdb(folder / "geo.mmdb", "GeoLite2-City", {"81.0.0.0/16": {"country": {"iso_code": "NO"}}})
    loaded = load_settings({"instance_path": str(folder), "geoip_database": "geo.mmdb", "secret_key": "s",
                            "ip_hash_secret": "i"}, environ={})
    assert Locator.from_settings(loaded)(OSLO_V4) == Place("NO", None)


def test_off_locates_nothing(settings):
    locate = Locator.from_settings(replace(settings, geoip_database="off"))
    assert locate("8.8.8.8") == UNKNOWN and locate.describe()["source"] == "off"


def test_a_missing_or_unreadable_file_is_a_config_error(tmp_path):
    base = {"instance_path": str(tmp_path), "secret_key": "s", "ip_hash_secret": "i"}
    with pytest.raises(ConfigError, match="geoip_database .*missing.mmdb' does not exist"):
        load_settings({**base, "geoip_database": str(tmp_path / "missing.mmdb")}, environ={})
    with pytest.raises(ConfigError, match="geoip_database .*does not exist"):
        load_settings(base, environ={"TRACKER_GEOIP_DATABASE": str(tmp_path)})  # a folder
    locked = tmp_path / "locked.mmdb"
    locked.write_bytes(b"x")
    locked.chmod(0)
    try:
        if os.access(locked, os.R_OK):
            pytest.skip("running as a user who reads every file (root): unreadable files cannot be made")
        with pytest.raises(ConfigError, match="cannot be read"):
            load_settings({**base, "geoip_database": str(locked)}, environ={})
    finally:
        locked.chmod(0o600)


def test_a_file_that_is_no_country_database_stops_the_app(make_app, tmp_path):
    junk = tmp_path / "junk.mmdb"
    junk.write_bytes(b"this is not a MaxMind database" * 10)
    with pytest.raises(ConfigError, match="is not a MaxMind DB"):
        make_app(geoip_database=str(junk))
    asn = write_mmdb(tmp_path / "GeoLite2-ASN.mmdb", "GeoLite2-ASN",
                     {"81.0.0.0/16": {"autonomous_system_number": 2119}})
    with pytest.raises(ConfigError, match="GeoLite2-ASN database, which has no countries"):
        make_app(geoip_database=str(asn))


def test_lookups_are_cached_per_address(settings, city_mmdb):
    locate = Locator.from_settings(replace(settings, geoip_database=str(city_mmdb)))
    for _ in range(3):
        locate(OSLO_V4)
        locate(BERLIN_V6)
    assert locate.describe()["cached_addresses"] == 2


def test_country_codes_and_names():
    assert normal_country("no") == "NO" and normal_country("AP") is None and normal_country("NOR") is None
    assert country_name("NO") == "Norway" and country_name(None) == "Unknown"
