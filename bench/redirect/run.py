"""Redirect benchmark (``make bench-redirect``): ``/r/<code>`` under wrk against a bare Flask redirect.

For each database (a SQLite file in a temporary folder, then a fresh schema on PostgreSQL) and each
server (gunicorn, granian; same worker count and threads as ``tracker serve``), on 127.0.0.1 only:

1. serve ``bench/redirect/bare_app.py`` (a Flask app that only answers 302), warm up, run wrk;
2. migrate (``tracker db upgrade``), create a link, ``tracker serve``, warm up, run wrk on
   ``/r/<code>``, note how many clicks the drain thread had stored when wrk stopped, stop the server
   with SIGTERM, run ``tracker spool replay``, and count the link's click rows.

wrk (Debian package; installed with apt-get when missing) runs a Lua script that counts responses by
status class and prints latency percentiles. Warm-up and measured requests carry a different
``Referer`` host, so their click rows are counted separately. Printed per run: req/s, p50, p99,
non-3xx answers, socket errors, the ratio to the bare redirect under the same server, the rows
stored and the clicks lost (3xx answered by wrk minus rows; must be 0). Rows may exceed the answers
by up to one request per connection and wrk invocation: requests still in flight when wrk stops are
answered (and recorded) by the server but never read by wrk. More than that would be duplicates.

Targets (2-core machine, wrk sharing the cores): ratio >= 0.80, p99 <= 20 ms, 0 lost. Results are
also written to ``bench/out/redirect.json``.

Redirect rules (``BENCH_RULES=0`` to skip): each server also serves a link with the 5 rules of
:data:`BENCH_RULES` (iOS, Android, Norwegian languages, Nordic countries, a query parameter), none of
which holds for wrk's requests (a Windows desktop Chrome agent, ``Accept-Language: en-US``, loopback
address, no query string), so all five are evaluated on every request; its ratio is req/s over the
same server's run without rules (target >= 0.95). The same comparison without a server, in this process
(the WSGI handler called directly, CPU time per redirect, blocks alternated), is printed too.

Usage::

    .venv/bin/python bench/redirect/run.py [--duration 10] [--warmup 2] [--connections 32]
        [--workers 2] [--servers gunicorn,granian] [--backends sqlite,postgres] [--pg-url URL]

Environment: ``BENCH_DURATION``, ``BENCH_WARMUP``, ``BENCH_CONNECTIONS``, ``BENCH_WORKERS``,
``BENCH_POSTGRES_URL`` (default ``postgresql://postgres@127.0.0.1:5432/test``; its schema is created
and dropped by the run, the server is never touched otherwise). Exit status 1 when a click was lost,
a request failed, or a run could not be made; missed speed targets are reported, not failed.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
BIN = Path(sys.executable).parent
HOST = "127.0.0.1"  # loopback only: this benchmark never sends traffic anywhere else
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"

# Must match what `tracker serve` passes (tracker/commands.py), so the bare app runs under the same server.
THREADS = int(os.environ.get("TRACKER_SERVE_THREADS", 4))

TARGET_RATIO = 0.80
TARGET_P99_MS = 20.0

USER_AGENT = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
              "Chrome/124.0.0.0 Safari/537.36")
WARMUP_REFERER = "warmup.bench.invalid"
MEASURE_REFERER = "measure.bench.invalid"
ACCEPT_LANGUAGE = "en-US,en;q=0.9"  # what a browser sends; the rules' language condition reads it

# Five redirect rules, none of which holds for the benchmark's requests (see the module docstring).
BENCH_RULES = [
    {"conditions": {"device": "ios"}, "destination": "https://apps.apple.com/no/app/bench/id123"},
    {"conditions": {"device": "android"}, "destination": "https://play.google.com/store/apps/details?id=no.bench"},
    {"conditions": {"language": ["nb", "no", "nn"]}, "destination": "https://example.com/no/landing"},
    {"conditions": {"country": ["NO", "SE", "DK", "FI"]}, "destination": "https://example.com/nordic"},
    {"conditions": {"query": {"src": "flyer"}}, "destination": "https://example.com/flyer"},
]
TARGET_RULES_RATIO = 0.95

# Per-thread counters live in each wrk thread's Lua state; setup() keeps the thread handles so that
# done() (run in the main state) can add them up with thread:get().
WRK_LUA = r"""
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  s1, s2, s3, s4, s5 = 0, 0, 0, 0, 0
end

