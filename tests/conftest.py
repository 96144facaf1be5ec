"""Shared fixtures: an app on SQLite and (when TRACKER_TEST_POSTGRES_URL is set) on real PostgreSQL.

Each test run migrates its own SQLite file and its own PostgreSQL schema (dropped at the end), and
every test starts from empty tables.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import sqlalchemy as sa
from accounts_support import make_key, sign_in_as
from browser_support import landing_sites, require_browser
from pg_support import postgres_schema

import tracker.models  # noqa: F401
from tracker import create_app, stop_background
from tracker.db import Base, get_db, make_engine
from tracker.migrate import upgrade

PUBLIC = "https://go.example.com"


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated database URL: a SQLite file, or a fresh schema on the PostgreSQL server."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'test.db'}"
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        yield url
        return
    with postgres_schema("trk_test") as url:
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        yield url


def empty_tables(engine: sa.Engine) -> None:
    tables = list(reversed(Base.metadata.sorted_tables))
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(sa.text("TRUNCATE " + ", ".join(t.name for t in tables) + " RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                conn.execute(table.delete())


@pytest.fixture
def make_app(db_url: str, tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """Build apps on the test database (empty tables; spool drained only when a test says so)."""
    apps = []

    def factory(**overrides: Any) -> Any:
        config = {"database_url": db_url, "instance_path": str(tmp_path / "instance"),
                  "public_base_url": PUBLIC, "secret_key": "test-secret", "ip_hash_secret": "test-ip-secret",
                  "TESTING": True, "SPOOL_BACKGROUND": False,
                  # A redirect waits at most this long for its link lookup before answering 503. The default
                  # (1 s) is for production; on a loaded test machine a fresh app's first lookups (domain map,
                  # then link) could pass it. Tests of the timeout set their own.
                  "lookup_timeout_seconds": 10.0}
        config.update(overrides)
        app = create_app(config)
        apps.append(app)
        return app

    first = factory()
    empty_tables(get_db(first).engine)
    yield factory
    for app in apps:
        stop_background(app)  # no thread of this test's apps claims a later test's deliveries or lines
        get_db(app).engine.dispose()


@pytest.fixture
def app(make_app: Callable[..., Any]) -> Any:
    return make_app()


@pytest.fixture
def client(app: Any) -> Any:
    return app.test_client()


@pytest.fixture
def runner(app: Any) -> Any:
    return app.test_cli_runner()


@pytest.fixture
def session(app: Any) -> Iterator[Any]:
    with get_db(app).Session() as s:
        yield s


@pytest.fixture
def api_key(app: Any) -> str:
    """A key of a new admin account (admins may do everything)."""
    with get_db(app).Session() as s:
        return make_key(s, "admin")


@pytest.fixture
def auth(api_key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}"}


@pytest.fixture
def role_key(app: Any) -> Callable[..., str]:
    """Factory: ``role_key(role, campaigns=None)`` makes an account of ``role`` (staff: assigned to
    ``campaigns``, ids or slugs) and returns a Bearer key of it."""
    def make(role: str, campaigns: list[str] | None = None) -> str:
        with get_db(app).Session() as s:
            return make_key(s, role, campaigns)
    return make


@pytest.fixture
def page_client(app: Any) -> Callable[..., Any]:
    """Factory: ``page_client(role="admin", campaigns=None)`` is a new test client signed in to the pages
    as a new account of ``role``."""
    def make(role: str = "admin", campaigns: list[str] | None = None) -> Any:
        client = app.test_client()
        sign_in_as(client, role, campaigns)
        return client
    return make


@pytest.fixture
def signed_in(client: Any) -> Any:
    """``client`` signed in to the pages as an admin."""
    sign_in_as(client, "admin")
    return client


@pytest.fixture
def drain(app: Any) -> Callable[[], int]:
    """Write everything spooled so far to the database (what the background thread does)."""
    return lambda: app.extensions["tracker.redirects"]["spool"].drain()


@pytest.fixture
def campaign(client: Any, auth: dict[str, str]) -> dict[str, Any]:
    resp = client.post("/api/v1/campaigns", json={"name": "Oslo Expo 2026",
                                                    "fallback_url": "https://example.com/expo-ended"},
                       headers=auth)
    assert resp.status_code == 201, resp.json
    return resp.json


@pytest.fixture
def make_link(client: Any, auth: dict[str, str]) -> Callable[..., dict[str, Any]]:
    def make(**fields: Any) -> dict[str, Any]:
        body = {"destination": "https://example.com/landing", "utm_source": "newsletter",
                "utm_medium": "email", "utm_campaign": "spring"}
        body.update(fields)
        resp = client.post("/api/v1/links", json=body, headers=auth)
        assert resp.status_code == 201, resp.json
        return resp.json
    return make


@pytest.fixture
def playwright_api() -> Any:
    """``playwright.sync_api`` for the browser tests (skipped with the reason when chromium is missing)."""
    return require_browser()


@pytest.fixture
def sites(playwright_api: Any, make_app: Callable[..., Any]) -> Iterator[SimpleNamespace]:
    """The tracker and a landing site on two origins of 127.0.0.1 (the snippet and privacy browser tests)."""
    with landing_sites(make_app) as live:
        yield live
