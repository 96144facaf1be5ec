"""Tie self-reported answers to conversions (ATTRIBUTION.md, "Self-reported answers").

An answer belongs to a conversion when it was submitted with that conversion's id; otherwise the
conversion takes the person's answer nearest in time within the window (default 7 days) before or
after it. Vectorised with ``pandas.merge_asof``; inputs are never modified.
"""
from __future__ import annotations

import pandas as pd

__all__ = ["TIE_WINDOW", "tie_answers"]

TIE_WINDOW = pd.Timedelta(days=7)


def tie_answers(conversions: pd.DataFrame, answers: pd.DataFrame,
                window: pd.Timedelta = TIE_WINDOW) -> pd.DataFrame:
    """Return ``conversions`` with the answer tied to each one.

    Parameters
    ----------
    conversions
        Columns ``conversion_id``, ``person_id``, ``ts`` (UTC) and optionally ``external_id``.
    answers
        Columns ``answer_id``, ``person_id``, ``ts``, ``channel`` and optionally
        ``conversion_external_id`` (the id it was submitted with; empty for none).
    window
        How far before or after a conversion a person's answer may be to be tied by time.

    Returns
    -------
    DataFrame
        The conversions' columns plus ``answer_id`` (nullable ``Int64`` for integer ids),
        ``answer_channel`` and ``tied_by`` (``"id"``, ``"time"`` or missing: ``pd.NA``), in the
        conversions' order. Tied by id wins over by time; among several
        answers with the conversion's id the latest wins; by time, the nearest (the earlier on a tie).

    Examples
    --------
    >>> t = pd.Timestamp("2026-05-01", tz="UTC")
    >>> conv = pd.DataFrame({"conversion_id": [1, 2], "person_id": ["a", "b"], "ts": [t, t],
    ...                      "external_id": ["d1", "d2"]})
    >>> ans = pd.DataFrame({"answer_id": [10, 11], "person_id": ["a", "b"], "channel": ["Podcast", "Events"],
    ...                     "ts": [t + pd.Timedelta(days=2), t + pd.Timedelta(days=9)],
    ...                     "conversion_external_id": [None, None]})
    >>> tied = tie_answers(conv, ans)
    >>> tied["answer_channel"].tolist(), tied["tied_by"].tolist()
    (['Podcast', <NA>], ['time', <NA>])
    """
    if window < pd.Timedelta(0):
        raise ValueError("window must not be negative (it is applied before and after each conversion)")
    out = conversions.copy()
    out["_row"] = range(len(out))
    answer_id = pd.Series(pd.NA, index=out.index, dtype="object")
    channel = pd.Series(pd.NA, index=out.index, dtype="object")
    tied_by = pd.Series(pd.NA, index=out.index, dtype="object")
    if answers.empty or out.empty:
        return _finish(out, answer_id, channel, tied_by)

    if "external_id" in out and "conversion_external_id" in answers:
        by_id = (answers.dropna(subset=["conversion_external_id"])
                 .sort_values(["ts", "answer_id"]).drop_duplicates("conversion_external_id", keep="last"))
        hit = out[["_row", "external_id"]].merge(by_id, left_on="external_id", right_on="conversion_external_id")
        rows = out.index[hit["_row"].to_numpy()]
        answer_id.loc[rows] = hit["answer_id"].to_numpy()
        channel.loc[rows] = hit["channel"].to_numpy()
        tied_by.loc[rows] = "id"

    rest = out.loc[tied_by.isna(), ["_row", "person_id", "ts"]].sort_values("ts", kind="stable")
    if not rest.empty:
        pool = answers[["answer_id", "person_id", "ts", "channel"]].rename(columns={"ts": "answer_ts"})
        pool = pool.sort_values(["answer_ts", "answer_id"], kind="stable")
        near = pd.merge_asof(rest, pool, left_on="ts", right_on="answer_ts", by="person_id",
                             direction="nearest", tolerance=window, allow_exact_matches=True)
        near = near.dropna(subset=["answer_id"])
        rows = out.index[near["_row"].to_numpy()]
        answer_id.loc[rows] = near["answer_id"].to_numpy()
        channel.loc[rows] = near["channel"].to_numpy()
        tied_by.loc[rows] = "time"
    if pd.api.types.is_integer_dtype(answers["answer_id"]):
        answer_id = answer_id.astype("Int64")
    return _finish(out, answer_id, channel, tied_by)


def _finish(out: pd.DataFrame, answer_id: pd.Series, channel: pd.Series, tied_by: pd.Series) -> pd.DataFrame:
    out = out.drop(columns="_row")
    out["answer_id"] = answer_id
    out["answer_channel"] = channel
    out["tied_by"] = tied_by
    return out
