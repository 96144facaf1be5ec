"""First touch: the journey's first touch gets all the credit."""
from __future__ import annotations

import numpy as np
import pandas as pd

from attribution.models.base import AttributionModel, JourneyIndex

__all__ = ["FirstTouch"]


class FirstTouch(AttributionModel):
    """Credit 1 to touch 1 of n.

    Examples
    --------
    >>> from attribution import journeys_from_paths
    >>> j = journeys_from_paths(pd.DataFrame({"path": ["A > B > C", "B"], "value": [90.0, 10.0]}))
    >>> FirstTouch().attribute(j).values.tolist()
    [['A', 1.0, 90.0, 0.5], ['B', 1.0, 10.0, 0.5]]
    """

    name = "first_touch"

    def weights(self, journeys: pd.DataFrame) -> np.ndarray:
        """Return 1 for each journey's first row, 0 elsewhere."""
        index = JourneyIndex.of(journeys)
        out = np.zeros(len(journeys))
        out[index.starts] = 1.0
        return out
