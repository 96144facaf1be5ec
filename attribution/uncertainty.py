"""How sure each credited number is: bootstrap intervals for every model (ATTRIBUTION.md, "Uncertainty").

The journeys (converting and non-converting) are resampled with replacement ``samples`` times; each
model credits every resample and each credited value gets the 2.5 and 97.5 percentiles of its
conversions and value. A journey that stands for several conversions (a distinct path with its
count) is that many units; a resampled conversion of it carries the mean value of its conversions.
The draws are multinomial counts per journey, the same draws for every model, so two models are
compared on the same resamples. The random generator is seeded by the caller (the reports seed it
from their parameters), so the same call gives the same intervals, bit for bit.

Models give :meth:`~attribution.models.base.AttributionModel.replicator`: their credits as a function
of each journey's counts, built once, so a resample costs a product of counts with a fixed matrix
(rule-based models) or one model fit on counts (Markov, Shapley), never a rebuild of the journeys.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

import numpy as np
import pandas as pd
import scipy.sparse as sp

from attribution.models.base import AttributionModel, journey_counts

__all__ = ["DEFAULT_SAMPLES", "INTERVAL_COLUMNS", "MAX_SAMPLES", "MIN_JOURNEYS", "MIN_SAMPLES", "bootstrap",
           "overlaps"]

DEFAULT_SAMPLES = 200
MIN_SAMPLES = 20     # fewer resamples cannot place a 2.5th percentile between two of them
MAX_SAMPLES = 2000
MIN_JOURNEYS = 20    # fewer journeys resample to a handful of distinct outcomes: no interval to speak of
INTERVAL_COLUMNS = ("conversions_low", "conversions_high", "value_low", "value_high")
_CELLS_PER_CHUNK = 20_000_000  # draws held at once (int64): 160 MB


def bootstrap(journeys: pd.DataFrame, models: Sequence[AttributionModel], by: str | Sequence[str] = "channel", *,
              samples: int = DEFAULT_SAMPLES, seed: int = 0, level: float = 0.95,
              filters: Mapping[str, str] | None = None,
              replicators: Mapping[str, Replicator] | None = None) -> pd.DataFrame:
    """Return each model's bootstrap interval per credited value: ``model``, the ``by`` columns, then
    ``conversions_low``, ``conversions_high``, ``value_low``, ``value_high``.

    Parameters
    ----------
    journeys
        Converting journeys, optionally followed by non-converting ones
        (:func:`attribution.paths.with_non_converting`); counts (``n_conversions``, ``n_null``) must be
        whole numbers.
    models
        The models to rerun on every resample.
    samples
        How many resamples (``MIN_SAMPLES`` to ``MAX_SAMPLES``).
    seed
        Seeds NumPy's generator: the same seed gives the same intervals.
    level
        The interval's coverage (0.95: the 2.5 and 97.5 percentiles).
    filters
        Keep the credit of the touches whose column has the value (``{"campaign": "spring"}``), summed
        by ``by``, as the reports' filters do.
    replicators
        A replicator to use for a model (by its name) instead of the model's own, for example one
        built from sums the database made.

    Examples
    --------
    >>> from attribution import Linear, journeys_from_paths
    >>> paths = pd.DataFrame({"path": ["A", "A > B", "B"], "n": [30, 20, 10], "value": [300.0, 200.0, 100.0]})
    >>> j = journeys_from_paths(paths, conversions="n")
    >>> table = bootstrap(j, [Linear()], samples=100, seed=1)
    >>> table[["model", "channel"]].values.tolist()
    [['linear', 'A'], ['linear', 'B']]
    >>> bool((table["conversions_low"] < 40).all() and (table["conversions_high"] > 20).all())
    True
    """
    if not isinstance(samples, int) or isinstance(samples, bool) or not MIN_SAMPLES <= samples <= MAX_SAMPLES:
        raise ValueError(f"samples must be a whole number from {MIN_SAMPLES} to {MAX_SAMPLES}")
    if not 0 < level < 1:
        raise ValueError("level must be between 0 and 1")
    columns = [by] if isinstance(by, str) else list(by)
    filters = dict(filters or {})
    grouped = list(dict.fromkeys([*columns, *filters]))
    conversions, nulls, values = journey_counts(journeys)
    cells = np.concatenate([conversions, nulls])
    if (cells < 0).any() or not np.array_equal(cells, np.round(cells)):
        raise ValueError("bootstrap needs whole counts of conversions and non-converting journeys")
    units = int(cells.sum())
    if units < MIN_JOURNEYS:
        raise ValueError(f"intervals need at least {MIN_JOURNEYS} journeys (converting and non-converting); "
                         f"these have {units}")
    mean_value = np.divide(values, conversions, out=np.zeros_like(values), where=conversions > 0)
    given = dict(replicators or {})
    replicators = [_Kept(given.get(m.name) or m.replicator(journeys, grouped), columns, filters) for m in models]
    draws_conv = [np.empty((samples, len(r.keys))) for r in replicators]
    draws_value = [np.empty((samples, len(r.keys))) for r in replicators]

    rng = np.random.default_rng(seed)
    p = cells / units
    n = len(conversions)
    chunk = max(1, _CELLS_PER_CHUNK // max(len(cells), 1))
    for first in range(0, samples, chunk):
        size = min(chunk, samples - first)
        counts = rng.multinomial(units, p, size=size).astype(float)
        for b in range(size):
            conv_b, null_b = counts[b, :n], counts[b, n:]
            for k, replicate in enumerate(replicators):
                credited, value = replicate(conv_b, null_b, conv_b * mean_value)
                draws_conv[k][first + b] = credited
                draws_value[k][first + b] = value

    tail = (1 - level) / 2 * 100
    tables = []
    for model, replicate, conv, value in zip(models, replicators, draws_conv, draws_value, strict=True):
        low_c, high_c = np.percentile(conv, [tail, 100 - tail], axis=0) if len(replicate.keys) else ([], [])
        low_v, high_v = np.percentile(value, [tail, 100 - tail], axis=0) if len(replicate.keys) else ([], [])
        table = replicate.keys.copy()
        for c in columns:
            table[c] = table[c].astype(object).where(table[c].notna(), None)
        table.insert(0, "model", model.name)
        table["conversions_low"], table["conversions_high"] = low_c, high_c
        table["value_low"], table["value_high"] = low_v, high_v
        tables.append(table)
    out = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=["model", *columns,
                                                                                     *INTERVAL_COLUMNS])
    return out.reset_index(drop=True)


class Replicator(Protocol):
    """A model's credits per key as a function of each journey's conversions, non-converting journeys and value."""

    keys: pd.DataFrame

    def __call__(self, conversions: np.ndarray, nulls: np.ndarray,
                 values: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...


class _Kept:
    """A replicator's credits of the keys matching ``filters``, summed by ``by``."""

    def __init__(self, inner: Replicator, by: list[str], filters: dict[str, str]) -> None:
        self.inner = inner
        keys = inner.keys
        match = np.ones(len(keys), dtype=bool)
        for column, value in filters.items():
            match &= (keys[column].astype(str) == value).to_numpy()
        kept = keys[by][match].reset_index(drop=True)
        group = kept.groupby(by, dropna=False, observed=True, sort=False).ngroup().to_numpy() if len(kept) \
            else np.zeros(0, dtype=np.int64)
        self.keys = kept.iloc[np.unique(group, return_index=True)[1]].reset_index(drop=True)
        self.collapse = sp.csr_matrix((np.ones(len(group)), (group, np.flatnonzero(match))),
                                      shape=(len(self.keys), len(keys)))

    def __call__(self, conversions: np.ndarray, nulls: np.ndarray,
                 values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        credited, value = self.inner(conversions, nulls, values)
        return self.collapse @ credited, self.collapse @ value


def overlaps(low_a: np.ndarray, high_a: np.ndarray, low_b: np.ndarray, high_b: np.ndarray) -> np.ndarray:
    """Whether two intervals overlap (then two models' credits do not "differ", ATTRIBUTION.md)."""
    return (np.asarray(low_a) <= np.asarray(high_b)) & (np.asarray(low_b) <= np.asarray(high_a))
