"""The ``tracker`` commands: database, server, links, QR sheets, exports, imports, demo data, spool.

The application factory registers them (:func:`register_commands`); the ``tracker`` program itself is
:data:`tracker.cli.main`, which builds the application, so it sits above the factory and these commands.
"""
from __future__ import annotations

import json
import os
import sys
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import click
import sqlalchemy as sa
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext

from tracker.cli_support import domain_errors, open_session
from tracker.csvout import dict_writer


def register_commands(app: Flask) -> None:
    from tracker.auth.cli import register as register_auth_commands
    from tracker.reports.cli import report_cli
    register_auth_commands(app)
    for group in (db_cli, links_cli, campaigns_cli, qr_cli, export_cli, import_cli, spool_cli, report_cli):
        app.cli.add_command(group)
    app.cli.add_command(serve)
    app.cli.add_command(demo)
    from tracker.privacy.cli import people_cli, retention_cli
    app.cli.add_command(people_cli)
    app.cli.add_command(retention_cli)
    from tracker.mentions.cli import mentions_cli
    app.cli.add_command(mentions_cli)
    from tracker.webhooks.cli import webhooks_cli
    app.cli.add_command(webhooks_cli)
    from tracker.geo.cli import geo_cli
    app.cli.add_command(geo_cli)  # tracker geo info / lookup
    from tracker.domains.cli import domains_cli
    app.cli.add_command(domains_cli)  # tracker domains add / list / delete


# ---- db ---------------------------------------------------------------------------------------
db_cli = AppGroup("db", help="Database schema.")


@db_cli.command("upgrade")
def db_upgrade() -> None:
    """Migrate the database to the newest schema."""
    from tracker.db import get_db, utcnow
    from tracker.migrate import current_revision, upgrade
    from tracker.partitions import ensure_partitions
    engine = get_db().engine
    upgrade(engine)
    created = ensure_partitions(engine, utcnow())  # PostgreSQL: this month and the next ones exist
    click.echo(f"database {engine.url.render_as_string(hide_password=True)} at revision {current_revision(engine)}")
    if created:
        click.echo(f"partitions created: {', '.join(created)}")


# ---- campaigns and links ----------------------------------------------------------------------
campaigns_cli = AppGroup("campaigns", help="Campaigns.")


@campaigns_cli.command("create")
@click.option("--name", required=True)
@click.option("--slug")
@click.option("--fallback-url")
@click.option("--start", "start_date")
@click.option("--end", "end_date")
@domain_errors
def campaigns_create(name: str, slug: str | None, fallback_url: str | None, start_date: str | None,
                     end_date: str | None) -> None:
    """Create a campaign."""
    from tracker.links.service import create_campaign
    data = {k: v for k, v in {"name": name, "slug": slug, "fallback_url": fallback_url,
                              "start_date": start_date, "end_date": end_date}.items() if v is not None}
    with open_session() as session:
        campaign = create_campaign(session, current_app.config["SETTINGS"], data)
    click.echo(f"{campaign.id}\t{campaign.slug}")


links_cli = AppGroup("links", help="Tracked links.")


@links_cli.command("create")
@click.option("--destination", required=True, help="Absolute http(s) URL.")
@click.option("--campaign", help="Campaign id or slug.")
@click.option("--source", "utm_source", required=True)
@click.option("--medium", "utm_medium", required=True)
@click.option("--utm-campaign")
@click.option("--term", "utm_term")
@click.option("--content", "utm_content")
@click.option("--kind", default="online", show_default=True)
@click.option("--label", default="")
@click.option("--slug", help="Custom short code.")
@click.option("--domain", help="Short-link domain's host (tracker domains list); default: public_base_url's.")
@click.option("--expires-at", help="ISO 8601 time with zone, e.g. 2026-12-31T23:00:00Z.")
@click.option("--experiment", help="The A/B test this link is an arm of (a slug; needs --variant).")
@click.option("--variant", help="The arm's name in the experiment, e.g. A or B (needs --experiment).")
@click.option("--rules", callback=lambda _ctx, param, value: _rules_text(value, param),
              help="Redirect rules as JSON, or @FILE to read them from a file (docs/guides/marketer.md).")