function response(status, headers, body)
  if status >= 300 and status < 400 then s3 = s3 + 1
  elseif status >= 200 and status < 300 then s2 = s2 + 1
  elseif status >= 400 and status < 500 then s4 = s4 + 1
  elseif status >= 500 then s5 = s5 + 1
  else s1 = s1 + 1 end
end

function done(summary, latency, requests)
  local c = {s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0}
  for _, t in ipairs(threads) do
    for k, _ in pairs(c) do c[k] = c[k] + (t:get(k) or 0) end
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,' ..
    '"s1xx":%d,"s2xx":%d,"s3xx":%d,"s4xx":%d,"s5xx":%d,' ..
    '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    c.s1, c.s2, c.s3, c.s4, c.s5,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
"""


class BenchError(RuntimeError):
    """The benchmark could not be run (tool missing, server would not start, database unreachable)."""


# ---- results -------------------------------------------------------------------------------------
@dataclass
class WrkResult:
    """What one wrk invocation saw."""

    requests: int
    duration_s: float
    s3xx: int
    non_3xx: int
    errors: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    wrk_cpu_s: float
    server_cpu_s: float

    @property
    def rps(self) -> float:
        return self.requests / self.duration_s if self.duration_s else 0.0


@dataclass
class Run:
    """One row of the table: one app under one server on one database."""

    server: str
    backend: str
    app: str  # "bare" or "tracker"
    rps: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    non_3xx: int
    errors: int
    answered: int  # 3xx seen by wrk, warm-up and measured
    server_cpu: float  # cores used by the server's processes during the measured window
    wrk_cpu: float
    ratio: float | None = None
    rows: int | None = None
    rows_at_end: int | None = None  # rows already stored by the drain threads when wrk stopped
    replayed: int | None = None  # rows added by `tracker spool replay` after the server stopped
    lost: int | None = None
    in_flight: int | None = None  # rows beyond the answers: requests in flight when wrk stopped
    duplicates: int | None = None
    phases: dict[str, dict[str, int]] = field(default_factory=dict)


# ---- tools ---------------------------------------------------------------------------------------
def ensure_wrk() -> str:
    """Return the path of wrk, installing the Debian package when it is missing."""
    path = shutil.which("wrk")
    if path:
        return path
    apt = shutil.which("apt-get")
    if apt is None or os.geteuid() != 0:
        raise BenchError("wrk is not installed: install it with `sudo apt-get install wrk` and run again")
    print("wrk is missing: installing the Debian package (apt-get install -y wrk)", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = [apt, "install", "-y", "-q", "wrk"]
    if subprocess.run(install, env=env, stdout=subprocess.DEVNULL).returncode != 0:
        subprocess.run([apt, "update", "-q"], env=env, stdout=subprocess.DEVNULL, check=False)
        if subprocess.run(install, env=env, stdout=subprocess.DEVNULL).returncode != 0:
            raise BenchError("could not install wrk with apt-get; install it by hand (apt-get install wrk)")
    path = shutil.which("wrk")
    if path is None:
        raise BenchError("apt-get installed wrk but it is not on PATH")
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _session_stats(sid: int) -> list[list[str]]:
    """The /proc stat fields (after the command name) of the live processes of session ``sid``."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[3]) == sid and fields[0] != "Z":  # fields[3] is the session id (field 6 of stat)
            found.append(fields)
    return found


