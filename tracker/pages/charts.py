"""Geometry of the per-day bar chart, drawn by the template as inline SVG (no JavaScript)."""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

__all__ = ["Bar", "Chart", "daily_chart", "nice_step"]

SERIES = (("clicks", "click", "clicks"), ("scans", "scan", "scans"))


@dataclass(frozen=True)
class Bar:
    series: str     # "clicks" or "scans": also the CSS class suffix (bar-clicks, bar-scans)
    day: str        # ISO date
    value: int
    x: float
    y: float
    width: float
    height: float
    title: str      # tooltip and accessible name, e.g. "3 May 2026: 2 clicks"


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    left: float
    right: float
    top: float
    bottom: float
    bars: tuple[Bar, ...]
    y_ticks: tuple[tuple[float, int], ...]     # (y, value)
    x_labels: tuple[tuple[float, str], ...]    # (x of the label's centre, text)
    totals: dict[str, int]
    first_day: str
    last_day: str
    days: tuple[dict[str, Any], ...]

    @property
    def empty(self) -> bool:
        return not self.bars

    @property
    def summary(self) -> str:
        """One sentence for screen readers: the period and its totals."""
        return (f"From {_pretty(self.first_day)} to {_pretty(self.last_day)}: "
                f"{_count(self.totals['clicks'], 'click', 'clicks')} and "
                f"{_count(self.totals['scans'], 'scan', 'scans')}.")


def nice_step(value: float) -> int:
    """Return the smallest of 1, 2, 5, 10, 20, 50, ... that is at least ``value``."""
    if value <= 1:
        return 1
    power = 10 ** math.floor(math.log10(value))
    for factor in (1, 2, 5, 10):
        if factor * power >= value:
            return int(factor * power)
    return int(10 * power)  # pragma: no cover - the loop always returns


def _pretty(day: str) -> str:
    d = date.fromisoformat(day)
    return f"{d.day} {d:%b %Y}"


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def daily_chart(series: Sequence[Mapping[str, Any]], width: int = 720, height: int = 220,
                ticks: int = 4) -> Chart:
    """Lay out grouped bars (clicks, then scans) for rows of ``tracker.redirects.stats.daily_series``.

    The y axis runs from 0 to ``ticks`` whole steps of 1, 2 or 5 times a power of ten; days with no
    activity get no bar. Coordinates are in the SVG's user units (its ``viewBox`` is ``width`` x
    ``height``).

    Examples
    --------
    >>> chart = daily_chart([{"day": "2026-05-01", "clicks": 3, "scans": 0},
    ...                      {"day": "2026-05-02", "clicks": 0, "scans": 1}])
    >>> [(b.series, b.day, b.value) for b in chart.bars]
    [('clicks', '2026-05-01', 3), ('scans', '2026-05-02', 1)]
    >>> [value for _, value in chart.y_ticks]
    [0, 1, 2, 3, 4]
    """
    if not series:
        raise ValueError("daily_chart needs at least one day; pass the rows of daily_series()")
    # The y labels go on the right, next to the newest days: a phone that scrolls the chart opens there.
    left, right, top, bottom = 8.0, 40.0, 12.0, 26.0
    plot_w = width - left - right
    plot_h = height - top - bottom
    peak = max(max(int(row["clicks"]), int(row["scans"])) for row in series)
    step = nice_step(peak / ticks)
    y_max = step * ticks
    slot = plot_w / len(series)
    bar_w = slot * 0.38
    bars = []
    for i, row in enumerate(series):
        for j, (name, one, many) in enumerate(SERIES):
            value = int(row[name])
            if value <= 0:
                continue
            h = value / y_max * plot_h
            bars.append(Bar(series=name, day=row["day"], value=value,
                            x=round(left + i * slot + slot * 0.1 + j * (bar_w + slot * 0.04), 2),
                            y=round(top + plot_h - h, 2), width=round(bar_w, 2), height=round(h, 2),
                            title=f"{_pretty(row['day'])}: {_count(value, one, many)}"))
    y_ticks = tuple((round(top + plot_h - k * step / y_max * plot_h, 2), k * step) for k in range(ticks + 1))
    last = len(series) - 1
    x_labels = []
    for i, row in enumerate(series):
        if (last - i) % 7 == 0:  # every week, counted back from the newest day so it is always labelled
            d = date.fromisoformat(row["day"])
            x_labels.append((round(left + (i + 0.5) * slot, 2), f"{d.day} {d:%b}"))
    totals = {name: sum(int(row[name]) for row in series) for name, _, _ in SERIES}
    return Chart(width=width, height=height, left=left, right=width - right, top=top, bottom=top + plot_h,
                 bars=tuple(bars), y_ticks=y_ticks, x_labels=tuple(x_labels), totals=totals,
                 first_day=series[0]["day"], last_day=series[-1]["day"], days=tuple(dict(r) for r in series))
