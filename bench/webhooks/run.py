"""Webhook delivery benchmark (``make bench-webhooks``): how fast the sender empties a queue of deliveries.

On 127.0.0.1 only. A receiver runs in a process of its own (``ThreadingHTTPServer``, HTTP/1.1 keep-alive,
answering 204), so it does not share this process's GIL. For each database (a SQLite file in a temporary
folder, then a fresh schema on PostgreSQL):

1. **baseline**: the same number of POSTs of the same payloads sent with a bare ``urllib3`` pool by the
   sender's number of threads (``WORKERS``): what HTTP and the receiver cost alone;
2. **sender**: ``--deliveries`` ``click.recorded`` deliveries are queued for one endpoint (rows as the click
   drain writes them), then :func:`tracker.webhooks.sender.deliver_due` is called, as the sender thread
   does, until nothing is due; every delivery must be answered 2xx and marked delivered.

Printed: deliveries per second for both and the ratio sender / baseline (what claiming, signing and
recording cost on top of HTTP). Target: the sender delivers at least 1,000 per second on SQLite (a busy
site's click rate), and its ratio is printed so a regression shows. Results go to
``bench/out/webhooks.json``.

Usage::

    .venv/bin/python bench/webhooks/run.py [--deliveries 5000] [--backends sqlite,postgres] [--pg-url URL]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
import urllib3

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tracker.db import make_engine, utcnow  # noqa: E402
from tracker.migrate import upgrade  # noqa: E402
from tracker.webhooks import sender  # noqa: E402
from tracker.webhooks.events import envelope, new_msg_id  # noqa: E402
from tracker.webhooks.models import Webhook, WebhookDelivery  # noqa: E402

HOST = "127.0.0.1"
TARGET_PER_SECOND = 1000.0
RECEIVER = r"""
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real receivers answer

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass

server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
print(server.server_address[1], flush=True)
server.serve_forever()
"""


@contextmanager
def receiver() -> Iterator[str]:
    proc = subprocess.Popen([sys.executable, "-c", RECEIVER], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        yield f"http://{HOST}:{port}/hook"
    finally:
        proc.terminate()
        proc.wait(10)


@contextmanager
def database(backend: str, pg_url: str, tmp: Path) -> Iterator[sa.Engine]:
    if backend == "sqlite":
        engine = make_engine(f"sqlite:///{tmp / 'webhooks.db'}")
        try:
            yield engine
        finally:
            engine.dispose()
        return
    schema = f"bench_webhooks_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(pg_url)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    engine = make_engine(pg_url, connect_args={"options": f"-csearch_path={schema}"})
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def payloads(n: int) -> list[str]:
    now = utcnow()
    return [envelope("click.recorded", now, {
        "click_id": f"bench{i:015d}", "ts": now.isoformat(), "via": "qr", "outcome": "redirect",
        "link": {"id": 1, "code": "bench1", "campaign": "expo", "kind": "print", "label": "Flyer"},
        "channel": "Offline", "utm_source": "flyer", "utm_medium": "print", "utm_campaign": "expo",
        "device_type": "mobile", "browser": "Mobile Safari", "os": "iOS", "country": "NO", "city": "",
        "rule": None, "referrer_host": None}) for i in range(n)]


def baseline(url: str, bodies: list[str]) -> float:
    """POSTs per second over pooled keep-alive connections, ``WORKERS`` threads: HTTP and the receiver alone."""
    pool = urllib3.PoolManager(maxsize=sender.WORKERS, retries=False)
    chunks = [bodies[i::sender.WORKERS] for i in range(sender.WORKERS)]

    def post(chunk: list[str]) -> int:
        ok = 0
        for body in chunk:
            resp = pool.request("POST", url, body=body.encode(), headers={"content-type": "application/json"})
            ok += 200 <= resp.status < 300
        return ok

    started = time.perf_counter()
    with ThreadPoolExecutor(sender.WORKERS) as threads:
        ok = sum(threads.map(post, chunks))
    elapsed = time.perf_counter() - started
    assert ok == len(bodies), f"baseline: {len(bodies) - ok} POSTs failed"
    return len(bodies) / elapsed


def queue(engine: sa.Engine, url: str, bodies: list[str]) -> None:
    now = utcnow()
    with engine.begin() as conn:
        wid = conn.execute(sa.insert(Webhook).values(
            url=url, description="bench", events=["click.recorded"], secret="whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            disabled=False, created_at=now).returning(Webhook.id)).scalar_one()
        conn.execute(sa.insert(WebhookDelivery.__table__), [
            {"webhook_id": wid, "msg_id": new_msg_id(), "event": "click.recorded", "payload": body,
             "status": "pending", "attempts": 0, "next_attempt_at": now, "created_at": now} for body in bodies])


def run_sender(engine: sa.Engine) -> tuple[float, float, dict[str, int]]:
    from sqlalchemy.orm import sessionmaker

    factory = sessionmaker(engine, expire_on_commit=False)
    totals = {"claimed": 0, "delivered": 0, "pending": 0, "failed": 0, "superseded": 0}
    cpu = time.process_time()
    started = time.perf_counter()
    while True:
        counts = sender.deliver_due(factory, allow_private=True)
        for key, value in counts.items():
            totals[key] += value
        if not counts["claimed"]:
            break
    return time.perf_counter() - started, time.process_time() - cpu, totals


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--deliveries", type=int, default=int(os.environ.get("BENCH_DELIVERIES", "5000")))
    p.add_argument("--backends", default=os.environ.get("BENCH_BACKENDS", "sqlite,postgres"))
    p.add_argument("--pg-url", default=os.environ.get("BENCH_POSTGRES_URL",
                                                      "postgresql://postgres@127.0.0.1:5432/test"))
    args = p.parse_args()
    results = []
    failed = False
    bodies = payloads(args.deliveries)
    print(f"webhook sender: {args.deliveries} deliveries to a receiver on {HOST} "
          f"(batch {sender.BATCH}, {sender.WORKERS} threads); load average {os.getloadavg()[0]:.2f}", flush=True)
    with receiver() as url, tempfile.TemporaryDirectory() as tmp:
        base = baseline(url, bodies)
        print(f"  baseline (bare urllib3, same threads): {base:,.0f} POSTs/s", flush=True)
        for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
            with database(backend, args.pg_url, Path(tmp)) as engine:
                upgrade(engine)
                queue(engine, url, bodies)
                wall, cpu, totals = run_sender(engine)
                with engine.connect() as conn:
                    delivered = conn.execute(sa.select(sa.func.count()).where(
                        WebhookDelivery.status == "delivered")).scalar_one()
            rate = args.deliveries / wall
            ok = delivered == args.deliveries
            failed |= not ok
            verdict = "PASS" if rate >= TARGET_PER_SECOND else "MISS"
            print(f"  {backend}: {rate:,.0f} deliveries/s ({wall:.2f} s, cpu {cpu:.2f} s), {rate / base:.2f} of the "
                  f"baseline; delivered {delivered}/{args.deliveries}; target >= {TARGET_PER_SECOND:,.0f}/s: "
                  f"{verdict}", flush=True)
            results.append({"backend": backend, "deliveries": args.deliveries, "seconds": wall, "cpu_seconds": cpu,
                            "per_second": rate, "baseline_per_second": base, "ratio": rate / base,
                            "delivered": delivered, "counts": totals})
    out = ROOT / "bench" / "out"
    out.mkdir(exist_ok=True)
    (out / "webhooks.json").write_text(json.dumps({"results": results, "load": os.getloadavg()[0],
                                                   "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
                                                   / 1024}, indent=2))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
