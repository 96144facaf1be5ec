"""``tracker domains add|list|delete``: what they print, and a clear message with a non-zero exit on bad input."""
from __future__ import annotations

from domains_support import BRAND, EVENT, LINK

from tracker.domains.models import Domain
from tracker.links.service import create_link


def test_add_list_delete(runner, session):
    result = runner.invoke(args=["domains", "add", "GO.Brand.no", "--not-found-url", "https://brand.example/"])
    assert result.exit_code == 0, result.output
    assert result.output == f"added https://{BRAND}/ (unknown codes go to https://brand.example/)\n"
    result = runner.invoke(args=["domains", "add", EVENT, "--scheme", "http"])
    assert result.exit_code == 0 and result.output == f"added http://{EVENT}/\n"

    result = runner.invoke(args=["domains", "list"])
    assert result.exit_code == 0
    assert result.output.splitlines() == [
        "https://go.example.com (default)\t0 link(s)\tnot found: 404 page",
        f"https://{BRAND}\t0 link(s)\tnot found: https://brand.example/",
        f"http://{EVENT}\t0 link(s)\tnot found: 404 page",
    ]
    result = runner.invoke(args=["domains", "delete", EVENT])
    assert result.exit_code == 0 and result.output == f"deleted {EVENT}\n"
    session.expire_all()
    assert [d.host for d in session.query(Domain)] == [BRAND]


def test_bad_input_exits_non_zero_with_the_reason(runner, app, session):
    cases = [
        (["domains", "add", "https://go.brand.no/"], "must be a host name only", "(host)"),
        (["domains", "add", BRAND, "--not-found-url", "ftp://x.example/"], "must start with http", "(not_found_url)"),
        (["domains", "add", "go.example.com"], "already the default domain", "(host)"),
        (["domains", "delete", "nowhere.example"], "not a short-link domain", "(host)"),
    ]
    for args, message, field in cases:
        result = runner.invoke(args=args)
        assert result.exit_code == 1, (args, result.output)
        assert message in result.output and field in result.output, (args, result.output)
    result = runner.invoke(args=["domains", "add", BRAND, "--scheme", "ftp"])
    assert result.exit_code == 2 and "Invalid value for '--scheme'" in result.output  # click's own check
    assert session.query(Domain).count() == 0  # nothing written

    assert runner.invoke(args=["domains", "add", BRAND]).exit_code == 0
    result = runner.invoke(args=["domains", "add", BRAND.upper()])
    assert result.exit_code == 1 and "already a short-link domain" in result.output
    create_link(session, app.config["SETTINGS"], {**LINK, "domain": BRAND})
    result = runner.invoke(args=["domains", "delete", BRAND])
    assert result.exit_code == 1 and "1 link(s) use go.brand.no" in result.output
    result = runner.invoke(args=["domains", "list"])
    assert f"https://{BRAND}\t1 link(s)" in result.output
