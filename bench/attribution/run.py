"""Attribution benchmark (``make bench-attribution``): reports on 1,000,000 touchpoints, models on 1,000,000 paths.

1. Generate a synthetic store (``bench/attribution/synth.py``: 1,000,000 touchpoints of 200,000 people,
   50,000 conversions over 90 days, 12 channels, bots) and bulk-insert it, in the service's schema
   (``tracker.migrate.upgrade``), into a SQLite file in a temporary folder and into a schema of its own
   on PostgreSQL (dropped at the end, also on failure). Generation and load times are reported, not
   targets.
2. For each database, ``--reps`` fresh processes (``bench/attribution/worker.py report``) each run the
   attribution report for first_touch, last_touch and linear over the window of all conversions
   (``tracker.reports.service.attribution_report`` through ``tracker.create_app`` and a session) after
   a one-day warm-up, ``--repeat`` times: the first full report in a process also pays for its first
   use of that much memory, the later ones show a process that has served reports before (as a
   server's worker has); both are printed. They note wall and CPU time and the process's peak resident
   size over its reports (``VmHWM``, reset after the warm-up: interpreter, imports and warm-up leftovers
   included), then time the loading step alone and the model step (``build_journeys`` + the three
   models) alone on the frames just loaded. Medians are printed.
3. In memory (another fresh process): every rule-based model (``attribution.models.RULE_BASED``) on
   1,000,000 journeys of 1-8 touches (about 4.5M touch rows, 12 channels), ``model.attribute(journeys,
   by="channel")``, median of ``--runs``, against a baseline ``journeys.groupby("channel")["value"].sum()``
   on the same frame. (The data-driven models have steps 5-7 of their own.)
4. ChannelAttribution parity (another fresh process; ``--no-channelattribution`` skips it): the same
   generator's journeys aggregated to one table of distinct paths (path string with " > ", total
   conversions, total value; about 490,000 paths for 1M journeys), the same table given to both tools,
   ``--ca-runs`` rounds (default 5) taking turns: ChannelAttribution's ``heuristic_models(paths, "path", "conv",
   var_value="val", flg_pro=False)`` (it parses the strings and computes first, last and linear touch)
   against ours, ``journeys_from_paths(paths, conversions="conv", value="val")`` (parse) then
   first_touch, last_touch and linear ``.attribute(journeys, "channel")`` (models). Medians of wall
   time: ours end to end (parse + the three models) and the models alone, each over
   ChannelAttribution's time; the credits of the three models must agree with its per channel, for
   conversions and value, to 1e-9 relative.
5. The report of all nine models (first_touch ... self_reported, markov, shapley) through the service on
   the SQLite store of step 1, with ``intervals=true&samples=200`` and, for reference, without intervals:
   ``--full-report-reps`` fresh processes each (default 3), one report per process after a one-day warm-up;
   wall and CPU time and peak RSS (``--no-full-report`` skips it).
6. Markov against ChannelAttribution (``--no-markov`` skips it): one seeded table of ``--paths`` distinct
   paths (default 1,000,000; ``bench/attribution/paths.py``: 12 channels, 1-10 touches, ChannelAttribution's
   columns path;total_conversions;total_conversion_value;total_null), written once; ``--markov-runs``
   rounds (default 3) of fresh processes taking turns, each reading the table before its clock starts:
   ours, ``journeys_from_paths`` (parse) + ``Markov(1).fit``, and ChannelAttribution's ``markov_model(...,
   order=1, sep=">", verbose=0)`` with its default settings (nsim_start, max_step, conv_par), seeds 0 (its
   default), 1000, 2000 ... (nearby seeds give the same result) so that its spread shows. Medians, peak
   RSS of each, whether ours is bit-identical from run to run, ChannelAttribution's spread and the
   per-channel difference between the two (printed, no target). Then ours at orders 2 and 3 on the same
   table, and order 4 on a table of ``--markov4-paths`` (default 20,000) distinct paths of the same
   generator: with 12 channels it has up to 20,736 states of 4 (over 4 minutes on 100,000 paths already).
7. Shapley against DP6's (``--no-shapley`` skips it): the same table; ours, ``journeys_from_paths`` +
   ``Shapley().attribute``, and DP6's marketing-attribution-models (github.com/DP6/Marketing-Attribution-Models,
   the same PyPI project in both lines): its current release 2.1.1 (the Polars rewrite in DP6's repository,
   ``MAM(format_type="grouped_journey").run_shapley(max_size=12)``) in ``--shapley-runs`` rounds (default 3)
   taking turns with ours, and its legacy release 1.0.10 (``MAM(...).attribution_shapley(size=12)``, one
   row per journey) once (``--no-dp6-legacy`` skips it). Each DP6 release runs in an environment of its
   own under ``bench/out/envs`` (made on the first run with ``python -m venv`` and pip, then kept): 2.x
   brings pyarrow, which would switch the service's own pandas to Arrow strings; 1.x needs the libraries
   of its time (pandas < 2.3, numpy < 2, matplotlib < 3.8). A DP6 run is stopped after ``--dp6-timeout``
   seconds (default 300) of its timed part and reported as not finished. Time, ratio, peak RSS, what
   each computes, a 3-path example each must get right, and the per-set split compared with ours.

Targets (2-core machine, shared): end-to-end report on SQLite <= 1.5 s (checked for the first report in a
fresh process and for the later ones), its peak memory <= 1 GB; in memory, every rule-based model on the
1M journeys in under 3 s; on the same distinct paths, ours (parse + first/last/linear) at least as fast
as ChannelAttribution's ``heuristic_models`` (ratio <= 1.0); the report of all nine models with intervals
(200 samples) on SQLite <= 10 s; Markov order 1 on 1M distinct paths at least as fast as
ChannelAttribution's ``markov_model`` (ratio <= 1.0); Shapley on them faster than DP6's (ratio < 1.0) with
our process's peak RSS <= 1 GB. Missed targets are reported (PASS / MISS), not failed; the exit status
is 1 when a step could not run, credits do not add up, first/last/linear differ from ChannelAttribution's,
or our Markov or Shapley credits differ from one run to the next. A DP6 release that cannot be installed,
cannot run or does not finish is reported as such. Results are also written to
``bench/out/attribution.json``.

Usage::

    .venv/bin/python bench/attribution/run.py [--reps 5] [--repeat 3] [--runs 3] [--backends sqlite,postgres]
        [--pg-url URL] [--journeys 1000000] [--ca-runs 5] [--no-channelattribution] [--touches 1000000 --people 200000
        --conversions 50000] [--no-memory] [--no-full-report] [--full-report-reps 3] [--samples 200] [--no-markov]
        [--no-shapley] [--no-dp6-legacy] [--paths 1000000] [--path-channels 12] [--markov-runs 3]
        [--markov-orders 2,3] [--markov4-paths 20000] [--shapley-runs 3] [--dp6-timeout 300]

Environment: ``BENCH_POSTGRES_URL`` (default ``postgresql://postgres@127.0.0.1:5432/test``; the run creates
and drops a schema of its own and touches nothing else).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE))

import paths as paths_module  # noqa: E402  (next to this file)
import synth  # noqa: E402

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"
TARGET_E2E_S = 1.5
TARGET_RSS_MB = 1024.0
TARGET_MODEL_S = 3.0
TARGET_CA_RATIO = 1.0  # ours / ChannelAttribution heuristic_models, same distinct paths
CA_TOLERANCE = 1e-9
MODELS_REPORTED = "first_touch,last_touch,linear"
WORKER_TIMEOUT = 600
TARGET_MARKOV_RATIO = 1.0  # ours (parse + Markov(1).fit) / ChannelAttribution markov_model, same table
TARGET_SHAPLEY_RATIO = 1.0  # ours (parse + Shapley) / DP6's Shapley, same table: faster
TARGET_SHAPLEY_RSS_MB = 1024.0
TARGET_FULL_REPORT_S = 10.0
TARGET_EXTRA_REPORT_S = 2.0  # the experiment and the cohort report on SQLite, each (issue 15)
BENCH_EXPERIMENT = "bench-ab"  # the test marked on the busiest campaign's links (arms A, B, C)
FULL_MODELS = "first_touch,last_touch,last_non_direct,linear,time_decay,position_based,self_reported,markov,shapley"


class BenchError(RuntimeError):
    """A step of the benchmark could not run."""


def _terminate(signum: int, _frame: Any) -> None:
    raise SystemExit(128 + signum)  # unwinds through the finally blocks: temp files and schema go


# ---- databases -----------------------------------------------------------------------------------
@contextmanager
def sqlite_database(tmp: Path) -> Iterator[tuple[str, Any]]:
    path = tmp / "attribution.db"
    try:
        yield f"sqlite:///{path}", lambda store: synth.write_sqlite(str(path), store)
    finally:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)


@contextmanager
def postgres_database(base: str) -> Iterator[tuple[str, Any]]:
    """A schema of our own on the server; its URL and writer; dropped afterwards (also on failure)."""
    from tracker.config import normalise_database_url
    from tracker.db import make_engine

    admin = make_engine(normalise_database_url(base, "."), connect_args={"connect_timeout": 3})
    schema = f"bench_attribution_{uuid.uuid4().hex[:10]}"
    try:
        with admin.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    except sa.exc.OperationalError as exc:
        admin.dispose()
        raise BenchError(f"PostgreSQL at {base} is unreachable ({str(exc.orig).strip()})") from None
    sep = "&" if "?" in base else "?"
    try:
        yield f"{base}{sep}options=-csearch_path%3D{schema}", lambda store: synth.write_postgres(base, schema, store)
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def migrate(db_url: str) -> None:
    from tracker.config import normalise_database_url
    from tracker.db import make_engine
    from tracker.migrate import upgrade

    engine = make_engine(normalise_database_url(db_url, "."))
    try:
        upgrade(engine)
    finally:
        engine.dispose()


# ---- workers -------------------------------------------------------------------------------------
def _child_peak_mb(pid: int) -> float | None:
    """The peak resident size (VmHWM) of a running child, in MB; None once it is gone."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def run_worker(*args: str, python: str | Path | None = None, timeout: float = WORKER_TIMEOUT,
               clock_from: str | None = None) -> dict[str, Any]:
    """Run ``worker.py args`` in a fresh interpreter (``python``, default this one) and return what it measured.

    ``timeout`` counts from the start, or with ``clock_from`` from the worker's progress line
    ``BENCH_STEP <clock_from>...`` (its timed part; the whole process still gets ``WORKER_TIMEOUT`` more).
    A worker past its time is stopped; with ``clock_from`` that is a result (``did_not_finish``, the last
    progress line and the largest peak resident size seen), otherwise an error.
    """
    cmd = [str(python or sys.executable), str(HERE / "worker.py"), *args]
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, text=True, cwd=ROOT)
        start = time.monotonic()
        deadline = start + (WORKER_TIMEOUT + timeout if clock_from else timeout)
        clock = None
        peak = 0.0
        try:
            while True:
                try:
                    proc.wait(timeout=0.5)
                    break
                except subprocess.TimeoutExpired:
                    pass
                peak = max(peak, _child_peak_mb(proc.pid) or 0.0)
                if clock_from and clock is None:
                    out.seek(0)
                    if f"BENCH_STEP {clock_from}" in out.read():
                        clock = time.monotonic()
                        deadline = clock + timeout
                if time.monotonic() > deadline:
                    proc.kill()
                    proc.wait()
                    out.seek(0)
                    text = out.read()
                    steps = re.findall(r"^BENCH_STEP (.*)$", text, re.M)
                    if clock is None:
                        raise BenchError(f"{' '.join(args[:1])} took longer than {deadline - start:.0f} s "
                                         f"(last step: {steps[-1] if steps else 'none'})")
                    parts = re.findall(r"^BENCH_PART (\{.*\})$", text, re.M)
                    return {**(json.loads(parts[-1]) if parts else {}), "did_not_finish": True, "timeout_s": timeout,
                            "last_step": steps[-1] if steps else None, "rss_peak_seen_mb": peak,
                            "setup_s": clock - start}
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    match = re.search(r"^BENCH_RESULT (\{.*\})$", stdout, re.M)
    if proc.returncode != 0 or match is None:
        raise BenchError(f"worker {' '.join(args)} failed (exit {proc.returncode}):\n{stdout[-2000:]}"
                         f"{stderr[-4000:]}")
    return json.loads(match.group(1))


