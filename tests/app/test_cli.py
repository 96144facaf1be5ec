"""The ``tracker`` command line through Flask's CLI runner: campaigns, links, sheets, exports, db."""
from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, date, datetime, timedelta

import pypdfium2 as pdfium
import pytest
import sqlalchemy as sa
import zxingcpp

from tracker.commands import CLICK_COLUMNS
from tracker.links.models import Campaign, Link
from tracker.redirects.models import Click

IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
          "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1")
DESKTOP = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
           "Chrome/124.0.0.0 Safari/537.36")
SLACKBOT = "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)"
RAW_IPS = ("203.0.113.77", "198.51.100.23")


def ok(result):
    assert result.exit_code == 0, (result.output, result.exception)
    return result


def fields(output: str) -> dict[str, str]:
    """Parse the ``name  value`` lines that ``links create`` prints."""
    return dict(line.split(None, 1) for line in output.strip().splitlines())


def decode_pdf(path) -> list[str]:
    doc = pdfium.PdfDocument(path.read_bytes())
    try:
        return [code.text for page in doc
                for code in zxingcpp.read_barcodes(page.render(scale=200 / 72).to_pil(),
                                                   formats=zxingcpp.BarcodeFormat.QRCode)]
    finally:
        doc.close()


@pytest.fixture
def out_dir(tmp_path):
    """An empty folder for the files a command writes."""
    path = tmp_path / "out"
    path.mkdir()
    return path


# ---- campaigns and links ----------------------------------------------------------------------------
def test_campaigns_create(runner, session):
    result = ok(runner.invoke(args=["campaigns", "create", "--name", "Oslo Expo 2026", "--fallback-url",
                                    "https://example.com/expo-ended", "--start", "2026-05-05",
                                    "--end", "2026-05-07"]))
    campaign_id, slug = result.stdout.strip().split("\t")
    assert slug == "oslo-expo-2026"
    campaign = session.get(Campaign, int(campaign_id))
    assert (campaign.start_date, campaign.end_date) == (date(2026, 5, 5), date(2026, 5, 7))
    assert campaign.fallback_url == "https://example.com/expo-ended"

    again = runner.invoke(args=["campaigns", "create", "--name", "Oslo expo 2026"])
    assert again.exit_code == 1 and "already exists (slug)" in again.output


@pytest.mark.parametrize("args,field", [
    (["--start", "2026-13-01"], "start_date"),
    (["--start", "2026-05-07", "--end", "2026-05-01"], "end_date"),
    (["--fallback-url", "ftp://example.com/"], "fallback_url"),
    (["--slug", "Not a slug!"], "slug"),
])
def test_campaigns_create_errors_name_the_field(runner, args, field):
    result = runner.invoke(args=["campaigns", "create", "--name", "Bad", *args])
    assert result.exit_code == 1 and f"({field})" in result.output


LINK_ARGS = ["links", "create", "--destination", "https://example.com/expo?lang=no", "--source", "oslo-expo",
             "--medium", "event", "--kind", "event", "--label", "Booth 12, Oslo Expo"]


def test_links_create_prints_the_urls(runner, client, auth, app):
    ok(runner.invoke(args=["campaigns", "create", "--name", "Oslo Expo 2026"]))
    out = fields(ok(runner.invoke(args=[*LINK_ARGS, "--campaign", "oslo-expo-2026"])).stdout)
    base = app.config["SETTINGS"].public_base_url
    code = out["code"]
    assert out["short_url"] == f"{base}/r/{code}"
    assert out["qr_url"] == f"{base}/q/{code}"
    assert out["tracked_url"].startswith("https://example.com/expo?lang=no&utm_source=oslo-expo&utm_medium=event"
                                         "&utm_campaign=oslo-expo-2026")
    link = client.get(f"/api/v1/links/{code}", headers=auth).json
    assert (link["kind"], link["label"]) == ("event", "Booth 12, Oslo Expo")
    assert link["campaign"] == "oslo-expo-2026"
    redirect = client.get(f"/r/{code}")
    assert redirect.status_code == 302 and "utm_source=oslo-expo" in redirect.headers["Location"]


def test_links_create_json_slug_duplicates_and_force(runner):
    as_json = json.loads(ok(runner.invoke(args=[*LINK_ARGS, "--utm-campaign", "expo", "--slug", "Booth12",
                                                "--json"])).stdout)
    assert as_json["code"] == "booth12" and as_json["utm_campaign"] == "expo"
    dup = runner.invoke(args=[*LINK_ARGS, "--utm-campaign", "expo"])
    assert dup.exit_code == 1 and "same destination" in dup.output
    forced = fields(ok(runner.invoke(args=[*LINK_ARGS, "--utm-campaign", "expo", "--force"])).stdout)
    assert forced["code"] != "booth12"
    taken = runner.invoke(args=[*LINK_ARGS, "--utm-campaign", "expo", "--slug", "booth12", "--force"])
    assert taken.exit_code == 1 and "(slug)" in taken.output


