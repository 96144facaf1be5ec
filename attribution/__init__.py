"""Pure attribution analytics: pandas and NumPy only (no Flask, no SQLAlchemy), usable from a notebook.

The flow (ATTRIBUTION.md is the specification):

1. :func:`assign_channels` maps raw UTM values to channels with the taxonomy.
2. :func:`tie_answers` ties self-reported answers to conversions (optional).
3. :func:`build_journeys` turns touchpoints and conversions into journeys: one row per
   (conversion, touch), ``[Direct]`` for conversions without an eligible touch.
4. A model from :data:`MODELS` credits them: ``Linear().attribute(journeys, by="channel")`` gives the tidy
   table (``channel``, ``conversions``, ``value``, ``share``); :func:`compare` runs several side by side.
5. :func:`dark_funnel` compares what people said with what tracking saw; :func:`funnel_stages`,
   :func:`cycle_times` and :func:`cost_metrics` give the funnel numbers.

Examples
--------
>>> import pandas as pd
>>> j = journeys_from_paths(pd.DataFrame({"path": ["Events > Email > Paid search", "Podcast"],
...                                       "value": [300.0, 100.0]}))
>>> table = compare(j, [FirstTouch(), LastTouch(), Linear()])
>>> print(table.query("model == 'linear'").round(2).to_string(index=False))
 model     channel  conversions  value  share
linear     Podcast         1.00  100.0   0.50
linear       Email         0.33  100.0   0.17
linear      Events         0.33  100.0   0.17
linear Paid search         0.33  100.0   0.17
"""
from attribution.channels import DIRECT, OTHER, assign_channels, channel_of
from attribution.darkfunnel import DarkFunnel, dark_funnel, self_report_as_first_touch
from attribution.funnel import ENTRY, cost_metrics, cycle_times, funnel_stages
from attribution.journeys import DEFAULT_LOOKBACK, build_journeys, journeys_from_paths
from attribution.models import (
    MODELS,
    AttributionModel,
    FirstTouch,
    LastNonDirect,
    LastTouch,
    Linear,
    Markov,
    PositionBased,
    SelfReported,
    Shapley,
    TimeDecay,
    compare,
)
from attribution.selfreports import TIE_WINDOW, tie_answers

__all__ = ["DEFAULT_LOOKBACK", "DIRECT", "ENTRY", "MODELS", "OTHER", "TIE_WINDOW", "AttributionModel", "DarkFunnel",
           "FirstTouch", "LastNonDirect", "LastTouch", "Linear", "Markov", "PositionBased", "SelfReported", "Shapley",
           "TimeDecay",
           "assign_channels", "build_journeys", "channel_of", "compare", "cost_metrics", "cycle_times",
           "dark_funnel", "funnel_stages", "journeys_from_paths", "self_report_as_first_touch", "tie_answers"]
