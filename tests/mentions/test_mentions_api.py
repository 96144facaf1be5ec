"""Recording and importing brand mentions through the API and the CLI, on SQLite and PostgreSQL.

All or nothing, idempotent per (date, platform, url), a stored key replaced by new values, fields and
CSV lines named in errors, and who may write.
"""
from __future__ import annotations

import io
from typing import Any

import pytest
import sqlalchemy as sa
from accounts_support import bearer

from tracker.cli import main
from tracker.mentions.models import Mention

CSV = (
    "\ufeffdate,platform,count,sentiment,url,note\n"
    "2026-05-04,press,1,0.8,https://news.example/article,Feature in the business section\n"
    "2026-05-04,LinkedIn,23,0.3,,\n"
    "2026-05-05,trustpilot,4,-0.5,,\"Two complaints,\nabout delivery\"\n"
    "2026-05-06,x,,,,\n"
)


def stored(session: Any) -> list[tuple[Any, ...]]:
    session.expire_all()
    return [tuple(r) for r in session.execute(sa.select(
        Mention.day, Mention.platform, Mention.count, Mention.sentiment, Mention.url, Mention.note
    ).order_by(Mention.day, Mention.platform, Mention.url))]


def test_one_mention_then_the_same_again_then_new_values(client: Any, auth: dict[str, str], session: Any) -> None:
    one = {"date": "2026-05-04", "platform": "press", "count": 1, "sentiment": 0.8,
           "url": "https://news.example/article", "note": "Feature"}
    resp = client.post("/api/v1/mentions", json=one, headers=auth)
    assert resp.status_code == 201, resp.json
    assert resp.json["status"] == "inserted" and resp.json["inserted"] == 1
    again = client.post("/api/v1/mentions", json=one, headers=auth)
    assert again.status_code == 200 and again.json["status"] == "unchanged"
    changed = client.post("/api/v1/mentions", json={**one, "count": 3, "sentiment": -0.1, "note": "Revised"},
                          headers=auth)
    assert changed.status_code == 200 and changed.json["status"] == "updated"
    rows = stored(session)
    assert len(rows) == 1
    assert rows[0][1:] == ("press", 3, -0.1, "https://news.example/article", "Revised")


@pytest.mark.parametrize("body", [
    lambda items: items,  # a bare JSON array
    lambda items: {"mentions": items},
])
def test_a_list_is_all_or_nothing(client: Any, auth: dict[str, str], session: Any, body: Any) -> None:
    items = [{"date": "2026-05-01", "platform": "linkedin", "count": 5},
             {"date": "2026-05-02", "platform": "x", "count": 2, "sentiment": 0.1},
             {"date": "2026-05-03", "platform": "x", "count": 2},
             {"date": "2026-05-04", "platform": "x", "count": 2, "sentiment": 1.5}]
    resp = client.post("/api/v1/mentions", json=body(items), headers=auth)
    assert resp.status_code == 422
    error = resp.json["error"]
    assert error["field"] == "mentions[3].sentiment"
    assert [r["field"] for r in error["rejected"]] == ["mentions[3].sentiment"]
    assert stored(session) == []
    items[3]["sentiment"] = 0.5
    ok = client.post("/api/v1/mentions", json=body(items), headers=auth)
    assert ok.status_code == 201, ok.json
    assert (ok.json["inserted"], ok.json["updated"], ok.json["unchanged"]) == (4, 0, 0)
    assert [i["status"] for i in ok.json["items"]] == ["inserted"] * 4
    assert [r[1] for r in stored(session)] == ["linkedin", "x", "x", "x"]


@pytest.mark.parametrize("mention,field", [
    ({"platform": "press"}, "date"),
    ({"date": "2026-02-30", "platform": "press"}, "date"),
    ({"date": "2099-01-01", "platform": "press"}, "date"),
    ({"date": "2026-05-01"}, "platform"),
    ({"date": "2026-05-01", "platform": "Bad/Name"}, "platform"),
    ({"date": "2026-05-01", "platform": "x" * 41}, "platform"),
    ({"date": "2026-05-01", "platform": "x", "count": 0}, "count"),
    ({"date": "2026-05-01", "platform": "x", "count": 2.5}, "count"),
    ({"date": "2026-05-01", "platform": "x", "count": True}, "count"),
    ({"date": "2026-05-01", "platform": "x", "sentiment": -1.01}, "sentiment"),
    ({"date": "2026-05-01", "platform": "x", "sentiment": "good"}, "sentiment"),
    ({"date": "2026-05-01", "platform": "x", "url": "ftp://files.example/a"}, "url"),
    ({"date": "2026-05-01", "platform": "x", "url": "https://"}, "url"),
    ({"date": "2026-05-01", "platform": "x", "note": "n" * 501}, "note"),
    ({"date": "2026-05-01", "platform": "x", "note": "a\x00b"}, "note"),
    ({"date": "2026-05-01", "platform": "x", "likes": 4}, "likes"),
])
def test_bad_fields_are_named(client: Any, auth: dict[str, str], session: Any, mention: dict[str, Any],
                              field: str) -> None:
    resp = client.post("/api/v1/mentions", json=mention, headers=auth)
    assert resp.status_code == 422, resp.json
    assert resp.json["error"]["field"] == field
    assert stored(session) == []