@pytest.mark.parametrize("change,field", [
    (["--medium", "carrier-pigeon"], "utm_medium"),
    (["--destination", "javascript:alert(1)"], "destination"),
    (["--kind", "billboard"], "kind"),
    (["--campaign", "no-such-campaign"], "campaign"),
    (["--expires-at", "2026-12-31T23:00:00"], "expires_at"),
])
def test_links_create_errors_exit_non_zero_naming_the_field(runner, session, change, field):
    args = list(LINK_ARGS)
    option = change[0]
    if option in args:
        args[args.index(option) + 1] = change[1]
    else:
        args += change
    if "--campaign" not in args:
        args += ["--utm-campaign", "expo"]
    result = runner.invoke(args=args)
    assert result.exit_code == 1
    assert field in result.output and "Traceback" not in result.output
    assert session.scalar(sa.select(sa.func.count()).select_from(Link)) == 0


def test_bad_medium_lists_the_allowed_ones(runner):
    result = runner.invoke(args=["links", "create", "--destination", "https://example.com/", "--source", "x",
                                 "--medium", "Carrier Pigeon", "--utm-campaign", "y"])
    assert result.exit_code == 1
    assert "utm_medium 'carrier-pigeon' is not allowed" in result.output and "newsletter" in result.output


# ---- QR sheets --------------------------------------------------------------------------------------
@pytest.fixture
def expo_links(runner):
    ok(runner.invoke(args=["campaigns", "create", "--name", "Oslo Expo 2026"]))
    offline = []
    for n in range(1, 5):
        out = fields(ok(runner.invoke(args=[
            "links", "create", "--destination", "https://example.com/expo", "--campaign", "oslo-expo-2026",
            "--source", "oslo-expo", "--medium", "event", "--kind", "event",
            "--label", f"Booth {n}, Oslo Expo", "--content", f"booth-{n}"])).stdout)
        offline.append(out["qr_url"])
    online = fields(ok(runner.invoke(args=[
        "links", "create", "--destination", "https://example.com/expo", "--campaign", "oslo-expo-2026",
        "--source", "linkedin", "--medium", "social"])).stdout)["qr_url"]
    return offline, online


@pytest.mark.parametrize("paper", ["a4", "letter"])
def test_qr_sheet_writes_a_pdf_that_decodes(runner, out_dir, expo_links, paper):
    offline, online = expo_links
    target = out_dir / "sheet.pdf"
    result = ok(runner.invoke(args=["qr", "sheet", "oslo-expo-2026", "-o", str(target), "--paper", paper]))
    assert result.stdout.startswith(f"wrote {target} (")
    assert sorted(decode_pdf(target)) == sorted(offline)
    assert [p.name for p in out_dir.iterdir()] == ["sheet.pdf"]  # no .part file left behind

    everything = out_dir / "all.pdf"
    ok(runner.invoke(args=["qr", "sheet", "oslo-expo-2026", "-o", str(everything), "--all"]))
    assert sorted(decode_pdf(everything)) == sorted(offline + [online])


def test_qr_sheet_errors(runner, out_dir, expo_links):
    target = out_dir / "sheet.pdf"
    missing = runner.invoke(args=["qr", "sheet", "no-such-campaign", "-o", str(target)])
    assert missing.exit_code == 1 and "(campaign)" in missing.output
    ok(runner.invoke(args=["campaigns", "create", "--name", "Empty"]))
    empty = runner.invoke(args=["qr", "sheet", "empty", "-o", str(target)])
    assert empty.exit_code == 1 and "(links)" in empty.output
    a3 = runner.invoke(args=["qr", "sheet", "oslo-expo-2026", "-o", str(target), "--paper", "a3"])
    assert a3.exit_code == 2
    assert list(out_dir.iterdir()) == []


# ---- export -----------------------------------------------------------------------------------------
@pytest.fixture
def traffic(runner, client, drain, app):
    """Clicks, scans and a bot through the real redirect, drained to the database."""
    out = fields(ok(runner.invoke(args=[
        "links", "create", "--destination", "https://example.com/landing", "--source", "newsletter",
        "--medium", "email", "--utm-campaign", "spring", "--content", "header"])).stdout)
    code = out["code"]
    phone = client.application.test_client()
    phone.get(f"/q/{code}", headers={"User-Agent": IPHONE}, environ_base={"REMOTE_ADDR": RAW_IPS[0]})
    phone.get(f"/r/{code}", headers={"User-Agent": IPHONE}, environ_base={"REMOTE_ADDR": RAW_IPS[0]})
    client.get(f"/r/{code}", headers={"User-Agent": DESKTOP, "Referer": "https://mail.google.com/mail/u/0/"},
               environ_base={"REMOTE_ADDR": RAW_IPS[1]})
    client.get(f"/r/{code}", headers={"User-Agent": SLACKBOT}, environ_base={"REMOTE_ADDR": RAW_IPS[1]})
    client.get("/r/notacode", environ_base={"REMOTE_ADDR": RAW_IPS[1]})  # an orphan: not a click row
    assert drain() == 5
    today = datetime.now(UTC).astimezone(app.config["SETTINGS"].tz).date()
    return {"code": code, "today": today, "count": 4}


