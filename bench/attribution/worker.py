"""One measurement of the attribution benchmark, in a fresh process (``bench/attribution/run.py`` starts it).

A fresh process per measurement makes its peak resident size (Linux ``VmHWM``, see :func:`max_rss_mb`)
the peak of that measurement alone plus the interpreter and its imports (whose resident size before
the measurement is reported too). Each command prints one line ``BENCH_RESULT {json}``.

``report``: the attribution report (first_touch, last_touch, linear) through a real app and session,
end to end, ``--repeat`` times, after a warm-up report on one day of the window (so compiled
statements and imports are not timed). The first full report also pays for the process's first
touch of that much memory (page faults); the later ones show a process that has served reports
before, as a server's worker has. Then the loading step alone (``load_conversions`` +
``load_touchpoints``, the calls the report makes) and the model step alone (``build_journeys`` +
``compare`` of the three models on the frames just loaded), and the baseline: the same rows fetched
with the raw driver and nothing else (:func:`raw_fetch`).

``memory``: every rule-based model (``attribution.models.RULE_BASED``) on synthetic journeys held in memory
(``model.attribute(journeys, by="channel")``, median of ``--runs``), and a baseline on the same frame
(``journeys.groupby("channel")["value"].sum()``); each model's credits are checked to sum to the
conversions and their value.

``channelattribution``: one distinct-path table (path strings with " > ", conversion counts and
values, from the ``memory`` generator's journeys) given to both tools in this one process, ``--runs``
rounds taking turns: ChannelAttribution's ``heuristic_models`` (parses the strings, computes first,
last and linear touch) and ours, ``journeys_from_paths`` (parse) then first_touch, last_touch and
linear ``attribute(journeys, "channel")`` (models); wall and CPU time, medians, and each model's
credits per channel compared with ChannelAttribution's (relative difference <= 1e-9).

The data-driven steps read one ';'-separated distinct-path table (``paths.py``; ChannelAttribution's
columns) before their clock starts, one measurement per process:

``markov-ours``: ``journeys_from_paths`` (parse) then ``Markov(order).fit``; the credits' sha256 (with P and
the removal effects), so that runs can be checked to be bit-identical.

``markov-ca``: ChannelAttribution's ``markov_model(..., order=1, sep=">", verbose=0)``, default settings, the
given seed.

``shapley-ours``: ``journeys_from_paths`` then ``Shapley().attribute`` (players: channels); afterwards (not
timed) the conversions credited per distinct channel set, to compare with DP6's split.

``shapley-dp6``: DP6's marketing-attribution-models, ``--release current`` (2.x) or ``legacy`` (1.x), run by
the interpreter of that release's own environment (run.py makes it): a 3-path example first, then the
table in the input shape the release takes (not timed), then its Shapley (timed). A ``BENCH_PART`` line
tells what is known before the timed part, should run.py stop it.

``full-report``: the attribution report of all nine models through a real app and session, once, after a
one-day warm-up, with or without ``intervals`` (bootstrap, ``--samples``).
"""
from __future__ import annotations

import argparse
import functools
import gc
import json
import resource
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

CHANNELS = ("Paid search", "Organic search", "Paid social", "Organic social", "Email", "Referral", "Events",
            "Print", "Podcast", "PR", "Partner", "Direct")
ANSWERS = (*CHANNELS, "Word of mouth")  # what people say includes channels tracking never sees


def _status_mb(field: str) -> float | None:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return None


def rss_mb() -> float:
    """Resident size of this process now, in MB."""
    now = _status_mb("VmRSS")
    return now if now is not None else max_rss_mb()