def test_bad_bodies(client: Any, auth: dict[str, str]) -> None:
    assert client.post("/api/v1/mentions", data="nope", headers={**auth, "Content-Type": "text/plain"}) \
        .status_code == 422
    assert client.post("/api/v1/mentions", json=[], headers=auth).json["error"]["field"] == "mentions"
    assert client.post("/api/v1/mentions", json={"mentions": "x"}, headers=auth).status_code == 422
    too_many = [{"date": "2026-05-01", "platform": f"p{i}"} for i in range(1001)]
    assert client.post("/api/v1/mentions", json=too_many, headers=auth).json["error"]["field"] == "mentions"
    twice = [{"date": "2026-05-01", "platform": "x"}, {"date": "2026-05-01", "platform": "X", "count": 3}]
    resp = client.post("/api/v1/mentions", json=twice, headers=auth)
    assert resp.status_code == 422 and resp.json["error"]["field"] == "mentions[1].url"
    assert "mentions[0]" in resp.json["error"]["message"]


def test_csv_import_is_idempotent_and_updates_on_the_same_key(client: Any, auth: dict[str, str],
                                                            session: Any) -> None:
    headers = {**auth, "Content-Type": "text/csv"}
    first = client.post("/api/v1/mentions/import", data=CSV.encode(), headers=headers)
    assert first.status_code == 201, first.json
    assert first.json == {"rows": 4, "inserted": 4, "updated": 0, "unchanged": 0}
    before = stored(session)
    assert ("linkedin", 23, 0.3, "", "") in [r[1:] for r in before]
    assert ("x", 1, None, "", "") in [r[1:] for r in before]  # count defaults to 1
    assert ("trustpilot", 4, -0.5, "", "Two complaints,\nabout delivery") in [r[1:] for r in before]
    again = client.post("/api/v1/mentions/import", data=CSV.encode(), headers=headers)
    assert again.status_code == 200 and again.json == {"rows": 4, "inserted": 0, "updated": 0, "unchanged": 4}
    assert stored(session) == before
    revised = CSV.replace("2026-05-04,LinkedIn,23,0.3,,", "2026-05-04,linkedin,30,0.25,,late posts")
    third = client.post("/api/v1/mentions/import", data={"file": (io.BytesIO(revised.encode()), "mentions.csv")},
                        headers=auth, content_type="multipart/form-data")
    assert third.status_code == 200 and third.json == {"rows": 4, "inserted": 0, "updated": 1, "unchanged": 3}
    assert ("linkedin", 30, 0.25, "", "late posts") in [r[1:] for r in stored(session)]


def test_csv_errors_name_line_and_column_and_write_nothing(client: Any, auth: dict[str, str],
                                                           session: Any) -> None:
    headers = {**auth, "Content-Type": "text/csv"}
    bad = ("date,platform,count,sentiment,url,note\n"
           "2026-05-04,press,1,0.8,https://news.example/a,\"a note\nover two lines\"\n"
           "2026-05-04,linkedin,lots,,,\n"
           "2026-05-05,x,1,,,\n"
           "2026-05-05,x,2,,,\n"
           "2026-05-06,reddit,1,9,,\n")
    resp = client.post("/api/v1/mentions/import", data=bad.encode(), headers=headers)
    assert resp.status_code == 422
    error = resp.json["error"]
    assert error["line"] == 4 and error["field"] == "count" and error["message"].startswith("line 4 (count)")
    assert [(r["line"], r["field"]) for r in error["rejected"]] == [(4, "count"), (7, "sentiment")]
    assert stored(session) == []
    # Once the values are good, the repeated key (lines 5 and 6) is the problem.
    fixed = bad.replace("lots", "3").replace(",9,", ",0.9,")
    resp = client.post("/api/v1/mentions/import", data=fixed.encode(), headers=headers)
    assert resp.status_code == 422
    assert [(r["line"], r["field"]) for r in resp.json["error"]["rejected"]] == [(6, "url")]
    assert "line 5" in resp.json["error"]["rejected"][0]["message"]
    assert stored(session) == []


