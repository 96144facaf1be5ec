"""Attribution benchmark (``make bench-attribution``): the attribution report on a store of 1,000,000 touchpoints.

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
3. In memory (another fresh process): every model of ``attribution.MODELS`` on 1,000,000 journeys of
   1-8 touches (about 4.5M touch rows, 12 channels), ``model.attribute(journeys, by="channel")``, median
   of ``--runs``, against a baseline ``journeys.groupby("channel")["value"].sum()`` on the same frame.
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

Targets (2-core machine, shared): end-to-end report on SQLite <= 1.5 s (checked for the first report in a
fresh process and for the later ones), its peak memory <= 1 GB; in
memory, every rule-based model on the 1M journeys in under 3 s; on the same distinct paths, ours (parse +
first/last/linear) at least as fast as ChannelAttribution's ``heuristic_models`` (ratio <= 1.0). Missed
targets are reported (PASS / MISS), not failed; the exit status is 1 when a step could not run, credits
do not add up, or first/last/linear differ from ChannelAttribution's. Results are also written to
``bench/out/attribution.json``.

Usage::

    .venv/bin/python bench/attribution/run.py [--reps 5] [--repeat 3] [--runs 3] [--backends sqlite,postgres]
        [--pg-url URL] [--journeys 1000000] [--ca-runs 5] [--no-channelattribution] [--touches 1000000 --people 200000
        --conversions 50000]

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

import synth  # noqa: E402  (next to this file)

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"
TARGET_E2E_S = 1.5
TARGET_RSS_MB = 1024.0
TARGET_MODEL_S = 3.0
TARGET_CA_RATIO = 1.0  # ours / ChannelAttribution heuristic_models, same distinct paths
CA_TOLERANCE = 1e-9
MODELS_REPORTED = "first_touch,last_touch,linear"
WORKER_TIMEOUT = 600


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
def run_worker(*args: str) -> dict[str, Any]:
    """Run ``worker.py args`` in a fresh interpreter and return what it measured."""
    cmd = [sys.executable, str(HERE / "worker.py"), *args]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=WORKER_TIMEOUT, cwd=ROOT)
    except subprocess.TimeoutExpired:
        raise BenchError(f"{' '.join(args[:1])} took longer than {WORKER_TIMEOUT} s") from None
    match = re.search(r"^BENCH_RESULT (\{.*\})$", proc.stdout, re.M)
    if proc.returncode != 0 or match is None:
        raise BenchError(f"worker {' '.join(args)} failed (exit {proc.returncode}):\n{proc.stdout[-2000:]}"
                         f"{proc.stderr[-4000:]}")
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
    }


# ---- printing ------------------------------------------------------------------------------------
def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def render(store_info: dict[str, Any], backends: list[dict[str, Any]], memory: dict[str, Any] | None,
           ca: dict[str, Any] | None, args: argparse.Namespace) -> tuple[str, dict[str, bool]]:
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
    for what, value, v in rows:
        lines.append(f"  {what:<78}{value:>9}  {v}")
    return "\n".join(lines), checks


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
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "attribution.json")
    args = p.parse_args(argv)
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
    memory = ca = None
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
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    text, checks = render(store_info, backends, memory, ca, args) if store_info or memory or ca \
        else ("nothing ran", {})
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

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "host": platform.node(), "cores": os.cpu_count(),
        "python": platform.python_version(), "reps": args.reps, "repeat": args.repeat, "runs": args.runs,
        "ca_runs": args.ca_runs,
        "seed": args.seed,
        "targets": {"e2e_sqlite_s": TARGET_E2E_S, "rss_mb": TARGET_RSS_MB, "model_s": TARGET_MODEL_S,
                    "channelattribution_ratio": TARGET_CA_RATIO, "channelattribution_tolerance": CA_TOLERANCE},
        "checks": checks, "store": store_info, "backends": backends, "skipped": skipped, "memory": memory,
        "channelattribution": ca,
    }, indent=2) + "\n")
    print(f"wrote {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")
    return 0 if not failed and sums_ok and ca_ok else 1


if __name__ == "__main__":
    sys.exit(main())