def report_window(store: synth.Store) -> tuple[str, str]:
    """The report's days (report time zone) covering every conversion."""
    from tracker.config import load_settings

    tz = load_settings({"secret_key": "bench", "ip_hash_secret": "bench"}).tz

    def day(ns: np.datetime64) -> str:
        seconds = int(ns.astype("datetime64[s]").astype(np.int64))
        return datetime.fromtimestamp(seconds, UTC).astimezone(tz).date().isoformat()
    return day(store.first_conversion), day(store.last_conversion)


def median(runs: list[dict[str, Any]], key: str) -> float:
    return float(statistics.median(r[key] for r in runs))


def bench_backend(backend: str, args: argparse.Namespace, store: synth.Store, tmp: Path,
                  window: tuple[str, str]) -> dict[str, Any]:
    database = sqlite_database(tmp) if backend == "sqlite" else postgres_database(args.pg_url)
    with database as (db_url, write):
        start = time.perf_counter()
        migrate(db_url)
        migrate_s = time.perf_counter() - start
        start = time.perf_counter()
        write(store)
        load_s = time.perf_counter() - start
        print(f"{backend}: migrated in {migrate_s:.1f} s, rows inserted in {load_s:.1f} s; "
              f"{args.reps} processes x {args.repeat} reports", flush=True)
        runs = []
        for i in range(args.reps):
            instance = tmp / f"instance-{backend}-{i}"
            runs.append(run_worker("report", "--db", db_url, "--from", window[0], "--to", window[1],
                                   "--instance", str(instance), "--repeat", str(args.repeat)))
            shutil.rmtree(instance, ignore_errors=True)
            r = runs[-1]
            print(f"  process {i + 1}: report {' '.join(f'{t:.2f}' for t in r['e2e_s'])} s, peak RSS "
                  f"{r['rss_peak_mb']:.0f} MB; load {r['load_s']:.2f} s, journeys {r['journeys_s']:.2f} s, "
                  f"models {r['models_s']:.2f} s", flush=True)
        full = None
        if backend == "sqlite" and not args.no_full_report:
            print(f"{backend}: the report of all nine models with intervals ({args.samples} samples) and without, "
                  f"{args.full_report_reps} fresh processes each", flush=True)
            try:
                full = bench_full_report(args, db_url, window, tmp)
            except BenchError as exc:
                full = {"error": str(exc)}
                print(f"error in the full report: {exc}", file=sys.stderr, flush=True)
        extra = None
        if backend == "sqlite" and not args.no_extra_reports:
            try:
                extra = bench_extra_reports(args, db_url, window, tmp)
            except BenchError as exc:
                extra = {"error": str(exc)}
                print(f"error in the experiment and cohort reports: {exc}", file=sys.stderr, flush=True)
    first = [r["e2e_s"][0] for r in runs]
    again = [t for r in runs for t in r["e2e_s"][1:]]
    return {
        "backend": backend, "migrate_s": migrate_s, "insert_s": load_s, "runs": runs,
        "e2e_first_s": statistics.median(first), "e2e_first_min_s": min(first), "e2e_first_max_s": max(first),
        "e2e_again_s": statistics.median(again) if again else None,
        "e2e_again_min_s": min(again) if again else None, "e2e_again_max_s": max(again) if again else None,
        "e2e_cpu_first_s": statistics.median(r["e2e_cpu_s"][0] for r in runs),
        "raw_fetch_s": statistics.median(t for r in runs for t in r["raw_fetch_s"]), "raw_rows": runs[0]["raw_rows"],
        "load_s": median(runs, "load_s"), "journeys_s": median(runs, "journeys_s"),
        "models_s": median(runs, "models_s"), "rss_peak_mb": max(r["rss_peak_mb"] for r in runs),
        "rss_before_mb": median(runs, "rss_before_mb"), "counts": runs[0]["counts"],
        "journey_rows": runs[0]["journey_rows"], "credit_rows": runs[0]["rows"], "channels": runs[0]["channels"],
        "full_report": full, "extra_reports": extra,
    }


# ---- data-driven models on distinct paths ---------------------------------------------------------------
def path_table(args: argparse.Namespace, tmp: Path, paths: int, name: str) -> tuple[Path, dict[str, Any]]:
    """Generate a table of ``paths`` distinct paths (``paths.py``, ``args.path_channels`` channels), written
    ';'-separated into ``tmp``; its file and a description."""
    start = time.perf_counter()
    table = paths_module.generate(paths, args.path_channels, args.path_seed)
    took = time.perf_counter() - start
    info = {**paths_module.describe(table), "channel_count": args.path_channels, "seed": args.path_seed,
            "generate_s": took}
    file = tmp / name
    table.to_csv(file, sep=";", index=False)
    del table
    return file, info


def _spread(values: list[float]) -> float:
    """(max - min) / |median| of one channel's results over runs."""
    mid = statistics.median(values)
    return (max(values) - min(values)) / abs(mid) if mid else 0.0


