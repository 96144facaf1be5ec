"""Geometry of the pages' countries chart: one horizontal bar per country, clicks then scans, as inline SVG."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tracker.pages.charts import nice_step

__all__ = ["CountryBar", "CountryChart", "country_chart"]

TOP = 10  # countries drawn; the table lists them all


@dataclass(frozen=True)
class CountryBar:
    country: str | None  # alpha-2, None for unknown
    label: str           # "Norway (NO)", "Unknown"
    y: float
    height: float
    clicks_x: float
    clicks_width: float
    scans_x: float
    scans_width: float
    total: int
    title: str           # tooltip and accessible name, e.g. "Norway: 3 clicks, 2 scans"


@dataclass(frozen=True)
class CountryChart:
    width: int
    height: int
    left: float
    right: float
    top: float
    bottom: float
    bars: tuple[CountryBar, ...]
    x_ticks: tuple[tuple[float, int], ...]  # (x, value)
    rows: tuple[dict[str, Any], ...]        # every country (tracker.geo.stats.country_rows)
    totals: dict[str, int]

    @property
    def empty(self) -> bool:
        return not self.bars

    @property
    def summary(self) -> str:
        """One sentence for screen readers."""
        if self.empty:
            return "No clicks or scans yet."
        known = [r for r in self.rows if r["country"]]
        lead = f"; most from {known[0]['name']} ({known[0]['total']})" if known else ""
        return (f"{self.totals['clicks']} clicks and {self.totals['scans']} scans from {len(known)} "
                f"{'country' if len(known) == 1 else 'countries'}{lead}.")


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def country_chart(rows: Sequence[Mapping[str, Any]], width: int = 720, row_height: int = 22,
                  label_width: int = 170, ticks: int = 4) -> CountryChart:
    """Lay out one bar per country for rows of :func:`tracker.geo.stats.country_rows` (most first).

    The :data:`TOP` busiest countries are drawn, and unknown when it has visits; the x axis runs from 0
    to ``ticks`` whole steps of 1, 2 or 5 times a power of ten. Countries with bot hits only get no bar.
    """
    rows = tuple(dict(r) for r in rows)
    known = [r for r in rows if r["country"] and r["total"]]
    unknown = [r for r in rows if not r["country"] and r["total"]]
    drawn = known[:TOP] + unknown
    top, bottom_margin = 8.0, 26.0
    left, right = float(label_width), float(width - 48)
    height = int(top + max(1, len(drawn)) * row_height + bottom_margin)
    biggest = max((r["total"] for r in drawn), default=0)
    step = nice_step(biggest / ticks) if biggest else 1
    scale = (right - left) / (step * ticks)
    bars = []
    for i, r in enumerate(drawn):
        y = top + i * row_height + 3
        clicks_w, scans_w = r["clicks"] * scale, r["scans"] * scale
        label = f"{r['name']} ({r['country']})" if r["country"] else "Unknown"
        bars.append(CountryBar(
            country=r["country"], label=label, y=y, height=row_height - 6, clicks_x=left,
            clicks_width=round(clicks_w, 2),
            scans_x=round(left + clicks_w, 2), scans_width=round(scans_w, 2), total=r["total"],
            title=f"{label}: {_plural(r['clicks'], 'click', 'clicks')}, {_plural(r['scans'], 'scan', 'scans')}"))
    bottom = top + max(1, len(drawn)) * row_height
    x_ticks = tuple((round(left + k * step * scale, 2), k * step) for k in range(ticks + 1))
    totals = {"clicks": sum(r["clicks"] for r in rows), "scans": sum(r["scans"] for r in rows),
              "bots": sum(r["bots"] for r in rows)}
    return CountryChart(width=width, height=height, left=left, right=right, top=top, bottom=bottom,
                        bars=tuple(bars), x_ticks=x_ticks, rows=rows, totals=totals)
