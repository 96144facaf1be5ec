"""What every attribution model shares: the journey checks, the per-journey arrays and the credit table.

A model is an object holding its parameters (validated in ``__init__``) with one method that
matters, :meth:`AttributionModel.weights`: the weight of every journey row, summing to 1 within
each conversion. :meth:`AttributionModel.attribute` turns weights into the tidy credit table
(dimension columns, ``conversions``, ``value``, ``share``), the same for every model.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import ClassVar

import numpy as np
import pandas as pd
import scipy.sparse as sp

__all__ = ["COUNT", "CREDIT_COLUMNS", "JOURNEY", "NULLS", "AttributionModel", "JourneyIndex", "LinearCredits",
           "credit_sums", "credit_table", "journey_counts"]

JOURNEY_NEEDS = ("conversion_id", "position", "n_touches", "value")
# Optional journey column: how many conversions a journey stands for (a distinct path with its count).
COUNT = "n_conversions"
# Optional journey column: how many non-converting journeys (ATTRIBUTION.md) a journey stands for. A journey
# with 0 conversions and nulls > 0 is a non-converting one: the data-driven models learn from it, the
# rule-based models give it nothing (they credit conversions only).
NULLS = "n_null"
# A column the replicators add for a moment: the journey number of each row (models that build rows carry it).
JOURNEY = "_journey"
CREDIT_COLUMNS = ("conversions", "value", "share")


@dataclass(frozen=True)
class JourneyIndex:
    """Where each journey starts and ends in a journeys frame sorted by conversion and position."""

    starts: np.ndarray  # row of each journey's first touch
    sizes: np.ndarray   # touches per journey

    @classmethod
    def of(cls, journeys: pd.DataFrame) -> JourneyIndex:
        """Index ``journeys``; raise ValueError when it is not in the journey layout."""
        missing = [c for c in JOURNEY_NEEDS if c not in journeys.columns]
        if missing:
            raise ValueError(f"journeys lack the column(s) {', '.join(missing)}: build them with "
                             "attribution.build_journeys (or journeys_from_paths)")
        position = journeys["position"].to_numpy()
        n = journeys["n_touches"].to_numpy()
        starts = np.flatnonzero(position == 0)
        sizes = n[starts] if len(starts) else np.zeros(0, dtype=np.int64)
        if int(sizes.sum()) != len(journeys) or (len(starts) and starts[0] != 0) or \
                not np.array_equal(np.diff(np.append(starts, len(journeys))), sizes):
            raise ValueError("journeys must be sorted by conversion_id and position, with position 0..n_touches-1 "
                             "in each conversion (as attribution.build_journeys returns them)")
        return cls(starts, sizes)

    @cached_property
    def group(self) -> np.ndarray:
        """Journey number of every row (0..journeys-1); made on first use."""
        return np.repeat(np.arange(len(self.starts)), self.sizes)

    @property
    def ends(self) -> np.ndarray:
        """Row of each journey's last touch."""
        return self.starts + self.sizes - 1

    def conversions(self, journeys: pd.DataFrame) -> float:
        """How many conversions the journeys stand for: one each, or the sum of their ``n_conversions``."""
        if COUNT not in journeys:
            return len(self.starts)
        return float(journeys[COUNT].to_numpy(dtype=float)[self.starts].sum())

    def sums(self, values: np.ndarray) -> np.ndarray:
        """Sum of ``values`` within each journey."""
        if not len(self.starts):
            return np.zeros(0)
        return np.add.reduceat(values, self.starts)

    def normalise(self, raw: np.ndarray) -> np.ndarray:
        """Scale non-negative ``raw`` weights to sum to 1 per journey."""
        return raw / np.repeat(self.sums(raw), self.sizes)


