"""Report charts rendered on the server with matplotlib: inline SVG for the pages, PNG and SVG to download.

No browser-side library and no CDN. Every data point is an SVG element with a stable id: grouped bars
and funnel bars ``series-<series>-<k>`` (``k`` counts the categories or stages from the top), heat-map
cells ``cell-<name>-<row>-<column>``; each carries a ``<title>`` (the tooltip). Text stays text
(``svg.fonttype = none``), ids of matplotlib's own elements are salted with a constant and dates are
left out, so the same data gives the same bytes.

matplotlib writes its colours and fonts as ``style`` attributes and one ``<style>`` element, which a
page's Content-Security-Policy without ``'unsafe-inline'`` blocks; :func:`inline_svg` turns them into
SVG presentation attributes (which CSP does not govern) for embedding in a page.

Examples
--------
>>> fig = grouped_bars(["Email", "Events"], {"linear": [2.5, 1.0], "first_touch": [3, 0]},
...                    value_label="conversions", title="Credited conversions")
>>> svg = render(fig, "svg").decode()
>>> [f"series-{m}-{k}" in svg for m in ("linear", "first-touch") for k in (0, 1)]
[True, True, True, True]
>>> render(fig, "png")[:8] == b"\\x89PNG\\r\\n\\x1a\\n"
True
"""
from __future__ import annotations

import io
import re
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any
from xml.etree import ElementTree

import matplotlib
import numpy as np
from markupsafe import Markup
from matplotlib.colors import to_hex
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

__all__ = ["Chart", "funnel_chart", "grouped_bars", "heatmap", "inline_svg", "render", "slug"]

# Colour-blind-safe palette (Okabe-Ito), in a fixed order per series; yellow last (weak on white).
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#000000", "#F0E442")
RC = {"svg.fonttype": "none", "svg.hashsalt": "tracker-reports", "font.size": 9, "font.family": "DejaVu Sans",
      "axes.spines.top": False, "axes.spines.right": False, "figure.dpi": 100, "text.parse_math": False,
      "axes.titlesize": 10, "axes.titleweight": "bold", "axes.edgecolor": "#6b7280", "xtick.color": "#374151",
      "ytick.color": "#374151", "text.color": "#1f2937", "axes.labelcolor": "#374151"}
PNG_DPI = 150
LABEL_CHARS = 30
MAX_CATEGORIES = 15
# Fonts the browser may use when DejaVu Sans is missing: Bitstream Vera and Verdana have close metrics.
FONT_FALLBACK = "'DejaVu Sans', 'Bitstream Vera Sans', Verdana, sans-serif"
SVG_NS = "http://www.w3.org/2000/svg"
XLINK_NS = "http://www.w3.org/1999/xlink"
# CSS properties matplotlib writes that have an SVG presentation attribute of the same name.
PRESENTATION = frozenset({
    "fill", "fill-opacity", "fill-rule", "stroke", "stroke-width", "stroke-opacity", "stroke-linecap",
    "stroke-linejoin", "stroke-miterlimit", "stroke-dasharray", "stroke-dashoffset", "opacity", "font-family",
    "font-size", "font-style", "font-variant", "font-weight", "font-stretch", "text-anchor", "stop-color",
    "stop-opacity", "clip-path"})
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# rcParams are global: hold the lock while a chart is built or saved, so concurrent requests in a
# threaded server never see each other's (or the default) settings half-way.
_LOCK = threading.RLock()

XLINK_HREF = f"{{{XLINK_NS}}}href"