def bench_markov(args: argparse.Namespace, table: Path, info: dict[str, Any], tmp: Path) -> dict[str, Any]:
    """Ours (parse + Markov(1).fit) and ChannelAttribution's markov_model on one table, fresh processes taking
    turns; then our orders 2 and 3 on it and order 4 on a smaller table."""
    runs: dict[str, list[dict[str, Any]]] = {"ours": [], "ca": []}
    # 0 is its default. A seed gives the same result every time, and so do nearby seeds (0-3 all give one result
    # on the default table): seeds 1,000 apart give different ones.
    seeds = [1000 * i for i in range(args.markov_runs)]
    for i in range(args.markov_runs):
        for turn in (("ca", "ours") if i % 2 == 0 else ("ours", "ca")):
            if turn == "ca":
                r = run_worker("markov-ca", "--table", str(table), "--seed", str(seeds[i]))
            else:
                r = run_worker("markov-ours", "--table", str(table), "--order", "1")
            runs[turn].append(r)
            print(f"  round {i + 1} {'ChannelAttribution' if turn == 'ca' else 'ours'}: {r['total_s']:.2f} s, "
                  f"peak RSS {r['rss_peak_mb']:.0f} MB", flush=True)
    ours, ca = runs["ours"], runs["ca"]
    out: dict[str, Any] = {"table": info, "runs": args.markov_runs, "ca_seeds": seeds, "ours_runs": ours,
                           "ca_runs": ca}
    out["ours_median_s"] = median(ours, "total_s")
    out["parse_median_s"] = median(ours, "parse_s")
    out["fit_median_s"] = median(ours, "fit_s")
    out["ca_median_s"] = median(ca, "total_s")
    out["ratio"] = out["ours_median_s"] / out["ca_median_s"]
    out["ours_rss_peak_mb"] = max(r["rss_peak_mb"] for r in ours)
    out["ours_rss_parse_peak_mb"] = max(r["rss_parse_peak_mb"] for r in ours)
    out["ca_rss_peak_mb"] = max(r["rss_peak_mb"] for r in ca)
    out["rss_before_mb"] = median(ours + ca, "rss_before_mb")
    out["identical"] = len({r["digest"] for r in ours}) == 1
    out["ca_distinct"] = len({json.dumps(r["credits"], sort_keys=True) for r in ca})
    channels = sorted(set(ours[0]["credits"]) | set(ca[0]["credits"]))
    rows = []
    for ch in channels:
        mine = ours[0]["credits"].get(ch, [0.0, 0.0])
        theirs = [r["credits"].get(ch, [0.0, 0.0]) for r in ca]
        row: dict[str, Any] = {"channel": ch, "ours_conversions": mine[0], "ours_value": mine[1]}
        for k, what in enumerate(("conversions", "value")):
            values = [t[k] for t in theirs]
            mid = statistics.median(values)
            row[f"ca_{what}"] = mid
            row[f"ca_{what}_min"], row[f"ca_{what}_max"] = min(values), max(values)
            row[f"ca_{what}_spread"] = _spread(values)
            row[f"diff_{what}"] = abs(mine[k] - mid) / abs(mid) if mid else float("inf")
        rows.append(row)
    out["per_channel"] = rows
    for what in ("conversions", "value"):
        out[f"ca_spread_{what}"] = max(r[f"ca_{what}_spread"] for r in rows)
        out[f"diff_{what}"] = max(r[f"diff_{what}"] for r in rows)
    out["orders"] = {}
    for order in args.markov_orders:
        r = run_worker("markov-ours", "--table", str(table), "--order", str(order))
        out["orders"][str(order)] = r
        print(f"  ours, order {order}: {r['total_s']:.2f} s (fit {r['fit_s']:.2f} s), peak RSS "
              f"{r['rss_peak_mb']:.0f} MB", flush=True)
    if args.markov4_paths:
        small, small_info = path_table(args, tmp, args.markov4_paths, "paths-order4.csv")
        try:
            r = run_worker("markov-ours", "--table", str(small), "--order", "4")
            out["order4"] = {**r, "table": small_info}
            print(f"  ours, order 4 on {args.markov4_paths:,} paths: {r['total_s']:.2f} s (fit {r['fit_s']:.2f} s), "
                  f"peak RSS {r['rss_peak_mb']:.0f} MB", flush=True)
        except BenchError as exc:
            out["order4"] = {"error": str(exc).splitlines()[0], "table": small_info}
            print(f"  ours, order 4: {out['order4']['error']}", flush=True)
        finally:
            small.unlink(missing_ok=True)
    return out


# DP6's marketing-attribution-models, each release in an environment of its own under bench/out/envs (made on
# the first run, from PyPI, and kept): the current 2.x pulls in pyarrow, whose mere presence makes pandas 3
# store every string column in Arrow in the service's own environment; the legacy 1.x needs the libraries of
# its time (under pandas 3 its Shapley loop writes into copies and credits every channel of a set equally,
# and matplotlib >= 3.8 no longer has the style it sets on import).
DP6_RELEASES: dict[str, tuple[str, tuple[str, ...]]] = {
    "current": ("dp6-current", ("marketing-attribution-models==2.1.1",)),
    "legacy": ("dp6-legacy", ("marketing-attribution-models==1.0.10", "numpy<2", "pandas>=2.2,<2.3",
                              "matplotlib<3.8", "seaborn>=0.13,<0.14")),
}
ENVS = ROOT / "bench" / "out" / "envs"


def dp6_python(release: str) -> Path:
    """The interpreter of ``release``'s environment, made (python -m venv, pip install) when missing or stale."""
    name, requirements = DP6_RELEASES[release]
    home = ENVS / name
    python = home / "bin" / "python"
    stamp = home / "bench-requirements.txt"
    wanted = "\n".join(requirements) + "\n"
    if python.exists() and stamp.exists() and stamp.read_text() == wanted:
        return python
    print(f"  preparing DP6's environment {home.relative_to(ROOT)} (first run only): {' '.join(requirements)}",
          flush=True)
    shutil.rmtree(home, ignore_errors=True)
    steps = [[sys.executable, "-m", "venv", str(home)],
             [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *requirements]]
    for cmd in steps:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
        if proc.returncode != 0:
            shutil.rmtree(home, ignore_errors=True)
            tail = [line for line in (proc.stderr or proc.stdout).splitlines() if not line.startswith("WARNING")]
            raise BenchError(f"could not install {' '.join(requirements)}: {' '.join(cmd[:3])}... exited "
                             f"{proc.returncode}: {' / '.join(tail[-3:])}")
    stamp.write_text(wanted)
    return python


def _dp6_parity(ours_sets: dict[str, dict[str, float]], theirs: dict[str, list[float]]) -> dict[str, Any]:
    """Compare the per-set split: DP6's weights (in the set's sorted channel order) with our credits."""
    same, negative, negative_credit, worst = 0, 0, 0.0, 0.0
    negative_conversions = total_conversions = 0.0
    for label, weights in theirs.items():
        names = label.split(" > ")
        total = sum(weights)
        total_conversions += total
        mine = ours_sets.get(label)
        if any(w < -1e-9 * max(abs(total), 1.0) for w in weights):
            negative += 1
            negative_conversions += total
            negative_credit += sum(w for w in weights if w < 0)
            continue
        if mine is None or len(names) != len(weights):
            worst = float("inf")
            continue
        same += 1
        for ch, w in zip(names, weights, strict=True):
            worst = max(worst, abs(mine.get(ch, 0.0) - w) / max(abs(total), 1e-300))
    return {"sets": len(theirs), "ours_sets": len(ours_sets), "sets_without_negative": same,
            "sets_with_negative": negative, "negative_share": negative_conversions / total_conversions
            if total_conversions else 0.0, "negative_credit": negative_credit, "max_diff_share": worst,
            "missing_in_ours": sum(1 for label in theirs if label not in ours_sets),
            "missing_in_theirs": sum(1 for label in ours_sets if label not in theirs)}


