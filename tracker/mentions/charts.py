"""The mentions report's chart: mentions per day above Direct, Organic-search visits and word of mouth per day.

Two panels on one time axis (each with its own scale, so a handful of answers is as readable as
hundreds of visits): bars of mentions on top, one line per series below. Drawn with the report
charts' style (:mod:`tracker.reports.charts`), so the page embeds it with
:func:`~tracker.reports.charts.inline_svg` and offers the same SVG and PNG downloads. Bar ``k`` has
id ``series-mentions-<k>``, the point of day ``k`` of a series ``series-<series>-<k>``.

>>> from tracker.reports.charts import render
>>> rows = [{"day": f"2026-05-0{d}", "mentions": d, "direct_visits": 2 * d, "organic_search_visits": 1,
...          "word_of_mouth": 0} for d in range(1, 4)]
>>> svg = render(mentions_chart(rows, title="Mentions"), "svg").decode()
>>> "series-mentions-2" in svg and "series-direct-visits-0" in svg
True
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

import numpy as np
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

from tracker.reports.charts import PALETTE, Chart, _style, slug

__all__ = ["LABELS", "mentions_chart"]

LABELS = {"mentions": "Mentions", "direct_visits": "Direct visits", "organic_search_visits": "Organic-search visits",
          "word_of_mouth": "Word of mouth (answers)"}
LINES = ("direct_visits", "organic_search_visits", "word_of_mouth")


def mentions_chart(rows: Sequence[Mapping[str, Any]], *, title: str) -> Chart:
    """Mentions per day (bars) above the three daily series (lines), for the report's ``rows``."""
    with _style():
        fig = Chart(figsize=(9.5, 5.2), layout="constrained")
        if not rows:
            ax = fig.add_subplot()
            ax.set_axis_off()
            ax.text(0.5, 0.5, "No days in this period", ha="center", va="center", transform=ax.transAxes)
            return fig
        days = np.array([np.datetime64(date.fromisoformat(r["day"])) for r in rows])
        top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=(2, 3))
        fig.suptitle(title, x=0.01, ha="left", fontsize=10, fontweight="bold")
        mentions = np.array([r["mentions"] for r in rows], dtype=float)
        bars = top.bar(days, mentions, width=0.8, color=PALETTE[5], label=LABELS["mentions"])
        for k, bar in enumerate(bars):
            gid = f"series-mentions-{k}"
            bar.set_gid(gid)
            fig.tooltips[gid] = f"{rows[k]['day']}: {int(mentions[k]):,} mentions"
        top.set_ylabel("Mentions")
        top.grid(axis="y", alpha=0.3)
        top.set_axisbelow(True)
        for i, name in enumerate(LINES):
            values = np.array([r[name] for r in rows], dtype=float)
            bottom.plot(days, values, color=PALETTE[i], linewidth=1.6, label=LABELS[name])
            for k in range(len(rows)):  # one marker per day, so each has its id and tooltip
                (point,) = bottom.plot(days[k:k + 1], values[k:k + 1], marker="o", markersize=3, color=PALETTE[i],
                                       linestyle="none")
                gid = f"series-{slug(name)}-{k}"
                point.set_gid(gid)
                fig.tooltips[gid] = f"{rows[k]['day']}: {int(values[k]):,} {LABELS[name].lower()}"
        bottom.set_ylabel("Per day")
        bottom.set_ylim(bottom=0)
        bottom.grid(axis="y", alpha=0.3)
        bottom.set_axisbelow(True)
        bottom.legend(loc="lower left", bbox_to_anchor=(0, 1.0), ncols=3, frameon=False, borderaxespad=0.2)
        locator = AutoDateLocator(maxticks=10)
        bottom.xaxis.set_major_locator(locator)
        bottom.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    return fig
