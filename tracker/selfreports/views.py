"""HTTP routes of tracker.selfreports (filled in by the feature work)."""
from __future__ import annotations

from apiflask import APIBlueprint

bp = APIBlueprint("selfreports", __name__)