@click.option("--force", is_flag=True, help="Create even if the same link exists.")
@click.option("--json", "as_json", is_flag=True, help="Print the whole link as JSON.")
@domain_errors
def links_create(force: bool, as_json: bool, **fields: Any) -> None:
    """Create a tracked link and print its short URL, QR URL and tracked URL."""
    from tracker.links.serialize import links_out
    from tracker.links.service import create_link
    settings = current_app.config["SETTINGS"]
    data = {k: v for k, v in fields.items() if v is not None}
    with open_session() as session:
        link = create_link(session, settings, data, force=force)
        out = links_out(session, settings, [link])[0]
    if as_json:
        click.echo(json.dumps(out, default=str, indent=2))
    else:
        click.echo(f"code         {out['code']}\nshort_url    {out['short_url']}\n"
                   f"qr_url       {out['qr_url']}\ntracked_url  {out['tracked_url']}")


def _rules_text(value: str | None, param: Any) -> str | None:
    """``--rules``: JSON as given, or the text of the file named after ``@`` (``-``: standard input)."""
    if value is None or not value.startswith("@"):
        return value
    try:
        with click.open_file(value[1:], encoding="utf-8") as source:
            return str(source.read())
    except (OSError, UnicodeDecodeError) as exc:
        raise click.BadParameter(f"cannot read {value[1:]}: {exc}", param=param) from None


@links_cli.command("rules")
@click.argument("code")
@click.argument("rules", required=False)
@click.option("--domain", help="The link's short-link domain, when its code is on more than one.")
@click.option("--clear", is_flag=True, help="Remove every rule.")
@domain_errors
def links_rules(code: str, rules: str | None, domain: str | None, clear: bool) -> None:
    """Show a link's redirect rules, or set them: RULES is JSON or @FILE (``-`` for standard input)."""
    from tracker.links.service import get_link, update_link
    settings = current_app.config["SETTINGS"]
    if clear and rules is not None:
        raise click.UsageError("give RULES or --clear, not both")
    text = "[]" if clear else _rules_text(rules, None) if rules is not None else None
    with open_session() as session:
        if text is None:
            link = get_link(session, code, domain=domain, settings=settings)
        else:
            link = update_link(session, settings, code, {"rules": text}, domain=domain)
        click.echo(json.dumps(link.rules or [], indent=2, ensure_ascii=False))


# ---- QR ---------------------------------------------------------------------------------------
qr_cli = AppGroup("qr", help="QR codes.")


@qr_cli.command("sheet")
@click.argument("campaign")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--paper", type=click.Choice(["a4", "letter"]), default="a4", show_default=True)
@click.option("--all", "include_online", is_flag=True, help="Include online links too.")
@domain_errors
def qr_sheet(campaign: str, output: Path, paper: str, include_online: bool) -> None:
    """Write a printable PDF sheet of a campaign's offline QR codes."""
    from tracker.qr.sheets import campaign_sheet
    with open_session() as session:
        _, pdf = campaign_sheet(session, current_app.config["SETTINGS"], campaign, paper=paper,
                                include_online=include_online)
    tmp = output.with_name(output.name + ".part")
    tmp.write_bytes(pdf)
    tmp.replace(output)  # never leave a half-written sheet
    click.echo(f"wrote {output} ({len(pdf)} bytes)")


# ---- export -----------------------------------------------------------------------------------
export_cli = AppGroup("export", help="Exports.")

CLICK_COLUMNS = ("tid", "ts", "link_code", "via", "outcome", "visitor_id", "referrer_host", "user_agent",
                 "ip_hash", "browser", "os", "device_type", "is_bot", "utm_source", "utm_medium",
                 "utm_campaign", "utm_term", "utm_content", "country", "city",  # country/city: tracker/geo
                 "rule")  # the index of the link's redirect rule that sent it; empty: its own destination