def max_rss_mb() -> float:
    """Peak resident size of this process since it started (or since :func:`reset_peak`), in MB.

    Linux's ``VmHWM``: ``ru_maxrss`` would do, except that Linux carries the parent's peak over ``exec``
    into the child's, so a worker started by a parent holding the generated store would report the
    parent's peak.
    """
    peak = _status_mb("VmHWM")
    return peak if peak is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reset_peak() -> None:
    """Start the peak (``VmHWM``) afresh from the current resident size (Linux; elsewhere a no-op)."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        pass


def emit(result: dict[str, Any]) -> None:
    print("BENCH_RESULT " + json.dumps(result), flush=True)


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


# ---- report ----------------------------------------------------------------------------------------
def measure_report(db_url: str, first: str, last: str, instance: str, repeat: int) -> dict[str, Any]:
    import sqlalchemy as sa

    from attribution import FirstTouch, LastTouch, Linear, build_journeys, compare
    from tracker import create_app
    from tracker.conversions.models import Conversion
    from tracker.db import get_db
    from tracker.reports.loading import load_conversions, load_touchpoints
    from tracker.reports.params import parse_params
    from tracker.reports.service import attribution_report

    app = create_app({"database_url": db_url, "instance_path": instance, "secret_key": "bench",
                      "ip_hash_secret": "bench", "SPOOL_BACKGROUND": False})
    settings = app.config["SETTINGS"]
    models = "first_touch,last_touch,linear"
    params = parse_params({"from": first, "to": last, "model": models}, settings)
    db = get_db(app)
    out: dict[str, Any] = {}
    with app.app_context():
        with db.Session() as session:  # warm-up: one day, so statement compilation and imports are not timed
            attribution_report(session, settings, parse_params({"from": first, "to": first, "model": models},
                                                               settings))
        gc.collect()
        out["rss_before_mb"] = rss_mb()
        reset_peak()
        out["e2e_s"], out["e2e_cpu_s"] = [], []
        for _ in range(repeat):
            with db.Session() as session:  # a session per report, as per request in the service
                cpu = time.process_time()
                took, report = timed(lambda: attribution_report(session, settings, params))
                out["e2e_s"].append(took)
                out["e2e_cpu_s"].append(time.process_time() - cpu)  # this process only, not PostgreSQL's
        out["rss_peak_mb"] = max_rss_mb()
        out["counts"] = report["counts"]
        out["rows"] = len(report["rows"])
        out["channels"] = len({row["channel"] for row in report["rows"]})  # credited by any of the models
        del report
        gc.collect()

        period = params.period
        lookback = pd.Timedelta(days=params.lookback_days)
        with db.Session() as session:
            def load() -> tuple[pd.DataFrame, pd.DataFrame]:
                conversions = load_conversions(session, period.start, period.end, None)
                people = sa.select(Conversion.person_id).where(Conversion.ts >= period.start,
                                                               Conversion.ts < period.end)
                touches = load_touchpoints(session, settings, period.start - lookback, period.end, people=people)
                return conversions, touches
            out["load_s"], (conversions, touches) = timed(load)
        context = conversions.assign(answer_id=pd.NA, answer_channel=pd.NA, tied_by=pd.NA)
        out["journeys_s"], journeys = timed(lambda: build_journeys(touches, context, lookback=lookback))
        out["models_s"], _ = timed(lambda: compare(journeys, [FirstTouch(), LastTouch(), Linear()]))
        out["journey_rows"] = len(journeys)
        raw = []
        for _ in range(repeat):
            with db.Session() as session:
                took, out["raw_rows"] = timed(lambda: raw_fetch(session, period.start, period.end, lookback))
                raw.append(took)
        out["raw_fetch_s"] = raw
    return out


def raw_fetch(session: Any, start: Any, end: Any, lookback: pd.Timedelta) -> int:
    """The baseline: fetch the rows the report reads with the raw driver (``cursor.fetchall()``), no pandas.

    The window's conversions and their people's clicks, landing-visit touches and offline touches from
    ``start - lookback``, the columns the loader needs; returns how many rows came.
    """
    import sqlalchemy as sa

    from tracker.conversions.models import Conversion
    from tracker.redirects.models import Click
    from tracker.touchpoints.models import LandingVisit, OfflineTouch

    people = sa.select(Conversion.person_id).where(Conversion.ts >= start, Conversion.ts < end)
    since = start - lookback
    statements = [
        sa.select(Conversion.id, Conversion.person_id, Conversion.ts, Conversion.value, Conversion.type,
                  Conversion.external_id).where(Conversion.ts >= start, Conversion.ts < end),
        sa.select(Click.tid, Click.person_id, Click.ts, Click.utm_source, Click.utm_medium, Click.link_id, Click.via,
                  Click.is_bot).where(Click.ts >= since, Click.ts <= end, Click.person_id.in_(people)),
        sa.select(LandingVisit.id, LandingVisit.person_id, LandingVisit.ts, LandingVisit.utm_source,
                  LandingVisit.utm_medium, LandingVisit.utm_campaign, LandingVisit.referrer_host, LandingVisit.page,
                  LandingVisit.is_bot).where(LandingVisit.ts >= since, LandingVisit.ts <= end,
                                             LandingVisit.person_id.in_(people), LandingVisit.is_touch.is_(True)),
        sa.select(OfflineTouch.id, OfflineTouch.person_id, OfflineTouch.ts, OfflineTouch.utm_source,
                  OfflineTouch.kind, OfflineTouch.channel, OfflineTouch.campaign_id).where(
            OfflineTouch.ts >= since, OfflineTouch.ts <= end, OfflineTouch.person_id.in_(people)),
    ]
    return sum(len(session.connection().execute(stmt).cursor.fetchall()) for stmt in statements)


# ---- in memory -----------------------------------------------------------------------------------
def make_journeys(n: int, seed: int) -> pd.DataFrame:
    """``n`` journeys of 1-8 touches (uniformly) over 12 channels, in the layout ``build_journeys`` returns.

    Columns: the conversion's (``conversion_id``, ``person_id``, ``conversion_ts``, ``value``, ``type``,
    ``answer_channel`` on 30 % of them), ``position``, ``n_touches``, the touch's (``touchpoint_id``,
    ``ts`` within 30 days before the conversion and increasing with the position, ``channel``,
    ``source``, ``medium``, ``campaign``, ``kind`` as categoricals) and ``is_fallback``.
    """
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 9, n)
    total = int(sizes.sum())
    starts = np.cumsum(sizes) - sizes
    conv = np.repeat(np.arange(n), sizes)
    position = np.arange(total) - np.repeat(starts, sizes)
    end = np.datetime64("2026-08-01T00:00:00", "ns") + (rng.random(n) * 90 * 86_400e9).astype("timedelta64[ns]")
    # Ages within 30 days, sorted so that a journey's first touch is its oldest.
    age = (rng.random(total) * 30 * 86_400e9).astype(np.int64)
    age = age[np.lexsort((-age, conv))]
    purchase = rng.random(n) < 0.3
    value = np.where(purchase, np.round(rng.lognormal(8.0, 1.0, n), 2), 0.0)
    answered = rng.random(n) < 0.3
    answer = np.asarray(ANSWERS, dtype=object)[rng.integers(0, len(ANSWERS), n)]
    answer[~answered] = pd.NA
    channel = rng.integers(0, len(CHANNELS), total)
    def utc(ns: np.ndarray) -> pd.Series:
        return pd.Series(ns).dt.tz_localize("UTC")

    return pd.DataFrame({
        "conversion_id": conv + 1,
        "person_id": conv,
        "conversion_ts": utc(end[conv]),
        "value": value[conv],
        "type": pd.Categorical.from_codes(purchase[conv].astype(np.int8), ["lead", "purchase"]).astype(object),
        "answer_channel": answer[conv],
        "position": position,
        "n_touches": sizes[conv],
        "touchpoint_id": np.arange(total),
        "ts": utc(end[conv] - age.astype("timedelta64[ns]")),
        "channel": pd.Categorical.from_codes(channel, CHANNELS),
        "source": pd.Categorical.from_codes(channel, [f"source-{i}" for i in range(len(CHANNELS))]),
        "medium": pd.Categorical.from_codes(channel, [f"medium-{i}" for i in range(len(CHANNELS))]),
        "campaign": pd.Categorical.from_codes(rng.integers(0, 40, total), [f"campaign-{i}" for i in range(40)]),
        "kind": pd.Categorical.from_codes(rng.integers(0, 3, total), ["online", "event", "print"]),
        "is_fallback": False,
    })


def median_time(fn: Callable[[], Any], runs: int) -> tuple[float, list[float], Any]:
    times, out = [], None
    for _ in range(runs):
        gc.collect()
        t, out = timed(fn)
        times.append(t)
    return statistics.median(times), times, out


def measure_memory(n: int, runs: int, seed: int) -> dict[str, Any]:
    from attribution.models import RULE_BASED  # the data-driven models have steps of their own

    build_s, journeys = timed(lambda: make_journeys(n, seed))
    conversions = n
    value = float(journeys.groupby("conversion_id", sort=False)["value"].first().sum())
    heads = journeys.drop_duplicates("conversion_id")
    out: dict[str, Any] = {"journeys": n, "touch_rows": len(journeys), "build_s": build_s,
                           "touches_min": int(heads["n_touches"].min()), "touches_max": int(heads["n_touches"].max()),
                           "answered_share": float(heads["answer_channel"].notna().mean()),
                           "channels": int(journeys["channel"].nunique()),
                           "rss_after_build_mb": max_rss_mb(), "models": {}}
    base, base_times, _ = median_time(lambda: journeys.groupby("channel", observed=True)["value"].sum(), runs)
    out["baseline"] = {"median_s": base, "times": base_times}
    for name, cls in RULE_BASED.items():
        model = cls()
        median, times, table = median_time(lambda m=model: m.attribute(journeys, by="channel"), runs)
        ok = bool(abs(table["conversions"].sum() - conversions) <= 1e-9 * conversions
                  and abs(table["value"].sum() - value) <= 1e-9 * value)
        out["models"][name] = {"median_s": median, "times": times, "ratio": median / base if base else None,
                               "sums_ok": ok, "channels": len(table)}
    out["rss_peak_mb"] = max_rss_mb()
    return out


def path_frame(journeys: pd.DataFrame) -> pd.DataFrame:
    """One row per distinct path: ``path`` ("A > B"), ``conv`` (conversions) and ``val`` (their value)."""
    codes = journeys["channel"].cat.codes.to_numpy().astype(np.int64) + 1  # digits 1..12: length is implied
    n = journeys["n_touches"].to_numpy()
    position = journeys["position"].to_numpy()
    starts = np.flatnonzero(position == 0)
    key = np.add.reduceat(codes * 13 ** (n - 1 - position), starts)
    first_value = journeys["value"].to_numpy()[starts]
    keys, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
    values = np.bincount(inverse, weights=first_value, minlength=len(keys))
    names = np.asarray(journeys["channel"].cat.categories, dtype=object)
    paths = np.zeros(len(keys), dtype=object)
    paths[:] = ""
    for digit in range(7, -1, -1):  # most significant first
        d = (keys // 13 ** digit) % 13
        has = d > 0
        step = names[np.maximum(d - 1, 0)]
        paths = np.where(has & (paths == ""), step, np.where(has, paths + " > " + step, paths))
    return pd.DataFrame({"path": paths.astype(str), "conv": counts, "val": values})


def measure_channelattribution(n: int, runs: int, seed: int, tolerance: float = 1e-9) -> dict[str, Any]:
    """ChannelAttribution's ``heuristic_models`` and ours on the same distinct-path table, in this process.

    The table (``path`` with " > ", ``conv``, ``val``) comes from :func:`path_frame` on the ``n`` journeys of
    :func:`make_journeys`. Each of ``runs`` rounds times, on that same table, (a) ChannelAttribution's
    ``heuristic_models(paths, "path", "conv", var_value="val", flg_pro=False)`` (it parses the path
    strings and computes first, last and linear touch) and (b) ours: ``journeys_from_paths(paths,
    conversions="conv", value="val")`` (parse), then ``attribute(journeys, "channel")`` of first_touch,
    last_touch and linear (models). The two take turns going first. Wall and CPU time of each are kept;
    then each model's credits (conversions and value) are compared per channel with ChannelAttribution's.
    """
    import contextlib
    import io

    from attribution import FirstTouch, LastTouch, Linear, journeys_from_paths

    journeys = make_journeys(n, seed)
    prep_s, paths = timed(functools.partial(path_frame, journeys))
    del journeys
    gc.collect()
    with contextlib.redirect_stdout(io.StringIO()):  # its import prints an advertisement
        import ChannelAttribution as ca
    models = (FirstTouch(), LastTouch(), Linear())

    def theirs() -> pd.DataFrame:
        with contextlib.redirect_stdout(io.StringIO()):
            return ca.heuristic_models(paths, "path", "conv", var_value="val", flg_pro=False)

    def ours() -> tuple[float, float, float, list[pd.DataFrame]]:
        cpu = time.process_time()
        parse_s, journeys = timed(lambda: journeys_from_paths(paths, conversions="conv", value="val"))
        models_s, tables = timed(lambda: [m.attribute(journeys, "channel") for m in models])
        return parse_s, models_s, time.process_time() - cpu, tables

    times: dict[str, list[float]] = {"ca_s": [], "ca_cpu_s": [], "parse_s": [], "models_s": [], "ours_s": [],
                                     "ours_cpu_s": []}
    table, tables = None, None
    for i in range(runs):
        for turn in (("ca", "ours") if i % 2 == 0 else ("ours", "ca")):
            gc.collect()
            if turn == "ca":
                cpu = time.process_time()
                took, table = timed(theirs)
                times["ca_s"].append(took)
                times["ca_cpu_s"].append(time.process_time() - cpu)
            else:
                parse_s, models_s, cpu_s, tables = ours()
                times["parse_s"].append(parse_s)
                times["models_s"].append(models_s)
                times["ours_s"].append(parse_s + models_s)
                times["ours_cpu_s"].append(cpu_s)
    table = table.set_index("channel_name")
    diff, channels, same_channels = 0.0, 0, True
    for mine, theirs_name in zip(tables, ("first_touch", "last_touch", "linear_touch"), strict=True):
        mine = mine.set_index("channel")
        other = table[[f"{theirs_name}_conversions", f"{theirs_name}_value"]]
        other = other[(other != 0).any(axis=1)]  # channels it lists with nothing credited
        same_channels &= set(mine.index) == set(other.index)
        channels = max(channels, len(mine))
        for what in ("conversions", "value"):
            a = mine[what].to_numpy(dtype=float)
            b = other[f"{theirs_name}_{what}"].reindex(mine.index).to_numpy(dtype=float)
            rel = np.abs(a - b) / np.maximum(np.abs(b), 1e-300)
            diff = max(diff, float(np.nanmax(np.where(np.isnan(b), np.inf, rel))) if len(a) else 0.0)
    out: dict[str, Any] = {"journeys": n, "paths": len(paths), "conversions": float(paths["conv"].sum()),
                           "steps": int(paths["path"].str.count(" > ").sum() + len(paths)),
                           "prepare_s": prep_s, "runs": runs, "times": times, "channels": channels,
                           "max_rel_diff": diff, "credits_ok": bool(same_channels and diff <= tolerance),
                           "rss_peak_mb": max_rss_mb()}
    for key, values in times.items():
        out[key.replace("_s", "_median_s")] = statistics.median(values)
    out["ratio"] = out["ours_median_s"] / out["ca_median_s"]
    out["ratio_models"] = out["models_median_s"] / out["ca_median_s"]
    out["ratio_cpu"] = out["ours_cpu_median_s"] / out["ca_cpu_median_s"]
    out["heuristic_models_s"] = out["ca_median_s"]  # the name earlier results used
    return out


# ---- data-driven models on a distinct-path table (bench/attribution/paths.py) ------------------------------
PATH_COLUMNS = {"path": "path", "conversions": "total_conversions", "value": "total_conversion_value",
                "nulls": "total_null"}
# The 3-path example of attribution.models.shapley: v(A) = 1/4, v(B) = 0, v(A,B) = 1/2, so in "A > B" phi_A = 3/8 and
# phi_B = 1/8 (all positive: every reading of the game gives the same split): A gets 2.5 conversions, B 0.5.
TOY_PATHS = (("A > B", 2, 2), ("A", 1, 3), ("B", 0, 4))  # path, conversions, non-converting journeys
TOY_SHAPLEY = {"A": 2.5, "B": 0.5}


FULL_MODELS = ("first_touch", "last_touch", "last_non_direct", "linear", "time_decay", "position_based",
               "self_reported", "markov", "shapley")


def read_paths(table: str) -> pd.DataFrame:
    """The ';'-separated table that ``paths.py`` writes (ChannelAttribution's layout)."""
    return pd.read_csv(table, sep=";", dtype={"path": str}, keep_default_na=False)


def step(message: str) -> None:
    """A progress line run.py shows when a measurement is stopped by its time limit."""
    print(f"BENCH_STEP {message}", flush=True)


def _credits(channels: Any, conversions: Any, value: Any | None = None) -> dict[str, list[float]]:
    out = {}
    for i, name in enumerate(channels):
        out[str(name)] = [float(conversions[i]), float(value[i]) if value is not None else None]
    return dict(sorted(out.items()))


def _digest(credits: pd.DataFrame, extra: tuple[float, ...] = ()) -> str:
    """sha256 of the credit table's bytes (channels, conversions and value as float64): equal means bit-identical."""
    import hashlib

    table = credits.sort_values("channel", kind="stable")
    h = hashlib.sha256("\x00".join(map(str, table["channel"])).encode())
    for column in ("conversions", "value"):
        h.update(np.ascontiguousarray(table[column].to_numpy(dtype=np.float64)).tobytes())
    h.update(np.asarray(extra, dtype=np.float64).tobytes())
    return h.hexdigest()


def _parse(paths: pd.DataFrame) -> pd.DataFrame:
    from attribution import journeys_from_paths

    c = PATH_COLUMNS
    # times=False: Markov and Shapley read no timestamps (a third less memory for 7M journeys).
    return journeys_from_paths(paths, path=c["path"], conversions=c["conversions"], value=c["value"], nulls=c["nulls"],
                               times=False)


def measure_markov_ours(table: str, order: int) -> dict[str, Any]:
    """Ours on the table, timed from the path strings: ``journeys_from_paths`` (parse) then ``Markov(order).fit``."""
    from attribution import Markov

    paths = read_paths(table)
    gc.collect()
    out: dict[str, Any] = {"order": order, "paths": len(paths), "rss_before_mb": rss_mb()}
    reset_peak()
    cpu = time.process_time()
    out["parse_s"], journeys = timed(lambda: _parse(paths))
    out["rss_parse_peak_mb"] = max_rss_mb()
    out["fit_s"], fit = timed(lambda: Markov(order).fit(journeys))
    out["cpu_s"] = time.process_time() - cpu
    out["total_s"] = out["parse_s"] + out["fit_s"]
    out["rss_peak_mb"] = max_rss_mb()
    credits = fit.credits
    out["credits"] = _credits(credits["channel"], credits["conversions"].to_numpy(), credits["value"].to_numpy())
    out["digest"] = _digest(credits, (fit.conversion_probability, *fit.removal_effects["removal_effect"]))
    out["conversion_probability"] = fit.conversion_probability
    out["fell_back"] = fit.fell_back
    out["journeys"] = int((journeys["position"] == 0).sum())
    out["touch_rows"] = len(journeys)
    return out


def measure_markov_ca(table: str, seed: int) -> dict[str, Any]:
    """ChannelAttribution's ``markov_model`` on the table, default settings (nsim_start, max_step, conv_par ...).

    ``seed`` is its random generator's seed (its default is 0); ``flg_pro=False`` only drops its banner.
    """
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()):  # its import prints an advertisement
        import ChannelAttribution as ca
    paths = read_paths(table)
    c = PATH_COLUMNS
    gc.collect()
    out: dict[str, Any] = {"seed": seed, "paths": len(paths), "rss_before_mb": rss_mb()}
    reset_peak()
    cpu = time.process_time()

    def run() -> Any:
        with contextlib.redirect_stdout(io.StringIO()):
            return ca.markov_model(paths, var_path=c["path"], var_conv=c["conversions"], var_value=c["value"],
                                   var_null=c["nulls"], order=1, sep=">", verbose=0, flg_pro=False, seed=seed)
    out["total_s"], result = timed(run)
    out["cpu_s"] = time.process_time() - cpu
    out["rss_peak_mb"] = max_rss_mb()
    if isinstance(result, dict):
        result = result["result"]
    names = [str(n).strip() for n in result["channel_name"]]
    out["credits"] = _credits(names, result["total_conversions"].to_numpy(dtype=float),
                              result["total_conversion_value"].to_numpy(dtype=float))
    return out


