"""Last touch: the touch just before the conversion gets all the credit."""
from __future__ import annotations

import numpy as np
import pandas as pd

from attribution.models.base import AttributionModel, JourneyIndex

__all__ = ["LastTouch"]


class LastTouch(AttributionModel):
    """Credit 1 to touch n of n.

    Examples
    --------
    >>> from attribution import journeys_from_paths
    >>> j = journeys_from_paths(pd.DataFrame({"path": ["A > B > C", "B"], "value": [90.0, 10.0]}))
    >>> LastTouch().attribute(j).values.tolist()
    [['B', 1.0, 10.0, 0.5], ['C', 1.0, 90.0, 0.5]]
    """

    name = "last_touch"

    def weights(self, journeys: pd.DataFrame) -> np.ndarray:
        """Return 1 for each journey's last row, 0 elsewhere."""
        index = JourneyIndex.of(journeys)
        out = np.zeros(len(journeys))
        out[index.ends] = 1.0
        return out
