"""Coding dimension values as integers, shared by the data-driven models (Markov states, Shapley players).

Values are numbered in sorted order (a missing value last, as a value of its own), tuples of several
columns likewise, so the codes and every table built from them are the same whatever order the rows
come in: the models' output is then bit-identical on the same input.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = ["distinct_pairs", "factorize", "value_codes"]

_DENSE_CELLS = 1 << 24  # distinct codes found with a flag per possible code up to this many, else by sorting


def factorize(column: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Return each row's value code (0..K-1 in sorted value order, a missing value last) and the K values."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        codes = column.cat.codes.to_numpy().astype(np.int64)
        uniques = column.cat.categories.to_numpy(dtype=object)
    else:
        codes, uniques = pd.factorize(column.to_numpy(dtype=object))
        codes = codes.astype(np.int64)
        uniques = np.asarray(uniques, dtype=object)
    k = len(uniques)
    codes[codes < 0] = k  # a missing value is a value of its own
    used = np.flatnonzero(np.bincount(codes, minlength=k + 1))
    real, missing = used[used < k], used[used == k]
    try:
        real = real[np.argsort(uniques[real], kind="stable")]
    except TypeError:
        pass  # values that do not compare (mixed types): category / first-appearance order, still deterministic
    order = np.concatenate([real, missing])
    rank = np.zeros(k + 1, dtype=np.int64)
    rank[order] = np.arange(len(order))
    return rank[codes], np.append(uniques, None)[order]


def value_codes(journeys: pd.DataFrame, columns: Sequence[str]) -> tuple[np.ndarray, pd.DataFrame]:
    """Return each row's code of its ``columns`` values (one per distinct tuple, sorted) and the tuples."""
    missing = [c for c in columns if c not in journeys.columns]
    if missing:
        raise ValueError(f"the journeys have no column {', '.join(missing)}: a model's values must be journey "
                         "columns (channel, source, campaign, link_code ...)")
    parts = [factorize(journeys[c]) for c in columns]
    code, n_codes = parts[0][0], len(parts[0][1])
    for codes, values in parts[1:]:
        # Mixed radix, then re-ranked (sorted, so the tuples stay in lexicographic order) to stay small.
        code = distinct_pairs(code.astype(np.int64) * len(values) + codes, n_codes * len(values))[1]
        n_codes = int(code.max()) + 1 if len(code) else 0
    first = np.zeros(n_codes, dtype=np.int64)
    first[code] = np.arange(len(code))  # any row of each code: they hold the same values
    keys = pd.DataFrame({c: values[codes[first]] for c, (codes, values) in zip(columns, parts, strict=True)})
    return code, keys


def distinct_pairs(key: np.ndarray, cells: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return the sorted distinct ``key`` (0..cells-1), each entry's place among them, and their counts."""
    if cells <= max(_DENSE_CELLS, 4 * len(key)) and cells < 2**31:
        present = np.zeros(cells, dtype=bool)  # a flag per cell, then a running count: linear, no sort
        present[key] = True
        rank = np.cumsum(present, dtype=np.int32)
        inverse = rank[key]
        del rank
        inverse -= 1
        distinct = np.flatnonzero(present)
        return distinct, inverse, np.bincount(inverse, minlength=len(distinct))
    distinct, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
    return distinct, inverse.reshape(-1), counts
