"""Names for missing dimension values, so no report shows a blank cell (GA4's conventions).

A touch without a value for a dimension gets a label instead of an empty value:

- on a Direct touch (channel ``Direct``, including the ``[Direct]`` journey of a conversion without a
  tracked touch), ``source`` and ``campaign`` are ``(direct)`` and ``medium``, ``link_code`` and
  ``kind`` are ``(none)``, as GA4 writes direct traffic;
- on any other touch a missing (or blank) value is ``(not set)`` (GA4's word for it), for example the campaign
  of a visit from a search engine or the link of an imported offline contact.

The channel itself is never missing (``Direct`` or a taxonomy channel).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from attribution.channels import DIRECT

__all__ = ["DIRECT_LABELS", "NOT_SET", "name_missing"]

NOT_SET = "(not set)"
DIRECT_LABELS = {"source": "(direct)", "medium": "(none)", "campaign": "(direct)", "link_code": "(none)",
                 "kind": "(none)"}


def name_missing(frame: pd.DataFrame) -> pd.DataFrame:
    """Return ``frame`` with the missing values of its dimension columns named (see the module doc).

    Only the columns of :data:`DIRECT_LABELS` that ``frame`` has are changed; categoricals stay
    categoricals. ``frame`` needs ``channel`` when it has any of them; it is not modified.

    Examples
    --------
    >>> f = pd.DataFrame({"channel": ["Direct", "Organic search", "Email"],
    ...                   "source": [None, "google", None], "campaign": [None, None, "may"]})
    >>> name_missing(f).values.tolist()
    [['Direct', '(direct)', '(direct)'], ['Organic search', 'google', '(not set)'], ['Email', '(not set)', 'may']]
    """
    columns = [c for c in DIRECT_LABELS if c in frame.columns]
    if not columns:
        return frame
    if "channel" not in frame:
        raise ValueError("naming missing dimension values needs the channel column (Direct touches get GA4's "
                         "(direct) / (none) labels, others (not set))")
    channel = frame["channel"]
    if isinstance(channel.dtype, pd.CategoricalDtype):
        is_direct = np.append(channel.cat.categories.astype(object) == DIRECT, False)
        direct = is_direct[channel.cat.codes.to_numpy()]  # code -1 (missing) picks the appended False
    else:
        direct = (channel.astype(object) == DIRECT).to_numpy(dtype=bool)
    out = frame.copy()
    for name in columns:
        out[name] = _named(out[name], direct, DIRECT_LABELS[name])
    return out


def _blank(values: pd.Index | pd.Series) -> np.ndarray:
    return (pd.Series(values, dtype=object).fillna("").astype(str).str.strip() == "").to_numpy()


def _named(column: pd.Series, direct: np.ndarray, direct_label: str) -> pd.Series | pd.Categorical | np.ndarray:
    """The column with missing or blank values named; categoricals are relabelled through their codes."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        categories = column.cat.categories
        codes = column.cat.codes.to_numpy()
        blank = np.append(_blank(categories), True)[codes]  # code -1 (missing) picks the appended True
        if not blank.any():
            return column
        kept = categories[~_blank(categories)]
        labels = [v for v in (direct_label, NOT_SET) if v not in kept]
        new = kept.append(pd.Index(labels, dtype=object)) if labels else kept
        mapping = new.get_indexer(categories)
        out = np.where(codes >= 0, mapping[np.maximum(codes, 0)] if len(mapping) else -1, -1)
        out = np.where(blank, np.where(direct, new.get_loc(direct_label), new.get_loc(NOT_SET)), out)
        return pd.Categorical.from_codes(out, categories=new)
    values = column.astype(object).to_numpy()
    blank = _blank(column)
    if not blank.any():
        return column
    return np.where(blank, np.where(direct, direct_label, NOT_SET), values)
