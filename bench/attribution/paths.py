"""A seeded table of distinct paths in ChannelAttribution's layout, for the data-driven benchmarks.

Columns: ``path`` (channels joined by " > "), ``total_conversions``, ``total_conversion_value`` and
``total_null`` (non-converting journeys of the path): the table ChannelAttribution's ``markov_model``
takes and :func:`attribution.journeys_from_paths` reads (``conversions="total_conversions"``,
``value="total_conversion_value"``, ``nulls="total_null"``).

How it is made (:func:`generate`): journeys are drawn in blocks of :data:`BLOCK` until ``paths`` distinct
paths have been seen; the table holds the first ``paths`` distinct paths in the order they were first
drawn, with the counts of every drawn journey that took one of them.

- Length 1 to 10 touches, skewed short: P(n) proportional to 0.72^(n-1) (29 % of the journeys have one
  touch, about 1 in 15 has 8 or more; 3.2 touches on average).
- Channels: the first ``channels`` of :data:`CHANNEL_NAMES`; the first touch by popularity (Zipf-like,
  1/rank^0.8), each later touch repeats the previous channel with probability 0.25 (``Email > Email``),
  otherwise again by popularity.
- Conversion: each journey converts with probability logistic(-4.6 + 0.35 x its distinct channels +
  the sum of a fixed effect per channel it holds, drawn once from N(0, 0.5)): about 3.5 % of the
  journeys convert; a conversion's value is lognormal (median about 90), in cents.

Over 12 channels there are only 22,620 distinct paths of 1-4 touches, so a table of 1,000,000 distinct
paths (about 7,000,000 journeys) is mostly long paths seen once or a few times, nearly 9 in 10 of them
without a conversion, while the short paths carry most of the journeys and conversions: what the path
table of a large site looks like. The same ``seed``, ``paths`` and ``channels`` give the same table, byte
for byte.

Usage::

    .venv/bin/python bench/attribution/paths.py [--paths 1000000] [--channels 12] [--seed 20261124]
        [--out paths.csv]     # ';'-separated, as ChannelAttribution's example Data.csv; stdout without --out
"""
from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import pandas as pd

__all__ = ["BLOCK", "CHANNEL_NAMES", "DEFAULT_SEED", "MAX_TOUCHES", "generate"]

CHANNEL_NAMES = ("Paid search", "Organic search", "Paid social", "Email", "Direct", "Referral", "Display",
                 "Organic social", "Affiliate", "Video", "Events", "Podcast", "Print", "PR", "Partner", "SMS",
                 "Push", "Webinar", "Outdoor", "Radio")
MAX_TOUCHES = 10
BLOCK = 1_000_000  # journeys drawn at a time (fixed: the draws do not depend on ``paths``)
DEFAULT_SEED = 20261124
DECAY = 0.72        # P(n touches) ~ DECAY^(n-1)
REPEAT = 0.25       # a touch repeats the previous channel
BASE_LOGIT = -4.6
PER_CHANNEL_LOGIT = 0.35
_RADIX = 32          # digits 1..channels (0: no touch) of a path key; MAX_TOUCHES digits fit in int64


