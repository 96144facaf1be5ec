"""Settings: defaults from ``config/settings.toml``, overridden by ``TRACKER_*`` environment variables.

Loading is separate from use: :func:`load_settings` returns a frozen :class:`Settings` that the
application factory stores on the app; nothing is read at import time.
"""
from __future__ import annotations

import os
import secrets
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tracker.errors import ValidationError
from tracker.links.urls import validate_url

CONFIG_DIR = Path(__file__).resolve().parent.parent / "config"
ENV_PREFIX = "TRACKER_"


class ConfigError(ValueError):
    """A setting has a value the service cannot use."""


@dataclass(frozen=True)
class Taxonomy:
    """Channel taxonomy: ordered (channel, mediums, sources) rules plus the governed medium vocabulary."""

    channels: tuple[str, ...]
    allowed_mediums: frozenset[str]
    rules: tuple[tuple[str, frozenset[str] | None, frozenset[str] | None], ...]
    referrers: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Taxonomy:
        channels = tuple(data.get("channels", ()))
        rules = []
        for i, rule in enumerate(data.get("rules", ()), start=1):
            channel = rule.get("channel")
            if channel not in channels:
                raise ConfigError(f"taxonomy rule {i}: channel {channel!r} is not in the channels list")
            mediums = rule.get("mediums")
            sources = rule.get("sources")
            rules.append((
                channel,
                frozenset(m.lower() for m in mediums) if mediums else None,
                frozenset(s.lower() for s in sources) if sources else None,
            ))
        for needed in ("Direct", "Other"):
            if needed not in channels:
                raise ConfigError(f"taxonomy: the channels list must contain {needed!r}")
        return cls(
            channels=channels,
            allowed_mediums=frozenset(m.lower() for m in data.get("allowed_mediums", ())),
            rules=tuple(rules),
            referrers=tuple((k.lower(), v) for k, v in data.get("referrers", {}).items()),
        )

    def as_dict(self) -> dict[str, Any]:
        """Return the taxonomy as plain data (for reports and the pure ``attribution`` package)."""
        return {
            "channels": list(self.channels),
            "allowed_mediums": sorted(self.allowed_mediums),
            "rules": [
                {"channel": c, "mediums": sorted(m) if m else None, "sources": sorted(s) if s else None}
                for c, m, s in self.rules
            ],
        }


@dataclass(frozen=True)
class Settings:
    """Every setting of the service; see docs/operations/configuration.md."""

    database_url: str = "sqlite:///tracker.db"
    public_base_url: str = "http://127.0.0.1:5000"
    not_found_url: str = ""  # where unknown codes on the default domain go (302); "": the 404 page (tracker/domains)
    trusted_hosts: tuple[str, ...] = ()
    trusted_proxy_count: int = 0
    secret_key: str = ""
    ip_hash_secret: str = ""
    cookie_name: str = "trk_vid"
    cookie_max_age_days: int = 395
    cookie_secure: bool = False
    cookie_domain: str = ""
    cookie_samesite: str = "Lax"
    report_timezone: str = "Europe/Oslo"
    reporting_currency: str = "NOK"
    shapley_max_players: int = 16  # the Shapley model refuses journeys with more distinct values (2^n coalitions)
    experiment_min_exposures: int = 100  # per arm, before an experiment gets a verdict
    experiment_min_conversions: int = 10  # over all arms, before an experiment gets a verdict
    cohort_conversion_type: str = "purchase"  # the conversion type a cohort report counts as a purchase
    churn_days: int = 90  # a customer with no purchase for this many days has churned
    spool_dir: str = "spool"
    spool_fsync: bool = False
    link_cache_seconds: float = 5.0
    # Capture under faults (tracker/redirects/cache.py, tracker/conversions/spool.py, docs/operations/durability.md).
    link_cache_max_entries: int = 50_000  # codes per worker, least recently used evicted first
    link_cache_stale_seconds: float = 86_400.0  # serve a cached link this long past its last read if the db fails
    lookup_timeout_seconds: float = 1.0  # longest wait of a redirect for a link lookup
    unavailable_retry_after: int = 30  # Retry-After (s) of the 503 for links never seen while the db is down
    offline_key_seconds: float = 3_600.0  # a key verified this recently may queue conversions while the db is down
    db_wait_seconds: float = 5.0  # longest wait for a lock or connection before the db counts as unavailable
    max_upload_bytes: int = 5_000_000
    destination_domains: tuple[str, ...] = ()
    channels_file: str = "channels.toml"
    # Intake (self-reports, landing-site snippet, conversions).
    landing_origins: tuple[str, ...] = ()  # origins allowed to embed /ask and to call /collect
    funnel: tuple[str, ...] = ("lead", "opportunity", "purchase")  # conversion types, in order
    currency_rates: tuple[str, ...] = ()  # "EUR=11.60": one EUR is 11.60 of the reporting currency
    answers_file: str = "answers.toml"
    collect_rate_limit: str = "120 per minute"
    login_rate_limit: str = "10 per minute"  # sign-in attempts per IP hash (tracker/ratelimit.py)
    rate_limit_storage: str = "memory://"  # flask-limiter storage URI: memory:// is per worker; redis://... shared
    # Privacy (tracker/privacy, docs/guides/site-owner.md#privacy).
    ip_hash_rotation: str = "daily"  # "daily": the IP hash key changes at 00:00 UTC; "never": one key
    cookieless: bool = False  # no visitor cookie on redirects, nothing stored in the browser by /t.js
    click_retention_days: int = 0  # raw clicks and visits older than this are purged (0: keep forever)
    geoip_database: str = ""  # "": bundled country table; a .mmdb path (country and city); "off" (tracker/geo)
    # Webhooks (tracker/webhooks, docs/guides/webhooks.md): true allows http targets and loopback/private addresses.
    webhook_allow_private_addresses: bool = False
    instance_path: str = "instance"
    taxonomy: Taxonomy = field(default=None)  # type: ignore[assignment]
    # The answer book of answers_file (tracker.selfreports.answers.AnswerBook), loaded by the self-reports
    # package, not here: tracker.selfreports.answers.with_answers, which the application factory calls.
    answers: Any = None

    @property
    def spool_path(self) -> Path:
        return Path(self.instance_path) / self.spool_dir

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.report_timezone)

    @property
    def rates(self) -> dict[str, Decimal]:
        """Currency -> value of one unit in the reporting currency (the reporting currency is 1)."""
        return {**parse_rates(self.currency_rates), self.reporting_currency: Decimal(1)}


