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

``memory``: every rule-based model of ``attribution.MODELS`` on synthetic journeys held in memory
(``model.attribute(journeys, by="channel")``, median of ``--runs``), and a baseline on the same frame
(``journeys.groupby("channel")["value"].sum()``); each model's credits are checked to sum to the
conversions and their value.

``channelattribution``: one distinct-path table (path strings with " > ", conversion counts and
values, from the ``memory`` generator's journeys) given to both tools in this one process, ``--runs``
rounds taking turns: ChannelAttribution's ``heuristic_models`` (parses the strings, computes first,
last and linear touch) and ours, ``journeys_from_paths`` (parse) then first_touch, last_touch and
linear ``attribute(journeys, "channel")`` (models); wall and CPU time, medians, and each model's
credits per channel compared with ChannelAttribution's (relative difference <= 1e-9).
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
    from attribution import MODELS

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
    for name, cls in MODELS.items():
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
    args = p.parse_args(argv)
    if args.command == "report":
        emit(measure_report(args.db, args.first, args.last, args.instance, args.repeat))
    elif args.command == "memory":
        emit(measure_memory(args.journeys, args.runs, args.seed))
    else:
        emit(measure_channelattribution(args.journeys, args.runs, args.seed, args.tolerance))
    return 0


if __name__ == "__main__":
    sys.exit(main())