def session_cpu_seconds(sid: int) -> float:
    """CPU seconds (user + system) used so far by the live processes of session ``sid``."""
    tick = os.sysconf("SC_CLK_TCK")
    return sum(int(f[11]) + int(f[12]) for f in _session_stats(sid)) / tick


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_wrk(wrk: str, script: Path, url: str, seconds: float, connections: int, threads: int,
            referer: str, server_sid: int) -> WrkResult:
    """Drive ``url`` with wrk for ``seconds`` and return its counts and latencies."""
    cmd = [wrk, f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "5s",
           "-s", str(script), "-H", f"User-Agent: {USER_AGENT}", "-H", f"Referer: https://{referer}/",
           "-H", f"Accept-Language: {ACCEPT_LANGUAGE}", url]
    cpu0, srv0 = children_cpu_seconds(), session_cpu_seconds(server_sid)
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60)
    cpu1, srv1 = children_cpu_seconds(), session_cpu_seconds(server_sid)
    match = re.search(r"^BENCH_RESULT (\{.*\})$", proc.stdout, re.M)
    if proc.returncode != 0 or match is None:
        raise BenchError(f"wrk failed (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    r = json.loads(match.group(1))
    return WrkResult(
        requests=r["requests"], duration_s=r["duration_us"] / 1e6, s3xx=r["s3xx"],
        non_3xx=r["s1xx"] + r["s2xx"] + r["s4xx"] + r["s5xx"],
        errors=r["connect"] + r["read"] + r["write"] + r["timeout"],
        p50_ms=r["p50_us"] / 1000, p99_ms=r["p99_us"] / 1000, max_ms=r["max_us"] / 1000,
        wrk_cpu_s=cpu1 - cpu0, server_cpu_s=srv1 - srv0)


# ---- databases -----------------------------------------------------------------------------------
@contextmanager
def sqlite_database(tmp: Path) -> Iterator[str]:
    yield f"sqlite:///{tmp / 'bench.db'}"


@contextmanager
def postgres_database(base: str) -> Iterator[str]:
    """Create a schema of our own on the PostgreSQL server, yield a URL using it, drop it afterwards."""
    from tracker.config import normalise_database_url
    from tracker.db import make_engine

    admin = make_engine(normalise_database_url(base, "."), connect_args={"connect_timeout": 3})
    schema = f"bench_redirect_{uuid.uuid4().hex[:10]}"
    try:
        with admin.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    except sa.exc.OperationalError as exc:
        admin.dispose()
        raise BenchError(f"PostgreSQL at {base} is unreachable ({str(exc.orig).strip()})") from None
    sep = "&" if "?" in base else "?"
    try:
        yield f"{base}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def count_rows(db_url: str, link_id: int) -> dict[str, int]:
    """Click rows of the link, by phase (Referer host)."""
    from tracker.config import normalise_database_url
    from tracker.db import make_engine
    from tracker.redirects.models import Click

    engine = make_engine(normalise_database_url(db_url, "."))
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.select(Click.referrer_host, sa.func.count())
                                .where(Click.link_id == link_id).group_by(Click.referrer_host)).all()
    finally:
        engine.dispose()
    return {host or "none": n for host, n in rows}


# ---- servers -------------------------------------------------------------------------------------
def tracker_cli(env: dict[str, str], *args: str) -> str:
    proc = subprocess.run([str(BIN / "tracker"), *args], env=env, capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        raise BenchError(f"tracker {' '.join(args)} failed:\n{proc.stdout}{proc.stderr}")
    return proc.stdout


def server_command(app: str, server: str, workers: int, port: int) -> list[str]:
    if app == "tracker":
        return [str(BIN / "tracker"), "serve", "--server", server, "--workers", str(workers),
                "--host", HOST, "--port", str(port)]
    if server == "granian":
        return [str(BIN / "granian"), "--interface", "wsgi", "--host", HOST, "--port", str(port),
                "--workers", str(workers), "--blocking-threads", str(THREADS),
                "--working-dir", str(HERE), "bare_app:app"]
    return [sys.executable, "-m", "gunicorn", "--bind", f"{HOST}:{port}", "--workers", str(workers),
            "--threads", str(THREADS), "--chdir", str(HERE), "bare_app:app"]


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


@contextmanager
def serving(cmd: list[str], env: dict[str, str], port: int, probe: str, log: Path) -> Iterator[int]:
    """Start a server in a session of its own, wait until ``HEAD probe`` answers, stop it with SIGTERM.

    Yields the server's process (and session) id.
    """
    with log.open("ab") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise BenchError(f"{' '.join(cmd)} exited with {proc.returncode}:\n{_tail(log)}")
            try:
                conn = http.client.HTTPConnection(HOST, port, timeout=2)
                conn.request("HEAD", probe)  # HEAD is not a click, so the probe leaves no row
                conn.getresponse().read()
                conn.close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise BenchError(f"{' '.join(cmd)} did not answer within 60 s:\n{_tail(log)}") from None
                time.sleep(0.2)
        time.sleep(1.0)  # let every worker finish importing; the warm-up does the rest
        yield proc.pid
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)  # graceful: workers finish their requests and exit
            try:
                proc.wait(40)
            except subprocess.TimeoutExpired:
                print(f"  server {proc.pid} did not stop within 40 s of SIGTERM: killing its group", flush=True)
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
        # Workers may outlive the master by a moment; wait for the whole session to be gone.
        deadline = time.monotonic() + 15
        while _session_stats(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.1)


