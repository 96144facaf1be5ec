"""What the browser tests share: Debian's chromium, its flags, the artefact folder and a live app.

Playwright drives ``/usr/bin/chromium`` (``apt-get install chromium``); a browser is never
downloaded. Tests that need it take the ``playwright_api`` fixture (in ``conftest.py``), which
skips with the reason when the package or the browser is missing.
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from accounts_support import PASSWORD, make_account
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
