"""Position based (U-shaped): most credit to the first and the last touch, the rest shared in between."""
from __future__ import annotations

import numpy as np
import pandas as pd

from attribution.models.base import AttributionModel, JourneyIndex

__all__ = ["PositionBased"]


class PositionBased(AttributionModel):
    """U-shaped weights: ``first`` to touch 1, ``last`` to touch n, the rest split over the middle touches.

    One touch gets 1. Two touches get ``first`` and ``last`` rescaled to sum to 1 (equal halves
    when both are 0). Three or more: ``first``, ``last`` and ``(1 - first - last) / (n - 2)`` each in between.

    Parameters
    ----------
    first, last
        Weights of the first and last touch (default 0.4 each); each in [0, 1], together at most 1.

    Examples
    --------
    >>> from attribution import journeys_from_paths
    >>> j = journeys_from_paths(pd.DataFrame({"path": ["A > B > C > D", "A > B"]}))
    >>> PositionBased().attribute(j)[["channel", "conversions"]].round(6).values.tolist()
    [['A', 0.9], ['B', 0.6], ['D', 0.4], ['C', 0.1]]
    """

    name = "position_based"

    def __init__(self, first: float = 0.4, last: float = 0.4) -> None:
        self.first = first
        self.last = last

    def _check(self) -> None:
        if not (0 <= self.first <= 1 and 0 <= self.last <= 1) or self.first + self.last > 1 + 1e-12:
            raise ValueError(f"first and last must be in [0, 1] and sum to at most 1 (got {self.first}, {self.last})")

    def weights(self, journeys: pd.DataFrame) -> np.ndarray:
        """Return the U-shaped weight of every row."""
        self._check()
        JourneyIndex.of(journeys)
        position = journeys["position"].to_numpy()
        n = journeys["n_touches"].to_numpy()
        ends = self.first + self.last
        first2, last2 = (self.first / ends, self.last / ends) if ends > 0 else (0.5, 0.5)
        middle = (1.0 - self.first - self.last) / np.maximum(n - 2, 1)
        is_first, is_last = position == 0, position == n - 1
        return np.select(
            [n == 1, (n == 2) & is_first, n == 2, is_first, is_last],
            [1.0, first2, last2, self.first, self.last], default=middle)
