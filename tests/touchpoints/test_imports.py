"""Offline touchpoint import (API and CLI): per-row validation, atomic and skip modes, no duplicates."""
from __future__ import annotations

import io

import pytest
import sqlalchemy as sa

from tracker.people.models import Identity
from tracker.touchpoints.models import OfflineTouch

GOOD = (
    "customer_key,ts,kind,campaign,label,source\n"
    "kari@example.no,2026-05-12T10:00:00+02:00,event,oslo-expo-2026,Booth 12,oslo-expo\n"
    "ola@example.no,2026-05-12,event,,Badge scan,\n"
    "C-1001,2026-05-13T09:00:00Z,podcast,,Promo code TECH,tech-pod\n"
)
BAD = (
    "customer_key,ts,kind,channel,label\n"
    "kari@example.no,2026-05-12T10:00:00+02:00,event,,Booth\n"
    ",2026-05-12T10:00:00+02:00,event,,no key\n"
    "ola@example.no,next week,event,,bad time\n"
    "per@example.no,2026-05-12T10:00:00Z,juggling,,bad kind\n"
    '"anne@example.no",2026-05-12T10:00:00Z,,Telepathy,"bad\nchannel"\n'
    "liv@example.no,2099-01-01T00:00:00Z,pr,,future\n"
    "nils@example.no,2026-05-12T10:00:00Z,,Podcast,channel only\n"
)


def touches(session):
    session.expire_all()
    return list(session.scalars(sa.select(OfflineTouch).order_by(OfflineTouch.id)))


def post(client, auth, text, atomic=None, as_file=False):
    url = "/api/v1/touchpoints/import" + ("" if atomic is None else f"?atomic={str(atomic).lower()}")
    data = text.encode() if isinstance(text, str) else text
    if as_file:
        return client.post(url, data={"file": (io.BytesIO(data), "attendees.csv")}, headers=auth,
                           content_type="multipart/form-data")
    return client.post(url, data=data, headers={**auth, "Content-Type": "text/csv"})


def test_import_creates_touches_and_people_and_reimport_adds_nothing(client, auth, campaign, session):
    resp = post(client, auth, GOOD, as_file=True)
    assert resp.status_code == 201, resp.json
    assert resp.json["created"] == 3 and resp.json["duplicates"] == 0 and resp.json["rejected"] == []
    stored = touches(session)
    assert [t.kind for t in stored] == ["event", "event", "podcast"]
    assert stored[0].campaign_id == campaign["id"] and stored[0].utm_source == "oslo-expo"
    assert stored[1].ts.isoformat() == "2026-05-11T22:00:00+00:00"  # a date: midnight in the report time zone
    assert len({t.person_id for t in stored}) == 3
    assert session.scalar(sa.select(sa.func.count()).select_from(Identity).where(Identity.kind == "customer")) == 3

    again = post(client, auth, GOOD)
    assert again.status_code == 200
    assert again.json["created"] == 0 and again.json["duplicates"] == 3
    assert len(touches(session)) == 3


def test_the_imported_person_is_the_converting_person(client, auth, campaign, session):
    assert post(client, auth, GOOD).status_code == 201
    conv = client.post("/api/v1/conversions", json={"external_id": "d", "type": "lead",
                                                    "customer_key": "KARI@example.no"}, headers=auth).json
    kari = next(t for t in touches(session) if t.label == "Booth 12")
    assert conv["person_id"] == kari.person_id


def test_atomic_import_rejects_the_file_with_line_numbers(client, auth, session):
    resp = post(client, auth, BAD)
    assert resp.status_code == 422
    assert resp.json["committed"] is False and resp.json["created"] == 0
    # the quoted newline in line 6 makes the next record line 8
    assert [(r["line"], r["field"]) for r in resp.json["rejected"]] == [
        (3, "customer_key"), (4, "ts"), (5, "kind"), (6, "channel"), (8, "ts")]
    assert touches(session) == []
    assert session.scalar(sa.select(sa.func.count()).select_from(Identity)) == 0


