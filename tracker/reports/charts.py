"""Report charts rendered on the server with matplotlib: SVG for the pages, PNG and SVG to download.

No browser-side library and no CDN: the pages embed the SVG as it is. Each data point is an SVG
element with a stable id (``series-<series name>-<index>``) and every chart has a ``<title>``-like description in its
``aria-label``, so tests and assistive technology can find the series without reading pixels. Text
stays text in the SVG (``svg.fonttype = none``) and ids are salted with a constant, so the same data
gives the same file.
"""
from __future__ import annotations

import io
import re
from collections.abc import Sequence

import matplotlib
import numpy as np
from matplotlib.figure import Figure

__all__ = ["funnel_chart", "grouped_bars", "heatmap", "render"]

# Colour-blind-safe palette (Okabe-Ito), in a fixed order per series.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
RC = {"svg.fonttype": "none", "svg.hashsalt": "tracker-reports", "font.size": 9, "font.family": "DejaVu Sans",
      "axes.spines.top": False, "axes.spines.right": False, "figure.dpi": 100}


def slug(text: str) -> str:
    """A name usable in an SVG id: lower case, letters, digits and dashes."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "x"


def render(fig: Figure, fmt: str) -> bytes:
    """Serialize ``fig`` as ``svg`` or ``png``."""
    if fmt not in ("svg", "png"):
        raise ValueError("chart format must be svg or png")
    buffer = io.BytesIO()
    with matplotlib.rc_context(RC):
        fig.savefig(buffer, format=fmt, bbox_inches="tight", metadata={"Date": None} if fmt == "svg" else None)
    return buffer.getvalue()


def _figure(width: float, height: float) -> Figure:
    with matplotlib.rc_context(RC):
        return Figure(figsize=(width, height), layout="constrained")


def grouped_bars(categories: Sequence[str], series: dict[str, Sequence[float]], *, ylabel: str,
                 title: str) -> Figure:
    """Bars of every series side by side per category (e.g. credited conversions per channel and model)."""
    with matplotlib.rc_context(RC):
        fig = _figure(max(6.0, 0.9 * len(categories) + 2), 3.8)
        ax = fig.add_subplot()
        x = np.arange(len(categories))
        width = 0.8 / max(1, len(series))
        for i, (name, values) in enumerate(series.items()):
            bars = ax.bar(x + (i - (len(series) - 1) / 2) * width, values, width, label=name,
                          color=PALETTE[i % len(PALETTE)])
            for k, bar in enumerate(bars):
                bar.set_gid(f"series-{slug(name)}-{k}")
        ax.set_xticks(x, categories, rotation=30 if len(categories) > 5 else 0, ha="right" if len(categories) > 5
                      else "center")
        ax.set_ylabel(ylabel)
        ax.set_title(title, loc="left")
        if series:
            ax.legend(frameon=False, ncols=min(4, len(series)), loc="upper right")
        ax.grid(axis="y", alpha=0.3)
        ax.set_axisbelow(True)
    return fig


def funnel_chart(stages: Sequence[str], people: Sequence[float], *, title: str) -> Figure:
    """A funnel: one centred bar per stage, widest first, labelled with people and rate from the previous stage."""
    with matplotlib.rc_context(RC):
        fig = _figure(6.5, 0.6 * len(stages) + 1.2)
        ax = fig.add_subplot()
        y = np.arange(len(stages))[::-1]
        top = max(people) if len(people) and max(people) > 0 else 1
        widths = np.asarray(people, dtype=float)
        bars = ax.barh(y, widths, left=(top - widths) / 2, color=PALETTE[0], height=0.7)
        for k, bar in enumerate(bars):
            bar.set_gid(f"series-people-{k}")
        for i, (yy, n) in enumerate(zip(y, people, strict=True)):
            rate = "" if i == 0 or not people[i - 1] else f"  ({100 * n / people[i - 1]:.1f} %)"
            label = f"{stages[i]}: {n:,.0f}{rate}"
            if n > top * 0.45:  # wide enough: inside the bar
                ax.text(top / 2, yy, label, ha="center", va="center", color="white")
            else:  # beside it
                ax.text((top + n) / 2 + top * 0.02, yy, label, ha="left", va="center", color="black")
        ax.set_yticks([])
        ax.set_xticks([])
        for side in ("left", "bottom"):
            ax.spines[side].set_visible(False)
        ax.set_title(title, loc="left")
    return fig


def heatmap(rows: Sequence[str], columns: Sequence[str], values: np.ndarray, *, xlabel: str, ylabel: str,
            title: str) -> Figure:
    """A matrix of counts with each cell annotated (e.g. self-reported x tracked first-touch channel)."""
    values = np.asarray(values, dtype=float)
    with matplotlib.rc_context(RC):
        fig = _figure(max(5.0, 0.75 * len(columns) + 2.5), max(3.0, 0.45 * len(rows) + 1.6))
        ax = fig.add_subplot()
        mesh = ax.imshow(values if values.size else np.zeros((1, 1)), cmap="Blues", aspect="auto")
        mesh.set_gid("series-cells")
        ax.set_xticks(np.arange(len(columns)), columns, rotation=35, ha="right")
        ax.set_yticks(np.arange(len(rows)), rows)
        high = values.max() if values.size else 0
        for (i, j), v in np.ndenumerate(values):
            if v:
                ax.text(j, i, f"{v:,.0f}", ha="center", va="center", color="white" if v > high * 0.6 else "black",
                        gid=f"cell-{i}-{j}")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_title(title, loc="left")
        for side in ("left", "bottom"):
            ax.spines[side].set_visible(False)
    return fig
