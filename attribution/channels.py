"""Map raw utm_source / utm_medium values to channel groups with an ordered rule taxonomy.

The taxonomy is plain data (``{"rules": [{"channel", "mediums", "sources"}, ...]}``, as
``tracker.config.Taxonomy.as_dict()`` returns), so history is re-mapped whenever the taxonomy changes.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["assign_channels", "channel_of"]

DIRECT = "Direct"
OTHER = "Other"


def assign_channels(frame: pd.DataFrame, taxonomy: Mapping[str, Any],
                    source: str = "utm_source", medium: str = "utm_medium") -> pd.Series:
    """Return the channel of every row of ``frame`` (first matching rule wins).

    Rows with neither a source nor a medium are ``Direct``; rows no rule matches are ``Other``.
    ``frame`` is not modified.

    Examples
    --------
    >>> tax = {"rules": [{"channel": "Email", "mediums": ["email"], "sources": None}]}
    >>> df = pd.DataFrame({"utm_source": ["news", None], "utm_medium": ["Email", None]})
    >>> assign_channels(df, tax).tolist()
    ['Email', 'Direct']
    """
    src = frame[source].fillna("").astype(str).str.strip().str.lower()
    med = frame[medium].fillna("").astype(str).str.strip().str.lower()
    conditions = []
    choices = []
    for rule in taxonomy.get("rules", ()):
        cond = np.ones(len(frame), dtype=bool)
        if rule.get("mediums"):
            cond &= med.isin(rule["mediums"]).to_numpy()
        if rule.get("sources"):
            cond &= src.isin(rule["sources"]).to_numpy()
        conditions.append(cond)
        choices.append(rule["channel"])
    direct = ((src == "") & (med == "")).to_numpy()
    conditions.insert(0, direct)
    choices.insert(0, DIRECT)
    return pd.Series(np.select(conditions, choices, default=OTHER), index=frame.index, name="channel",
                     dtype=object)


def channel_of(source: str | None, medium: str | None, taxonomy: Mapping[str, Any]) -> str:
    """Return the channel of one (source, medium) pair.

    Examples
    --------
    >>> channel_of("google", "cpc", {"rules": [{"channel": "Paid search", "mediums": ["cpc"]}]})
    'Paid search'
    """
    frame = pd.DataFrame({"utm_source": [source], "utm_medium": [medium]})
    return str(assign_channels(frame, taxonomy).iloc[0])
