"""Settings: TOML defaults, environment overrides, clear errors; taxonomy and channel mapping."""
from __future__ import annotations

import pandas as pd
import pytest

from attribution.channels import assign_channels, channel_of
from tracker.config import ConfigError, load_settings, normalise_database_url


def test_environment_overrides_defaults(tmp_path):
    settings = load_settings(environ={
        "TRACKER_PUBLIC_BASE_URL": "https://go.example.com/", "TRACKER_TRUSTED_PROXY_COUNT": "2",
        "TRACKER_COOKIE_SECURE": "true", "TRACKER_REPORT_TIMEZONE": "UTC", "TRACKER_REPORTING_CURRENCY": "eur",
        "TRACKER_TRUSTED_HOSTS": "go.example.com, www.example.com", "TRACKER_INSTANCE_PATH": str(tmp_path),
        "TRACKER_IP_HASH_SECRET": "s1", "TRACKER_SECRET_KEY": "s2",
    })
    assert settings.public_base_url == "https://go.example.com"
    assert settings.trusted_proxy_count == 2 and settings.cookie_secure is True
    assert settings.reporting_currency == "EUR"
    assert settings.trusted_hosts == ("go.example.com", "www.example.com")
    assert settings.ip_hash_secret == "s1"
    assert settings.database_url == f"sqlite:///{tmp_path.resolve()}/tracker.db"


def test_missing_secrets_are_generated_once_into_the_instance_folder(tmp_path):
    first = load_settings(environ={"TRACKER_INSTANCE_PATH": str(tmp_path)})
    second = load_settings(environ={"TRACKER_INSTANCE_PATH": str(tmp_path)})
    assert first.ip_hash_secret and first.ip_hash_secret == second.ip_hash_secret
    assert (tmp_path / "secrets.toml").stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("name, value, message", [
    ("TRACKER_TRUSTED_PROXY_COUNT", "two", "whole number"),
    ("TRACKER_COOKIE_SECURE", "maybe", "true or false"),
    ("TRACKER_REPORT_TIMEZONE", "Mars/Olympus", "IANA"),
])
def test_bad_values_name_the_setting(tmp_path, name, value, message):
    with pytest.raises(ConfigError, match=message):
        load_settings(environ={name: value, "TRACKER_INSTANCE_PATH": str(tmp_path)})


def test_postgres_urls_use_psycopg():
    assert normalise_database_url("postgresql://u@h/db", ".") == "postgresql+psycopg://u@h/db"
    assert normalise_database_url("postgres://u@h/db", ".") == "postgresql+psycopg://u@h/db"
    assert normalise_database_url("postgresql+psycopg://u@h/db", ".") == "postgresql+psycopg://u@h/db"


def test_taxonomy_maps_channels(tmp_path):
    tax = load_settings(environ={"TRACKER_INSTANCE_PATH": str(tmp_path)}).taxonomy.as_dict()
    cases = {("google", "cpc"): "Paid search", ("linkedin", "paid-social"): "Paid social",
             ("facebook", "display"): "Paid social", ("linkedin", "social"): "Organic social",
             ("newsletter", "email"): "Email", ("oslo-expo", "event"): "Events", ("poster", "print"): "Print",
             ("techtalk", "podcast"): "Podcast", ("vg", "pr"): "PR", ("acme", "partner"): "Partner",
             ("blog", "referral"): "Referral", ("", ""): "Direct", (None, None): "Direct",
             ("someone", "unheard-of"): "Other", ("Google", " CPC "): "Paid search"}
    frame = pd.DataFrame([{"utm_source": s, "utm_medium": m} for s, m in cases], index=range(10, 10 + len(cases)))
    before = frame.copy()
    result = assign_channels(frame, tax)
    assert result.tolist() == list(cases.values())
    assert list(result.index) == list(frame.index)
    pd.testing.assert_frame_equal(frame, before)  # the input is not modified
    assert channel_of("google", "cpc", tax) == "Paid search"


def test_taxonomy_change_remaps_history(tmp_path):
    """Channels are derived at report time from raw values: editing the rules re-maps old rows."""
    frame = pd.DataFrame({"utm_source": ["techtalk"], "utm_medium": ["podcast"]})
    old = {"rules": [{"channel": "Podcast", "mediums": ["podcast"]}]}
    new = {"rules": [{"channel": "PR", "mediums": ["podcast"], "sources": ["techtalk"]}]}
    assert assign_channels(frame, old).tolist() == ["Podcast"]
    assert assign_channels(frame, new).tolist() == ["PR"]


def test_bad_taxonomy_is_refused(tmp_path):
    config = tmp_path / "config"
    config.mkdir()
    (config / "settings.toml").write_text('channels_file = "channels.toml"\n')
    (config / "channels.toml").write_text('channels = ["Direct", "Other"]\n[[rules]]\nchannel = "Nope"\n')
    with pytest.raises(ConfigError, match="Nope"):
        load_settings(environ={"TRACKER_INSTANCE_PATH": str(tmp_path)}, config_dir=config)