def test_export_clicks_csv(runner, out_dir, traffic, session):
    target = out_dir / "clicks.csv"
    first, last = traffic["today"] - timedelta(days=1), traffic["today"] + timedelta(days=1)
    result = ok(runner.invoke(args=["export", "clicks", "--from", first.isoformat(), "--to", last.isoformat(),
                                    "--format", "csv", "-o", str(target)]))
    assert f"wrote {traffic['count']} clicks to {target}" in result.stderr
    text = target.read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert text.splitlines()[0].split(",") == list(CLICK_COLUMNS)
    assert len(rows) == traffic["count"]
    assert {r["link_code"] for r in rows} == {traffic["code"]}
    assert sorted(r["via"] for r in rows) == ["link", "link", "link", "qr"]
    assert [r["is_bot"] for r in rows].count("True") == 1
    assert {r["tid"] for r in rows} == set(session.scalars(sa.select(Click.tid)))
    assert all(re.fullmatch(r"[0-9a-f]{32}", r["ip_hash"]) for r in rows)
    assert {r["referrer_host"] for r in rows} == {"", "mail.google.com"}
    assert all(datetime.fromisoformat(r["ts"]).tzinfo is not None for r in rows)
    assert [r["ts"] for r in rows] == sorted(r["ts"] for r in rows)
    for ip in RAW_IPS:  # never the raw address, in any column
        assert ip not in text
    assert [p.name for p in out_dir.iterdir()] == ["clicks.csv"]


def test_export_clicks_jsonl_to_stdout(runner, traffic):
    day = traffic["today"].isoformat()
    result = ok(runner.invoke(args=["export", "clicks", "--from", day, "--to", day, "--format", "jsonl"]))
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(records) == traffic["count"]
    assert all(set(r) == set(CLICK_COLUMNS) for r in records)
    assert all(ip not in result.stdout for ip in RAW_IPS)


def test_export_clicks_outside_the_range_is_empty(runner, out_dir, traffic):
    target = out_dir / "old.csv"
    past = (traffic["today"] - timedelta(days=30)).isoformat()
    ok(runner.invoke(args=["export", "clicks", "--from", past, "--to", past, "-o", str(target)]))
    assert target.read_text().splitlines() == [",".join(CLICK_COLUMNS)]


@pytest.mark.parametrize("dates,hint", [
    (["--from", "2026-02-30", "--to", "2026-03-01"], "--from"),
    (["--from", "2026-03-01", "--to", "yesterday"], "--to"),
    (["--from", "2026-03-02", "--to", "2026-03-01"], "--to"),
])
def test_export_bad_dates_exit_non_zero(runner, out_dir, dates, hint):
    target = out_dir / "x.csv"
    result = runner.invoke(args=["export", "clicks", *dates, "-o", str(target)])
    assert result.exit_code == 2
    assert hint in result.output
    assert list(out_dir.iterdir()) == []


def test_export_needs_both_dates(runner):
    assert runner.invoke(args=["export", "clicks", "--from", "2026-03-01"]).exit_code == 2


# ---- db and spool -----------------------------------------------------------------------------------
def test_db_upgrade_is_idempotent(runner, session):
    ok(runner.invoke(args=["campaigns", "create", "--name", "Kept"]))
    outputs = [ok(runner.invoke(args=["db", "upgrade"])).stdout for _ in range(2)]
    assert outputs[0] == outputs[1]
    assert re.search(r"at revision \w+", outputs[0])
    session.expire_all()
    assert [c.slug for c in session.scalars(sa.select(Campaign))] == ["kept"]


def test_spool_status_and_replay(runner, client, drain, app):
    status = json.loads(ok(runner.invoke(args=["spool", "status"])).stdout)
    assert status["directory"] == str(app.config["SETTINGS"].spool_path)
    created = ok(runner.invoke(args=["links", "create", "--destination", "https://example.com/",
                                     "--source", "x", "--medium", "email", "--utm-campaign", "y"]))
    code = fields(created.stdout)["code"]
    client.get(f"/r/{code}", environ_base={"REMOTE_ADDR": RAW_IPS[0]})
    status = json.loads(ok(runner.invoke(args=["spool", "status"])).stdout)
    (segment,) = status["segments"]
    assert segment["file"].startswith("clicks-") and segment["bytes"] > 0
    assert RAW_IPS[0] not in (app.config["SETTINGS"].spool_path / segment["file"]).read_text()
    assert drain() == 1
    # Replay only takes segments of stopped processes: this process's own segment is left alone.
    assert ok(runner.invoke(args=["spool", "replay"])).stdout.strip() == "replayed 0 spooled lines"