def _draw_block(rng: np.random.Generator, n: int, popularity: np.ndarray, effect: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``n`` journeys: their path keys, whether each converted, and the value of each conversion (0 if none)."""
    k = len(popularity)
    p_length = DECAY ** np.arange(MAX_TOUCHES)
    size = 1 + np.searchsorted(np.cumsum(p_length / p_length.sum())[:-1], rng.random(n), side="right")
    fresh = np.searchsorted(np.cumsum(popularity)[:-1], rng.random((n, MAX_TOUCHES)), side="right")
    repeat = rng.random((n, MAX_TOUCHES)) < REPEAT
    key = np.zeros(n, dtype=np.int64)
    held = np.zeros(n, dtype=np.int64)  # bitmask of the channels a journey holds
    code = fresh[:, 0]
    for pos in range(MAX_TOUCHES):
        if pos:
            code = np.where(repeat[:, pos], code, fresh[:, pos])
        present = pos < size
        key += np.where(present, code + 1, 0) * _RADIX ** pos
        held |= np.where(present, 1 << code, 0)
    masks = np.arange(1 << k)
    bits = (masks[:, None] >> np.arange(k)) & 1  # per possible set: which channels it holds
    logit = BASE_LOGIT + PER_CHANNEL_LOGIT * bits.sum(axis=1) + bits @ effect
    rate = 1.0 / (1.0 + np.exp(-logit))
    converted = rng.random(n) < rate[held]
    value = np.where(converted, np.round(rng.lognormal(4.5, 1.0, n), 2), 0.0)
    return key, converted, value


def _path_strings(keys: np.ndarray, names: list[str], separator: str = " > ") -> list[str]:
    """The path string of each key (first touch in the lowest digit)."""
    digits = np.stack([(keys // _RADIX ** pos) % _RADIX for pos in range(MAX_TOUCHES)], axis=1)
    length = (digits > 0).sum(axis=1)
    named = np.asarray(["", *names], dtype=object)
    out = np.empty(len(keys), dtype=object)
    for n in range(1, MAX_TOUCHES + 1):
        rows = np.flatnonzero(length == n)
        columns = [named[digits[rows, pos]] for pos in range(n)]
        out[rows] = [separator.join(steps) for steps in zip(*columns, strict=True)]
    return out.tolist()


def generate(paths: int = 1_000_000, channels: int = 12, seed: int = DEFAULT_SEED) -> pd.DataFrame:
    """Return ``paths`` distinct paths over ``channels`` channels with their counts (see the module doc)."""
    if not 1 <= channels <= len(CHANNEL_NAMES):
        raise ValueError(f"channels must be 1 to {len(CHANNEL_NAMES)}")
    possible = sum(channels ** n for n in range(1, MAX_TOUCHES + 1))
    if not 1 <= paths <= possible // 4:
        raise ValueError(f"paths must be 1 to {possible // 4:,} for {channels} channels (a quarter of the "
                         f"{possible:,} possible paths of 1-{MAX_TOUCHES} touches)")
    rng = np.random.default_rng(seed)
    popularity = 1.0 / np.arange(1, channels + 1) ** 0.8
    popularity /= popularity.sum()
    effect = rng.normal(0.0, 0.5, channels)
    keys, converted, values = [], [], []
    seen = np.zeros(0, dtype=np.int64)  # sorted distinct keys so far
    while len(seen) < paths:
        key, conv, value = _draw_block(rng, BLOCK, popularity, effect)
        keys.append(key)
        converted.append(conv)
        values.append(value)
        block = np.sort(key)
        block = block[np.concatenate([[True], block[1:] != block[:-1]])]
        known = np.searchsorted(seen, block)
        new = block[(known == len(seen)) | (seen[np.minimum(known, len(seen) - 1)] != block)] if len(seen) else block
        seen = np.sort(np.concatenate([seen, new]))
    key, conv, value = np.concatenate(keys), np.concatenate(converted), np.concatenate(values)
    del keys, converted, values
    # The first ``paths`` distinct keys in the order they were drawn, then every journey that took one of them.
    order = np.argsort(key, kind="stable")
    ordered = key[order]
    starts = np.flatnonzero(np.concatenate([[True], ordered[1:] != ordered[:-1]]))
    distinct, first = ordered[starts], order[starts]  # the stable sort puts each key's first draw first
    chosen = np.sort(np.argsort(first, kind="stable")[:paths])  # by key
    slot = np.full(len(distinct), -1, dtype=np.int64)
    slot[chosen] = np.arange(paths)
    row = np.empty(len(key), dtype=np.int64)
    row[order] = np.repeat(slot, np.diff(np.append(starts, len(key))))
    kept = row >= 0
    row, conv, value = row[kept], conv[kept], value[kept]
    conversions = np.bincount(row, weights=conv, minlength=paths).astype(np.int64)
    journeys = np.bincount(row, minlength=paths).astype(np.int64)
    return pd.DataFrame({
        "path": _path_strings(distinct[chosen], list(CHANNEL_NAMES[:channels])),
        "total_conversions": conversions,
        "total_conversion_value": np.round(np.bincount(row, weights=value, minlength=paths), 2),
        "total_null": journeys - conversions,
    })


def describe(table: pd.DataFrame) -> dict[str, float]:
    """A few numbers about a table: paths, journeys, conversions, touches per path, share without conversions."""
    steps = table["path"].str.count(" > ").to_numpy() + 1
    journeys = table["total_conversions"].to_numpy() + table["total_null"].to_numpy()
    return {"paths": len(table), "journeys": int(journeys.sum()), "conversions": int(table["total_conversions"].sum()),
            "value": float(table["total_conversion_value"].sum()), "non_converting": int(table["total_null"].sum()),
            "steps": int(steps.sum()), "mean_path_touches": float(steps.mean()),
            "mean_journey_touches": float((steps * journeys).sum() / journeys.sum()),
            "paths_without_conversion": float((table["total_conversions"] == 0).mean())}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--paths", type=int, default=1_000_000, help="distinct paths (default 1,000,000)")
    p.add_argument("--channels", type=int, default=12, help="channels (default 12)")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED)
    p.add_argument("--out", help="write the table here (';'-separated CSV); default: stdout")
    args = p.parse_args(argv)
    start = time.perf_counter()
    table = generate(args.paths, args.channels, args.seed)
    took = time.perf_counter() - start
    table.to_csv(args.out if args.out else sys.stdout, sep=";", index=False)
    if args.out:
        info = describe(table)
        print(f"{info['paths']:,} distinct paths ({info['journeys']:,} journeys, {info['conversions']:,} conversions, "
              f"{info['non_converting']:,} non-converting) over {args.channels} channels in {took:.1f} s: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
