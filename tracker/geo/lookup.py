"""Where a client address is: ISO 3166-1 alpha-2 country (and city), from a table on this machine.

Two sources, chosen by the setting ``geoip_database`` (docs/operations/configuration.md):

- ``""`` (the default): the country table shipped inside the ``iptocc`` wheel, built from the five
  Regional Internet Registries' delegation files (IPv4 and IPv6). Nothing is downloaded at run time;
  the table is as old as the installed wheel (``tracker geo info`` prints its build date). It names
  the country a block of addresses is *registered* in, which agrees with commercial databases for
  about 95% of IPv4 addresses (the package's own figure); it has no cities.
- a path to a MaxMind-format ``.mmdb`` file (GeoLite2 or DB-IP, Country or City; relative paths are
  relative to the instance folder), read with ``maxminddb``: its ``country`` (where the address is
  used, not its registered country) and, in a City database, the English city name.
- ``"off"``: nothing is located (every click's country is empty).

Never a guess: private, loopback, link-local, shared (CGNAT), documentation and other non-public
addresses, addresses the table lacks, and codes that are not assigned ISO 3166-1 countries (the
registries' ``EU`` and ``AP``, MaxMind's legacy ``A1``/``A2``/``O1``) are unknown (``None``).
Lookups are cached per address (:data:`CACHE_SIZE` addresses, least recently used first out), so a
redirect pays a dictionary lookup for an address seen lately.
"""
from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any, NamedTuple

from iso3166 import countries_by_alpha2

from tracker.config import ConfigError, Settings

__all__ = ["CACHE_SIZE", "OFF", "UNKNOWN", "Locator", "Place", "bundled_data_date", "country_name",
           "database_path", "normal_country"]

CACHE_SIZE = 65_536
OFF = "off"
MAX_CITY = 100  # clicks.city / landing_visits.city


class Place(NamedTuple):
    """Country (ISO 3166-1 alpha-2) and city of an address; ``None`` where unknown."""

    country: str | None
    city: str | None


UNKNOWN = Place(None, None)


def normal_country(code: Any) -> str | None:
    """``code`` in upper case when it is an assigned ISO 3166-1 alpha-2 code, else None.

    Examples
    --------
    >>> normal_country("no"), normal_country("EU"), normal_country(None), normal_country("XK")
    ('NO', None, None, 'XK')
    """
    if not isinstance(code, str) or len(code) != 2:
        return None
    code = code.upper()
    return code if code in countries_by_alpha2 else None


def country_name(code: str | None) -> str:
    """The English short name of a country code ("Unknown" for None or an unlisted code)."""
    country = countries_by_alpha2.get(code or "")
    return country.name if country else "Unknown"


