"""Helpers of the geolocation tests: MaxMind DB files written with mmdb-writer (the real format)."""
from __future__ import annotations

from pathlib import Path

from mmdb_writer import MMDBWriter
from netaddr import IPSet

# Public addresses (the lookup leaves private and documentation ranges unknown before it reads a table).
OSLO_V4 = "81.0.4.20"
BERLIN_V6 = "2a01:4f8:10::5"
STOCKHOLM_V4 = "90.224.8.1"


def city(country: str, name: str) -> dict:
    return {"country": {"iso_code": country, "names": {"en": country}},
            "city": {"names": {"en": name, "de": name + "-de"}}}


def write_mmdb(path: Path, database_type: str, networks: dict[str, dict]) -> Path:
    writer = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type=database_type,
                        languages=["en"], description={"en": "test data"})
    for network, record in networks.items():
        writer.insert_network(IPSet([network]), record)
    writer.to_db_file(str(path))
    return path