def bench_shapley(args: argparse.Namespace, table: Path, info: dict[str, Any]) -> dict[str, Any]:
    """Ours and DP6's Shapley on one table: ours and DP6's current release taking turns (fresh processes),
    DP6's legacy release once, each DP6 run stopped after ``--dp6-timeout`` seconds of its timed part."""
    out: dict[str, Any] = {"table": info, "runs": args.shapley_runs, "timeout_s": args.dp6_timeout,
                           "max_players": args.path_channels, "ours_runs": [], "dp6": {}}
    pythons: dict[str, Path] = {}
    releases = ["current"] + ([] if args.no_dp6_legacy else ["legacy"])
    for release in releases:
        out["dp6"][release] = {"runs": []}
        try:
            pythons[release] = dp6_python(release)
        except (BenchError, OSError, subprocess.TimeoutExpired) as exc:
            out["dp6"][release]["error"] = str(exc)
            print(f"  DP6 {release}: cannot run: {exc}", flush=True)
    dp6_args = ["--table", str(table), "--max-players", str(args.path_channels)]

    def dp6(release: str) -> None:
        entry = out["dp6"][release]
        if release not in pythons or entry.get("error") or any(r.get("did_not_finish") for r in entry["runs"]):
            return
        try:
            r = run_worker("shapley-dp6", *dp6_args, "--release", release, python=pythons[release],
                           timeout=args.dp6_timeout, clock_from="input ready")
        except BenchError as exc:
            entry["error"] = str(exc)
            print(f"  DP6 {release}: failed: {str(exc).splitlines()[0]}", flush=True)
            return
        entry["runs"].append(r)
        if r.get("did_not_finish"):
            print(f"  DP6 {release}: did not finish in {args.dp6_timeout:.0f} s (at: {r['last_step']}), peak RSS "
                  f">= {r['rss_peak_seen_mb']:.0f} MB when stopped", flush=True)
        else:
            print(f"  DP6 {release} {r['version']}: {r['total_s']:.2f} s, peak RSS {r['rss_peak_mb']:.0f} MB",
                  flush=True)

    for i in range(args.shapley_runs):
        for turn in (("dp6", "ours") if i % 2 == 0 else ("ours", "dp6")):
            if turn == "dp6":
                dp6("current")
            else:
                r = run_worker("shapley-ours", "--table", str(table), "--max-players", "16")
                out["ours_runs"].append(r)
                print(f"  round {i + 1} ours: {r['total_s']:.2f} s, peak RSS {r['rss_peak_mb']:.0f} MB", flush=True)
    if "legacy" in releases:
        dp6("legacy")
    ours = out["ours_runs"]
    out["ours_median_s"] = median(ours, "total_s")
    out["parse_median_s"] = median(ours, "parse_s")
    out["model_median_s"] = median(ours, "model_s")
    out["ours_rss_peak_mb"] = max(r["rss_peak_mb"] for r in ours)
    out["ours_rss_parse_peak_mb"] = max(r["rss_parse_peak_mb"] for r in ours)
    out["ours_rss_before_mb"] = median(ours, "rss_before_mb")
    out["identical"] = len({r["digest"] for r in ours}) == 1
    out["per_set"] = len(ours[0]["per_set"])
    for entry in out["dp6"].values():
        done = [r for r in entry["runs"] if not r.get("did_not_finish")]
        entry["finished"] = bool(done) and len(done) == len(entry["runs"])
        if entry["runs"] and entry["runs"][-1].get("did_not_finish"):
            entry["did_not_finish"] = entry["runs"][-1]
        known = next((r for r in entry["runs"] if "version" in r), None)
        if known:
            entry["version"] = known["version"]
            entry["feed_rows"] = known["feed_rows"]
        if done:
            entry["version"] = done[0]["version"]
            entry["toy_ok"] = done[0]["toy_ok"]
            entry["median_s"] = median(done, "total_s")
            entry["rss_peak_mb"] = max(r["rss_peak_mb"] for r in done)
            entry["rss_before_mb"] = median(done, "rss_before_mb")
            entry["ratio"] = out["ours_median_s"] / entry["median_s"]  # ours / DP6
            entry["parity"] = _dp6_parity(ours[0]["per_set"], done[0]["per_set"])
            entry["credits"] = done[0]["credits"]
            entry["feed_rows"] = done[0]["feed_rows"]
            for r in done:
                r.pop("per_set", None)
        elif entry.get("did_not_finish"):
            entry["ratio_below"] = out["ours_median_s"] / args.dp6_timeout
    for r in ours[1:]:
        r.pop("per_set", None)
    out["ours_credits"] = ours[0]["credits"]
    ours[0].pop("per_set", None)
    return out


def bench_full_report(args: argparse.Namespace, db_url: str, window: tuple[str, str], tmp: Path) -> dict[str, Any]:
    """The report of all nine models through the service, with and without intervals, fresh processes."""
    out: dict[str, Any] = {"reps": args.full_report_reps, "samples": args.samples}
    for intervals in (True, False):
        key = "intervals" if intervals else "plain"
        runs = []
        for i in range(args.full_report_reps):
            instance = tmp / f"instance-full-{key}-{i}"
            extra = ["--intervals", "--samples", str(args.samples)] if intervals else []
            runs.append(run_worker("full-report", "--db", db_url, "--from", window[0], "--to", window[1],
                                   "--instance", str(instance), *extra))
            shutil.rmtree(instance, ignore_errors=True)
            r = runs[-1]
            print(f"  all nine models, {'intervals' if intervals else 'no intervals'}, process {i + 1}: "
                  f"{r['e2e_s']:.2f} s, peak RSS {r['rss_peak_mb']:.0f} MB", flush=True)
        out[key] = {"runs": runs, "e2e_s": median(runs, "e2e_s"), "min_s": min(r["e2e_s"] for r in runs),
                    "max_s": max(r["e2e_s"] for r in runs), "cpu_s": median(runs, "cpu_s"),
                    "rss_peak_mb": max(r["rss_peak_mb"] for r in runs),
                    "rss_before_mb": median(runs, "rss_before_mb"), "rows": runs[0]["rows"],
                    "models": runs[0]["models"], "counts": runs[0]["counts"],
                    "comparison_rows": runs[0]["comparison_rows"]}
    return out


def mark_experiment(db_url: str) -> dict[str, Any]:
    """Make the busiest campaign's links the arms of one test (``experiment=bench-ab``, variants A, B, C by link
    id), as a marketer would with variants; the store's clicks and conversions stay as generated."""
    import sqlalchemy as sa

    engine = sa.create_engine(db_url)
    try:
        with engine.begin() as conn:
            campaign = conn.execute(sa.text(
                "SELECT l.campaign_id FROM clicks c JOIN links l ON l.id = c.link_id WHERE l.campaign_id IS NOT NULL "
                "GROUP BY l.campaign_id ORDER BY count(*) DESC, l.campaign_id LIMIT 1")).scalar_one()
            conn.execute(sa.text(
                "UPDATE links SET experiment = :name, variant = CASE id % 3 WHEN 0 THEN 'A' WHEN 1 THEN 'B' "
                "ELSE 'C' END WHERE campaign_id = :campaign"), {"name": BENCH_EXPERIMENT, "campaign": campaign})
            links = conn.execute(sa.text("SELECT count(*) FROM links WHERE campaign_id = :c"),
                                 {"c": campaign}).scalar_one()
    finally:
        engine.dispose()
    return {"campaign_id": campaign, "links": links}


def bench_extra_reports(args: argparse.Namespace, db_url: str, window: tuple[str, str], tmp: Path) -> dict[str, Any]:
    """The experiment and cohort reports through the service on the SQLite store (issue 15's 2 s targets)."""
    marked = mark_experiment(db_url)
    print(f"sqlite: experiment and cohort reports ({marked['links']} links of campaign {marked['campaign_id']} "
          f"marked as arms A/B/C of {BENCH_EXPERIMENT}), {args.extra_reps} fresh processes x {args.repeat} "
          "reports each", flush=True)
    runs = []
    for i in range(args.extra_reps):
        instance = tmp / f"instance-extra-{i}"
        runs.append(run_worker("extra-reports", "--db", db_url, "--from", window[0], "--to", window[1],
                               "--instance", str(instance), "--repeat", str(args.repeat),
                               "--experiment", BENCH_EXPERIMENT))
        shutil.rmtree(instance, ignore_errors=True)
        r = runs[-1]
        print(f"  process {i + 1}: experiments {' '.join(f'{t:.2f}' for t in r['experiments']['times_s'])} s, "
              f"cohorts {' '.join(f'{t:.2f}' for t in r['cohorts']['times_s'])} s, peak RSS "
              f"{r['rss_peak_mb']:.0f} MB", flush=True)
    out: dict[str, Any] = {"marked": marked, "runs": runs, "rss_peak_mb": max(r["rss_peak_mb"] for r in runs)}
    for name in ("experiments", "cohorts"):
        times = [t for r in runs for t in r[name]["times_s"]]
        cpu = [t for r in runs for t in r[name]["cpu_s"]]
        out[name] = {"median_s": statistics.median(times), "min_s": min(times), "max_s": max(times),
                     "cpu_s": statistics.median(cpu)}
    out["arms"] = runs[0]["experiments"]["arms"]
    out["verdict"] = runs[0]["experiments"]["verdict"]
    out["cohort_counts"] = runs[0]["cohorts"]["counts"]
    return out


def render_extra_reports(extra: dict[str, Any], window: tuple[str, str]) -> list[str]:
    arms = ", ".join(f"{a['arm']}: {a['exposures']:,} exposures, {a['people']:,} people, {a['converters']:,} converting"
                     for a in extra["arms"])
    c = extra["cohort_counts"]
    lines = [f"experiment and cohort reports through the service on SQLite ({window[0]}..{window[1]}; medians of "
             f"every report after a warm-up, fresh processes; peak RSS {extra['rss_peak_mb']:.0f} MB)"]
    e, k = extra["experiments"], extra["cohorts"]
    lines.append(f"  experiments (experiment={BENCH_EXPERIMENT}; {arms}): {e['median_s']:.2f} s "
                 f"({e['min_s']:.2f}-{e['max_s']:.2f}; cpu {e['cpu_s']:.2f} s)")
    lines.append(f"  cohorts (months {window[0][:7]}..{window[1][:7]}: {c['customers']:,} customers, {c['cohorts']} "
                 f"cohort months, {c['channels']} channels): {k['median_s']:.2f} s ({k['min_s']:.2f}-{k['max_s']:.2f}; "
                 f"cpu {k['cpu_s']:.2f} s)")
    return lines


