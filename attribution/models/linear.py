"""Linear: every touch of the journey gets an equal share."""
from __future__ import annotations

import numpy as np
import pandas as pd

from attribution.models.base import AttributionModel, JourneyIndex

__all__ = ["Linear"]


class Linear(AttributionModel):
    """Credit 1/n to each of the n touches; a channel that repeats is credited each time.

    Examples
    --------
    >>> from attribution import journeys_from_paths
    >>> j = journeys_from_paths(pd.DataFrame({"path": ["A > A > B"], "value": [30.0]}))
    >>> Linear().attribute(j).round(6).values.tolist()
    [['A', 0.666667, 20.0, 0.666667], ['B', 0.333333, 10.0, 0.333333]]
    """

    name = "linear"

    def weights(self, journeys: pd.DataFrame) -> np.ndarray:
        """Return 1/n for every row of an n-touch journey."""
        JourneyIndex.of(journeys)
        return 1.0 / journeys["n_touches"].to_numpy(dtype=float)
