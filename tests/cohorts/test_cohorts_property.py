"""The database's cohort aggregates equal the in-memory reference (:func:`attribution.cohorts.cohort_counts`).

Random customers, touches (offline kinds and explicit channels, ties on the same second, touches after the
first purchase) and purchases around month boundaries, on SQLite and PostgreSQL. The reference reads every
touch with the attribution reports' in-memory loader and computes in pandas.
"""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from conftest import empty_tables
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from attribution.cohorts import cohort_counts, cohort_tables, month_number
from tracker.cohorts.params import parse_cohort_params
from tracker.cohorts.service import cohort_aggregates
from tracker.conversions.service import create_conversions
from tracker.db import get_db
from tracker.reports.loading import load_conversions, load_touchpoints
from tracker.touchpoints.imports import import_touchpoints

START = datetime(2025, 9, 30, 20, tzinfo=UTC)  # hours before October in Oslo
KINDS = ("event", "podcast", "print", "pr", "partner", "other")
CHANNELS = ("", "", "", "Email", "Paid social")

touch = st.tuples(st.integers(0, 5), st.integers(0, 24 * 200), st.sampled_from(KINDS), st.sampled_from(CHANNELS))
purchase = st.tuples(st.integers(0, 5), st.integers(0, 24 * 200), st.integers(0, 50000))


def _load(app: Any, touches: list[tuple[int, int, str, str]], purchases: list[tuple[int, int, int]]) -> None:
    settings_ = app.config["SETTINGS"]
    secret = app.extensions["tracker.redirects"]["ip_secret"]
    lines = ["customer_key,ts,kind,channel,label"]
    for who, hour, kind, channel in touches:
        lines.append(f"p{who}@example.com,{(START + timedelta(hours=hour)).isoformat()},{kind},{channel},x")
    items = [{"external_id": f"o{i}", "type": "purchase", "ts": (START + timedelta(hours=hour)).isoformat(),
              "value": f"{cents / 100:.2f}", "customer_key": f"p{who}@example.com"}
             for i, (who, hour, cents) in enumerate(purchases)]
    with get_db(app).Session() as session:
        if touches:
            assert import_touchpoints(session, settings_, secret, "\n".join(lines) + "\n", atomic=True).committed
        if items:
            assert create_conversions(session, settings_, secret, items, atomic=True).committed


# No shrinking: each example loads a database, so shrinking a failure would take many minutes.
@settings(max_examples=12, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate],
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(touches=st.lists(touch, max_size=14), purchases=st.lists(purchase, max_size=14),
       as_of_day=st.integers(20, 230), by=st.sampled_from(["channel"]))
def test_database_equals_reference(app, touches, purchases, as_of_day, by):
    empty_tables(get_db(app).engine)
    _load(app, touches, purchases)
    settings_ = app.config["SETTINGS"]
    as_of = date(2025, 10, 1) + timedelta(days=as_of_day)
    params = parse_cohort_params({"from": "2025-09", "to": f"{as_of:%Y-%m}", "as_of": as_of.isoformat(),
                                  "months": "4", "by": by}, settings_)
    end = params.end(settings_)
    with get_db(app).Session() as session:
        found = cohort_aggregates(session, settings_, params)
        bought = load_conversions(session, START - timedelta(days=1), end, ["purchase"])
        touched = load_touchpoints(session, settings_, START - timedelta(days=1), end + timedelta(days=400))
    expected_sizes, expected_activity = cohort_counts(
        bought, touched[~touched["is_bot"]], tz=settings_.tz, as_of=end, first_month=month_number(2025, 9),
        last_month=month_number(as_of.year, as_of.month), months=4, churn_days=settings_.churn_days)

    def tidy(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
        return frame.sort_values(keys).reset_index(drop=True).astype({"label": object})

    got, want = tidy(found.sizes, ["cohort", "label"]), tidy(expected_sizes, ["cohort", "label"])
    pd.testing.assert_frame_equal(got, want, check_dtype=False, rtol=1e-9)
    got, want = tidy(found.activity, ["cohort", "label", "month"]), \
        tidy(expected_activity, ["cohort", "label", "month"])
    pd.testing.assert_frame_equal(got, want, check_dtype=False, rtol=1e-9)
    if len(got):  # and the maths keeps blanks blank
        cells = cohort_tables(found.sizes, found.activity, months=4).cells
        ended = cells["month"].to_numpy() < np.repeat(
            cohort_tables(found.sizes, found.activity, months=4).cohorts["age_months"].to_numpy(), 4)
        assert cells["retention"].isna().to_numpy().tolist() == (~ended).tolist()