def parse_rates(entries: tuple[str, ...]) -> dict[str, Decimal]:
    """Parse ``("EUR=11.60", ...)``; raise ConfigError naming a bad entry."""
    rates: dict[str, Decimal] = {}
    for entry in entries:
        code, _, raw = entry.partition("=")
        code = code.strip().upper()
        try:
            rate = Decimal(raw.strip())
        except InvalidOperation:
            rate = Decimal(0)
        if len(code) != 3 or not code.isalpha() or not rate.is_finite() or rate <= 0:
            raise ConfigError(f"currency_rates entry {entry!r} must look like EUR=11.60 (a positive rate)")
        rates[code] = rate
    return rates


def _coerce(name: str, raw: Any, default: Any) -> Any:
    """Convert an environment string (or TOML value) to the type of the setting's default."""
    if isinstance(default, bool):
        if isinstance(raw, bool):
            return raw
        value = str(raw).strip().lower()
        if value in ("1", "true", "yes", "on"):
            return True
        if value in ("0", "false", "no", "off", ""):
            return False
        raise ConfigError(f"{ENV_PREFIX}{name.upper()} must be true or false, got {raw!r}")
    if isinstance(default, int):
        try:
            return int(raw)
        except (TypeError, ValueError):
            raise ConfigError(f"{ENV_PREFIX}{name.upper()} must be a whole number, got {raw!r}") from None
    if isinstance(default, float):
        try:
            return float(raw)
        except (TypeError, ValueError):
            raise ConfigError(f"{ENV_PREFIX}{name.upper()} must be a number, got {raw!r}") from None
    if isinstance(default, tuple):
        if isinstance(raw, str):
            return tuple(part.strip() for part in raw.split(",") if part.strip())
        return tuple(raw)
    return str(raw)