def per_set_credits(journeys: pd.DataFrame, weights: np.ndarray, separator: str = " > ") -> dict[str, dict[str, float]]:
    """Conversions credited per (distinct channel set, channel): the set written as DP6 writes it (sorted names)."""
    position = journeys["position"].to_numpy()
    starts = np.flatnonzero(position == 0)
    codes = journeys["channel"].cat.codes.to_numpy().astype(np.int64)
    names = list(journeys["channel"].cat.categories)
    if len(names) > 62:
        raise ValueError("per-set credits are kept for at most 62 channels")
    mask = np.bitwise_or.reduceat(np.left_shift(np.int64(1), codes), starts)
    sizes = np.diff(np.append(starts, len(journeys)))
    credit = weights * np.repeat(journeys["n_conversions"].to_numpy(dtype=float)[starts], sizes)
    frame = pd.DataFrame({"set": np.repeat(mask, sizes), "code": codes, "credit": credit})
    sums = frame.groupby(["set", "code"], sort=True)["credit"].sum()
    converting = pd.Series(journeys["n_conversions"].to_numpy(dtype=float)[starts]).groupby(mask).sum()
    out: dict[str, dict[str, float]] = {}
    for (set_mask, code), value in sums.items():
        if converting[set_mask] <= 0:
            continue
        label = separator.join(sorted(names[i] for i in range(len(names)) if set_mask >> i & 1))
        out.setdefault(label, {})[names[code]] = float(value)
    return out


