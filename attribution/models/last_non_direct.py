"""Last non-direct touch: the last touch that is not Direct (GA's classic default)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from attribution.channels import DIRECT
from attribution.models.base import AttributionModel, JourneyIndex

__all__ = ["LastNonDirect"]


class LastNonDirect(AttributionModel):
    """Credit 1 to the last touch whose channel is not Direct; to the last touch if all are Direct.

    Parameters
    ----------
    direct
        The channel name that counts as Direct.

    Examples
    --------
    >>> from attribution import journeys_from_paths
    >>> j = journeys_from_paths(pd.DataFrame({"path": ["Email > Direct", "Direct > Direct"]}))
    >>> LastNonDirect().attribute(j)[["channel", "conversions"]].values.tolist()
    [['Direct', 1.0], ['Email', 1.0]]
    """

    name = "last_non_direct"

    def __init__(self, direct: str = DIRECT) -> None:
        self.direct = direct

    def weights(self, journeys: pd.DataFrame) -> np.ndarray:
        """Return 1 for each journey's last non-Direct row (or its last row), 0 elsewhere."""
        index = JourneyIndex.of(journeys)
        if "channel" not in journeys:
            raise ValueError("last_non_direct needs the journeys' channel column")
        rows = np.arange(len(journeys))
        candidate = np.where((journeys["channel"] != self.direct).to_numpy(), rows, -1)
        last = np.maximum.reduceat(candidate, index.starts) if len(index.starts) else candidate[:0]
        chosen = np.where(last >= 0, last, index.ends)
        out = np.zeros(len(journeys))
        out[chosen] = 1.0
        return out
