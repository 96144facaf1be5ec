"""Fixtures of the short-link domain tests: domains added through the API, requests sent to a host."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from domains_support import BRAND, EVENT


@pytest.fixture
def add_domain(client: Any, auth: dict[str, str]) -> Callable[..., dict[str, Any]]:
    """``add_domain(host, **fields)``: POST /api/v1/domains as an admin, asserting 201."""
    def add(host: str, **fields: Any) -> dict[str, Any]:
        resp = client.post("/api/v1/domains", json={"host": host, **fields}, headers=auth)
        assert resp.status_code == 201, resp.json
        return resp.json
    return add


@pytest.fixture
def brand(add_domain: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    """go.brand.no, whose unknown codes go to the brand's home page."""
    return add_domain(BRAND, not_found_url="https://brand.example/")


@pytest.fixture
def event(add_domain: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    """scan.expo.no, served over plain http, with no not-found URL (404 page)."""
    return add_domain(EVENT, scheme="http")