def measure_shapley_ours(table: str, max_players: int) -> dict[str, Any]:
    """Ours on the table: ``journeys_from_paths`` (parse) then ``Shapley().attribute`` (players: channels).

    After the timed run (not timed): the conversions credited per distinct channel set, for the comparison
    with DP6's per-set split.
    """
    from attribution import Shapley

    paths = read_paths(table)
    gc.collect()
    out: dict[str, Any] = {"paths": len(paths), "rss_before_mb": rss_mb()}
    reset_peak()
    cpu = time.process_time()
    out["parse_s"], journeys = timed(lambda: _parse(paths))
    out["rss_parse_peak_mb"] = max_rss_mb()
    model = Shapley(max_players=max_players)
    out["model_s"], credits = timed(lambda: model.attribute(journeys, "channel"))
    out["cpu_s"] = time.process_time() - cpu
    out["total_s"] = out["parse_s"] + out["model_s"]
    out["rss_peak_mb"] = max_rss_mb()
    out["credits"] = _credits(credits["channel"], credits["conversions"].to_numpy(), credits["value"].to_numpy())
    out["digest"] = _digest(credits)
    out["per_set"] = per_set_credits(journeys, Shapley(players="channel", max_players=max_players).weights(journeys))
    return out


def _toy_frame() -> pd.DataFrame:
    return pd.DataFrame(TOY_PATHS, columns=["path", "total_conversions", "total_null"]).assign(
        total_conversion_value=0.0)


