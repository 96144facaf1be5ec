"""Build conversion journeys from touchpoints and conversions (ATTRIBUTION.md, "Journeys").

A journey is one row per (conversion, touch), in the long ("tidy") format every model takes:

- the touches are the person's non-bot touchpoints with ``conversion.ts - lookback <= ts <= conversion.ts``
  (with ``since_previous_conversion``, also strictly after the person's previous conversion of the
  same type), ordered by ``(ts, touchpoint_id)``;
- a conversion with no such touch gets one row ``[Direct]`` (``is_fallback`` true), so it is never dropped;
- rows are sorted by ``conversion_id`` then ``position``; ``position`` counts 0..n-1 within a journey
  and ``n_touches`` is n.

Everything is vectorised: one join of touches onto conversions by person (as row positions), one
filter, one sort on integer keys.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from attribution.channels import DIRECT
from attribution.labels import name_missing

__all__ = ["CONVERSION_COLUMNS", "DEFAULT_LOOKBACK", "DIMENSIONS", "TOUCH_COLUMNS", "build_journeys",
           "journeys_from_paths"]

DEFAULT_LOOKBACK = pd.Timedelta(days=30)
TOUCH_COLUMNS = ("touchpoint_id", "person_id", "ts", "channel", "source", "medium", "campaign", "link_code",
                 "kind", "is_bot")
CONVERSION_COLUMNS = ("conversion_id", "person_id", "ts", "value", "type")
# Touch columns a report may group credits by; in journeys they are categoricals (fast grouping).
DIMENSIONS = ("channel", "source", "medium", "campaign", "link_code", "kind")


def _require(frame: pd.DataFrame, columns: Sequence[str], name: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{name} lacks the column(s) {', '.join(missing)}; it needs {', '.join(columns)}")


def _utc(series: pd.Series, name: str) -> pd.Series:
    if not isinstance(series.dtype, pd.DatetimeTZDtype):
        raise ValueError(f"{name} must be timezone-aware UTC timestamps (e.g. pd.to_datetime(..., utc=True))")
    return series.dt.tz_convert("UTC").astype("datetime64[ns, UTC]")


def build_journeys(touchpoints: pd.DataFrame, conversions: pd.DataFrame, *,
                   lookback: pd.Timedelta = DEFAULT_LOOKBACK,
                   since_previous_conversion: bool = False) -> pd.DataFrame:
    """Return the journey of every conversion, one row per touch, in the long format the models take.

    Parameters
    ----------
    touchpoints
        Columns ``touchpoint_id``, ``person_id``, ``ts`` (tz-aware), ``channel``, ``source``, ``medium``,
        ``campaign``, ``link_code``, ``kind`` and ``is_bot`` (missing counts as no bot); extra columns are
        carried along. Touches without a ``person_id`` are in no journey.
    conversions
        Columns ``conversion_id``, ``person_id``, ``ts`` (tz-aware), ``value`` and ``type``; extra
        columns (for example ``answer_channel`` from :func:`attribution.selfreports.tie_answers`) are
        carried along on every row of the conversion.
    lookback
        How far before a conversion a touch may be (inclusive at both ends).
    since_previous_conversion
        Start each journey strictly after the person's previous conversion of the same type (by
        ``(ts, conversion_id)``), so a touch is credited to one conversion of a type at most.

    Returns
    -------
    DataFrame
        The conversion's columns (its ``ts`` as ``conversion_ts``), then ``position``, ``n_touches``,
        the touch's columns and ``is_fallback``, sorted by ``conversion_id`` and ``position``; the
        dimension columns are categoricals. Fallback rows have channel ``Direct``, the conversion's
        time as ``ts`` and empty touch columns. Missing dimension values are named as in
        :func:`attribution.labels.name_missing` (a Direct touch's source is ``(direct)``, other
        touches' missing values ``(not set)``), so no credit table has a blank cell.

    Examples
    --------
    >>> t = pd.Timestamp("2026-05-10", tz="UTC")
    >>> touches = pd.DataFrame({"touchpoint_id": ["a", "b", "c"], "person_id": ["p", "p", "p"],
    ...     "ts": [t - pd.Timedelta(days=40), t - pd.Timedelta(days=3), t - pd.Timedelta(days=1)],
    ...     "channel": ["Email", "Events", "Paid search"], "source": None, "medium": None,
    ...     "campaign": None, "link_code": None, "kind": None, "is_bot": False})
    >>> conv = pd.DataFrame({"conversion_id": [1, 2], "person_id": ["p", "q"], "ts": [t, t],
    ...                      "value": [100.0, 0.0], "type": "purchase"})
    >>> j = build_journeys(touches, conv)
    >>> print(j[["conversion_id", "position", "n_touches", "channel", "is_fallback"]].to_string(index=False))
     conversion_id  position  n_touches     channel  is_fallback
                 1         0          2      Events        False
                 1         1          2 Paid search        False
                 2         0          1      Direct         True
    """
    _require(touchpoints, TOUCH_COLUMNS, "touchpoints")
    _require(conversions, CONVERSION_COLUMNS, "conversions")
    if lookback < pd.Timedelta(0):
        raise ValueError("lookback must not be negative")
    if conversions["conversion_id"].duplicated().any():
        raise ValueError("conversion_id must be unique")

    # A fresh positional index: the since_previous_conversion bound is aligned by label below.
    conv = conversions.reset_index(drop=True).rename(columns={"ts": "conversion_ts"})
    conv["conversion_ts"] = _utc(conv["conversion_ts"], "conversions.ts")
    conv["value"] = conv["value"].astype(float)
    start = conv["conversion_ts"] - lookback
    if since_previous_conversion:
        order = conv.sort_values(["person_id", "type", "conversion_ts", "conversion_id"], kind="stable")
        previous = order.groupby(["person_id", "type"], sort=False)["conversion_ts"].shift()
        # Strictly after the previous conversion: a touch at that very instant belongs to it.
        after = (previous + pd.Timedelta(1, "ns")).reindex(conv.index)
        start = start.where(after.isna() | (after < start), after)
    conv["_start"] = start

    # A missing is_bot (unknown) is no bot; a touch without a person belongs to nobody's journey (merging on
    # person_id would otherwise pair missing ids with each other).
    bot = touchpoints["is_bot"].eq(True).to_numpy(dtype=bool, na_value=False)
    touches = touchpoints[~bot & touchpoints["person_id"].notna().to_numpy()]
    touches = touches.assign(ts=_utc(touches["ts"], "touchpoints.ts"))
    clash = [c for c in touches.columns if c in conv.columns and c != "person_id"]
    touches = touches.drop(columns=clash)
    conv_row, touch_row = _pair_by_person(conv["person_id"], touches["person_id"])
    touch_ns = touches["ts"].to_numpy(dtype="datetime64[ns]")[touch_row]
    keep = (touch_ns >= conv["_start"].to_numpy(dtype="datetime64[ns]")[conv_row]) & \
        (touch_ns <= conv["conversion_ts"].to_numpy(dtype="datetime64[ns]")[conv_row])
    conv_row, touch_row = conv_row[keep], touch_row[keep]
    merged = touches.drop(columns="person_id").take(touch_row).reset_index(drop=True)
    merged.insert(0, "conversion_id", conv["conversion_id"].iloc[conv_row].reset_index(drop=True))

    empty = np.ones(len(conv), dtype=bool)
    empty[conv_row] = False
    fallback = pd.DataFrame({"conversion_id": conv["conversion_id"].to_numpy()[empty],
                             "ts": conv["conversion_ts"].array[empty], "channel": DIRECT})  # keeps the dtype
    rows = pd.concat([merged.assign(is_fallback=False), fallback.assign(is_fallback=True)], ignore_index=True)
    rows["touchpoint_id"] = rows["touchpoint_id"].astype(object)
    rank = _conversion_rank(conv["conversion_id"])
    order = _journey_order(np.concatenate([rank[conv_row], rank[empty]]), rows["ts"], rows["touchpoint_id"])
    rows = rows.take(order).reset_index(drop=True)

    codes = rows["conversion_id"].to_numpy()
    new = np.ones(len(rows), dtype=bool)
    new[1:] = codes[1:] != codes[:-1]
    starts = np.flatnonzero(new)
    sizes = np.diff(np.append(starts, len(rows)))
    rows.insert(1, "position", np.arange(len(rows)) - np.repeat(starts, sizes))
    rows.insert(2, "n_touches", np.repeat(sizes, sizes))
    journeys = conv.drop(columns=["_start"]).merge(rows, on="conversion_id", how="right")
    for name in DIMENSIONS:
        if name in journeys:
            journeys[name] = journeys[name].astype("category")
    journeys["is_fallback"] = journeys["is_fallback"].astype(bool)
    return name_missing(journeys)


def _pair_by_person(conv_people: pd.Series, touch_people: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Return the (conversion row, touch row) pairs of the same person: an inner join, as positions.

    Pairs come conversion by conversion, each conversion's touches in their input order (as a merge
    gives them). Missing person ids pair with nothing.
    """
    codes, _ = pd.factorize(pd.concat([conv_people, touch_people], ignore_index=True))
    conv_code, touch_code = codes[:len(conv_people)], codes[len(conv_people):]
    by_person = np.argsort(touch_code, kind="stable")
    sorted_code = touch_code[by_person]
    lo = np.searchsorted(sorted_code, conv_code, side="left")
    count = np.searchsorted(sorted_code, conv_code, side="right") - lo
    count[conv_code < 0] = 0
    conv_row = np.repeat(np.arange(len(conv_code)), count)
    offset = np.arange(len(conv_row)) - np.repeat(np.cumsum(count) - count, count)
    return conv_row, by_person[np.repeat(lo, count) + offset]


def _conversion_rank(ids: pd.Series) -> np.ndarray:
    """Each conversion's place in the order of ``conversion_id`` (missing ids first)."""
    order = ids.reset_index(drop=True).sort_values(kind="stable", na_position="first").index.to_numpy()
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    return rank


def _journey_order(rank: np.ndarray, ts: pd.Series, touchpoint_id: pd.Series) -> np.ndarray:
    """The stable order of rows by (conversion, ts, touchpoint_id), missing values first.

    Integer keys are sorted at once; touchpoint ids (any comparable values) are compared only where a
    conversion has several touches at the same instant, which is rare.
    """
    ns = ts.to_numpy(dtype="datetime64[ns]").view(np.int64)  # NaT is the smallest: missing first
    order = np.lexsort((ns, rank))
    rank_sorted, ns_sorted = rank[order], ns[order]
    tie = (rank_sorted[1:] == rank_sorted[:-1]) & (ns_sorted[1:] == ns_sorted[:-1])
    if not tie.any():
        return order
    tied = np.zeros(len(order), dtype=bool)
    tied[1:] |= tie
    tied[:-1] |= tie
    group = np.cumsum(~np.concatenate([[False], tie]))  # one number per (conversion, ts)
    where = np.flatnonzero(tied)
    sub = pd.DataFrame({"group": group[where], "touchpoint_id": touchpoint_id.to_numpy(dtype=object)[order[where]]})
    resorted = sub.sort_values(["group", "touchpoint_id"], kind="stable", na_position="first").index.to_numpy()
    order[where] = order[where][resorted]
    return order


def journeys_from_paths(paths: pd.DataFrame, *, path: str = "path", separator: str = " > ",
                        value: str = "value", conversions: str | None = None,
                        nulls: str | None = None, times: bool = True) -> pd.DataFrame:
    """Return journeys from path strings, one journey per row (as ChannelAttribution takes them).

    The ``value`` column gives each row's value (0 where the column is missing). With ``conversions``
    (a column of counts, as ChannelAttribution's ``total_conversions``), a row stands for that many
    conversions of the same path and ``value`` is their total value: the journeys get an
    ``n_conversions`` column, which every model weighs its credits by (a row with 0 conversions gets
    no credit). Without it every row is one conversion. With ``nulls`` (a column of counts, as
    ChannelAttribution's ``total_null``), a row also stands for that many non-converting journeys of the
    path: the journeys get an ``n_null`` column, which the data-driven models (Markov, Shapley) learn from.

    Touches of a path get consecutive timestamps one second apart ending at the conversion, so
    time-based models see them in order. Useful in notebooks and for comparing with other tools.
    ``times=False`` leaves out the columns only time decay reads (``ts``, ``conversion_ts``) and the
    made-up ``person_id`` and ``touchpoint_id``: a third less memory for millions of paths, enough
    for every other model (the data-driven ones included).

    Examples
    --------
    >>> j = journeys_from_paths(pd.DataFrame({"path": ["A > B", "C"], "value": [10.0, 5.0]}))
    >>> j[["conversion_id", "position", "n_touches", "channel", "value"]].values.tolist()
    [[0, 0, 2, 'A', 10.0], [0, 1, 2, 'B', 10.0], [1, 0, 1, 'C', 5.0]]
    """
    _require(paths, [path], "paths")
    if paths[path].isna().any():
        raise ValueError(f"paths.{path} has missing paths: every path needs at least one channel")
    texts = paths[path].astype(str).tolist()
    split = _split_paths(texts, separator)
    sizes, codes, names = split if split is not None else _split_paths_slow(texts, separator)
    del split, texts  # the split's buffers go before the frame's columns are made
    if any(name.strip() == "" for name in names):
        raise ValueError(f"every step of a path needs a channel name (paths are channels joined by {separator!r}, "
                         "e.g. 'Email > Paid search')")
    total = int(sizes.sum())
    conversion = np.repeat(np.arange(len(paths)), sizes)
    position = np.arange(total) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    n = np.repeat(sizes, sizes)
    end = pd.Timestamp("2000-01-01", tz="UTC")
    values = paths[value].astype(float).to_numpy() if value in paths else np.zeros(len(paths))
    extra = {}
    for name, column in (("n_conversions", conversions), ("n_null", nulls)):
        if column is None:
            continue
        _require(paths, [column], "paths")
        counts = pd.to_numeric(paths[column], errors="coerce").to_numpy(dtype=float)
        if np.isnan(counts).any() or (counts < 0).any():
            raise ValueError(f"paths.{column} must be counts (numbers >= 0) on every row")
        extra[name] = np.repeat(counts, sizes)
    columns: dict[str, Any] = {"conversion_id": conversion}
    if times:
        # One second apart, ending at the conversion (naive microseconds, then marked UTC: no conversion).
        ts = np.datetime64(end.tz_localize(None), "us") - (n - 1 - position).astype("timedelta64[s]")
        columns.update({"person_id": conversion.copy(), "conversion_ts": end})
    columns.update({"value": np.repeat(values, sizes), "position": position, "n_touches": n})
    if times:
        columns.update({"touchpoint_id": np.arange(total), "ts": pd.Series(ts, copy=False).dt.tz_localize("UTC")})
    columns.update({"channel": pd.Categorical.from_codes(codes, categories=names), "is_fallback": False, **extra})
    # copy=False: the columns are fresh arrays, so no consolidating copy (person_id gets one of its own).
    return pd.DataFrame(columns, copy=False)


# Masks keeping the first k bytes (k = 0..8) of a little-endian 8-byte word.
_BYTE_MASKS = np.array([(1 << (8 * k)) - 1 for k in range(9)], dtype=np.uint64)
_MAX_WORDS = 32  # tokens up to 256 bytes take the fast path


def _split_paths(texts: list[str], separator: str) -> tuple[np.ndarray, np.ndarray, list[str]] | None:
    """Split every path at ``separator`` at once: steps per path, each step's code, the sorted step names.

    Gives what ``[t.split(separator) for t in texts]`` gives (then factorized, names sorted), without a
    Python string per step: the paths are joined by NUL into one UTF-8 buffer, the separators found with
    numpy, and each step read as up to ``_MAX_WORDS`` 8-byte words that are factorized word by word (exact:
    no hashing of whole steps). Returns None where it cannot promise the same result (empty paths table,
    a NUL in a path or the separator, overlapping separators, a very long step); the caller then splits
    the slow way.
    """
    sep = separator.encode("utf-8", "surrogatepass")
    if not texts or not sep or b"\x00" in sep:
        return None
    try:
        data = "\x00".join(texts).encode("utf-8")
    except UnicodeEncodeError:
        return None
    size = len(data)
    padded = np.zeros(size + 8 * _MAX_WORDS + 8, dtype=np.uint8)  # reads past the end see zeros
    padded[:size] = np.frombuffer(data, dtype=np.uint8)
    buf = padded[:size]
    cut = np.empty(size + 1, dtype=bool)  # where steps end: boundaries and separators, and the end
    np.equal(buf, 0, out=cut[:size])  # path boundaries: UTF-8 has a zero byte only for NUL itself
    if int(np.count_nonzero(cut[:size])) != len(texts) - 1:
        return None
    cut[size] = True
    width = len(sep)
    if size >= width:
        match = buf[:size - width + 1] == sep[0]
        for k in range(1, width):
            match &= buf[k:size - width + 1 + k] == sep[k]
        cut[:size - width + 1] |= match
        del match
    ends = np.flatnonzero(cut)
    del cut, data  # the bytes stay in padded; what follows holds one or two int64 per step at a time
    boundary = buf[ends[:-1]] == 0
    hits = ends[:-1][~boundary]
    if len(hits) > 1 and (np.diff(hits) < width).any():
        return None  # overlapping matches: str.split's left-to-right rule would decide
    del hits
    total = len(ends)
    starts = np.empty(total, dtype=np.int64)
    starts[0] = 0
    starts[1:] = ends[:-1] + np.where(boundary, 1, width)
    last = np.append(np.flatnonzero(boundary), total - 1)  # each path's last step
    sizes = np.diff(last, prepend=-1)
    lengths = ends - starts
    del ends, boundary
    words = (int(lengths.max()) + 7) // 8
    if words > _MAX_WORDS:
        return None
    view = np.ndarray(shape=(size + 8 * _MAX_WORDS,), dtype="<u8", buffer=padded, strides=(1,))  # word at any byte
    codes, n = np.zeros(total, dtype=np.int64), 1
    rest = np.empty(total, dtype=np.int64)
    for w in range(words):
        np.subtract(lengths, 8 * w, out=rest)
        np.minimum(np.maximum(rest, 0, out=rest), 8, out=rest)  # bytes of the step in this word
        word = view[starts + 8 * w if w else starts]
        word &= _BYTE_MASKS[rest]
        word_codes, uniques = pd.factorize(word)
        del word
        combined = codes * len(uniques) + word_codes
        del word_codes
        if n * len(uniques) <= 1 << 22:
            present = np.bincount(combined, minlength=n * len(uniques)) > 0
            codes, n = (np.cumsum(present) - 1)[combined], int(present.sum())
        else:
            codes, uniques = pd.factorize(combined)
            n = len(uniques)
    del rest, view
    first = np.empty(n, dtype=np.int64)
    first[codes] = np.arange(total)  # a step of each code (they are all the same text)
    names = [padded[starts[i]:starts[i] + lengths[i]].tobytes().decode("utf-8") for i in first]
    order = sorted(range(n), key=names.__getitem__)
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    return sizes, rank[codes], [names[i] for i in order]


def _split_paths_slow(texts: list[str], separator: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """:func:`_split_paths` one path at a time, for what it refuses."""
    steps = [t.split(separator) for t in texts]
    sizes = np.fromiter((len(s) for s in steps), dtype=np.int64, count=len(steps))
    flat = [name for s in steps for name in s]
    codes, uniques = pd.factorize(pd.Series(flat, dtype=object), sort=True)
    return sizes, np.asarray(codes, dtype=np.int64), list(uniques)