# ---- printing ------------------------------------------------------------------------------------
def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def render(store_info: dict[str, Any], backends: list[dict[str, Any]], memory: dict[str, Any] | None,
           ca: dict[str, Any] | None, args: argparse.Namespace, markov: dict[str, Any] | None = None,
           shapley: dict[str, Any] | None = None) -> tuple[str, dict[str, bool]]:
    lines: list[str] = []
    if store_info:
        c = store_info["counts"]
        lines.append(f"store: {c['touchpoints']:,} touchpoints of {c['people']:,} people ({c['clicks']:,} clicks and "
                     f"scans of {c['links']:,} links in {c['campaigns']:,} campaigns, {c['click_bots']:,} by bots; "
                     f"{c['landing_visit_touches']:,} landing visits; {c['offline_touches']:,} offline touches; plus "
                     f"{c['landing_visits_with_tid']:,} visits carrying a click's tid), {c['conversions']:,} "
                     f"conversions of {c['converting_people']:,} people over {c['conversion_days']} days; generated in "
                     f"{store_info['generate_s']:.1f} s")
    if backends:
        lines.append("")
        lines.append(f"end-to-end report ({MODELS_REPORTED}, {store_info['window'][0]}..{store_info['window'][1]}): "
                     f"{args.reps} fresh processes x {args.repeat} reports each; medians; load and model steps timed "
                     "alone in the same processes")
        head = (f"{'database':<10}{'insert s':>9}{'1st report s':>13}{'min-max':>11}{'cpu s':>7}{'again s':>9}"
                f"{'min-max':>11}{'raw fetch s':>12}{'x raw':>6}{'load s':>8}{'journeys s':>11}{'models s':>9}"
                f"{'peak RSS MB':>12}{'RSS before':>11}{'touches read':>13}{'journey rows':>13}{'channels':>9}")
        lines += [head, "-" * len(head)]
        for b in backends:
            first_range = f"{b['e2e_first_min_s']:.2f}-{b['e2e_first_max_s']:.2f}"
            again = "-" if b["e2e_again_s"] is None else f"{b['e2e_again_s']:.2f}"
            again_range = "-" if b["e2e_again_s"] is None else f"{b['e2e_again_min_s']:.2f}-{b['e2e_again_max_s']:.2f}"
            lines.append(
                f"{b['backend']:<10}{b['insert_s']:>9.1f}{b['e2e_first_s']:>13.2f}{first_range:>11}"
                f"{b['e2e_cpu_first_s']:>7.2f}{again:>9}{again_range:>11}{b['raw_fetch_s']:>12.2f}"
                f"{(b['e2e_again_s'] or b['e2e_first_s']) / b['raw_fetch_s']:>6.1f}{b['load_s']:>8.2f}"
                f"{b['journeys_s']:>11.2f}"
                f"{b['models_s']:>9.2f}{b['rss_peak_mb']:>12.0f}{b['rss_before_mb']:>11.0f}"
                f"{b['counts']['touches_read']:>13,}{b['journey_rows']:>13,}{b['channels']:>9}")
        lines.append("1st report: the first full report in a fresh process (its first use of that much memory "
                     "included); again: the later ones\nin the same processes (as in a server's worker); raw fetch: "
                     "the baseline, the same rows fetched with the raw driver and\nnothing else (x raw: again / raw "
                     "fetch); cpu s: CPU "
                     "time of the 1st report (the PostgreSQL server's not included);\npeak RSS: the process's peak "
                     "resident size over its reports (VmHWM, interpreter and imports included); RSS before:\nresident "
                     "after imports and the warm-up")
    if memory:
        lines.append("")
        lines.append(f"in memory: {memory['journeys']:,} journeys of {memory['touches_min']}-{memory['touches_max']} "
                     f"touches, {memory['touch_rows']:,} touch rows, {memory['channels']} channels, "
                     f"{100 * memory['answered_share']:.1f} % with a self-reported answer (built in "
                     f"{memory['build_s']:.1f} s); model.attribute(journeys, by='channel'), median of {args.runs}; "
                     f"peak RSS {memory['rss_peak_mb']:.0f} MB")
        head = f"{'model':<34}{'median s':>9}{'runs s':>22}{'x baseline':>11}{'sums':>6}{'< 3 s':>7}"
        lines += [head, "-" * len(head)]
        base = memory["baseline"]
        lines.append(f"{'baseline groupby(channel).sum()':<34}{base['median_s']:>9.3f}"
                     f"{' '.join(f'{t:.2f}' for t in base['times']):>22}{1:>11.2f}")
        for name, m in memory["models"].items():
            lines.append(f"{name:<34}{m['median_s']:>9.3f}{' '.join(f'{t:.2f}' for t in m['times']):>22}"
                         f"{m['ratio']:>11.1f}{'ok' if m['sums_ok'] else 'BAD':>6}"
                         f"{verdict(m['median_s'] < TARGET_MODEL_S):>7}")
    if ca:
        lines.append("")
        lines += render_channelattribution(ca)
    full = next((b.get("full_report") for b in backends if b["backend"] == "sqlite"), None)
    if full and "error" not in full:
        lines.append("")
        lines += render_full_report(full, store_info["window"])
    extra = next((b.get("extra_reports") for b in backends if b["backend"] == "sqlite"), None)
    if extra and "error" not in extra:
        lines.append("")
        lines += render_extra_reports(extra, store_info["window"])
    if markov:
        lines.append("")
        lines += render_markov(markov)
    if shapley:
        lines.append("")
        lines += render_shapley(shapley)

    checks: dict[str, bool] = {}
    lines.append("")
    lines.append("targets")
    rows = []
    for b in backends:
        if b["backend"] == "sqlite":
            checks["e2e_sqlite_first"] = b["e2e_first_s"] <= TARGET_E2E_S
            rows.append((f"end-to-end report on SQLite <= {TARGET_E2E_S} s: 1st in a fresh process (median)",
                         f"{b['e2e_first_s']:.2f} s", verdict(checks["e2e_sqlite_first"])))
            if b["e2e_again_s"] is not None:
                checks["e2e_sqlite_again"] = b["e2e_again_s"] <= TARGET_E2E_S
                rows.append((f"end-to-end report on SQLite <= {TARGET_E2E_S} s: again in the process (median)",
                             f"{b['e2e_again_s']:.2f} s", verdict(checks["e2e_sqlite_again"])))
        else:
            rows.append(("end-to-end report on PostgreSQL, 1st in a fresh process (no target)",
                         f"{b['e2e_first_s']:.2f} s", "-"))
    if backends:
        peak = max(b["rss_peak_mb"] for b in backends)
        checks["memory"] = peak <= TARGET_RSS_MB
        rows.append(("report peak memory <= 1 GB (largest peak RSS, both databases)", f"{peak:.0f} MB",
                     verdict(checks["memory"])))
    if memory:
        slowest = max(memory["models"], key=lambda k: memory["models"][k]["median_s"])
        worst = memory["models"][slowest]["median_s"]
        checks["models"] = worst < TARGET_MODEL_S
        rows.append((f"every rule-based model on {memory['journeys']:,} journeys < {TARGET_MODEL_S:.0f} s "
                     f"(slowest: {slowest})",
                     f"{worst:.2f} s", verdict(checks["models"])))
    if ca:
        checks["channelattribution_speed"] = ca["ratio"] <= TARGET_CA_RATIO
        rows.append((f"same distinct paths: ours (parse + first/last/linear) / ChannelAttribution <= "
                     f"{TARGET_CA_RATIO:.1f}", f"{ca['ratio']:.2f}", verdict(checks["channelattribution_speed"])))
        checks["channelattribution_credits"] = ca["credits_ok"]
        rows.append((f"same distinct paths: first/last/linear credits = ChannelAttribution's (<= {CA_TOLERANCE:.0e})",
                     f"{ca['max_rel_diff']:.1e}", "ok" if ca["credits_ok"] else "BAD"))
    if full and "error" not in full:
        f = full["intervals"]
        checks["full_report"] = f["e2e_s"] <= TARGET_FULL_REPORT_S
        rows.append((f"report of all nine models with intervals ({args.samples} samples) on SQLite <= "
                     f"{TARGET_FULL_REPORT_S:.0f} s (median)", f"{f['e2e_s']:.2f} s", verdict(checks["full_report"])))
    if extra and "error" not in extra:
        for name in ("experiments", "cohorts"):
            checks[f"{name}_report"] = extra[name]["median_s"] <= TARGET_EXTRA_REPORT_S
            rows.append((f"{name[:-1]} report on SQLite <= {TARGET_EXTRA_REPORT_S:.0f} s (median)",
                         f"{extra[name]['median_s']:.2f} s", verdict(checks[f"{name}_report"])))
    if markov:
        checks["markov_speed"] = markov["ratio"] <= TARGET_MARKOV_RATIO
        rows.append((f"Markov order 1, same paths: ours (parse + fit) / ChannelAttribution markov_model <= "
                     f"{TARGET_MARKOV_RATIO:.1f}",
                     f"{markov['ratio']:.2f}", verdict(checks["markov_speed"])))
        checks["markov_identical"] = markov["identical"]
        rows.append((f"Markov: our credits bit-identical over {markov['runs']} runs",
                     "yes" if markov["identical"] else "no", "ok" if markov["identical"] else "BAD"))
    if shapley:
        for release, entry in shapley["dp6"].items():
            name = f"DP6 {entry.get('version', release)}"
            if entry.get("finished"):
                ok = entry["ratio"] < TARGET_SHAPLEY_RATIO
                value = f"{entry['ratio']:.2f}"
            elif entry.get("did_not_finish"):
                ok, value = True, f"<{entry['ratio_below']:.3f}"
            else:
                continue
            checks[f"shapley_speed_{release}"] = ok
            rows.append((f"Shapley, same paths: ours (parse + model) / {name} < {TARGET_SHAPLEY_RATIO:.1f} (faster)",
                         value, verdict(ok)))
        checks["shapley_memory"] = shapley["ours_rss_peak_mb"] <= TARGET_SHAPLEY_RSS_MB
        rows.append(("Shapley, same paths: our process's peak RSS <= 1 GB", f"{shapley['ours_rss_peak_mb']:.0f} MB",
                     verdict(checks["shapley_memory"])))
        checks["shapley_identical"] = shapley["identical"]
        rows.append((f"Shapley: our credits bit-identical over {len(shapley['ours_runs'])} runs",
                     "yes" if shapley["identical"] else "no", "ok" if shapley["identical"] else "BAD"))
    for what, value, v in rows:
        lines.append(f"  {what:<78}{value:>9}  {v}")
    return "\n".join(lines), checks


