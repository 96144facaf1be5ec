"""Soak benchmark (``make bench-soak``): 100,000 redirects while the PostgreSQL server restarts.

On 127.0.0.1 only, with a throwaway PostgreSQL cluster of its own (``tests/pg_support.py``: initdb
and pg_ctl in a temporary folder on a free port; the machine's shared server is never touched):

1. migrate, create a link, ``tracker serve`` (granian, 2 workers x 4 threads, as in production) with
   ``link_cache_seconds`` 1 (shorter than the outage, so the link is served stale from the cache);
2. wrk sends the redirects at 64 connections; each of its threads stops at its share of answers
   (its Lua script leaves progress files every 1,000 answers, and wrk is interrupted once all are done);
3. once 30 % are answered, the PostgreSQL server is stopped (``pg_ctl stop -m fast``: connections
   dropped, new ones refused), left down for ``--down`` seconds, and started again while the load
   goes on;
4. stop the server with SIGTERM (workers drain what they can), ``tracker spool replay``, count rows.

Printed: answered (3xx seen by wrk), non-3xx, socket errors, rows written (all click rows of the
link), of which stored when wrk stopped, by the server's drains by the time it had stopped, and
replayed by ``tracker spool replay`` after that; spooled while down (rows whose click time falls in
the outage: clicks only the spool kept); lost (3xx answered without a row: target 0). Rows beyond the
answers are requests in flight when wrk stopped (answered and recorded, never read by wrk; at most
one per connection). The helpers (wrk, its Lua counters, serving, the tracker CLI) come from
``bench/redirect/run.py``.

Usage::

    .venv/bin/python bench/soak/run.py [--requests 100000] [--connections 64] [--workers 2] [--down 1.5]

Exit status 1 when a click was lost, a request failed or got a non-3xx answer, or the run could not
be made. Results are also written to ``bench/out/soak.json``.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent


def _load(name: str, path: Path) -> Any:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


redirect_bench = _load("redirect_bench", ROOT / "bench" / "redirect" / "run.py")
pg_support = _load("pg_support", ROOT / "tests" / "pg_support.py")

REFERER = "soak.bench.invalid"
RESTART_AT = 0.3  # share of the requests answered when PostgreSQL is stopped
STEP = 1000  # answers per wrk thread between progress files


def quota_script(tmp: Path, per_thread: int, progress: Path) -> Path:
    """The redirect benchmark's counting Lua script, plus progress files and a stop at each thread's share.

    Every :data:`STEP` answers a thread leaves a file ``<thread>-<n>`` in ``progress`` (``<thread>-done``
    at its share, where it stops). wrk itself waits for its full ``-d`` unless interrupted, so
    :func:`run_quota` sends it SIGINT (it then reports as usual) once every thread is done.
    """
    marker = "  else s1 = s1 + 1 end\n"
    if marker not in redirect_bench.WRK_LUA:
        raise redirect_bench.BenchError("bench/redirect/run.py's Lua script changed: update quota_script")
    hook = f"""  local n = s1 + s2 + s3 + s4 + s5
  if n % {STEP} == 0 or n == {per_thread} then
    local me = tostring(wrk.thread):gsub("%W", "")
    io.open("{progress}/" .. me .. "-" .. (n >= {per_thread} and "done" or tostring(n)), "w"):close()
  end
  if n >= {per_thread} then wrk.thread:stop() end
"""
    lua = redirect_bench.WRK_LUA.replace(marker, marker + hook, 1)
    path = tmp / "quota.lua"
    path.write_text(lua)
    return path


def interrupt_wrk() -> None:
    """Send SIGINT to this process's wrk: it stops, runs done() and prints its counts."""
    found = subprocess.run(["pgrep", "-P", str(os.getpid()), "-x", "wrk"], capture_output=True, text=True)
    for pid in found.stdout.split():
        os.kill(int(pid), signal.SIGINT)