# ---- one benchmark pair --------------------------------------------------------------------------
def measure(args: argparse.Namespace, wrk: str, script: Path, tmp: Path, server: str, backend: str,
            db_env: dict[str, str], db_url: str | None, link: dict[str, Any] | None) -> Run:
    """Serve one app, warm it up, measure it; for the tracker also stop, replay and count rows."""
    app = "tracker" if link else "bare"
    port = free_port()
    path = f"/r/{link['code']}" if link else "/r/bench"
    url = f"http://{HOST}:{port}{path}"
    log = tmp / f"{backend}-{server}-{app}.log"
    env = {**db_env, "TRACKER_PUBLIC_BASE_URL": f"http://{HOST}:{port}"}
    print(f"  {app:<7} on {server}: serving on {url}", flush=True)
    with serving(server_command(app, server, args.workers, port), env, port, path, log) as sid:
        warm = run_wrk(wrk, script, url, args.warmup, args.connections, args.wrk_threads, WARMUP_REFERER, sid)
        res = run_wrk(wrk, script, url, args.duration, args.connections, args.wrk_threads, MEASURE_REFERER, sid)
        rows_at_end = sum(count_rows(db_url, link["id"]).values()) if link and db_url else None
    run = Run(server=server, backend=backend, app=app, rps=res.rps, p50_ms=res.p50_ms, p99_ms=res.p99_ms,
              max_ms=res.max_ms, non_3xx=warm.non_3xx + res.non_3xx, errors=warm.errors + res.errors,
              answered=warm.s3xx + res.s3xx, server_cpu=res.server_cpu_s / res.duration_s,
              wrk_cpu=res.wrk_cpu_s / res.duration_s)
    if link and db_url:
        stopped = sum(count_rows(db_url, link["id"]).values())
        tracker_cli(env, "spool", "replay")
        by_phase = count_rows(db_url, link["id"])
        run.rows_at_end = rows_at_end
        run.rows = sum(by_phase.values())
        run.replayed = run.rows - stopped
        run.phases = {
            "warmup": {"answered": warm.s3xx, "rows": by_phase.get(WARMUP_REFERER, 0)},
            "measure": {"answered": res.s3xx, "rows": by_phase.get(MEASURE_REFERER, 0)},
        }
        stray = run.rows - sum(p["rows"] for p in run.phases.values())
        if stray:
            run.phases["other"] = {"answered": 0, "rows": stray}
        run.lost = sum(max(0, p["answered"] - p["rows"]) for p in run.phases.values())
        extra = sum(max(0, p["rows"] - p["answered"]) for p in run.phases.values())
        # Each wrk invocation can leave at most one unanswered-but-served request per connection.
        run.in_flight = min(extra, 2 * args.connections)
        run.duplicates = extra - run.in_flight
    print(f"    {run.rps:8.0f} req/s  p50 {run.p50_ms:.2f} ms  p99 {run.p99_ms:.2f} ms  "
          f"non-3xx {run.non_3xx}  errors {run.errors}"
          + (f"  rows {run.rows}/{run.answered} answered, lost {run.lost}" if run.rows is not None else ""),
          flush=True)
    return run


