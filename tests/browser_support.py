"""What the browser tests share: Debian's chromium, its flags, the artefact folder, a live app, and the
tracker with a landing site on two origins (the snippet's and privacy's ``sites`` fixture, in conftest.py).

Playwright drives ``/usr/bin/chromium`` (``apt-get install chromium``); a browser is never
downloaded. Tests that need it take the ``playwright_api`` fixture (in ``conftest.py``), which
skips with the reason when the package or the browser is missing.
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from accounts_support import PASSWORD, make_account, make_key
from sqlalchemy.orm import Session
from werkzeug.serving import make_server

from tracker import create_app
from tracker.auth.service import create_key
from tracker.db import get_db, make_engine
from tracker.migrate import upgrade

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


def require_browser() -> Any:
    """Return ``playwright.sync_api``; skip the test with the reason when it or chromium is missing."""
    api = pytest.importorskip("playwright.sync_api",
                              reason="playwright is not installed (pip install -e '.[test]'): skipped")
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium): browser test skipped")
    return api


def serve(server: Any, name: str) -> threading.Thread:
    """Run a werkzeug or http.server server in a daemon thread."""
    thread = threading.Thread(target=server.serve_forever, name=name, daemon=True)
    thread.start()
    return thread


@contextmanager
def live_app(tmp_path: Path, name: str,
             prepare: Callable[[Any], None] | None = None) -> Iterator[SimpleNamespace]:
    """The real app on 127.0.0.1 (a free port), a migrated SQLite file, one admin account and its API key.

    ``prepare(app)`` runs before the server answers (for example to load the demo data).
    Yields ``url``, ``email`` and ``password`` (to sign in), ``key`` and ``app``.
    """
    url = f"sqlite:///{tmp_path / f'{name}.db'}"
    engine = make_engine(url)
    upgrade(engine)
    with Session(engine) as session:
        admin = make_account(session, "admin", email="admin@example.com", can_sign_in=True)
        _, key = create_key(session, admin, "browser test")
        email = admin.email
    engine.dispose()

    holder: dict[str, Any] = {}
    # Bind first (port 0: the OS picks a free port) so the app can know its public base URL.
    server = make_server("127.0.0.1", 0, lambda environ, start: holder["app"](environ, start), threaded=True)
    base = f"http://127.0.0.1:{server.server_port}"
    app = holder["app"] = create_app({
        "database_url": url, "instance_path": str(tmp_path / "instance"), "public_base_url": base,
        "secret_key": "browser-test-secret", "ip_hash_secret": "browser-test-ip", "SPOOL_BACKGROUND": False})
    if prepare is not None:
        prepare(app)
    thread = serve(server, f"{name}-live-server")
    try:
        yield SimpleNamespace(url=base, key=key, email=email, password=PASSWORD, app=app)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        get_db(app).engine.dispose()


# A desktop Chrome: headless Chromium says "HeadlessChrome", which the bot flag rightly catches.
DESKTOP = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
           "Chrome/124.0.0.0 Safari/537.36")

# The landing page of the snippet tests: it embeds /t.js with a plain script tag.
PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Example landing page</title>
<script async src="{service}/t.js"></script></head>
<body><h1>Spring offer</h1><p>A demo landing page on another origin than the tracker.</p></body></html>
"""

# A thank-you page embedding the survey with the ids it knows (as a shop's order page would).
SURVEY_PAGE = """<!doctype html>
<html lang="nb"><head><meta charset="utf-8"><title>Takk for bestillingen</title></head>
<body><h1>Takk for bestillingen</h1>
<iframe title="Spørreskjema" width="480" height="640"
        src="{service}/ask?lang=no&svid=site-visitor-0123456789&conversion=order-1001"></iframe>
</body></html>
"""


@contextmanager
def landing_sites(make_app: Callable[..., Any]) -> Iterator[SimpleNamespace]:
    """The tracker and a landing site, each on its own free port of 127.0.0.1 (the ``sites`` fixture).

    ``make_app(**settings)`` builds the tracker. Yields ``app``, an admin ``key``, the ``service`` and
    ``landing`` URLs and the tracker's ``requests``.
    """
    requests: list[str] = []

    class Landing(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            page = SURVEY_PAGE if self.path.startswith("/thanks") else PAGE
            body = page.format(service=service_url).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    landing = ThreadingHTTPServer(("127.0.0.1", 0), Landing)
    landing_url = f"http://127.0.0.1:{landing.server_port}"
    holder: dict[str, Any] = {}

    def wsgi(environ: dict[str, Any], start: Any) -> Any:
        requests.append(f"{environ['REQUEST_METHOD']} {environ['PATH_INFO']}")
        return holder["app"](environ, start)

    service = make_server("127.0.0.1", 0, wsgi, threaded=True)
    service_url = f"http://127.0.0.1:{service.server_port}"
    app = holder["app"] = make_app(public_base_url=service_url, landing_origins=(landing_url,))
    with get_db(app).Session() as session:
        key = make_key(session, "admin")
    threads = [serve(landing, "landing-site"), serve(service, "tracker-service")]
    try:
        yield SimpleNamespace(app=app, key=key, service=service_url, landing=landing_url, requests=requests)
    finally:
        for server in (service, landing):
            server.shutdown()
            server.server_close()
        for thread in threads:
            thread.join(timeout=10)