def _dp6_current_feed(paths: pd.DataFrame) -> pd.DataFrame:
    """DP6 2.x's "grouped_journey" format: a row per (path, converted or not) with its count."""
    c = PATH_COLUMNS
    conv = paths[paths[c["conversions"]] > 0]
    null = paths[paths[c["nulls"]] > 0]
    return pd.concat([
        pd.DataFrame({"path": conv[c["path"]].to_numpy(dtype=object), "has_conversion": True,
                      "occurrences": conv[c["conversions"]].to_numpy(dtype=np.int64)}),
        pd.DataFrame({"path": null[c["path"]].to_numpy(dtype=object), "has_conversion": False,
                      "occurrences": null[c["nulls"]].to_numpy(dtype=np.int64)}),
    ], ignore_index=True)


def _dp6_legacy_feed(paths: pd.DataFrame) -> pd.DataFrame:
    """DP6 1.x's journey format: one row per journey (its path and whether it converted); 1.x takes no counts."""
    c = PATH_COLUMNS
    conversions = paths[c["conversions"]].to_numpy(dtype=np.int64)
    n = conversions + paths[c["nulls"]].to_numpy(dtype=np.int64)
    starts = np.cumsum(n) - n
    place = np.arange(int(n.sum())) - np.repeat(starts, n)
    return pd.DataFrame({"path": np.repeat(paths[c["path"]].to_numpy(dtype=object), n),
                         "converted": place < np.repeat(conversions, n)})


