"""The attribution models, one module each, and :func:`compare` to run several side by side.

Every model is an object holding its parameters; ``model.attribute(journeys, by=...)`` gives the
tidy credit table. A rule-based model (:data:`RULE_BASED`) gives each journey row its weight
(``model.weights(journeys)``); the data-driven ones (:data:`DATA_DRIVEN`: Markov, Shapley) learn from
converting and non-converting journeys (``n_null``). ``MODELS`` maps the names reports use to the classes.
"""
from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from attribution.models.base import CREDIT_COLUMNS, AttributionModel, JourneyIndex, credit_table
from attribution.models.first_touch import FirstTouch
from attribution.models.last_non_direct import LastNonDirect
from attribution.models.last_touch import LastTouch
from attribution.models.linear import Linear
from attribution.models.markov import Markov, MarkovFit
from attribution.models.position_based import PositionBased
from attribution.models.self_reported import SelfReported
from attribution.models.shapley import Shapley
from attribution.models.time_decay import TimeDecay

__all__ = ["CREDIT_COLUMNS", "DATA_DRIVEN", "MODELS", "RULE_BASED", "AttributionModel", "FirstTouch", "JourneyIndex",
           "LastNonDirect", "LastTouch", "Linear", "Markov", "MarkovFit", "PositionBased", "SelfReported", "Shapley",
           "TimeDecay", "compare", "credit_table"]

RULE_BASED: dict[str, type[AttributionModel]] = {
    cls.name: cls for cls in (FirstTouch, LastTouch, LastNonDirect, Linear, TimeDecay, PositionBased, SelfReported)
}
DATA_DRIVEN: dict[str, type[AttributionModel]] = {cls.name: cls for cls in (Markov, Shapley)}
MODELS: dict[str, type[AttributionModel]] = {**RULE_BASED, **DATA_DRIVEN}


def compare(journeys: pd.DataFrame, models: Sequence[AttributionModel],
            by: str | Sequence[str] = "channel") -> pd.DataFrame:
    """Return the credit tables of several models stacked, with a leading ``model`` column.

    Examples
    --------
    >>> from attribution import journeys_from_paths
    >>> j = journeys_from_paths(pd.DataFrame({"path": ["A > B"], "value": [10.0]}))
    >>> compare(j, [FirstTouch(), Linear()])[["model", "channel", "value"]].values.tolist()
    [['first_touch', 'A', 10.0], ['linear', 'A', 5.0], ['linear', 'B', 5.0]]
    """
    if not models:
        raise ValueError("compare needs at least one model")
    names = [m.name for m in models]
    if len(set(names)) != len(names):
        raise ValueError("each model may appear once; to compare parameters, run attribute() per model")
    tables = [m.attribute(journeys, by).assign(model=m.name) for m in models]
    out = pd.concat(tables, ignore_index=True)
    return out[["model", *[c for c in out.columns if c != "model"]]]