def normalise_database_url(url: str, instance_path: str) -> str:
    """Pick the psycopg 3 driver for bare PostgreSQL URLs and anchor relative SQLite paths."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////") and url != "sqlite:///:memory:":
        path = url[len("sqlite:///"):]
        if not os.path.isabs(path):
            return "sqlite:///" + str(Path(instance_path, path).resolve())
    return url


def _instance_secrets(instance_path: str) -> dict[str, str]:
    """Read, or create once, random secrets kept in the instance folder."""
    path = Path(instance_path) / "secrets.toml"
    if path.exists():
        with path.open("rb") as fh:
            return tomllib.load(fh)
    values = {"secret_key": secrets.token_urlsafe(32), "ip_hash_secret": secrets.token_urlsafe(32)}
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write("".join(f'{k} = "{v}"\n' for k, v in values.items()))
    return values


def _check_geoip_database(value: str, instance_path: str) -> None:
    """A ``geoip_database`` file must exist and be readable (tracker/geo opens it and checks its format)."""
    value = value.strip()
    if not value or value == "off":
        return
    path = Path(value).expanduser()
    path = path if path.is_absolute() else Path(instance_path) / path
    if not path.is_file():
        raise ConfigError(f"geoip_database {str(path)!r} does not exist: give the path of a GeoLite2 or DB-IP "
                          "Country or City .mmdb file, or leave it empty for the bundled country table")
    try:
        with path.open("rb") as fh:
            fh.read(1)
    except OSError as exc:
        raise ConfigError(f"geoip_database {str(path)!r} cannot be read: {exc.strerror}") from None


def _check_not_found_url(value: str, destination_domains: tuple[str, ...]) -> str:
    """``not_found_url``: empty, or a URL a link could go to (stored in the same canonical form)."""
    if not value.strip():
        return ""
    try:
        return validate_url(value, "not_found_url", destination_domains)
    except ValidationError as exc:
        raise ConfigError(f"not_found_url {value!r}: {exc.message} (or leave it empty for the 404 page)") from None


def load_settings(
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    config_dir: Path = CONFIG_DIR,
) -> Settings:
    """Build settings from the TOML defaults, then ``TRACKER_*`` variables, then ``overrides``.

    Raises
    ------
    ConfigError
        When a file is missing or a value has the wrong type; the message names the setting.
    """
    environ = os.environ if environ is None else environ
    with (config_dir / "settings.toml").open("rb") as fh:
        values: dict[str, Any] = tomllib.load(fh)
    defaults = {f.name: f.default for f in fields(Settings) if f.name not in ("taxonomy", "answers")}
    unknown = set(values) - set(defaults)
    if unknown:
        raise ConfigError(f"settings.toml: unknown setting(s) {sorted(unknown)}")
    values.setdefault("instance_path", str(Path.cwd() / "instance"))
    for name in defaults:
        env_name = ENV_PREFIX + name.upper()
        if env_name in environ:
            values[name] = environ[env_name]
    values.update(overrides or {})
    values = {name: _coerce(name, values[name], defaults[name]) for name in defaults if name in values}

    instance_path = str(Path(values.get("instance_path", "instance")).resolve())
    values["instance_path"] = instance_path
    if not values.get("secret_key") or not values.get("ip_hash_secret"):
        generated = _instance_secrets(instance_path)
        values["secret_key"] = values.get("secret_key") or generated["secret_key"]
        values["ip_hash_secret"] = values.get("ip_hash_secret") or generated["ip_hash_secret"]
    values["database_url"] = normalise_database_url(values.get("database_url", defaults["database_url"]),
                                                    instance_path)
    values["public_base_url"] = values.get("public_base_url", defaults["public_base_url"]).rstrip("/")
    values["not_found_url"] = _check_not_found_url(values.get("not_found_url", ""),
                                                   values.get("destination_domains", ()))
    try:
        ZoneInfo(values.get("report_timezone", defaults["report_timezone"]))
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"report_timezone {values.get('report_timezone')!r} is not an IANA time zone") from None
    values["reporting_currency"] = values.get("reporting_currency", "NOK").upper()
    parse_rates(values.get("currency_rates", ()))
    values["landing_origins"] = tuple(o.rstrip("/") for o in values.get("landing_origins", ()))
    if not values.get("funnel", defaults["funnel"]):
        raise ConfigError("funnel must list at least one conversion type")
    for name in ("link_cache_max_entries", "lookup_timeout_seconds", "db_wait_seconds"):
        if values.get(name, defaults[name]) <= 0:
            raise ConfigError(f"{name} must be positive")
    if values.get("ip_hash_rotation", defaults["ip_hash_rotation"]) not in ("daily", "never"):
        raise ConfigError(f"ip_hash_rotation must be daily or never, got {values['ip_hash_rotation']!r}")
    if not 1 <= values.get("shapley_max_players", defaults["shapley_max_players"]) <= 24:
        raise ConfigError("shapley_max_players must be from 1 to 24 (each player doubles the coalitions)")
    for name in ("experiment_min_exposures", "experiment_min_conversions"):
        if values.get(name, defaults[name]) < 1:
            raise ConfigError(f"{name} must be at least 1")
    if values.get("cohort_conversion_type", defaults["cohort_conversion_type"]) not in values.get(
            "funnel", defaults["funnel"]):
        raise ConfigError("cohort_conversion_type must be one of the funnel's conversion types")
    if not 1 <= values.get("churn_days", defaults["churn_days"]) <= 3660:
        raise ConfigError("churn_days must be from 1 to 3660")
    if values.get("click_retention_days", 0) < 0:
        raise ConfigError("click_retention_days must be 0 (keep for ever) or a number of days")
    _check_geoip_database(values.get("geoip_database", ""), instance_path)

    taxonomy_path = config_dir / values.get("channels_file", defaults["channels_file"])
    try:
        with taxonomy_path.open("rb") as fh:
            taxonomy = Taxonomy.from_mapping(tomllib.load(fh))
    except FileNotFoundError:
        raise ConfigError(f"channel taxonomy file {taxonomy_path} does not exist") from None
    return Settings(**values, taxonomy=taxonomy)
