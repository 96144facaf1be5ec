"""Migrations 0007-0012 on a store that holds data: SQLite's batch mode copies a table and drops the old one,
which the rows referencing ``links`` forbid unless foreign keys are off (``tracker.migrate.migrating``). Up, down
and up again keep every row, and the schema matches the models each time."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from pg_support import postgres_schema

import tracker.models  # noqa: F401  (every table on the metadata)
from tracker.db import Base, make_engine
from tracker.migrate import alembic_config, current_revision, downgrade, upgrade


@pytest.fixture(params=["sqlite", "postgres"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sa.Engine]:
    if request.param == "sqlite":
        made = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
        yield made
        made.dispose()
        return
    with postgres_schema("migdata") as url:
        made = make_engine(url)
        yield made
        made.dispose()


def _rows(engine: sa.Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {t: conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar_one()
                for t in ("campaigns", "links", "clicks")}


def _differences(engine: sa.Engine) -> list[Any]:
    with engine.connect() as conn:  # partitions (PostgreSQL) are not in the models
        return [d for d in compare_metadata(MigrationContext.configure(conn), Base.metadata)
                if "_p20" not in str(d) and "_default" not in str(d)]


def test_up_down_up_with_links_referenced_by_clicks(engine: sa.Engine) -> None:
    upgrade(engine, "0006")
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO campaigns (id, name, slug, description, created_at) "
                             "VALUES (1, 'Expo', 'expo', '', CURRENT_TIMESTAMP)"))
        conn.execute(sa.text(
            "INSERT INTO links (id, code, campaign_id, destination, utm_source, utm_medium, utm_campaign, "
            "extra_params, kind, label, disabled, fingerprint, created_at, updated_at) VALUES (1, 'abc', 1, "
            "'https://example.com/', 'news', 'email', 'expo', '{}', 'online', '', false, 'f', CURRENT_TIMESTAMP, "
            "CURRENT_TIMESTAMP)"))
        conn.execute(sa.text("INSERT INTO clicks (tid, ts, link_id, via, outcome, is_bot) "
                             "VALUES ('t1', CURRENT_TIMESTAMP, 1, 'link', 'redirect', false)"))
    before = _rows(engine)
    head = ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
    upgrade(engine)
    assert current_revision(engine) == head and _rows(engine) == before and _differences(engine) == []
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE clicks SET country = 'NO'"))
    downgrade(engine, "0006")
    assert current_revision(engine) == "0006" and _rows(engine) == before
    upgrade(engine)
    assert current_revision(engine) == head and _rows(engine) == before and _differences(engine) == []


def test_a_code_on_two_domains_is_allowed_and_blocks_the_downgrade(engine: sa.Engine) -> None:
    """0012: a code is unique per domain (the default domain included), and going below 0012 is refused,
    with every row kept, while a code is used on two domains."""
    upgrade(engine)
    insert = ("INSERT INTO links (code, domain_id, destination, utm_source, utm_medium, utm_campaign, extra_params, "
              "kind, label, disabled, fingerprint, rules, created_at, updated_at) VALUES ('abc', {}, "
              "'https://example.com/', 's', 'm', 'c', '{{}}', 'online', '', false, 'f', '[]', CURRENT_TIMESTAMP, "
              "CURRENT_TIMESTAMP)")
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO domains (id, host, scheme, created_at) "
                             "VALUES (1, 'go.brand.no', 'https', CURRENT_TIMESTAMP)"))
        conn.execute(sa.text(insert.format("NULL")))
        conn.execute(sa.text(insert.format(1)))
    for domain in ("NULL", "1"):
        with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
            conn.execute(sa.text(insert.format(domain)))
    with pytest.raises(RuntimeError, match="more than one domain"):
        downgrade(engine, "0011")
    assert current_revision(engine) == ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM links")).scalar_one() == 2
