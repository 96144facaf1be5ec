"""Self-reported: the channel the person named ("How did you hear about us?") gets all the credit."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from attribution.models.base import COUNT, JOURNEY, AttributionModel, JourneyIndex
from attribution.models.last_touch import LastTouch

__all__ = ["SelfReported"]


class SelfReported(AttributionModel):
    """Credit 1 to the channel of the answer tied to each conversion; ``fallback`` credits the rest.

    The journeys need ``answer_channel`` (missing where no answer is tied), as
    :func:`attribution.selfreports.tie_answers` adds it to the conversions before
    :func:`attribution.build_journeys`. An answered conversion is credited on one row whose channel
    is the answer's and whose other dimensions are empty (the answer is no touch: it has no source,
    campaign or link). :meth:`fell_back` counts the conversions the fallback model credited.

    Parameters
    ----------
    fallback
        The model for conversions without an answer (default :class:`LastTouch`).

    Examples
    --------
    >>> from attribution import journeys_from_paths
    >>> j = journeys_from_paths(pd.DataFrame({"path": ["Email > Paid search", "Email"]}))
    >>> j["answer_channel"] = j["conversion_id"].map({0: "Podcast", 1: None})
    >>> SelfReported().attribute(j)[["channel", "conversions"]].values.tolist()
    [['Email', 1.0], ['Podcast', 1.0]]
    """

    name = "self_reported"

    def __init__(self, fallback: AttributionModel | None = None) -> None:
        self.fallback = fallback if fallback is not None else LastTouch()

    def _answers(self, journeys: pd.DataFrame) -> pd.Series:
        if "answer_channel" not in journeys:
            raise ValueError("self_reported needs the journeys' answer_channel column: tie answers to the "
                             "conversions with attribution.selfreports.tie_answers before build_journeys")
        return journeys["answer_channel"]

    def fell_back(self, journeys: pd.DataFrame) -> int:
        """Return how many conversions had no tied answer (and were credited by the fallback model)."""
        index = JourneyIndex.of(journeys)
        return int(self._answers(journeys).isna().to_numpy()[index.starts].sum())

    def weights(self, journeys: pd.DataFrame) -> np.ndarray:
        """Return the fallback's weights on unanswered journeys and 0 on answered ones.

        The answered conversions' credit is on the extra rows :meth:`credited_rows` adds.
        """
        answered = self._answers(journeys).notna().to_numpy()
        return np.where(answered, 0.0, self.fallback.weights(journeys))

    def credited_rows(self, journeys: pd.DataFrame,
                      columns: Sequence[str] | None = None) -> tuple[pd.DataFrame, np.ndarray]:
        """Return the unanswered journeys' rows, then one row per answered conversion (its channel: the answer).

        With ``columns``, the unanswered rows carry only those (and ``conversion_id``, ``value`` and
        ``channel``): copying every column of millions of rows would cost more than the model.
        """
        index = JourneyIndex.of(journeys)
        answers = self._answers(journeys)
        answered = answers.notna().to_numpy()
        weights = self.fallback.weights(journeys)[~answered]
        firsts = index.starts[answered[index.starts]]
        carried = ["conversion_id", "value", *[c for c in (COUNT, JOURNEY) if c in journeys]]
        said = journeys.iloc[firsts][carried].reset_index(drop=True)
        said_channel = answers.to_numpy()[firsts]
        if columns is None:
            rest = journeys.loc[~answered]
        else:
            keep = dict.fromkeys([*columns, *carried, "channel"])
            rest = journeys.loc[~answered, [c for c in journeys.columns if c in keep]]
        channel = rest["channel"]
        if isinstance(channel.dtype, pd.CategoricalDtype):
            # The answers join the categories: the credited channels stay a categorical (fast to group).
            categories = channel.cat.categories
            categories = categories.append(pd.Index(pd.unique(said_channel)).difference(categories))
            rest = rest.assign(channel=channel.cat.set_categories(categories))
            said["channel"] = pd.Categorical(said_channel, categories=categories)
        else:
            rest = rest.assign(channel=channel.astype(object))
            said["channel"] = said_channel
        rows = pd.concat([rest, said], ignore_index=True)
        return rows, np.concatenate([weights, np.ones(len(said))])
