"""Touchpoints beyond clicks: landing visits seen by the site snippet, imported offline contacts."""
