"""The dark-funnel gap and ``self_report_as_first_touch`` (ATTRIBUTION.md, "Self-reported answers").

Both take journeys whose conversions carry ``answer_channel`` (the channel of the answer tied to the
conversion, missing where there is none; see :func:`attribution.selfreports.tie_answers`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from attribution.journeys import DIMENSIONS
from attribution.labels import name_missing
from attribution.models.base import COUNT, JourneyIndex

__all__ = ["SELF_REPORT_KIND", "DarkFunnel", "dark_funnel", "self_report_as_first_touch"]

SELF_REPORT_KIND = "self_report"


def _answers(journeys: pd.DataFrame) -> pd.Series:
    if "answer_channel" not in journeys:
        raise ValueError("journeys lack answer_channel: tie answers to the conversions with "
                         "attribution.selfreports.tie_answers before build_journeys")
    return journeys["answer_channel"]


@dataclass(frozen=True)
class DarkFunnel:
    """What people say versus what tracking saw.

    Attributes
    ----------
    conversions, answered, dark
        Conversions; those with a tied answer; those whose answer's channel appears nowhere in the
        tracked journey (a ``[Direct]`` fallback journey has only Direct).
    by_channel
        Per self-reported channel: ``answered``, ``dark``, ``dark_share``; largest first.
    first_touch, last_touch
        Answered conversions counted by self-reported channel (rows) x tracked first (last) touch
        channel (columns).
    """

    conversions: int
    answered: int
    dark: int
    by_channel: pd.DataFrame
    first_touch: pd.DataFrame
    last_touch: pd.DataFrame

    @property
    def answer_rate(self) -> float | None:
        """Answered / all conversions (None without conversions)."""
        return self.answered / self.conversions if self.conversions else None

    @property
    def dark_share(self) -> float | None:
        """Dark / answered conversions (None without answers)."""
        return self.dark / self.answered if self.answered else None

    def as_dict(self) -> dict[str, Any]:
        """Return the gap as plain JSON-able data (matrices as rows, columns and cell counts)."""
        def matrix(frame: pd.DataFrame) -> dict[str, Any]:
            return {"rows": [str(r) for r in frame.index], "columns": [str(c) for c in frame.columns],
                    "cells": frame.to_numpy(dtype=int).tolist()}
        return {
            "conversions": self.conversions, "answered": self.answered, "answer_rate": self.answer_rate,
            "dark": self.dark, "dark_share": self.dark_share,
            "by_channel": self.by_channel.to_dict("records"),
            "first_touch_matrix": matrix(self.first_touch), "last_touch_matrix": matrix(self.last_touch),
        }


def dark_funnel(journeys: pd.DataFrame) -> DarkFunnel:
    """Compare each conversion's self-reported channel with its tracked journey.

    Examples
    --------
    >>> from attribution import journeys_from_paths
    >>> j = journeys_from_paths(pd.DataFrame({"path": ["Email > Paid search", "Events", "Direct"]}))
    >>> j["answer_channel"] = j["conversion_id"].map({0: "Podcast", 1: "Events", 2: None})
    >>> gap = dark_funnel(j)
    >>> gap.answered, gap.dark, gap.dark_share, round(gap.answer_rate, 3)
    (2, 1, 0.5, 0.667)
    >>> gap.by_channel.values.tolist()
    [['Events', 1, 0, 0.0], ['Podcast', 1, 1, 1.0]]
    """
    index = JourneyIndex.of(journeys)
    answers = _answers(journeys)
    answers = answers.astype(object).where(answers.notna(), None).to_numpy()  # pd.NA would not compare
    said = answers[index.starts]
    answered = pd.notna(said)
    # A journey with n_conversions (a distinct path with its count) stands for that many conversions.
    weight = journeys[COUNT].to_numpy(dtype=np.int64)[index.starts] if COUNT in journeys else \
        np.ones(len(index.starts), dtype=np.int64)
    channels = journeys["channel"].astype(object).to_numpy()
    hit = channels == answers  # a missing answer (None) equals no channel
    seen = np.logical_or.reduceat(hit, index.starts) if len(index.starts) else np.zeros(0, dtype=bool)
    dark = answered & ~seen
    per = pd.DataFrame({"self_reported_channel": said[answered], "dark": dark[answered] * weight[answered],
                        "n": weight[answered], "first": channels[index.starts][answered],
                        "last": channels[index.ends][answered]})
    by_channel = per.groupby("self_reported_channel", sort=True).agg(answered=("n", "sum"), dark=("dark", "sum"))
    by_channel["dark_share"] = by_channel["dark"] / by_channel["answered"]
    by_channel = by_channel.reset_index().sort_values(["answered", "self_reported_channel"],
                                                      ascending=[False, True], kind="stable")

    def cross(column: str) -> pd.DataFrame:
        if per.empty:
            return pd.DataFrame(dtype=int)
        table = pd.crosstab(per["self_reported_channel"], per[column], values=per["n"], aggfunc="sum")
        table = table.fillna(0).astype(np.int64).sort_index().sort_index(axis=1)
        table.index.name, table.columns.name = "self_reported_channel", f"{column}_touch_channel"
        return table

    return DarkFunnel(conversions=int(weight.sum()), answered=int(weight[answered].sum()),
                      dark=int((weight * dark).sum()),
                      by_channel=by_channel.reset_index(drop=True), first_touch=cross("first"),
                      last_touch=cross("last"))


def self_report_as_first_touch(journeys: pd.DataFrame) -> pd.DataFrame:
    """Return journeys where each tied answer's channel joins its journey as the earliest touch.

    The added touch has the time of the journey's first tracked touch and is ordered before it
    (``kind`` ``self_report``, no touchpoint id; source, medium, campaign and link ``(not set)``); a
    ``[Direct]`` fallback
    journey becomes ``[answer channel]``. Journeys without an answer are unchanged. The input is not
    modified.

    Examples
    --------
    >>> from attribution import journeys_from_paths
    >>> j = journeys_from_paths(pd.DataFrame({"path": ["Email > Paid search", "Direct"]}))
    >>> j["is_fallback"] = j["conversion_id"] == 1
    >>> j["answer_channel"] = "Podcast"
    >>> out = self_report_as_first_touch(j)
    >>> out.groupby("conversion_id")["channel"].agg(list).tolist()
    [['Podcast', 'Email', 'Paid search'], ['Podcast']]
    """
    index = JourneyIndex.of(journeys)
    answers = _answers(journeys)
    answered_rows = answers.notna().to_numpy()
    heads = journeys.iloc[index.starts[answered_rows[index.starts]]].copy()
    heads["channel"] = heads["answer_channel"].astype(object)
    for name in ("touchpoint_id", *[d for d in DIMENSIONS if d != "channel"]):
        if name in heads:
            heads[name] = None
    if "kind" in heads:
        heads["kind"] = SELF_REPORT_KIND
    heads = name_missing(heads)  # the answer has no source, campaign or link: named, never blank
    heads["is_fallback"] = False
    body = journeys.loc[~(journeys["is_fallback"].to_numpy() & answered_rows)]
    out = pd.concat([heads.assign(_order=0), body.assign(_order=1)], ignore_index=True)
    out = out.sort_values(["conversion_id", "_order", "position"], kind="stable").drop(columns="_order")
    out = out.reset_index(drop=True)
    ids = out["conversion_id"].to_numpy()
    new = np.ones(len(out), dtype=bool)
    new[1:] = ids[1:] != ids[:-1]
    starts = np.flatnonzero(new)
    sizes = np.diff(np.append(starts, len(out)))
    out["position"] = np.arange(len(out)) - np.repeat(starts, sizes)
    out["n_touches"] = np.repeat(sizes, sizes)
    for name in DIMENSIONS:
        if name in out:
            out[name] = out[name].astype("category")
    return out