def run_quota(wrk: str, tmp: Path, count: int, url: str, args: argparse.Namespace, sid: int,
              on_progress: Callable[[int], None]) -> Any:
    """Run wrk until it has ``count`` answers (each thread its share), telling ``on_progress`` how many so far."""
    progress = Path(tempfile.mkdtemp(prefix="progress-", dir=tmp))
    per_thread = -(-count // args.wrk_threads)
    script = quota_script(tmp, per_thread, progress)
    out: dict[str, Any] = {}

    def drive() -> None:
        try:
            out["result"] = redirect_bench.run_wrk(wrk, script, url, args.max_seconds, args.connections,
                                                   args.wrk_threads, REFERER, sid)
        except redirect_bench.BenchError as exc:
            out["error"] = exc

    thread = threading.Thread(target=drive)
    thread.start()
    try:
        while thread.is_alive():
            thread.join(0.1)
            names = [f.name for f in progress.iterdir()]
            done = sum(1 for n in names if n.endswith("-done"))
            on_progress(done * per_thread + STEP * sum(1 for n in names if not n.endswith("-done")))
            if done >= args.wrk_threads:
                interrupt_wrk()
                thread.join(60)
    finally:
        if thread.is_alive():  # interrupted (SIGTERM): stop wrk as well
            interrupt_wrk()
            thread.join(60)
    if "error" in out:
        raise out["error"]
    return out["result"]


def rows_in(db_url: str, link_id: int, start: datetime | None = None, end: datetime | None = None) -> int:
    """Click rows of the link (with a click time in [start, end] when given)."""
    from tracker.config import normalise_database_url
    from tracker.db import make_engine
    from tracker.redirects.models import Click

    query = sa.select(sa.func.count()).select_from(Click).where(Click.link_id == link_id)
    if start is not None and end is not None:
        query = query.where(Click.ts >= start, Click.ts <= end)
    engine = make_engine(normalise_database_url(db_url, "."))
    try:
        with engine.connect() as conn:
            return int(conn.scalar(query) or 0)
    finally:
        engine.dispose()


class Restart:
    """Stop the PostgreSQL server once the load is past ``at`` answers, start it ``down`` seconds later."""

    def __init__(self, cluster: Any, at: int, down: float) -> None:
        self.cluster, self.at, self.down = cluster, at, down
        self.times: dict[str, datetime] = {}
        self.answered_at_stop = 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __call__(self, answered: int) -> None:
        if answered >= self.at and not self.thread.is_alive() and not self.times:
            self.answered_at_stop = answered
            self.thread.start()

    def _run(self) -> None:
        self.times["down"] = datetime.now(UTC)
        self.cluster.stop("fast")
        print(f"  PostgreSQL stopped at {self.times['down']:%H:%M:%S.%f} (about {self.answered_at_stop:,} "
              "answered)", flush=True)
        time.sleep(self.down)
        self.cluster.start()
        self.times["up"] = datetime.now(UTC)
        print(f"  PostgreSQL started at {self.times['up']:%H:%M:%S.%f}", flush=True)


def soak(args: argparse.Namespace, wrk: str, tmp: Path, cluster: Any) -> dict[str, Any]:
    db_url = cluster.url
    env = {**os.environ, "TRACKER_DATABASE_URL": db_url, "TRACKER_INSTANCE_PATH": str(tmp / "instance"),
           "TRACKER_LINK_CACHE_SECONDS": str(args.link_cache_seconds), "PYTHONUNBUFFERED": "1"}
    env.pop("TRACKER_SPOOL_FSYNC", None)
    cli = redirect_bench.tracker_cli
    print(cli(env, "db", "upgrade").strip(), flush=True)
    campaign = cli(env, "campaigns", "create", "--name", "Soak benchmark").split("\t")[1].strip()
    link = json.loads(cli(env, "links", "create", "--destination", "https://example.com/landing?ref=soak",
                          "--campaign", campaign, "--source", "newsletter", "--medium", "email", "--json"))
    port = redirect_bench.free_port()
    env["TRACKER_PUBLIC_BASE_URL"] = f"http://127.0.0.1:{port}"
    path = f"/r/{link['code']}"
    url = f"http://127.0.0.1:{port}{path}"
    restart = Restart(cluster, int(args.requests * RESTART_AT), args.down)
    cmd = redirect_bench.server_command("tracker", "granian", args.workers, port)
    print(f"serving {url} with {args.workers} granian workers; PostgreSQL {db_url} (throwaway); "
          f"{args.requests:,} redirects, PostgreSQL stopped after {restart.at:,} for {args.down:g} s", flush=True)
    with redirect_bench.serving(cmd, env, port, path, tmp / "server.log") as sid:
        res = run_quota(wrk, tmp, args.requests, url, args, sid, restart)
        restart.thread.join(120)
        if "up" not in restart.times:
            raise redirect_bench.BenchError("the load ended before PostgreSQL was stopped and started again")
        print(f"  {res.s3xx:,} answered, {res.non_3xx} non-3xx, {res.errors} errors, {res.rps:.0f} req/s, "
              f"p50 {res.p50_ms:.1f} ms, p99 {res.p99_ms:.1f} ms, max {res.max_ms:.0f} ms", flush=True)
        rows_at_end = rows_in(db_url, link["id"])
    rows_stopped = rows_in(db_url, link["id"])
    print(cli(env, "spool", "replay").strip(), flush=True)
    rows = rows_in(db_url, link["id"])
    return {
        "requests": args.requests, "connections": args.connections, "workers": args.workers,
        "link_cache_seconds": args.link_cache_seconds, "answered_at_stop": restart.answered_at_stop,
        "down_s": (restart.times["up"] - restart.times["down"]).total_seconds(),
        "answered": res.s3xx, "non_3xx": res.non_3xx, "errors": res.errors, "rps": res.rps,
        "p50_ms": res.p50_ms, "p99_ms": res.p99_ms, "max_ms": res.max_ms, "rows": rows,
        "rows_when_wrk_stopped": rows_at_end, "rows_by_drains": rows_stopped, "replayed": rows - rows_stopped,
        "spooled_while_down": rows_in(db_url, link["id"], restart.times["down"], restart.times["up"]),
        "lost": max(0, res.s3xx - rows), "in_flight": max(0, rows - res.s3xx),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--requests", type=int, default=100_000)
    p.add_argument("--connections", type=int, default=64)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--wrk-threads", type=int, default=2)
    p.add_argument("--down", type=float, default=1.5, help="seconds PostgreSQL stays down (default 1.5)")
    p.add_argument("--link-cache-seconds", type=float, default=1.0,
                   help="the server's link_cache_seconds (default 1: shorter than the outage, so the link is "
                        "served stale from the cache for most of it)")
    p.add_argument("--max-seconds", type=float, default=600.0, help="wrk's time limit (default 600)")
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "soak.json")
    args = p.parse_args(argv)
    reason = pg_support.missing_reason()
    if reason:
        print(f"error: {reason}", file=sys.stderr)
        return 1
    try:
        wrk = redirect_bench.ensure_wrk()
    except redirect_bench.BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    # SIGTERM (a timeout, a CI cancel) unwinds like an error: the server and the cluster are stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    tmp = Path(tempfile.mkdtemp(prefix="bench-soak-"))
    print(f"soak: {args.requests} redirects at {args.connections} connections (wrk, {args.wrk_threads} threads), "
          f"PostgreSQL down {args.down:g} s in the middle; {os.cpu_count()} cores shared with wrk; logs in {tmp}",
          flush=True)
    cluster = pg_support.ThrowawayPostgres()
    failed = True
    try:
        result = soak(args, wrk, tmp, cluster)
        failed = False
    except redirect_bench.BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        cluster.remove()
        if failed:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    print()
    for name in ("answered", "non_3xx", "errors", "rows", "rows_when_wrk_stopped", "rows_by_drains", "replayed",
                 "spooled_while_down", "lost", "in_flight"):
        print(f"{name.replace('_', ' '):>20}: {result[name]:,}")
    print(f"{'database down':>20}: {result['down_s']:.1f} s")
    ok = result["lost"] == 0 and result["non_3xx"] == 0 and result["errors"] == 0
    print(f"\ntarget 0 lost, 0 non-3xx: {'MET' if ok else 'MISSED'}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"when": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "host": platform.node(),
                                    "cores": os.cpu_count(), "target_met": ok, **result}, indent=2) + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