def _day(value: str, name: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date like 2026-05-31", param_hint=name) from None


@export_cli.command("clicks")
@click.option("--from", "from_", required=True, help="First day (report time zone), e.g. 2026-05-01.")
@click.option("--to", "to", required=True, help="Last day, inclusive.")
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl"]), default="csv", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="File (default: stdout).")
def export_clicks(from_: str, to: str, fmt: str, output: Path | None) -> None:
    """Export raw clicks and scans (streamed; bots included and flagged)."""
    from tracker.links.models import Link
    from tracker.redirects.models import Click
    settings = current_app.config["SETTINGS"]
    first, last = _day(from_, "--from"), _day(to, "--to")
    if last < first:
        raise click.BadParameter("--to is before --from", param_hint="--to")
    start = datetime.combine(first, time.min, settings.tz).astimezone(UTC)
    end = datetime.combine(last + timedelta(days=1), time.min, settings.tz).astimezone(UTC)
    columns = [getattr(Click, c) for c in CLICK_COLUMNS if c != "link_code"]
    stmt = (sa.select(Link.code.label("link_code"), *columns).join(Link, Link.id == Click.link_id)
            .where(Click.ts >= start, Click.ts < end).order_by(Click.ts, Click.tid))
    target = output.with_name(output.name + ".part") if output else None
    out = target.open("w", newline="", encoding="utf-8") if target else sys.stdout
    count = 0
    try:
        writer = dict_writer(out, CLICK_COLUMNS, lineterminator="\r\n") if fmt == "csv" else None
        if writer:
            writer.writeheader()
        with open_session() as session:
            for row in session.execute(stmt.execution_options(yield_per=5000)).mappings():
                record = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in row.items()}
                if writer:
                    writer.writerow(record)
                else:
                    out.write(json.dumps(record) + "\n")
                count += 1
    except BaseException:
        if target:
            out.close()
            target.unlink(missing_ok=True)  # never leave a half-written export behind
        raise
    if target and output:
        out.close()
        target.replace(output)
        click.echo(f"wrote {count} clicks to {output}", err=True)


# ---- import -----------------------------------------------------------------------------------
import_cli = AppGroup("import", help="Imports.")


@import_cli.command("touchpoints")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--skip-bad-rows", is_flag=True,
              help="Import the good rows and list the bad ones (default: one bad row imports nothing).")
@domain_errors
def import_touchpoints(file: Path, skip_bad_rows: bool) -> None:
    """Import offline touchpoints (attendee lists, badge scans, PR, podcast codes) from a CSV file.

    Columns: customer_key, ts, kind and/or channel, campaign, label, source. Exits 1 when a bad row
    stopped the import (nothing written), 0 otherwise (skipped rows are listed on stderr).
    """
    from tracker.touchpoints.imports import decode_csv
    from tracker.touchpoints.imports import import_touchpoints as run_import
    settings = current_app.config["SETTINGS"]
    secret = current_app.extensions["tracker.redirects"]["ip_secret"]
    with file.open("rb") as fh:
        raw = fh.read(settings.max_upload_bytes + 1)
    if len(raw) > settings.max_upload_bytes:
        raise click.ClickException(f"{file} is larger than {settings.max_upload_bytes} bytes (max_upload_bytes)")
    with open_session() as session:
        result = run_import(session, settings, secret, decode_csv(raw), atomic=not skip_bad_rows)
    for problem in result.rejected:
        where = f" ({problem['field']})" if problem["field"] else ""
        click.echo(f"{file}:{problem['line']}: {problem['message']}{where}", err=True)
    if not result.committed:
        raise click.ClickException(f"{len(result.rejected)} bad row(s): nothing imported "
                                   "(fix them, or use --skip-bad-rows to import the good rows)")
    skipped = f", {len(result.rejected)} bad row(s) skipped" if result.rejected else ""
    click.echo(f"imported {result.created} touchpoint(s), {result.duplicates} already imported{skipped}")


# ---- spool ------------------------------------------------------------------------------------
spool_cli = AppGroup("spool", help="The durable spools: clicks, and conversions queued while the database was down.")


@spool_cli.command("status")
def spool_status() -> None:
    """Show spool segments waiting to be written (clicks; ``conversions``: queued requests, dead letters)."""
    state = current_app.extensions["tracker.redirects"]
    status = {**state["spool"].status(), "conversions": state["conversions"].status()}
    click.echo(json.dumps(status, indent=2))


@spool_cli.command("replay")
def spool_replay() -> None:
    """Write the spool files of stopped processes to the database (safe to run any time)."""
    state = current_app.extensions["tracker.redirects"]
    clicks = state["spool"].replay_orphans()
    queue = state["conversions"]
    requests = queue.spool.replay_orphans()
    click.echo(f"replayed {clicks} spooled lines")
    if requests:
        click.echo(f"replayed {requests} queued conversion requests")
    dead = queue.status()["dead_conversions"]
    if dead:
        click.echo(f"warning: {dead} queued conversions were refused by the database and kept in "
                   f"{queue.dead_path} (see docs/operations/durability.md); fix them and send them again", err=True)