def _runs(values: list[float]) -> str:
    return " ".join(f"{v:.2f}" for v in values)


def _table_line(info: dict[str, Any]) -> str:
    return (f"{info['paths']:,} distinct paths (bench/attribution/paths.py: {info['channel_count']} channels, seed "
            f"{info['seed']}; {info['journeys']:,} journeys, {info['conversions']:,} conversions, "
            f"{info['non_converting']:,} non-converting; {info['steps']:,} steps, {info['mean_journey_touches']:.1f} "
            f"touches per journey, {100 * info['paths_without_conversion']:.0f} % of the paths without a conversion; "
            f"generated in {info['generate_s']:.1f} s)")


def render_full_report(full: dict[str, Any], window: tuple[str, str]) -> list[str]:
    """The report of all nine models through the service, with and without intervals."""
    head = (f"{'':<44}{'report s':>9}{'min-max':>11}{'cpu s':>7}{'peak RSS MB':>12}{'RSS before':>11}"
            f"{'rows':>12}")
    lines = [f"full comparison report through the service on SQLite: {FULL_MODELS} (by channel, "
             f"{window[0]}..{window[1]}); one report per fresh process after a one-day warm-up, {full['reps']} "
             "processes each; medians", head, "-" * len(head)]
    for key, label in (("intervals", f"with intervals (bootstrap, {full['samples']} samples)"),
                       ("plain", "without intervals (reference)")):
        f = full[key]
        spread = f"{f['min_s']:.2f}-{f['max_s']:.2f}"
        lines.append(f"{label:<44}{f['e2e_s']:>9.2f}{spread:>11}{f['cpu_s']:>7.2f}{f['rss_peak_mb']:>12.0f}"
                     f"{f['rss_before_mb']:>11.0f}{f['rows']:>12,}")
    c = full["intervals"]["counts"]
    answered = c.get("with_answer")
    lines.append(f"{c.get('conversions', 0):,} conversions, {c.get('touches_read', 0):,} touches read; "
                 + (f"{answered:,} with a self-reported answer (the others credited by self_reported's fallback, "
                    f"{c.get('self_reported_fallback_model', 'last_touch')})" if answered is not None else
                    "no self-reported answers counted")
                 + f"; {full['intervals']['comparison_rows']:,} model-pair comparisons in the intervals' report")
    return lines


def render_markov(m: dict[str, Any]) -> list[str]:
    """Ours against ChannelAttribution's markov_model on one distinct-path table."""
    ours, ca = m["ours_runs"], m["ca_runs"]
    head = f"{'':<62}{'median s':>9}{'cpu s':>7}{'runs s':>18}{'x CA':>6}{'peak RSS MB':>12}"
    lines = [f"Markov on one table of {_table_line(m['table'])}; each run a fresh process that reads the table (not "
             f"timed), {m['runs']} rounds taking turns; medians", head, "-" * len(head),
             f"{'ChannelAttribution markov_model(order=1), default settings':<62}{m['ca_median_s']:>9.2f}"
             f"{median(ca, 'cpu_s'):>7.2f}{_runs([r['total_s'] for r in ca]):>18}{1:>6.2f}{m['ca_rss_peak_mb']:>12.0f}",
             f"{'ours: journeys_from_paths + Markov(1).fit':<62}{m['ours_median_s']:>9.2f}{median(ours, 'cpu_s'):>7.2f}"
             f"{_runs([r['total_s'] for r in ours]):>18}{m['ratio']:>6.2f}{m['ours_rss_peak_mb']:>12.0f}",
             f"{'  of which journeys_from_paths (parse; peak RSS after it)':<62}{m['parse_median_s']:>9.2f}{'':>7}"
             f"{_runs([r['parse_s'] for r in ours]):>18}{m['parse_median_s'] / m['ca_median_s']:>6.2f}"
             f"{m['ours_rss_parse_peak_mb']:>12.0f}",
             f"{'  of which Markov(1).fit (exact: sparse solves)':<62}{m['fit_median_s']:>9.2f}{'':>7}"
             f"{_runs([r['fit_s'] for r in ours]):>18}{m['fit_median_s'] / m['ca_median_s']:>6.2f}",
             f"peak RSS: the process's VmHWM, with the interpreter, imports and the table read beforehand (about "
             f"{m['rss_before_mb']:.0f} MB)"]
    digest = ours[0]["digest"][:16]
    lines.append(f"run to run: ours {'bit-identical' if m['identical'] else 'NOT bit-identical'} over {len(ours)} runs "
                 f"(credits, P and removal effects; sha256 {digest}...); ChannelAttribution over seeds "
                 f"{', '.join(map(str, m['ca_seeds']))} (0 is its default; a seed, and nearby ones, repeat the same "
                 f"result, so the rounds' seeds are 1,000 apart; {m['ca_distinct']} distinct results): largest "
                 f"relative spread per channel {m['ca_spread_conversions']:.1e} of conversions, "
                 f"{m['ca_spread_value']:.1e} of value (its simulation error)")
    lines.append(f"ours vs ChannelAttribution (median of its runs): largest relative difference per channel "
                 f"{m['diff_conversions']:.1e} of conversions, {m['diff_value']:.1e} of value (no target: it "
                 "simulates, ours solves exactly)")
    head = f"  {'channel':<18}{'ours conv':>11}{'CA conv':>11}{'CA min-max':>18}{'ours vs CA':>11}{'CA spread':>10}"
    lines.append(head)
    for r in m["per_channel"]:
        rng = f"{r['ca_conversions_min']:,.0f}-{r['ca_conversions_max']:,.0f}"
        lines.append(f"  {r['channel']:<18}{r['ours_conversions']:>11,.0f}{r['ca_conversions']:>11,.0f}{rng:>18}"
                     f"{r['diff_conversions']:>11.1e}{r['ca_conversions_spread']:>10.1e}")
    parts = []
    for order, r in m["orders"].items():
        parts.append(f"order {order}: {r['total_s']:.2f} s (fit {r['fit_s']:.2f} s), peak RSS "
                     f"{r['rss_peak_mb']:.0f} MB")
    if parts:
        lines.append(f"ours at higher orders, same table, one fresh process each (no target): {'; '.join(parts)}")
    o4 = m.get("order4")
    if o4:
        t = o4["table"]
        what = (f"{o4['total_s']:.2f} s (fit {o4['fit_s']:.2f} s), peak RSS {o4['rss_peak_mb']:.0f} MB"
                if "error" not in o4 else f"failed: {o4['error']}")
        lines.append(f"order 4 is slow with {t['channel_count']} channels ({t['channel_count'] ** 4:,} possible "
                     f"states of 4 channels), so it is timed on a smaller table of the same generator, "
                     f"{t['paths']:,} distinct paths ({t['journeys']:,} journeys): {what}")
    else:
        lines.append("order 4: not timed (--markov4-paths 0)")
    return lines


