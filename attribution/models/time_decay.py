"""Time decay: touches closer to the conversion get more credit, halving every half-life."""
from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd

from attribution.models.base import AttributionModel, JourneyIndex

__all__ = ["TimeDecay"]


class TimeDecay(AttributionModel):
    """Weight touch i by 2^(-(T - ts_i) / H), normalised per journey (T: the conversion's time).

    Parameters
    ----------
    half_life
        H, a positive ``pd.Timedelta`` or ``datetime.timedelta`` (default 7 days, as Google Ads and HubSpot).
        A bare number raises ValueError rather than being read as nanoseconds.

    Notes
    -----
    Touches with equal timestamps get equal weight. Ages are taken relative to the journey's most
    recent touch before exponentiating, which gives the same normalised weights without underflow
    for touches many half-lives old. Journeys need ``ts`` and ``conversion_ts``.

    Examples
    --------
    >>> from attribution import journeys_from_paths
    >>> j = journeys_from_paths(pd.DataFrame({"path": ["A > B"], "value": [3.0]}))
    >>> j["ts"] = j["conversion_ts"] - pd.to_timedelta([7, 0], unit="D")  # A a half-life before B
    >>> TimeDecay().attribute(j)[["channel", "conversions", "value"]].values.tolist()
    [['B', 0.6666666666666666, 2.0], ['A', 0.3333333333333333, 1.0]]
    """

    name = "time_decay"

    def __init__(self, half_life: pd.Timedelta = pd.Timedelta(days=7)) -> None:  # noqa: B008 (immutable)
        # Time spans (timedelta, "7D") become pd.Timedelta; anything else is kept as given and rejected in
        # weights(): pd.Timedelta(7) would silently be 7 nanoseconds and pd.Timedelta(None) NaT.
        if isinstance(half_life, (str, timedelta, np.timedelta64)):
            try:
                half_life = pd.Timedelta(half_life)
            except ValueError as exc:
                raise ValueError(f"half_life {half_life!r} is not a time span: give e.g. pd.Timedelta(days=7) "
                                 "or '7D'") from exc
        self.half_life = half_life

    def _half_life_ns(self) -> float:
        half_life = self.half_life
        if not isinstance(half_life, timedelta) or pd.isna(half_life) or half_life <= pd.Timedelta(0):
            hint = "; a bare number is not read as days" if isinstance(half_life, (int, float, np.number)) else ""
            raise ValueError(f"half_life must be a positive time span, e.g. pd.Timedelta(days=7) "
                             f"(got {half_life!r}{hint})")
        return float(pd.Timedelta(half_life).value)

    def weights(self, journeys: pd.DataFrame) -> np.ndarray:
        """Return each row's decayed weight, normalised per journey."""
        half_life = self._half_life_ns()
        index = JourneyIndex.of(journeys)
        if "ts" not in journeys or "conversion_ts" not in journeys:
            raise ValueError("time_decay needs the journeys' ts and conversion_ts columns")
        age = (journeys["conversion_ts"] - journeys["ts"]).to_numpy(dtype="timedelta64[ns]").astype(np.float64)
        age = np.maximum(age, 0.0)  # a touch is never after its conversion in built journeys
        youngest = np.minimum.reduceat(age, index.starts) if len(index.starts) else age[:0]
        raw = np.exp2(-(age - np.repeat(youngest, index.sizes)) / half_life)
        return index.normalise(raw)
