"""A real server (``tracker serve``: granian, two worker processes) on 127.0.0.1, asked over HTTP with Host headers.

Its domains and links are made in the test's database first; then the service is restarted while its
database is unreachable, and routes the hosts it read before from the last-known-links file.
"""
from __future__ import annotations

import contextlib
import http.client
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pg_support
import pytest
from domains_support import BRAND, EVENT, LINK

from tracker.db import get_db
from tracker.domains.service import create_domain
from tracker.links.service import create_link

TRACKER_BIN = str(Path(sys.executable).parent / "tracker")
PUBLIC_HOST = "go.example.com"


def ask(port: int, method: str, path: str, host: str) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path, headers={"Host": host, "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/126"})
        resp = conn.getresponse()
        resp.read()
        return resp
    finally:
        conn.close()


@contextlib.contextmanager
def tracker_serve(env: dict[str, str], log_dir: Path) -> Iterator[int]:
    """``tracker serve --workers 2`` on a free port, up once it answers; SIGTERM (then SIGKILL) afterwards."""
    port = pg_support.free_port()
    log_path = log_dir / f"server-{port}.log"
    with log_path.open("wb") as log:
        server = subprocess.Popen([TRACKER_BIN, "serve", "--workers", "2", "--port", str(port)], env=env,
                                  stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    ask(port, "HEAD", "/r/up", PUBLIC_HOST)  # not a visit: HEAD records nothing
                    break
                except OSError:
                    assert time.monotonic() < deadline and server.poll() is None, log_path.read_text()
                    time.sleep(0.2)
            yield port
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait(10)


@pytest.mark.slow
def test_a_real_server_routes_by_host_and_keeps_routing_through_an_outage(
        make_app: Callable[..., Any], tmp_path: Path) -> None:
    app = make_app()
    settings = app.config["SETTINGS"]
    with get_db(app).Session() as session:
        brand = create_domain(session, settings, {"host": BRAND, "not_found_url": "https://brand.example/"})
        create_domain(session, settings, {"host": EVENT, "scheme": "http"})
        for domain, page in ((brand.host, "brand"), (EVENT, "event"), (None, "default")):
            create_link(session, settings, {**LINK, "destination": f"https://example.com/{page}", "slug": "fair",
                                            "domain": domain})
    env = {**os.environ, "TRACKER_DATABASE_URL": settings.database_url, "TRACKER_INSTANCE_PATH": str(tmp_path / "srv"),
           "TRACKER_PUBLIC_BASE_URL": f"https://{PUBLIC_HOST}", "TRACKER_SECRET_KEY": "s",
           "TRACKER_IP_HASH_SECRET": "i", "TRACKER_LOOKUP_TIMEOUT_SECONDS": "0.5", "PYTHONUNBUFFERED": "1"}
    expected = {BRAND: "https://example.com/brand", EVENT: "https://example.com/event",
                PUBLIC_HOST: "https://example.com/default", f"{BRAND.upper()}:8080": "https://example.com/brand"}

    with tracker_serve(env, tmp_path) as port:
        for _ in range(4):  # both workers, most likely; each reads what it is asked
            for host, target in expected.items():
                for prefix in ("r", "q"):
                    resp = ask(port, "GET", f"/{prefix}/fair", host)
                    assert resp.status == 302, (host, prefix)
                    assert resp.getheader("Location").startswith(target + "?"), (host, resp.getheader("Location"))
            resp = ask(port, "GET", "/r/nope42", BRAND)
            assert resp.status == 302 and resp.getheader("Location") == "https://brand.example/"
            assert ask(port, "GET", "/r/nope42", EVENT).status == 404
            assert ask(port, "GET", "/r/fair", "evil.example").status == 404

    # The whole service restarts while its database is unreachable (nothing listens on that port).
    down = {**env, "TRACKER_DATABASE_URL": f"postgresql://postgres@127.0.0.1:{pg_support.free_port()}/none"}
    with tracker_serve(down, tmp_path) as port:
        for _ in range(4):
            for host, target in expected.items():
                resp = ask(port, "GET", "/r/fair", host)
                assert resp.status == 302 and resp.getheader("Location").startswith(target + "?"), host
            resp = ask(port, "GET", "/r/nope42", BRAND)  # known not to exist: still the domain's not-found URL
            assert resp.status == 302 and resp.getheader("Location") == "https://brand.example/"
            assert ask(port, "GET", "/r/fair", "evil.example").status == 404  # still an unknown host
            assert ask(port, "GET", "/r/never", BRAND).status == 503  # never read before: retry later