def render_shapley(sh: dict[str, Any]) -> list[str]:
    """Ours against DP6's marketing-attribution-models Shapley on the same table."""
    ours = sh["ours_runs"]
    dp6 = sh["dp6"]
    head = f"{'':<72}{'median s':>9}{'cpu s':>7}{'runs s':>18}{'ours / it':>10}{'peak RSS MB':>12}"
    legacy_note = ", DP6's legacy release once" if "legacy" in dp6 else ""
    lines = [f"Shapley on the same table (players: the {sh['max_players']} channels; {sh['per_set']:,} distinct "
             "channel sets with conversions); each run a fresh process that reads the table (not timed); ours and "
             f"DP6's current release {sh['runs']} rounds taking turns{legacy_note}; DP6 stopped after "
             f"{sh['timeout_s']:.0f} s of its timed part; medians", head, "-" * len(head),
             f"{'ours: journeys_from_paths + Shapley().attribute':<72}{sh['ours_median_s']:>9.2f}"
             f"{median(ours, 'cpu_s'):>7.2f}{_runs([r['total_s'] for r in ours]):>18}{1:>10.2f}"
             f"{sh['ours_rss_peak_mb']:>12.0f}",
             f"{'  of which journeys_from_paths (parse; peak RSS after it)':<72}{sh['parse_median_s']:>9.2f}{'':>7}"
             f"{_runs([r['parse_s'] for r in ours]):>18}{'':>10}{sh['ours_rss_parse_peak_mb']:>12.0f}",
             f"{'  of which Shapley().attribute':<72}{sh['model_median_s']:>9.2f}{'':>7}"
             f"{_runs([r['model_s'] for r in ours]):>18}"]
    calls = {"current": "MAM(grouped_journey).run_shapley(max_size={n})",
             "legacy": "MAM(...).attribution_shapley(size={n})"}
    for release, entry in dp6.items():
        version = entry.get("version") or DP6_RELEASES[release][1][0].split("==")[1]
        label = f"DP6 {version}: {calls[release].format(n=sh['max_players'])}"
        runs = [r for r in entry["runs"] if not r.get("did_not_finish")]
        if entry.get("finished"):
            lines.append(f"{label:<72}{entry['median_s']:>9.2f}{median(runs, 'cpu_s'):>7.2f}"
                         f"{_runs([r['total_s'] for r in runs]):>18}{entry['ratio']:>10.2f}"
                         f"{entry['rss_peak_mb']:>12.0f}")
        elif entry.get("did_not_finish"):
            d = entry["did_not_finish"]
            lines.append(f"{label:<72}  did not finish in {d['timeout_s']:.0f} s (stopped while {d['last_step']}; "
                         f"peak RSS >= {d['rss_peak_seen_mb']:,.0f} MB then): ours / it < {entry['ratio_below']:.3f}")
        else:
            lines.append(f"{label:<72}  could not run: {entry.get('error', 'unknown').splitlines()[0]}")
    lines.append(f"peak RSS: the process's VmHWM, with the interpreter, imports and the table read beforehand (ours: "
                 f"about {sh['ours_rss_before_mb']:.0f} MB before the clock started)")
    feed = {r: e.get("feed_rows") or (e["runs"][0].get("feed_rows") if e["runs"] else None) for r, e in dp6.items()}
    lines.append("what is fed: ours reads the table as it is (journeys_from_paths with conversions, value and nulls); "
                 f"DP6 2.x takes \"grouped_journey\" rows, one per path with conversions (occurrences = "
                 f"total_conversions, has_conversion true) and one per path with non-converting journeys (occurrences "
                 f"= total_null, false): {feed.get('current') or 0:,} rows, no value column, so it credits conversions"
                 + ("; DP6 1.x takes no counts: one row per journey (path, converted)"
                    + (f": {feed['legacy']:,} rows" if feed.get("legacy") else "") if "legacy" in dp6 else "")
                 + ". Building these inputs is not timed; each tool's own parsing of the path strings is.")
    lines.append("what each computes: the same game, v(S) = the conversion rate of the journeys whose set of distinct "
                 "channels is exactly S (0 where no journey converts), and the same exact Shapley formula per set "
                 "with conversions. Ours splits each set's conversions (and value) over its channels in proportion "
                 "to max(phi, 0) (equally when none is > 0); DP6 in proportion to phi x journeys over their sum, "
                 "negative phi kept (negative credit). DP6's set cap is set to the channel count (its default, 4, "
                 "keeps the 4 alphabetically last channels of each set); neither samples nor approximates.")
    for entry in dp6.values():
        p = entry.get("parity")
        if p:
            lines.append(f"per-set check, DP6 {entry['version']}: on the {p['sets_without_negative']:,} of "
                         f"{p['sets']:,} sets where DP6 credits no channel negatively its split equals ours to "
                         f"{p['max_diff_share']:.1e} of the set's conversions; the other {p['sets_with_negative']:,} "
                         f"sets ({100 * p['negative_share']:.1f} % of the conversions) get {p['negative_credit']:,.0f} "
                         f"conversions of negative credit from DP6, none from ours"
                         + (f" (sets only one side has: {p['missing_in_ours']} / {p['missing_in_theirs']})"
                            if p["missing_in_ours"] or p["missing_in_theirs"] else ""))
    toy = []
    for entry in dp6.values():
        first = next((r for r in entry["runs"] if "toy_ok" in r), None)
        if first:
            toy.append(f"DP6 {first['version']} {'ok' if first['toy_ok'] else 'WRONG ' + str(first['toy'])} (pandas "
                       f"{first['pandas']}, numpy {first['numpy']})")
    if toy:
        lines.append(f"3-path example (v(A) = 1/4, v(A,B) = 1/2, so A 2.5 and B 0.5 conversions): {'; '.join(toy)}")
    names = [r for r in dp6 if dp6[r].get("credits")]
    head = f"  {'channel':<18}{'ours conv':>11}" + "".join(f"{'DP6 ' + dp6[r]['version']:>14}" for r in names)
    lines.append(head)
    for ch, (conv, _value) in sh["ours_credits"].items():
        lines.append(f"  {ch:<18}{conv:>11,.0f}"
                     + "".join(f"{dp6[r]['credits'].get(ch, [0.0])[0]:>14,.0f}" for r in names))
    lines.append(f"run to run: ours {'bit-identical' if sh['identical'] else 'NOT bit-identical'} over "
                 f"{len(ours)} runs")
    return lines


def render_channelattribution(ca: dict[str, Any]) -> list[str]:
    """The parity lines: both tools on one distinct-path table, in one process (quotable as they are)."""
    t = ca["times"]
    runs = lambda key: " ".join(f"{x:.2f}" for x in t[key])  # noqa: E731
    head = f"{'':<64}{'median s':>9}{'cpu s':>7}{'runs s':>26}{'x CA':>6}"
    return [
        f"ChannelAttribution parity: one table of {ca['paths']:,} distinct paths ({ca['conversions']:,.0f} "
        f"conversions, {ca['steps']:,} steps, from {ca['journeys']:,} journeys), both tools in one fresh process, "
        f"{ca['runs']} rounds taking turns; medians",
        head, "-" * len(head),
        f"{'ChannelAttribution heuristic_models (parse + first/last/linear)':<64}{ca['ca_median_s']:>9.3f}"
        f"{ca['ca_cpu_median_s']:>7.2f}{runs('ca_s'):>26}{1:>6.2f}",
        f"{'ours: journeys_from_paths + first/last/linear attribute':<64}{ca['ours_median_s']:>9.3f}"
        f"{ca['ours_cpu_median_s']:>7.2f}{runs('ours_s'):>26}{ca['ratio']:>6.2f}",
        f"{'  of which journeys_from_paths (parse)':<64}{ca['parse_median_s']:>9.3f}{'':>7}{runs('parse_s'):>26}"
        f"{ca['parse_median_s'] / ca['ca_median_s']:>6.2f}",
        f"{'  of which the three models alone':<64}{ca['models_median_s']:>9.3f}{'':>7}{runs('models_s'):>26}"
        f"{ca['ratio_models']:>6.2f}",
        f"credits: first/last/linear x {ca['channels']} channels, conversions and value: max relative difference "
        f"{ca['max_rel_diff']:.1e} ({'ok' if ca['credits_ok'] else 'DIFFERENT'}, tolerance {CA_TOLERANCE:.0e})",
    ]