class Chart(Figure):
    """A matplotlib figure that also keeps a tooltip per element id (written as SVG ``<title>``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tooltips: dict[str, str] = {}


@contextmanager
def _style() -> Iterator[None]:
    with _LOCK, matplotlib.rc_context(RC):
        yield


def slug(text: str) -> str:
    """A name usable in an SVG id: lower case, letters, digits and dashes.

    >>> slug("first_touch"), slug("Word of mouth"), slug("<&>")
    ('first-touch', 'word-of-mouth', 'x')
    """
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "x"


def _clean(text: object) -> str:
    """Text fit for XML and one line: control characters become spaces."""
    return _CONTROL.sub(" ", str(text)).strip() or "(empty)"


def _label(text: object, limit: int = LABEL_CHARS) -> str:
    """A label fit for an axis: clean, at most ``limit`` characters (ellipsis)."""
    clean = _clean(text)
    return clean if len(clean) <= limit else clean[:limit - 1].rstrip() + "…"


def _number(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def render(fig: Figure, fmt: str) -> bytes:
    """Serialize ``fig`` as ``svg`` (tooltips included) or ``png`` (150 dpi)."""
    if fmt not in ("svg", "png"):
        raise ValueError("chart format must be svg or png")
    buffer = io.BytesIO()
    with _style():
        if fmt == "png":
            fig.savefig(buffer, format="png", dpi=PNG_DPI, bbox_inches="tight", pad_inches=0.15)
            return buffer.getvalue()
        fig.savefig(buffer, format="svg", bbox_inches="tight", pad_inches=0.15, metadata={"Date": None})
    root = ElementTree.fromstring(buffer.getvalue())
    _drop(root, "metadata")
    _add_tooltips(root, getattr(fig, "tooltips", {}))
    for element in root.iter():
        family = element.get("style")
        if family and "font-family" in family:
            element.set("style", re.sub(r"font-family: [^;]*", f"font-family: {FONT_FALLBACK}", family))
    return ('<?xml version="1.0" encoding="utf-8" standalone="no"?>\n' + _serialize(root)).encode()


def _drop(root: ElementTree.Element, tag: str) -> None:
    for parent in list(root.iter()):
        for child in list(parent):
            if child.tag == f"{{{SVG_NS}}}{tag}":
                parent.remove(child)


def _serialize(root: ElementTree.Element) -> str:
    """Write the tree with SVG as the default namespace and the usual ``xlink`` prefix.

    ElementTree's prefixes are global (other libraries, qrcode for one, register ``svg:``); spelling
    the two namespaces out here keeps the output the same whatever was imported, and an HTML parser
    only knows ``xlink:href`` by that literal name.
    """
    svg = f"{{{SVG_NS}}}"
    for element in root.iter():
        if isinstance(element.tag, str) and element.tag.startswith(svg):
            element.tag = element.tag[len(svg):]
        href = element.attrib.pop(XLINK_HREF, None)
        if href is not None:
            element.set("xlink:href", href)
    root.set("xmlns", SVG_NS)
    root.set("xmlns:xlink", XLINK_NS)
    return ElementTree.tostring(root, encoding="unicode")


def _add_tooltips(root: ElementTree.Element, tooltips: Mapping[str, str]) -> None:
    for element in root.iter():
        text = tooltips.get(element.get("id", ""))
        if text is not None:
            title = ElementTree.Element(f"{{{SVG_NS}}}title")
            title.text = text
            element.insert(0, title)


def inline_svg(fig: Figure, *, prefix: str, label: str) -> Markup:
    """Return ``fig`` as an ``<svg>`` element to embed in a page under a strict Content-Security-Policy.

    ``style`` attributes become presentation attributes and the ``<style>`` element goes (CSP would
    block both); matplotlib's own ids get ``prefix`` so several charts can share a page, while the
    ``series-`` and ``cell-`` ids stay as they are. ``label`` is the chart's accessible name.
    Labels are text nodes escaped by the XML serializer, so a channel called ``<script>`` stays text.
    """
    root = ElementTree.fromstring(render(fig, "svg"))
    _drop(root, "style")
    # The <style> element set these for every element; inherited from the root they do the same.
    root.set("stroke-linejoin", "round")
    root.set("stroke-linecap", "butt")
    for element in root.iter():
        style = element.attrib.pop("style", None)
        if style:
            for declaration in style.split(";"):
                name, _, value = declaration.partition(":")
                if name.strip() in PRESENTATION:
                    element.set(name.strip(), value.strip())
        ident = element.get("id")
        if ident and not ident.startswith(("series-", "cell-")):
            element.set("id", f"{prefix}-{ident}")
        for attribute in ("clip-path", "mask"):
            value = element.get(attribute)
            if value and value.startswith("url(#"):
                element.set(attribute, f"url(#{prefix}-{value[5:]}")
        if (target := element.get(XLINK_HREF)) and target.startswith("#"):
            element.set(XLINK_HREF, f"#{prefix}-{target[1:]}")
    root.set("role", "img")
    root.set("aria-label", label)
    root.set("class", "report-chart-svg")
    root.set("focusable", "false")
    return Markup(_serialize(root))


def _empty(fig: Chart, message: str, title: str) -> Chart:
    ax = fig.add_subplot()
    ax.set_axis_off()
    ax.set_title(title, loc="left")
    ax.text(0.5, 0.5, message, ha="center", va="center", color="#6b7280", transform=ax.transAxes)
    return fig


def grouped_bars(categories: Sequence[str], series: Mapping[str, Sequence[float]], *, value_label: str,
                 title: str, max_categories: int = MAX_CATEGORIES,
                 intervals: Mapping[str, tuple[Sequence[float], Sequence[float]]] | None = None) -> Chart:
    """Horizontal bars of every series side by side per category (credited conversions per channel and model).

    Categories run top to bottom in the given order; beyond ``max_categories`` the rest are summed
    into one last category ``(n more)``. Bar ``k`` of series ``name`` has id ``series-<slug(name)>-<k>``.
    Long labels are shortened (the tooltip keeps the full name). ``intervals`` (per series: lows and
    highs) draw a whisker across each bar (none on the summed last category: intervals do not add up).
    """
    names = list(series)
    values = np.asarray([list(series[name]) for name in names], dtype=float).reshape(len(names), len(categories))
    bounds = None
    if intervals:
        bounds = np.asarray([[list(intervals[name][0]), list(intervals[name][1])] for name in names],
                            dtype=float).reshape(len(names), 2, len(categories))
    labels = [_clean(c) for c in categories]
    if len(labels) > max_categories:
        rest = len(labels) - (max_categories - 1)
        kept = values[:, :max_categories - 1]
        values = np.column_stack([kept, values[:, max_categories - 1:].sum(axis=1)])
        labels = [*labels[:max_categories - 1], f"({rest} more)"]
        if bounds is not None:
            bounds = np.concatenate([bounds[:, :, :max_categories - 1], np.full((len(names), 2, 1), np.nan)], axis=2)
    with _style():
        slot = 0.12 * max(1, len(names)) + 0.2
        fig = Chart(figsize=(9.5, max(2.4, slot * len(labels) + 1.3)), layout="constrained")
        if not labels or not names:
            return _empty(fig, "Nothing to show for these parameters", title)
        ax = fig.add_subplot()
        y = np.arange(len(labels))
        height = 0.8 / len(names)
        for i, name in enumerate(names):
            offsets = y - 0.4 + (i + 0.5) * height
            bars = ax.barh(offsets, values[i], height * 0.92, label=name, color=PALETTE[i % len(PALETTE)])
            for k, bar in enumerate(bars):
                gid = f"series-{slug(name)}-{k}"
                bar.set_gid(gid)
                fig.tooltips[gid] = f"{labels[k]} · {name}: {_number(values[i, k])}"
                if bounds is not None and not np.isnan(bounds[i, 0, k]):
                    fig.tooltips[gid] += f" (95 % interval {_number(bounds[i, 0, k])} to {_number(bounds[i, 1, k])})"
            if bounds is not None:
                whisker = ax.hlines(offsets, bounds[i, 0], bounds[i, 1], color="#111827", linewidth=1.1)
                whisker.set_gid(f"interval-{slug(name)}")
        ax.set_yticks(y, [_label(label) for label in labels])
        ax.set_ylim(len(labels) - 0.5, -0.5)  # first category on top, no empty band above or below
        ax.set_xlabel(value_label)
        ax.grid(axis="x", alpha=0.3)
        ax.set_axisbelow(True)
        ax.tick_params(axis="y", length=0)
        # The legend sits between the title and the bars, where the eye starts.
        columns = min(4, len(names))
        ax.legend(loc="lower left", bbox_to_anchor=(0, 1.0), ncols=columns, frameon=False, borderaxespad=0.3,
                  handlelength=1.2, columnspacing=1.5)
        ax.set_title(title, loc="left", pad=8 + 15 * -(-len(names) // columns))
    return fig


def funnel_chart(stages: Sequence[str], periods: Mapping[str, Sequence[float]], *, title: str,
                 subtitles: Mapping[str, str] | None = None) -> Chart:
    """One funnel per period, side by side on the same scale: a centred bar per stage, widest first.

    Each bar is labelled with its people and the rate from the stage before; bar ``k`` of period
    ``name`` has id ``series-<slug(name)>-<k>``. ``subtitles`` name the periods above their funnel.
    """
    names = list(periods)
    subtitles = subtitles or {}
    with _style():
        fig = Chart(figsize=(4.2 * max(1, len(names)) + 1.2, 0.5 * len(stages) + 1.3), layout="constrained")
        if not names or not stages:
            return _empty(fig, "No stages to show", title)
        fig.suptitle(title, x=0.01, ha="left", fontsize=10, fontweight="bold")
        top = max((max(people) for people in periods.values() if len(people)), default=0) or 1
        axes = fig.subplots(1, len(names), sharey=True, squeeze=False)[0]
        y = np.arange(len(stages))
        axes[0].invert_yaxis()  # entry on top (the axes share y)
        for ax, name in zip(axes, names, strict=True):
            people = np.asarray(periods[name], dtype=float)
            # A stage with a handful of people next to thousands still gets a visible sliver.
            widths = np.where(people > 0, np.maximum(people, top * 0.006), 0)
            bars = ax.barh(y, widths, left=(top - widths) / 2, color=PALETTE[0], height=0.72)
            for k, bar in enumerate(bars):
                gid = f"series-{slug(name)}-{k}"
                bar.set_gid(gid)
                rate = "" if k == 0 or not people[k - 1] else f" ({100 * people[k] / people[k - 1]:.1f} %)"
                label = f"{people[k]:,.0f}{rate}"
                fig.tooltips[gid] = f"{_clean(stages[k])}: {people[k]:,.0f} people{rate}"
                if widths[k] >= top * 0.5:  # wide enough: inside the bar
                    ax.text(top / 2, k, label, ha="center", va="center", color="white", fontweight="bold")
                else:  # just right of the bar
                    ax.text((top + widths[k]) / 2 + top * 0.02, k, label, ha="left", va="center")
            ax.set_xlim(-0.02 * top, 1.02 * top)
            ax.set_yticks(y, [_label(s, 18) for s in stages])
            ax.tick_params(axis="y", length=0)
            ax.set_xticks([])
            for side in ("left", "bottom"):
                ax.spines[side].set_visible(False)
            ax.set_title(_label(subtitles.get(name, name), 40), loc="center", fontsize=9, fontweight="normal")
    return fig


def heatmap(rows: Sequence[str], columns: Sequence[str], values: Sequence[Sequence[float]] | np.ndarray, *,
            name: str, xlabel: str, ylabel: str, title: str, fmt: str = ",.0f",
            empty: str = "No answers tied to conversions in this period") -> Chart:
    """A matrix of counts (``fmt``: how cells are written), each cell shaded and annotated.

    For example self-reported x tracked first-touch channel, or a Markov chain's transition probabilities.

    Cell ``(i, j)`` (row ``i`` from the top, column ``j`` from the left) has id ``cell-<slug(name)>-<i>-<j>``.
    """
    matrix = np.asarray(values, dtype=float).reshape(len(rows), len(columns))
    with _style():
        fig = Chart(figsize=(max(4.5, 0.62 * len(columns) + 2.6), max(2.4, 0.42 * len(rows) + 1.9)),
                    layout="constrained")
        if not matrix.size:
            return _empty(fig, empty, title)
        ax = fig.add_subplot()
        high = matrix.max() or 1
        cmap = matplotlib.colormaps["Blues"]
        short_rows, short_columns = [_label(r, 24) for r in rows], [_label(c, 24) for c in columns]
        for (i, j), v in np.ndenumerate(matrix):
            shade = 0.06 + 0.84 * v / high if v else 0.0
            cell = Rectangle((j - 0.5, i - 0.5), 1, 1, facecolor=to_hex(cmap(shade)), edgecolor="white",
                             linewidth=1.5)
            gid = f"cell-{slug(name)}-{i}-{j}"
            cell.set_gid(gid)
            ax.add_patch(cell)
            fig.tooltips[gid] = f"{ylabel} {_clean(rows[i])}, {xlabel.lower()} {_clean(columns[j])}: {v:{fmt}}"
            if v:
                ax.text(j, i, f"{v:{fmt}}", ha="center", va="center", color="white" if shade > 0.55 else "#1f2937")
        ax.set_xlim(-0.5, len(columns) - 0.5)
        ax.set_ylim(len(rows) - 0.5, -0.5)
        ax.set_xticks(np.arange(len(columns)), short_columns, rotation=35 if len(columns) > 3 else 0,
                      ha="right" if len(columns) > 3 else "center", rotation_mode="anchor")
        ax.set_yticks(np.arange(len(rows)), short_rows)
        ax.tick_params(length=0)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_title(title, loc="left")
        for side in ("left", "bottom"):
            ax.spines[side].set_visible(False)
    return fig