def _dp6_run(release: str, feed: pd.DataFrame, max_players: int) -> tuple[dict[str, float], pd.DataFrame]:
    """DP6's Shapley on its input: per channel credited conversions, and its per-set table (set, weights)."""
    if release == "current":
        from mam import MAM

        step("constructing MAM (grouped_journey)")
        model = MAM(feed, format_type="grouped_journey", channels_colname="path",
                    journey_with_conv_colname="has_conversion", occurrences_colname="occurrences",
                    path_separator=" > ")
        step("running MAM.run_shapley")
        result = model.run_shapley(max_size=max_players)
        aggregated = result.to_pandas()
        table = result.metadata["conv_table"].to_pandas()
        name = f"attribution_shapley_size{max_players}_conv_rate_algorithmic"
        credited = dict(zip(aggregated["channels"].astype(str), aggregated["attribution"].astype(float), strict=True))
    else:
        from marketing_attribution_models import MAM

        step("constructing MAM (one row per journey)")
        model = MAM(feed, channels_colname="path", journey_with_conv_colname="converted", group_channels=False,
                    time_till_conv_colname="skip_column", path_separator=" > ")
        step("running MAM.attribution_shapley")
        table, frame = model.attribution_shapley(size=max_players)
        name = f"attribution_shapley_size{max_players}_conv_rate_algorithmic"
        credited = {str(k): float(v) for k, v in frame.items()}
    per_set = pd.DataFrame({"set": table["combinations"].astype(str).to_numpy(),
                            "weights": [list(map(float, w)) for w in table[name]]})
    return credited, per_set