def _public(address: str | None) -> str | None:
    """The address in canonical form if it is a public (global) unicast address, else None."""
    if not address or len(address) > 64:
        return None
    try:
        ip = ipaddress.ip_address(address.strip().split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:192.0.2.1, as a dual-stack socket reports IPv4 clients
    if not ip.is_global or ip.is_multicast:
        return None
    return str(ip)


def bundled_data_date() -> str | None:
    """The build date (YYYY-MM-DD) of the installed ``iptocc`` wheel, whose table is built with it.

    Read from the wheel's software bill of materials (``*.cyclonedx.json``, its ``metadata.timestamp``);
    None when the wheel carries none.
    """
    try:
        dist = metadata.distribution("iptocc")
    except metadata.PackageNotFoundError:
        return None
    for file in dist.files or ():
        if file.name.endswith(".cyclonedx.json"):
            try:
                stamp = json.loads(file.read_text() or "{}").get("metadata", {}).get("timestamp", "")
            except (OSError, ValueError):
                return None
            return stamp[:10] or None
    return None


def database_path(settings: Settings) -> Path | None:
    """The ``.mmdb`` file ``geoip_database`` names (relative to the instance folder), or None."""
    value = settings.geoip_database.strip()
    if not value or value == OFF:
        return None
    path = Path(value).expanduser()
    return path if path.is_absolute() else Path(settings.instance_path) / path


class Locator:
    """Look addresses up in one source; call it with an address string, get a :class:`Place`.

    Build it with :meth:`from_settings`. Thread-safe (the cache is ``functools.lru_cache``; the
    readers are read-only).
    """

    def __init__(self, find: Callable[[str], Place] | None, source: str, *, cities: bool = False,
                 data_date: str | None = None, cache_size: int = CACHE_SIZE) -> None:
        self.source = source
        self.cities = cities
        self.data_date = data_date
        self._find = find
        self._cached = lru_cache(maxsize=cache_size)(self._uncached)

    @classmethod
    def from_settings(cls, settings: Settings) -> Locator:
        """The locator ``geoip_database`` asks for.

        Raises
        ------
        ConfigError
            The ``.mmdb`` file cannot be read, is not a MaxMind DB, or holds no countries (an ASN
            database, for example).
        """
        if settings.geoip_database.strip() == OFF:
            return cls(None, "off")
        path = database_path(settings)
        if path is None:
            from iptocc import country_code

            def bundled(address: str) -> Place:
                return Place(normal_country(country_code(address)), None)
            version = metadata.version("iptocc")
            return cls(bundled, f"iptocc {version} (Regional Internet Registry delegations)",
                       data_date=bundled_data_date())
        return cls._mmdb(path)

    @classmethod
    def _mmdb(cls, path: Path) -> Locator:
        import maxminddb
        try:
            reader = maxminddb.open_database(str(path), maxminddb.MODE_AUTO)
        except maxminddb.InvalidDatabaseError as exc:
            raise ConfigError(f"geoip_database {str(path)!r} is not a MaxMind DB (.mmdb) file: {exc}") from None
        except (OSError, ValueError) as exc:
            raise ConfigError(f"geoip_database {str(path)!r} cannot be read as a MaxMind DB (.mmdb) file: "
                              f"{exc}") from None
        kind = str(reader.metadata().database_type)
        if not any(word in kind.lower() for word in ("country", "city", "geoip", "location")):
            reader.close()
            raise ConfigError(f"geoip_database {str(path)!r} is a {kind} database, which has no countries: give a "
                              "GeoLite2 or DB-IP Country or City database")
        cities = "city" in kind.lower()
        built = reader.metadata().build_epoch

        def find(address: str) -> Place:
            try:
                record = reader.get(address)
            except ValueError:  # an IPv6 address in an IPv4-only database
                return UNKNOWN
            if not isinstance(record, dict):
                return UNKNOWN
            country = record.get("country")
            code = normal_country(country.get("iso_code")) if isinstance(country, dict) else None
            city = None
            names = (record.get("city") or {}).get("names") if isinstance(record.get("city"), dict) else None
            if cities and code and isinstance(names, dict) and isinstance(names.get("en"), str):
                city = names["en"].replace("\x00", "")[:MAX_CITY] or None
            return Place(code, city)
        from datetime import UTC, datetime
        date = datetime.fromtimestamp(built, UTC).date().isoformat() if built else None
        return cls(find, f"{kind} ({path.name})", cities=cities, data_date=date)

    def _uncached(self, address: str) -> Place:
        public = _public(address)
        if public is None or self._find is None:
            return UNKNOWN
        return self._find(public)

    def __call__(self, address: str | None) -> Place:
        """The place of ``address`` (:data:`UNKNOWN` for None, a malformed or a non-public address)."""
        if not address or self._find is None:
            return UNKNOWN
        return self._cached(address)

    def describe(self) -> dict[str, Any]:
        """Source, whether it has cities, and the date of its data (for ``tracker geo info``)."""
        return {"source": self.source, "cities": self.cities, "data_date": self.data_date,
                "cached_addresses": self._cached.cache_info().currsize}