def bench_backend(args: argparse.Namespace, wrk: str, script: Path, backend: str, db_url: str,
                  tmp: Path) -> list[Run]:
    """Migrate the database, then measure the bare app and the tracker under each server."""
    instance = tmp / f"instance-{backend}"
    env = {**os.environ, "TRACKER_DATABASE_URL": db_url, "TRACKER_INSTANCE_PATH": str(instance),
           "PYTHONUNBUFFERED": "1"}
    env.pop("TRACKER_SPOOL_FSYNC", None)  # measure the default configuration
    print(f"\n== {backend}: {tracker_cli(env, 'db', 'upgrade').strip()}", flush=True)
    campaign = tracker_cli(env, "campaigns", "create", "--name", "Redirect benchmark").split("\t")[1].strip()
    runs: list[Run] = []
    for server in args.servers:
        link = json.loads(tracker_cli(
            env, "links", "create", "--destination", "https://example.com/landing?ref=bench",
            "--campaign", campaign, "--source", "newsletter", "--medium", "email",
            "--label", f"bench {server}", "--json"))
        bare = measure(args, wrk, script, tmp, server, backend, env, None, None)
        tracked = measure(args, wrk, script, tmp, server, backend, env, db_url, link)
        tracked.ratio = tracked.rps / bare.rps if bare.rps else None
        runs += [bare, tracked]
        if args.webhook:
            runs.append(measure_with_webhook(args, wrk, script, tmp, server, backend, env, db_url, campaign, tracked))
        if args.rules:
            runs.append(measure_with_rules(args, wrk, script, tmp, server, backend, env, db_url, campaign, tracked))
    return runs


def measure_with_rules(args: argparse.Namespace, wrk: str, script: Path, tmp: Path, server: str, backend: str,
                       env: dict[str, str], db_url: str, campaign: str, without: Run) -> Run:
    """The tracker again on a link with the 5 :data:`BENCH_RULES`; ratio: req/s over ``without`` (no rules)."""
    link = json.loads(tracker_cli(
        env, "links", "create", "--destination", "https://example.com/landing?ref=bench",
        "--campaign", campaign, "--source", "newsletter", "--medium", "email",
        "--label", f"bench {server} rules", "--rules", json.dumps(BENCH_RULES), "--json"))
    run = measure(args, wrk, script, tmp, server, backend, env, db_url, link)
    run.app = "rules"
    run.ratio = run.rps / without.rps if without.rps else None
    print(f"    with 5 redirect rules (none holding, all evaluated): {run.rps:.0f} req/s, "
          f"{_fmt(run.ratio, '.3f')} of the run without (target >= {TARGET_RULES_RATIO})", flush=True)
    return run


