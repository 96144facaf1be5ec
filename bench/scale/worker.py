"""One measurement of the scale benchmark, in a fresh process (``bench/scale/run.py`` starts it).

The attribution report (first_touch, last_touch, linear by channel, lookback 30 days) through a real
app and session (``tracker.create_app`` with the database URL, ``tracker.reports.params.parse_params``,
``tracker.reports.service.attribution_report``): one warm-up report on the window's first day, then
``--reps`` reports of the whole window, each in a session of its own (as per request in the service).
``--engine`` is passed as the report's ``engine`` keyword, except ``current``: the report called as it
is, for code that has no such keyword yet.

Peak memory is the process's peak resident size (Linux ``VmHWM``, see ``bench/attribution/worker.py``)
over its whole life: interpreter, imports, warm-up and reports. Credits are checked: for every model,
the credited conversions add up to the report's conversions and to the conversions of the window
counted with SQL. Prints one line ``BENCH_RESULT {json}``.
"""
from __future__ import annotations

import argparse
import gc
import importlib.util
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent.parent
_spec = importlib.util.spec_from_file_location("attribution_bench_worker", ROOT / "bench" / "attribution" / "worker.py")
assert _spec is not None and _spec.loader is not None
_attribution_worker = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_attribution_worker)
rss_mb, max_rss_mb, emit = _attribution_worker.rss_mb, _attribution_worker.max_rss_mb, _attribution_worker.emit

MODELS = "first_touch,last_touch,linear"
LOOKBACK_DAYS = 30


def report_params(first: str, last: str, settings: Any) -> Any:
    from tracker.reports.params import parse_params

    return parse_params({"from": first, "to": last, "model": MODELS, "by": "channel",
                         "lookback_days": str(LOOKBACK_DAYS)}, settings)


def credit_sums(report: dict[str, Any]) -> dict[str, float]:
    sums: dict[str, float] = {}
    for row in report["rows"]:
        sums[row["model"]] = sums.get(row["model"], 0.0) + float(row["conversions"])
    return sums


def measure(db_url: str, first: str, last: str, engine: str, reps: int, instance: str) -> dict[str, Any]:
    import sqlalchemy as sa

    from tracker import create_app
    from tracker.conversions.models import Conversion
    from tracker.db import get_db
    from tracker.reports.service import attribution_report

    kwargs = {} if engine == "current" else {"engine": engine}
    app = create_app({"database_url": db_url, "instance_path": instance, "secret_key": "bench",
                      "ip_hash_secret": "bench", "SPOOL_BACKGROUND": False})
    settings = app.config["SETTINGS"]
    params = report_params(first, last, settings)
    db = get_db(app)
    out: dict[str, Any] = {"engine": engine, "times_s": [], "cpu_s": []}
    with app.app_context():
        with db.Session() as session:  # warm-up: one day, so statement compilation and imports are not timed
            attribution_report(session, settings, report_params(first, first, settings), **kwargs)
        gc.collect()
        out["rss_before_mb"] = rss_mb()
        report: dict[str, Any] = {}
        for _ in range(reps):
            del report
            with db.Session() as session:
                start, cpu = time.perf_counter(), time.process_time()
                report = attribution_report(session, settings, params, **kwargs)
                out["times_s"].append(time.perf_counter() - start)
                out["cpu_s"].append(time.process_time() - cpu)  # this process only (SQLite: all of it)
        out["rss_peak_mb"] = max_rss_mb()
        with db.Session() as session:
            out["conversions_sql"] = session.execute(sa.select(sa.func.count()).select_from(Conversion).where(
                Conversion.ts >= params.period.start, Conversion.ts < params.period.end)).scalar_one()
    out["counts"] = report["counts"]
    out["rows"] = len(report["rows"])
    out["credits"] = credit_sums(report)
    expected = [out["counts"]["conversions"], out["conversions_sql"]]
    out["credits_ok"] = bool(set(out["credits"]) == set(MODELS.split(",")) and all(
        abs(total - n) <= 1e-9 * max(n, 1) for total in out["credits"].values() for n in expected))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="one measurement of bench/scale (run by run.py)")
    p.add_argument("--db", required=True)
    p.add_argument("--from", dest="first", required=True)
    p.add_argument("--to", dest="last", required=True)
    p.add_argument("--engine", required=True, help="database, memory, or current (called without the keyword)")
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--instance", required=True)
    args = p.parse_args(argv)
    emit(measure(args.db, args.first, args.last, args.engine, args.reps, args.instance))
    return 0


if __name__ == "__main__":
    sys.exit(main())