@pytest.mark.parametrize("text,needle", [
    ("", "empty"),
    ("date,platform\n", "no rows"),
    ("date;platform;count\n2026-05-01;x;1\n", "comma-separated"),
    ("date,count\n2026-05-01,1\n", "platform"),
    ("date,platform,likes\n2026-05-01,x,1\n", "likes"),
])
def test_unreadable_files(client: Any, auth: dict[str, str], text: str, needle: str) -> None:
    resp = client.post("/api/v1/mentions/import", data=text.encode(), headers={**auth, "Content-Type": "text/csv"})
    assert resp.status_code == 422
    assert resp.json["error"]["field"] == "file" and needle in resp.json["error"]["message"]


def test_utf16_is_refused(client: Any, auth: dict[str, str]) -> None:
    resp = client.post("/api/v1/mentions/import", data=CSV.encode("utf-16"),
                       headers={**auth, "Content-Type": "text/csv"})
    assert resp.status_code == 422 and "UTF-16" in resp.json["error"]["message"]


@pytest.mark.parametrize("role,status", [
    ("admin", 201), ("ingest", 201), ("marketer", 201), ("analyst", 403), ("staff", 403)])
def test_who_may_write(client: Any, role_key: Any, role: str, status: int) -> None:
    mention = {"date": "2026-05-01", "platform": f"r-{role}"}
    resp = client.post("/api/v1/mentions", json=mention, headers=bearer(role_key(role)))
    assert resp.status_code == status, resp.json
    csv_resp = client.post("/api/v1/mentions/import", data=b"date,platform\n2026-05-02,x\n",
                           headers={**bearer(role_key(role)), "Content-Type": "text/csv"})
    assert csv_resp.status_code == status, csv_resp.json
    assert client.post("/api/v1/mentions", json=mention).status_code == 401


@pytest.mark.parametrize("role,status", [("analyst", 200), ("admin", 200), ("marketer", 403), ("ingest", 403)])
def test_who_may_read(client: Any, role_key: Any, role: str, status: int) -> None:
    assert client.get("/api/v1/mentions", headers=bearer(role_key(role))).status_code == status
    assert client.get("/api/v1/reports/mentions", headers=bearer(role_key(role))).status_code == status
    assert client.get("/api/v1/reports/mentions").status_code == 401


def test_list_filters_and_delete(client: Any, auth: dict[str, str], session: Any) -> None:
    client.post("/api/v1/mentions/import", data=CSV.encode(), headers={**auth, "Content-Type": "text/csv"})
    window = {"from": "2026-05-01", "to": "2026-05-31"}
    every = client.get("/api/v1/mentions", query_string=window, headers=auth).json
    assert every["total"] == 4 and [m["date"] for m in every["items"]][0] == "2026-05-06"
    positive = client.get("/api/v1/mentions", query_string={**window, "sentiment": "positive"}, headers=auth).json
    assert {m["platform"] for m in positive["items"]} == {"press", "linkedin"}
    mixed = client.get("/api/v1/mentions", query_string={**window, "sentiment": "negative,unscored"}, headers=auth)
    assert {m["platform"] for m in mixed.json["items"]} == {"trustpilot", "x"}
    press = client.get("/api/v1/mentions", query_string={**window, "platform": ["press", "x"]}, headers=auth).json
    assert {m["platform"] for m in press["items"]} == {"press", "x"}
    assert client.get("/api/v1/mentions", query_string={"sentiment": "happy"}, headers=auth) \
        .json["error"]["field"] == "sentiment"
    target = press["items"][0]["id"]
    assert client.delete(f"/api/v1/mentions/{target}", headers=auth).status_code == 204
    assert client.delete(f"/api/v1/mentions/{target}", headers=auth).status_code == 404
    assert len(stored(session)) == 3


def test_cli_import(runner: Any, session: Any, tmp_path: Any) -> None:
    good = tmp_path / "mentions.csv"
    good.write_text(CSV, encoding="utf-8")
    result = runner.invoke(main, ["mentions", "import", str(good)])
    assert result.exit_code == 0, result.output
    assert "4 inserted, 0 updated, 0 unchanged" in result.output
    result = runner.invoke(main, ["mentions", "import", str(good)])
    assert result.exit_code == 0 and "0 inserted, 0 updated, 4 unchanged" in result.output
    before = stored(session)

    bad = tmp_path / "bad.csv"
    bad.write_text(CSV.replace("23,0.3", "23,3"), encoding="utf-8")
    result = runner.invoke(main, ["mentions", "import", str(bad)])
    assert result.exit_code == 1
    assert f"{bad}:3: sentiment must be" in result.output and "nothing imported" in result.output
    assert stored(session) == before

    header = tmp_path / "header.csv"
    header.write_text("day;platform\n2026-05-01;x\n", encoding="utf-8")
    result = runner.invoke(main, ["mentions", "import", str(header)])
    assert result.exit_code == 1 and "comma-separated" in result.output
    assert runner.invoke(main, ["mentions", "import", str(tmp_path / "missing.csv")]).exit_code == 2