def handler_cpu(db_url: str, tmp: Path, requests: int = 40_000, blocks: int = 20) -> dict[str, float]:
    """CPU microseconds per redirect of the WSGI handler called in this process, without and with 5 rules.

    The app runs on ``db_url`` with an instance folder of its own (its spool is never replayed into the
    benchmark's counts); blocks of each link alternate, so drift hits both alike. ``ratio``: the median
    over the pairs of blocks of (time without rules) / (time with them), as the req/s ratios read.
    """
    from tracker import create_app
    from tracker.db import get_db
    from tracker.links.service import create_link

    app = create_app({"database_url": db_url, "instance_path": str(tmp / "instance-handler"),
                      "public_base_url": f"http://{HOST}:1", "SPOOL_BACKGROUND": False, "link_cache_seconds": 3600})
    base = {"destination": "https://example.com/landing?ref=bench", "utm_source": "newsletter", "utm_medium": "email",
            "utm_campaign": "handler-cpu"}
    with get_db(app).Session() as session:
        codes = {"without": create_link(session, app.config["SETTINGS"], {**base, "label": "cpu plain"}).code,
                 "rules": create_link(session, app.config["SETTINGS"],
                                      {**base, "label": "cpu rules", "rules": BENCH_RULES}).code}

    def environ(code: str) -> dict[str, str]:
        return {"REQUEST_METHOD": "GET", "PATH_INFO": f"/r/{code}", "QUERY_STRING": "", "SERVER_NAME": HOST,
                "SERVER_PORT": "1", "HTTP_HOST": f"{HOST}:1", "REMOTE_ADDR": HOST, "wsgi.url_scheme": "http",
                "HTTP_USER_AGENT": USER_AGENT, "HTTP_ACCEPT_LANGUAGE": ACCEPT_LANGUAGE,
                "HTTP_REFERER": f"https://{MEASURE_REFERER}/"}

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        assert status.startswith("302"), status

    handler = app.wsgi_app
    spent = dict.fromkeys(codes, 0.0)
    ratios = []
    per_block = max(1, requests // blocks)
    for code in codes.values():  # warm: the link cache, the agent and language caches
        for _ in range(500):
            handler(environ(code), start_response)
    for block in range(blocks):
        took = {}
        for name in (("without", "rules") if block % 2 == 0 else ("rules", "without")):
            template = environ(codes[name])
            started = time.process_time()
            for _ in range(per_block):
                handler(dict(template), start_response)
            took[name] = time.process_time() - started
            spent[name] += took[name]
        ratios.append(took["without"] / took["rules"] if took["rules"] else 0.0)
    get_db(app).engine.dispose()
    out = {name: 1e6 * seconds / (per_block * blocks) for name, seconds in spent.items()}
    out["ratio"] = sorted(ratios)[len(ratios) // 2]
    return out


@contextmanager
def webhook_receiver() -> Iterator[tuple[str, list[int]]]:
    """A webhook receiver on 127.0.0.1 (a thread of this process) answering 204; yields its URL and a count."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    received = [0]

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            received[0] += 1
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer((HOST, 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{HOST}:{server.server_address[1]}/hook", received
    finally:
        server.shutdown()
        server.server_close()


def measure_with_webhook(args: argparse.Namespace, wrk: str, script: Path, tmp: Path, server: str, backend: str,
                         env: dict[str, str], db_url: str, campaign: str, without: Run) -> Run:
    """The tracker again with a webhook on every click (to a local receiver); ratio: req/s over ``without``."""
    hook_env = {**env, "TRACKER_WEBHOOK_ALLOW_PRIVATE_ADDRESSES": "true"}
    with webhook_receiver() as (url, received):
        hook_id = tracker_cli(hook_env, "webhooks", "add", url, "--event", "click.recorded").split()[1]
        link = json.loads(tracker_cli(
            hook_env, "links", "create", "--destination", "https://example.com/landing?ref=bench",
            "--campaign", campaign, "--source", "newsletter", "--medium", "email",
            "--label", f"bench {server} webhook", "--json"))
        run = measure(args, wrk, script, tmp, server, backend, hook_env, db_url, link)
        run.app = "webhook"
        run.ratio = run.rps / without.rps if without.rps else None
        queue = tracker_cli(hook_env, "webhooks", "list").strip().split("\t")[-1]  # left when the workers stopped
        tracker_cli(hook_env, "webhooks", "delete", hook_id)
        print(f"    with a webhook on every click: {run.rps:.0f} req/s, {_fmt(run.ratio, '.2f')} of the run "
              f"without; the receiver got {received[0]} deliveries during the run for {run.rows} clicks "
              f"(queue then: {queue})", flush=True)
    return run


# ---- report --------------------------------------------------------------------------------------
def _fmt(value: Any, spec: str = "") -> str:
    return "-" if value is None else format(value, spec)


def render_table(runs: list[Run]) -> str:
    head = (f"{'server':<9}{'backend':<10}{'app':<8}{'req/s':>8}{'p50 ms':>8}{'p99 ms':>8}{'non-3xx':>8}"
            f"{'errors':>7}{'ratio':>7}{'answered':>9}{'rows':>8}{'lost':>5}{'extra':>6}{'drained@end':>12}"
            f"{'replayed':>9}{'srv cpu':>8}{'wrk cpu':>8}")
    lines = [head, "-" * len(head)]
    for r in runs:
        extra = None if r.in_flight is None else r.in_flight + (r.duplicates or 0)
        drained = None if r.rows_at_end is None or not r.answered else f"{100 * r.rows_at_end / r.answered:.0f}%"
        lines.append(
            f"{r.server:<9}{r.backend:<10}{r.app:<8}{r.rps:>8.0f}{r.p50_ms:>8.2f}{r.p99_ms:>8.2f}{r.non_3xx:>8}"
            f"{r.errors:>7}{_fmt(r.ratio, '.2f'):>7}{r.answered:>9}{_fmt(r.rows):>8}{_fmt(r.lost):>5}"
            f"{_fmt(extra):>6}{_fmt(drained):>12}{_fmt(r.replayed):>9}{r.server_cpu:>8.2f}{r.wrk_cpu:>8.2f}")
    return "\n".join(lines)


def verdict(runs: list[Run], servers: list[str]) -> tuple[str, bool, bool]:
    """Say which server is faster and whether it meets the targets.

    Returns the text, whether every correctness check passed (no lost click, no failed request), and
    whether the faster server met the speed targets on every database.
    """
    tracked = [r for r in runs if r.app == "tracker"]
    out = []
    correct = all(r.lost == 0 and not r.duplicates for r in runs if r.app in ("tracker", "rules")) and all(
        r.errors == 0 and r.non_3xx == 0 for r in runs)
    speed = {s: [r.rps for r in tracked if r.server == s] for s in servers}
    ranked = sorted((s for s in servers if speed[s]), key=lambda s: -sum(speed[s]) / len(speed[s]))
    if not ranked:
        return "no tracker run completed", False, False
    best = ranked[0]
    if len(ranked) > 1:
        per = ", ".join(f"{r.backend}: {r.rps:.0f} vs "
                        f"{next((o.rps for o in tracked if o.server == ranked[1] and o.backend == r.backend), 0):.0f}"
                        for r in tracked if r.server == best)
        out.append(f"faster server: {best} ({per} req/s against {ranked[1]}); serve with "
                   f"`tracker serve --server {best}`")
    met = True
    for r in tracked:
        if r.server != best:
            continue
        ratio_ok = r.ratio is not None and r.ratio >= TARGET_RATIO
        checks = [("ratio", ratio_ok, f"{_fmt(r.ratio, '.2f')} >= {TARGET_RATIO}"),
                  ("p99", r.p99_ms <= TARGET_P99_MS, f"{r.p99_ms:.1f} ms <= {TARGET_P99_MS:.0f} ms"),
                  ("lost", r.lost == 0, f"{r.lost} == 0")]
        missed = [name for name, ok, _ in checks if not ok]
        met = met and not missed
        out.append(f"targets on {best}/{r.backend}: " + ", ".join(
            f"{name} {text} {'ok' if ok else 'MISSED'}" for name, ok, text in checks))
    for r in runs:  # redirect rules: reported beside the targets, on every server and database
        if r.app == "rules":
            ok = r.ratio is not None and r.ratio >= TARGET_RULES_RATIO
            out.append(f"5 redirect rules on {r.server}/{r.backend}: ratio {_fmt(r.ratio, '.3f')} >= "
                       f"{TARGET_RULES_RATIO} {'ok' if ok else 'MISSED'}")
    out.append(f"targets {'MET' if met else 'MISSED'} with {best}; clicks "
               + ("all stored exactly once" if correct else "NOT all stored exactly once or requests FAILED"))
    return "\n".join(out), correct, met


# ---- main ----------------------------------------------------------------------------------------
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    env = os.environ
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--duration", type=float, default=float(env.get("BENCH_DURATION", 10)),
                   help="measured seconds per run (default 10)")
    p.add_argument("--warmup", type=float, default=float(env.get("BENCH_WARMUP", 2)),
                   help="warm-up seconds per run (default 2)")
    p.add_argument("--connections", type=int, default=int(env.get("BENCH_CONNECTIONS", 32)))
    p.add_argument("--workers", type=int, default=int(env.get("BENCH_WORKERS", 2)),
                   help="server worker processes (default 2, one per core)")
    p.add_argument("--wrk-threads", type=int, default=2)
    p.add_argument("--servers", default="gunicorn,granian")
    p.add_argument("--backends", default="sqlite,postgres")
    p.add_argument("--pg-url", default=env.get("BENCH_POSTGRES_URL", DEFAULT_PG))
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "redirect.json")
    p.add_argument("--keep", action="store_true", help="keep the temporary folder (logs, SQLite file)")
    p.add_argument("--rules", action=argparse.BooleanOptionalAction, default=env.get("BENCH_RULES", "1") == "1",
                   help="also measure a link with 5 redirect rules, none holding (default; --no-rules or "
                        "BENCH_RULES=0 to skip); its ratio is req/s over the same server's run without rules")
    p.add_argument("--webhook", action="store_true", default=env.get("BENCH_WEBHOOK", "1") == "1",
                   help="also measure the tracker with a webhook on every click (a receiver on 127.0.0.1); "
                        "its ratio is req/s over the same server's run without")
    args = p.parse_args(argv)
    args.servers = [s.strip() for s in args.servers.split(",") if s.strip()]
    args.backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    for s in args.servers:
        if s not in ("gunicorn", "granian"):
            p.error(f"--servers: unknown server {s!r}; use gunicorn and/or granian")
    for b in args.backends:
        if b not in ("sqlite", "postgres"):
            p.error(f"--backends: unknown database {b!r}; use sqlite and/or postgres")
    if args.duration < 1 or args.warmup < 1:
        p.error("--duration and --warmup must be at least 1 second")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        wrk = ensure_wrk()
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    tmp = Path(tempfile.mkdtemp(prefix="bench-redirect-"))
    script = tmp / "count.lua"
    script.write_text(WRK_LUA)
    print(f"redirect benchmark: {args.connections} connections, {args.workers} workers, "
          f"{args.warmup:g} s warm-up + {args.duration:g} s per run, {os.cpu_count()} cores shared with wrk; "
          f"logs in {tmp}", flush=True)
    runs: list[Run] = []
    skipped: dict[str, str] = {}
    handler: dict[str, float] = {}
    failed = False
    try:
        for backend in args.backends:
            try:
                database = sqlite_database(tmp) if backend == "sqlite" else postgres_database(args.pg_url)
                with database as db_url:
                    runs += bench_backend(args, wrk, script, backend, db_url, tmp)
                    if args.rules and not handler:
                        handler = handler_cpu(db_url, tmp)
                        print(f"\n  the WSGI handler in this process, CPU per redirect: {handler['without']:.1f} us "
                              f"without rules, {handler['rules']:.1f} us with 5 rules (none holding): ratio "
                              f"{handler['ratio']:.3f} (the median of alternated blocks)", flush=True)
            except BenchError as exc:
                if backend == "postgres" and "unreachable" in str(exc):
                    skipped[backend] = str(exc)
                    print(f"\n== postgres: SKIPPED: {exc}", flush=True)
                    continue
                print(f"\nerror on {backend}: {exc}", file=sys.stderr, flush=True)
                failed = True
    finally:
        if args.keep or failed:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    print("\n" + render_table(runs))
    print("ratio: tracker req/s over bare-Flask req/s under the same server (webhook, rules: over the tracker's "
          "run on the same server);\nlost: 3xx answered by wrk "
          "without a click row;\nextra: rows beyond wrk's answers (requests in flight when wrk stopped, at "
          f"most {2 * args.connections}); drained@end: rows stored when wrk stopped;\nreplayed: rows "
          "added by `tracker spool replay` after SIGTERM (clicks the workers had not drained);\n"
          "cpu: cores used in the measured window")
    for backend, reason in skipped.items():
        print(f"{backend}: skipped ({reason})")
    text, correct, met = verdict(runs, args.servers) if runs else ("no run completed", False, False)
    print("\n" + text)

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "host": platform.node(), "cores": os.cpu_count(),
        "python": platform.python_version(), "connections": args.connections, "workers": args.workers,
        "wrk_threads": args.wrk_threads, "duration_s": args.duration, "warmup_s": args.warmup,
        "targets": {"ratio": TARGET_RATIO, "p99_ms": TARGET_P99_MS, "lost": 0},
        "skipped": skipped, "targets_met": met, "clicks_exact": correct,
        "handler_cpu_us": handler,  # without / with 5 redirect rules, in this process (handler_cpu)
        "runs": [asdict(r) for r in runs],
    }, indent=2) + "\n")
    print(f"wrote {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")
    return 0 if correct and not failed else 1


if __name__ == "__main__":
    sys.exit(main())