def measure_shapley_dp6(table: str, release: str, max_players: int) -> dict[str, Any]:
    """DP6's marketing-attribution-models Shapley on the table (run in DP6's own environment, see run.py).

    ``release`` "current" (2.x, the Polars rewrite: ``MAM(..., format_type="grouped_journey").run_shapley``)
    or "legacy" (1.x: ``MAM(...).attribution_shapley``). First, not timed: the 3-path example (does it compute
    the Shapley values?) and the input in the shape the release takes; then the timed run.
    """
    import warnings
    from importlib import metadata

    warnings.simplefilter("ignore")  # the legacy release's deprecation notices; not part of the work
    out: dict[str, Any] = {"release": release, "version": metadata.version("marketing-attribution-models"),
                           "pandas": pd.__version__, "numpy": np.__version__}
    feed_of = _dp6_current_feed if release == "current" else _dp6_legacy_feed
    toy, _ = _dp6_run(release, feed_of(_toy_frame()), max_players)
    out["toy"] = toy
    out["toy_ok"] = all(abs(toy.get(k, 0.0) - v) <= 1e-9 for k, v in TOY_SHAPLEY.items())
    paths = read_paths(table)
    out["paths"] = len(paths)
    feed = feed_of(paths)
    del paths
    out["feed_rows"] = len(feed)
    print("BENCH_PART " + json.dumps(out), flush=True)  # what is known should the run be stopped
    step(f"input ready: {len(feed):,} rows")
    gc.collect()
    out["rss_before_mb"] = rss_mb()
    reset_peak()
    cpu = time.process_time()
    out["total_s"], (credited, per_set) = timed(lambda: _dp6_run(release, feed, max_players))
    out["cpu_s"] = time.process_time() - cpu
    out["rss_peak_mb"] = max_rss_mb()
    out["credits"] = {k: [v, None] for k, v in sorted(credited.items())}
    out["per_set"] = {s: w for s, w in zip(per_set["set"], per_set["weights"], strict=True)}
    return out


def measure_full_report(db_url: str, first: str, last: str, instance: str, intervals: bool,
                        samples: int) -> dict[str, Any]:
    """The attribution report of all the models (:data:`FULL_MODELS`) through a real app and session, once, after
    a warm-up report on one day of the window (the same parameters)."""
    from tracker import create_app
    from tracker.db import get_db
    from tracker.reports.params import parse_params
    from tracker.reports.service import attribution_report

    app = create_app({"database_url": db_url, "instance_path": instance, "secret_key": "bench",
                      "ip_hash_secret": "bench", "SPOOL_BACKGROUND": False})
    settings = app.config["SETTINGS"]
    raw = {"model": ",".join(FULL_MODELS)}
    if intervals:
        raw.update({"intervals": "true", "samples": str(samples)})
    params = parse_params({**raw, "from": first, "to": last}, settings)
    db = get_db(app)
    out: dict[str, Any] = {"intervals": intervals, "samples": samples if intervals else None}
    with app.app_context():
        with db.Session() as session:  # warm-up: one day, so statement compilation and imports are not timed
            attribution_report(session, settings, parse_params({**raw, "from": first, "to": first}, settings))
        gc.collect()
        out["rss_before_mb"] = rss_mb()
        reset_peak()
        with db.Session() as session:
            cpu = time.process_time()
            out["e2e_s"], report = timed(lambda: attribution_report(session, settings, params))
            out["cpu_s"] = time.process_time() - cpu
        out["rss_peak_mb"] = max_rss_mb()
    rows = report["rows"]
    out["rows"] = len(rows)
    out["models"] = sorted({row["model"] for row in rows})
    out["counts"] = {k: v for k, v in report["counts"].items() if isinstance(v, (int, float, str, type(None)))}
    out["comparison_rows"] = len(report.get("comparison", []))
    out["markov_probability"] = report.get("markov", {}).get("conversion_probability")
    out["interval_columns"] = "conversions_low" in report.get("columns", [])
    return out