# ---- main ----------------------------------------------------------------------------------------
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--reps", type=int, default=5, help="report runs (fresh processes) per database (default 5)")
    p.add_argument("--repeat", type=int, default=3, help="full reports per process (default 3)")
    p.add_argument("--runs", type=int, default=3, help="runs per model in memory (default 3)")
    p.add_argument("--ca-runs", type=int, default=5, help="rounds of the ChannelAttribution comparison (default 5)")
    p.add_argument("--journeys", type=int, default=1_000_000, help="journeys held in memory (default 1,000,000)")
    p.add_argument("--people", type=int, default=200_000)
    p.add_argument("--touches", type=int, default=1_000_000)
    p.add_argument("--conversions", type=int, default=50_000)
    p.add_argument("--seed", type=int, default=20261123)
    p.add_argument("--backends", default="sqlite,postgres")
    p.add_argument("--pg-url", default=os.environ.get("BENCH_POSTGRES_URL", DEFAULT_PG))
    p.add_argument("--no-memory", action="store_true", help="skip the in-memory models")
    p.add_argument("--no-channelattribution", action="store_true", help="skip the ChannelAttribution reference")
    p.add_argument("--no-full-report", action="store_true", help="skip the report of all nine models (SQLite)")
    p.add_argument("--full-report-reps", type=int, default=3,
                   help="fresh processes per variant of the report of all nine models (default 3)")
    p.add_argument("--samples", type=int, default=200, help="bootstrap resamples of the full report (default 200)")
    p.add_argument("--no-extra-reports", action="store_true", help="skip the experiment and cohort reports (SQLite)")
    p.add_argument("--extra-reps", type=int, default=2,
                   help="fresh processes for the experiment and cohort reports (default 2)")
    p.add_argument("--no-markov", action="store_true", help="skip Markov against ChannelAttribution's markov_model")
    p.add_argument("--no-shapley", action="store_true", help="skip Shapley against DP6's")
    p.add_argument("--no-dp6-legacy", action="store_true", help="skip DP6's legacy 1.x Shapley (it takes long)")
    p.add_argument("--paths", type=int, default=1_000_000,
                   help="distinct paths of the Markov and Shapley table (default 1,000,000)")
    p.add_argument("--path-channels", type=int, default=12, help="channels of that table (default 12)")
    p.add_argument("--path-seed", type=int, default=paths_module.DEFAULT_SEED)
    p.add_argument("--markov-runs", type=int, default=3, help="rounds of ours against markov_model (default 3)")
    p.add_argument("--markov-orders", default="2,3", help="higher orders of ours timed on the same table (default 2,3)")
    p.add_argument("--markov4-paths", type=int, default=20_000,
                   help="distinct paths of the smaller table order 4 is timed on (default 20,000; 0 skips it)")
    p.add_argument("--shapley-runs", type=int, default=3,
                   help="rounds of ours against DP6's current Shapley (default 3)")
    p.add_argument("--dp6-timeout", type=float, default=300.0,
                   help="seconds DP6's timed part may take before it is stopped (default 300)")
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "attribution.json")
    args = p.parse_args(argv)
    try:
        args.markov_orders = [int(o) for o in args.markov_orders.split(",") if o.strip()]
    except ValueError:
        p.error("--markov-orders: a comma-separated list of orders, e.g. 2,3")
    if any(not 2 <= o <= 4 for o in args.markov_orders):
        p.error("--markov-orders: orders 2 to 4 (order 1 is always timed)")
    if min(args.markov_runs, args.shapley_runs, args.full_report_reps, args.paths) < 1 or args.markov4_paths < 0:
        p.error("--markov-runs, --shapley-runs, --full-report-reps and --paths must be at least 1")
    args.backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    for b in args.backends:
        if b not in ("sqlite", "postgres"):
            p.error(f"--backends: unknown database {b!r}; use sqlite and/or postgres")
    if min(args.reps, args.runs, args.repeat, args.ca_runs) < 1:
        p.error("--reps, --repeat, --runs and --ca-runs must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    tmp = Path(tempfile.mkdtemp(prefix="bench-attribution-"))
    print(f"attribution benchmark: {os.cpu_count()} cores (shared); temporary files in {tmp}", flush=True)
    backends: list[dict[str, Any]] = []
    skipped: dict[str, str] = {}
    memory = ca = markov = shapley = None
    failed = False
    store_info: dict[str, Any] = {}
    try:
        if args.backends:
            start = time.perf_counter()
            store = synth.generate(args.seed, people=args.people, touches=args.touches, conversions=args.conversions)
            store_info = {"counts": store.counts, "generate_s": time.perf_counter() - start,
                          "window": report_window(store)}
            print(f"generated the store in {store_info['generate_s']:.1f} s; report window "
                  f"{store_info['window'][0]}..{store_info['window'][1]}", flush=True)
            for backend in args.backends:
                try:
                    backends.append(bench_backend(backend, args, store, tmp, store_info["window"]))
                except BenchError as exc:
                    if backend == "postgres" and "unreachable" in str(exc):
                        skipped[backend] = str(exc)
                        print(f"postgres: SKIPPED: {exc}", flush=True)
                        continue
                    print(f"error on {backend}: {exc}", file=sys.stderr, flush=True)
                    failed = True
            del store
        if not args.no_memory:
            try:
                print(f"in memory: {args.journeys:,} journeys, every model x {args.runs}", flush=True)
                memory = run_worker("memory", "--journeys", str(args.journeys), "--runs", str(args.runs))
            except BenchError as exc:
                print(f"error in memory: {exc}", file=sys.stderr, flush=True)
                failed = True
        if not args.no_channelattribution:
            try:
                print(f"ChannelAttribution heuristic_models and ours on the same distinct paths x {args.ca_runs}",
                      flush=True)
                ca = run_worker("channelattribution", "--journeys", str(args.journeys), "--runs", str(args.ca_runs),
                                "--tolerance", str(CA_TOLERANCE))
            except BenchError as exc:
                print(f"error in the ChannelAttribution comparison: {exc}", file=sys.stderr, flush=True)
                failed = True
        if not (args.no_markov and args.no_shapley):
            table, info = path_table(args, tmp, args.paths, "paths.csv")
            print(f"distinct-path table: {_table_line(info)}", flush=True)
            if not args.no_markov:
                try:
                    print(f"Markov: ours and ChannelAttribution markov_model on the same table x {args.markov_runs}",
                          flush=True)
                    markov = bench_markov(args, table, info, tmp)
                except BenchError as exc:
                    print(f"error in the Markov comparison: {exc}", file=sys.stderr, flush=True)
                    failed = True
            if not args.no_shapley:
                try:
                    print(f"Shapley: ours and DP6's on the same table x {args.shapley_runs}", flush=True)
                    shapley = bench_shapley(args, table, info)
                except BenchError as exc:
                    print(f"error in the Shapley comparison: {exc}", file=sys.stderr, flush=True)
                    failed = True
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    text, checks = render(store_info, backends, memory, ca, args, markov, shapley) \
        if store_info or memory or ca or markov or shapley else ("nothing ran", {})
    print("\n" + text)
    for backend, reason in skipped.items():
        print(f"{backend}: skipped ({reason})")
    sums_ok = memory is None or all(m["sums_ok"] for m in memory["models"].values())
    if not sums_ok:
        print("credits do NOT add up to the conversions and their value for some model", file=sys.stderr)
    ca_ok = ca is None or ca["credits_ok"]
    if not ca_ok:
        print(f"first/last/linear credits differ from ChannelAttribution's by up to {ca['max_rel_diff']:.1e} "
              f"(tolerance {CA_TOLERANCE:.0e}), or credit other channels", file=sys.stderr)
    full = next((b.get("full_report") for b in backends if b["backend"] == "sqlite"), None)
    if full and "error" in full:
        failed = True
    identical = (markov is None or markov["identical"]) and (shapley is None or shapley["identical"])
    if not identical:
        print("our Markov or Shapley credits differ between runs on the same table", file=sys.stderr)

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "host": platform.node(), "cores": os.cpu_count(),
        "python": platform.python_version(), "reps": args.reps, "repeat": args.repeat, "runs": args.runs,
        "ca_runs": args.ca_runs,
        "seed": args.seed, "paths": args.paths, "path_channels": args.path_channels, "path_seed": args.path_seed,
        "markov_runs": args.markov_runs, "shapley_runs": args.shapley_runs, "dp6_timeout_s": args.dp6_timeout,
        "targets": {"e2e_sqlite_s": TARGET_E2E_S, "rss_mb": TARGET_RSS_MB, "model_s": TARGET_MODEL_S,
                    "channelattribution_ratio": TARGET_CA_RATIO, "channelattribution_tolerance": CA_TOLERANCE,
                    "markov_ratio": TARGET_MARKOV_RATIO, "shapley_ratio": TARGET_SHAPLEY_RATIO,
                    "shapley_rss_mb": TARGET_SHAPLEY_RSS_MB, "full_report_s": TARGET_FULL_REPORT_S},
        "checks": checks, "store": store_info, "backends": backends, "skipped": skipped, "memory": memory,
        "channelattribution": ca, "markov": markov, "shapley": shapley,
    }, indent=2) + "\n")
    print(f"wrote {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")
    return 0 if not failed and sums_ok and ca_ok and identical else 1


if __name__ == "__main__":
    sys.exit(main())