class AttributionModel:
    """Base of the models: subclasses set ``name`` and implement :meth:`weights`."""

    name: ClassVar[str] = ""

    def weights(self, journeys: pd.DataFrame) -> np.ndarray:
        """Return the credit weight of every journey row; the weights of a conversion sum to 1."""
        raise NotImplementedError

    def credited_rows(self, journeys: pd.DataFrame,
                      columns: Sequence[str] | None = None) -> tuple[pd.DataFrame, np.ndarray]:
        """Return the rows that receive credit and their weights (the journey rows, for most models).

        ``columns`` names the columns the caller needs of the rows (all when None); a model that builds
        rows of its own may leave the others out.
        """
        return journeys, self.weights(journeys)

    def attribute(self, journeys: pd.DataFrame, by: str | Sequence[str] = "channel") -> pd.DataFrame:
        """Credit the journeys' conversions and values to the ``by`` dimension(s).

        Parameters
        ----------
        journeys
            Journeys as :func:`attribution.build_journeys` returns them.
        by
            One column of the journeys (``channel``, ``source``, ``medium``, ``campaign``, ``link_code``,
            ``kind`` ...) or several.

        Returns
        -------
        DataFrame
            The ``by`` columns, then ``conversions`` and ``value`` credited and ``share`` (credited
            conversions / all conversions), largest first. Their sums are the number of conversions
            and their total value. Missing dimension values are ``None``. Journeys with an
            ``n_conversions`` column (distinct paths with counts, ``value`` their total) are weighed by it.
        """
        columns = [by] if isinstance(by, str) else list(by)
        needs = [*columns, "value", COUNT] if COUNT in journeys else [*columns, "value"]
        rows, weights = self.credited_rows(journeys, columns=needs)
        index = JourneyIndex.of(journeys)
        return credit_table(rows, weights, by, conversions=index.conversions(journeys))

    def replicator(self, journeys: pd.DataFrame, by: str | Sequence[str] = "channel") -> LinearCredits:
        """Return the model's credits as a function of each journey's counts, for the bootstrap.

        A rule-based model gives every journey fixed weights, so its credits are a fixed mix of the
        journeys' conversions and values (:class:`LinearCredits`); the data-driven models, whose credits
        depend on every journey's counts, return replicators of their own.
        """
        columns = [by] if isinstance(by, str) else list(by)
        index = JourneyIndex.of(journeys)
        marked = journeys.assign(**{JOURNEY: index.group})
        rows, weights = self.credited_rows(marked, columns=[*columns, JOURNEY, "value"])
        converting = journey_counts(journeys)[0] > 0  # a journey without conversions never earns credit
        keep = np.flatnonzero((weights > 0) & converting[rows[JOURNEY].to_numpy()])
        rows = rows[[*columns, JOURNEY]].take(keep).reset_index(drop=True)
        key = rows.groupby(columns, dropna=False, observed=True, sort=False).ngroup().to_numpy()
        keys = rows[columns].iloc[np.unique(key, return_index=True)[1]].reset_index(drop=True)
        matrix = sp.csr_matrix((weights[keep], (rows[JOURNEY].to_numpy(), key)),
                               shape=(len(index.starts), len(keys)))
        return LinearCredits(keys, matrix)

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({params})"

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and vars(self) == vars(other)

    def __hash__(self) -> int:
        return hash((type(self), tuple(sorted(vars(self).items()))))


def credit_table(rows: pd.DataFrame, weights: np.ndarray, by: str | Sequence[str], *,
                 conversions: float) -> pd.DataFrame:
    """Sum ``weights`` (as conversions) and ``weights x value`` per ``by`` group of ``rows``.

    Rows with an ``n_conversions`` column stand for that many conversions (``value`` their total).
    """
    columns = [by] if isinstance(by, str) else list(by)
    if not columns:
        raise ValueError("by needs at least one column")
    missing = [c for c in columns if c not in rows.columns]
    if missing:
        raise ValueError(f"cannot group by {', '.join(missing)}: the journeys have no such column")
    count = rows[COUNT].to_numpy(dtype=float) if COUNT in rows else np.ones(len(rows))
    value = rows["value"].to_numpy(dtype=float)
    # Touches a model gives nothing (first touch: all but the first), or that stand for no conversion, are not listed.
    credited = (weights > 0) & (count > 0)
    if credited.all():
        frame = rows[columns].reset_index(drop=True)  # categoricals stay: grouping stays fast
    else:
        where = np.flatnonzero(credited)  # once, for every column taken
        frame = rows[columns].take(where).reset_index(drop=True)
        weights, count, value = weights[where], count[where], value[where]
    frame["conversions"] = weights * count
    frame["value"] = weights * value
    return credit_sums(frame, columns, conversions)


def credit_sums(frame: pd.DataFrame, by: str | Sequence[str], conversions: float) -> pd.DataFrame:
    """Sum the ``conversions`` and ``value`` credited per ``by`` group; add ``share``; largest first.

    ``frame`` holds the ``by`` columns and the credits of each credited touch (or of each group,
    when the sums were made elsewhere, for example in the database); ``conversions`` is the total
    the shares are relative to.
    """
    columns = [by] if isinstance(by, str) else list(by)
    table = frame.groupby(columns, dropna=False, observed=True, sort=False)[["conversions", "value"]].sum()
    table = table.reset_index()
    for c in columns:
        table[c] = table[c].astype(object).where(table[c].notna(), None)
    table["share"] = table["conversions"] / conversions if conversions else 0.0
    # Largest first; equal credits (to 1e-9, so float noise cannot reorder them) by dimension values.
    table["_rank"] = -table["conversions"].round(9)
    table = table.sort_values(["_rank", *columns], na_position="last", kind="stable").drop(columns="_rank")
    return table.reset_index(drop=True)


@dataclass(frozen=True)
class LinearCredits:
    """Credits that are a fixed mix of each journey's conversions and value (every rule-based model).

    ``matrix[j, k]`` is the weight journey ``j`` gives ``keys`` row ``k``; called with each journey's
    conversions, non-converting journeys and value it returns the conversions and value credited to
    each key (non-converting journeys earn no credit under a rule).
    """

    keys: pd.DataFrame
    matrix: sp.csr_matrix

    def __call__(self, conversions: np.ndarray, nulls: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        del nulls  # a rule credits conversions only
        return self.matrix.T @ conversions, self.matrix.T @ values


def journey_counts(journeys: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each journey's conversions, non-converting journeys and value (one entry per journey, in order)."""
    starts = JourneyIndex.of(journeys).starts
    conversions = journeys[COUNT].to_numpy(dtype=float)[starts] if COUNT in journeys else np.ones(len(starts))
    nulls = journeys[NULLS].to_numpy(dtype=float)[starts] if NULLS in journeys else np.zeros(len(starts))
    return conversions, nulls, journeys["value"].to_numpy(dtype=float)[starts]