def measure_extra_reports(db_url: str, first: str, last: str, instance: str, repeat: int,
                          experiment: str) -> dict[str, Any]:
    """The experiment report (of the test ``experiment``, which run.py marked on the store's links) and the cohort
    report (the window's months, ``as_of`` its last day) through a real app and session: one warm-up each, then
    ``repeat`` reports each; medians."""
    from tracker import create_app
    from tracker.cohorts.params import parse_cohort_params
    from tracker.cohorts.service import cohort_report
    from tracker.db import get_db
    from tracker.experiments.service import experiment_report, parse_experiment_params

    app = create_app({"database_url": db_url, "instance_path": instance, "secret_key": "bench",
                      "ip_hash_secret": "bench", "SPOOL_BACKGROUND": False})
    settings = app.config["SETTINGS"]
    reports = {
        "experiments": (experiment_report, parse_experiment_params(
            {"experiment": experiment, "from": first, "to": last}, settings)),
        "cohorts": (cohort_report, parse_cohort_params(
            {"from": first[:7], "to": last[:7], "as_of": last}, settings)),
    }
    db = get_db(app)
    out: dict[str, Any] = {}
    with app.app_context():
        for name, (build, params) in reports.items():
            with db.Session() as session:  # warm-up: statement compilation and imports are not timed
                build(session, settings, params)
            times, cpu = [], []
            for _ in range(repeat):
                with db.Session() as session:
                    started = time.process_time()
                    seconds, report = timed(lambda: build(session, settings, params))  # noqa: B023
                    cpu.append(time.process_time() - started)
                times.append(seconds)
            out[name] = {"times_s": times, "median_s": statistics.median(times), "cpu_s": cpu}
            if name == "experiments":
                out[name]["arms"] = report["arms"]
                out[name]["verdict"] = report.get("verdict")
            else:
                out[name]["counts"] = report["counts"]
    out["rss_peak_mb"] = max_rss_mb()
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="one measurement of bench/attribution (run by run.py)")
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("report")
    r.add_argument("--db", required=True)
    r.add_argument("--from", dest="first", required=True)
    r.add_argument("--to", dest="last", required=True)
    r.add_argument("--instance", required=True)
    r.add_argument("--repeat", type=int, default=3, help="full reports in this process (default 3)")
    m = sub.add_parser("memory")
    m.add_argument("--journeys", type=int, default=1_000_000)
    m.add_argument("--runs", type=int, default=3)
    m.add_argument("--seed", type=int, default=7)
    c = sub.add_parser("channelattribution")
    c.add_argument("--journeys", type=int, default=1_000_000)
    c.add_argument("--runs", type=int, default=3)
    c.add_argument("--seed", type=int, default=7)
    c.add_argument("--tolerance", type=float, default=1e-9, help="largest relative difference per channel")
    mo = sub.add_parser("markov-ours")
    mo.add_argument("--table", required=True)
    mo.add_argument("--order", type=int, default=1)
    mc = sub.add_parser("markov-ca")
    mc.add_argument("--table", required=True)
    mc.add_argument("--seed", type=int, default=0)
    so = sub.add_parser("shapley-ours")
    so.add_argument("--table", required=True)
    so.add_argument("--max-players", type=int, default=16)
    sd = sub.add_parser("shapley-dp6")
    sd.add_argument("--table", required=True)
    sd.add_argument("--release", choices=("current", "legacy"), required=True)
    sd.add_argument("--max-players", type=int, default=16)
    f = sub.add_parser("full-report")
    f.add_argument("--db", required=True)
    f.add_argument("--from", dest="first", required=True)
    f.add_argument("--to", dest="last", required=True)
    f.add_argument("--instance", required=True)
    f.add_argument("--intervals", action="store_true")
    f.add_argument("--samples", type=int, default=200)
    x = sub.add_parser("extra-reports")
    x.add_argument("--db", required=True)
    x.add_argument("--from", dest="first", required=True)
    x.add_argument("--to", dest="last", required=True)
    x.add_argument("--instance", required=True)
    x.add_argument("--repeat", type=int, default=3)
    x.add_argument("--experiment", required=True)
    args = p.parse_args(argv)
    if args.command == "extra-reports":
        emit(measure_extra_reports(args.db, args.first, args.last, args.instance, args.repeat, args.experiment))
    elif args.command == "report":
        emit(measure_report(args.db, args.first, args.last, args.instance, args.repeat))
    elif args.command == "memory":
        emit(measure_memory(args.journeys, args.runs, args.seed))
    elif args.command == "channelattribution":
        emit(measure_channelattribution(args.journeys, args.runs, args.seed, args.tolerance))
    elif args.command == "markov-ours":
        emit(measure_markov_ours(args.table, args.order))
    elif args.command == "markov-ca":
        emit(measure_markov_ca(args.table, args.seed))
    elif args.command == "shapley-ours":
        emit(measure_shapley_ours(args.table, args.max_players))
    elif args.command == "shapley-dp6":
        emit(measure_shapley_dp6(args.table, args.release, args.max_players))
    else:
        emit(measure_full_report(args.db, args.first, args.last, args.instance, args.intervals, args.samples))
    return 0


if __name__ == "__main__":
    sys.exit(main())
