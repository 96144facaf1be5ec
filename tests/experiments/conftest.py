"""Crafted clicks and conversions for the experiment tests (rows written straight into the real tables)."""
from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from tracker.conversions.models import Conversion
from tracker.db import get_db
from tracker.redirects.models import Click

_ids = itertools.count(1)


@pytest.fixture
def engine(app: Any) -> sa.Engine:
    return get_db(app).engine


@pytest.fixture
def add_clicks(engine: sa.Engine) -> Callable[..., None]:
    """``add_clicks(link_id, [(person, ts), ...], bot=False, via="link")``: stored clicks of those people."""
    def add(link_id: int, rows: list[tuple[str | None, datetime]], *, bot: bool = False, via: str = "link") -> None:
        with engine.begin() as conn:
            conn.execute(sa.insert(Click.__table__), [
                {"tid": f"t{next(_ids):031d}", "ts": ts, "link_id": link_id, "via": via, "outcome": "redirect",
                 "person_id": person, "is_bot": bot} for person, ts in rows])
    return add


@pytest.fixture
def add_conversions(engine: sa.Engine) -> Callable[..., None]:
    """``add_conversions([(person, ts, type, value), ...])``."""
    def add(rows: list[tuple[str, datetime, str, float]]) -> None:
        with engine.begin() as conn:
            conn.execute(sa.insert(Conversion.__table__), [
                {"external_id": f"deal-{next(_ids)}", "type": kind, "ts": ts, "value": Decimal(str(value)),
                 "original_value": Decimal(str(value)), "original_currency": "NOK", "person_id": person,
                 "created_at": ts} for person, ts, kind, value in rows])
    return add