# ---- serve ------------------------------------------------------------------------------------
def _partitions_ahead() -> None:
    """PostgreSQL: create this month's and the next months' partitions (docs/operations/postgresql.md#partitions).

    The retention thread does it daily too, and rows of a missing month wait in the default partition,
    so tables too busy to lock now (a lock timeout) only earn a warning.
    """
    from sqlalchemy.exc import OperationalError

    from tracker.db import get_db, utcnow
    from tracker.partitions import ensure_partitions
    try:
        created = ensure_partitions(get_db().engine, utcnow())
    except OperationalError as exc:
        if getattr(exc.orig, "sqlstate", None) != "55P03":  # not a lock timeout: the database is unavailable
            raise
        click.echo("warning: the monthly partitions ahead were not created (tables busy); the service retries "
                   "daily", err=True)
        return
    if created:
        click.echo(f"partitions created: {', '.join(created)}")


SERVE_THREADS = 4  # per worker; bench/redirect measures the servers with the same number
@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--workers", default=lambda: os.cpu_count() or 2, type=int, help="Worker processes.")
@click.option("--server", type=click.Choice(["granian", "gunicorn"]), default="granian", show_default=True)
@click.option("--threads", default=lambda: int(os.environ.get("TRACKER_SERVE_THREADS", SERVE_THREADS)), type=int,
              help=f"Request threads per worker (default {SERVE_THREADS}, or TRACKER_SERVE_THREADS).")
@with_appcontext
def serve(host: str, port: int, workers: int, server: str, threads: int) -> None:
    """Serve with a production WSGI server (granian by default; see docs/benchmarks.md)."""
    from tracker.auth.service import bootstrap_admin
    from tracker.conversions.spool import DB_UNAVAILABLE
    app = current_app
    settings = app.config["SETTINGS"]
    try:
        with open_session() as session:
            first = bootstrap_admin(session)
            if first is not None:
                account, password, key = first
                click.echo(f"First start: created the admin account {account.email} (shown only once):\n\n"
                           f"    password  {password}\n    API key   {key}\n\n"
                           "Sign in to the pages with the e-mail and password; create people's own accounts "
                           "with `tracker accounts create`.\n")
        app.extensions["tracker.redirects"]["spool"].replay_orphans()
        app.extensions["tracker.redirects"]["conversions"].spool.replay_orphans()
        _partitions_ahead()
    except DB_UNAVAILABLE as exc:
        # Start anyway (docs/operations/durability.md): links read before redirect from the last-known-links
        # file, clicks and conversions are spooled, and the drain threads replay once it is back.
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        click.echo(f"warning: the database is unavailable ({reason}); serving anyway: links read in the last "
                   "day redirect, clicks and conversions are spooled until it is back", err=True)
    click.echo(f"Tracker serving on http://{host}:{port}/  (public base URL {settings.public_base_url})",
               err=False)
    sys.stdout.flush()
    if server == "granian":
        from granian import Granian
        from granian.constants import Interfaces
        Granian("tracker.wsgi:app", address=host, port=port, interface=Interfaces.WSGI, workers=workers,
                blocking_threads=threads, respawn_failed_workers=True).serve()  # a crashed worker is replaced
    else:
        os.execvp(sys.executable, [sys.executable, "-m", "gunicorn", "--bind", f"{host}:{port}",
                                   "--workers", str(workers), "--threads", str(threads), "tracker.wsgi:app"])


# ---- demo -------------------------------------------------------------------------------------
@click.command("demo")
@click.option("--clicks", default=20_000, show_default=True, help="How many clicks and scans to generate.")
@click.option("--days", default=60, show_default=True)
@click.option("--seed", default=7, show_default=True)
@with_appcontext
@domain_errors
def demo(clicks: int, days: int, seed: int) -> None:
    """Fill the database with a realistic demo data set (idempotent: skips what exists)."""
    from tracker.demo import load_demo
    summary = load_demo(current_app, clicks=clicks, days=days, seed=seed)
    click.echo(summary)
