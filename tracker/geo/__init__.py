"""Country (and city) of clicks, scans and landing visits, worked out at capture (docs/guides/marketer.md).

:mod:`tracker.geo.lookup` finds the place of a client address (the bundled country table, or the
``.mmdb`` file of ``geoip_database``); the redirect handler and ``POST /collect`` call it before the
address is hashed, so only the country and city are stored. :mod:`tracker.geo.stats` keeps and reads
``link_country_stats`` (clicks and scans per link, day and country), :mod:`tracker.geo.charts` lays out
the pages' bar chart and :mod:`tracker.geo.funnel` gives the funnel report its ``country`` segment.
"""
from __future__ import annotations

from flask import Flask

from tracker.config import Settings
from tracker.geo.lookup import UNKNOWN, Locator, Place, country_name, normal_country

__all__ = ["UNKNOWN", "Locator", "Place", "country_name", "get_locator", "init_app", "normal_country"]

EXTENSION = "tracker.geo"


def init_app(app: Flask, settings: Settings) -> Locator:
    """Open the source ``geoip_database`` names and keep it on the app (raises ConfigError when it cannot)."""
    locator = Locator.from_settings(settings)
    app.extensions[EXTENSION] = locator
    return locator


def get_locator(app: Flask) -> Locator:
    """The app's locator (see :func:`init_app`)."""
    locator: Locator = app.extensions[EXTENSION]
    return locator