def test_skip_mode_imports_the_good_rows(client, auth, session):
    resp = post(client, auth, BAD, atomic=False)
    assert resp.status_code == 201
    assert resp.json["created"] == 2 and len(resp.json["rejected"]) == 5
    stored = touches(session)
    assert [(t.kind, t.channel) for t in stored] == [("event", None), ("other", "Podcast")]


@pytest.mark.parametrize(("body", "needle"), [
    (b"", "empty"),
    (b"   \n", "empty"),
    (b"customer_key;ts;kind\nkari@example.no;2026-05-12;event\n", "comma-separated"),
    (b"kari@example.no,2026-05-12,event\n", "header"),
    ("customer_key,ts,kind\nkåre@example.no,2026-05-12,event\n".encode("latin-1"), "UTF-8"),
    ("customer_key,ts,kind\nx,2026-05-12,event\n".encode("utf-16"), "UTF-16"),
    (b"customer_key,ts,label\nx,2026-05-12,a\n", "kind or a channel"),
    (b"customer_key,ts,kind\n", "no rows"),
    (b'customer_key,ts,kind\n"unterminated,2026-05-12,event\n', "cannot be read"),
])
def test_malformed_files_get_a_clear_error(client, auth, session, body, needle):
    resp = post(client, auth, body)
    assert resp.status_code == 422, resp.json
    assert resp.json["error"]["field"] == "file"
    assert needle in resp.json["error"]["message"]
    assert touches(session) == []


def test_rows_with_too_many_values_are_rejected(client, auth):
    resp = post(client, auth, "customer_key,ts,kind\na,2026-05-12T10:00:00Z,event,extra\n", atomic=False)
    assert resp.status_code == 200 and resp.json["rejected"][0]["line"] == 2


def test_unknown_campaign_is_a_row_error(client, auth):
    resp = post(client, auth, "customer_key,ts,kind,campaign\na,2026-05-12T10:00:00Z,event,nope\n")
    assert resp.status_code == 422 and resp.json["rejected"] == [
        {"line": 2, "field": "campaign", "message": "campaign 'nope' does not exist (give its id or slug)"}]


def test_import_needs_a_key(client):
    assert post(client, {}, GOOD).status_code == 401


def test_cli_import_exit_codes(runner, tmp_path, session):
    good = tmp_path / "good.csv"
    good.write_text(GOOD.replace("oslo-expo-2026", ""), encoding="utf-8")
    bad = tmp_path / "bad.csv"
    bad.write_text(BAD, encoding="utf-8")
    semicolons = tmp_path / "semi.csv"
    semicolons.write_text("customer_key;ts;kind\nx;2026-05-12;event\n", encoding="utf-8")

    result = runner.invoke(args=["import", "touchpoints", str(bad)])
    assert result.exit_code == 1
    assert f"{bad}:3: customer_key is required" in result.output and "nothing imported" in result.output
    assert touches(session) == []

    result = runner.invoke(args=["import", "touchpoints", str(bad), "--skip-bad-rows"])
    assert result.exit_code == 0, result.output
    assert "imported 2 touchpoint(s)" in result.output and "5 bad row(s) skipped" in result.output

    result = runner.invoke(args=["import", "touchpoints", str(good)])
    assert result.exit_code == 0 and "imported 3 touchpoint(s), 0 already imported" in result.output
    result = runner.invoke(args=["import", "touchpoints", str(good)])
    assert result.exit_code == 0 and "imported 0 touchpoint(s), 3 already imported" in result.output
    assert len(touches(session)) == 5

    result = runner.invoke(args=["import", "touchpoints", str(semicolons)])
    assert result.exit_code == 1 and "comma-separated" in result.output
    result = runner.invoke(args=["import", "touchpoints", str(tmp_path / "missing.csv")])
    assert result.exit_code == 2
