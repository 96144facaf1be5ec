"""``tracker accounts ...`` and ``tracker keys ...``: thin commands over :mod:`tracker.auth.service`.

Passwords never go on the command line (where ``ps`` and shell history would keep them): they are
prompted for twice, or read from standard input with ``--password-stdin``.
"""
from __future__ import annotations

import sys

import click
from flask import Flask
from flask.cli import AppGroup

from tracker.auth import service
from tracker.auth.models import ROLES
from tracker.cli_support import domain_errors, open_session

accounts_cli = AppGroup("accounts", help="People accounts and their roles.")
keys_cli = AppGroup("keys", help="API keys (each belongs to an account and acts with its role).")


def register(app: Flask) -> None:
    app.cli.add_command(accounts_cli)
    app.cli.add_command(keys_cli)


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        # One line: the password is what comes before the newline (a trailing newline is not part of it).
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


# ---- accounts -------------------------------------------------------------------------------------
@accounts_cli.command("create")
@click.option("--email", required=True)
@click.option("--role", required=True, type=click.Choice(ROLES))
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of standard input.")
@click.option("--no-password", is_flag=True, help="An account for API keys only: it cannot sign in to the pages.")
@domain_errors
def accounts_create(email: str, role: str, password_stdin: bool, no_password: bool) -> None:
    """Create an account (prompts for its password unless --password-stdin or --no-password)."""
    if password_stdin and no_password:
        raise click.UsageError("--password-stdin and --no-password exclude each other")
    password = None if no_password else _read_password(password_stdin)
    with open_session() as session:
        account = service.create_account(session, email, role, password)
        click.echo(f"{account.id}\t{account.email}\t{account.role}")


@accounts_cli.command("list")
def accounts_list() -> None:
    """List accounts: id, e-mail, role, state, assigned campaigns, last sign-in."""
    with open_session() as session:
        for a in service.list_accounts(session):
            state = "disabled" if a.disabled else "active"
            campaigns = ",".join(c.slug for c in a.campaigns) or "-"
            seen = a.last_sign_in_at.isoformat() if a.last_sign_in_at else "never"
            click.echo(f"{a.id}\t{a.email}\t{a.role}\t{state}\t{campaigns}\tlast sign-in {seen}")


@accounts_cli.command("assign")
@click.argument("email")
@click.argument("campaigns", nargs=-1, required=True)
@domain_errors
def accounts_assign(email: str, campaigns: tuple[str, ...]) -> None:
    """Give a staff account access to campaigns (ids or slugs)."""
    with open_session() as session:
        account = service.assign_campaigns(session, email, campaigns)
        click.echo(f"{account.email}: {', '.join(c.slug for c in account.campaigns)}")


@accounts_cli.command("unassign")
@click.argument("email")
@click.argument("campaigns", nargs=-1, required=True)
@domain_errors
def accounts_unassign(email: str, campaigns: tuple[str, ...]) -> None:
    """Take campaigns (ids or slugs) away from an account."""
    with open_session() as session:
        account = service.unassign_campaigns(session, email, campaigns)
        click.echo(f"{account.email}: {', '.join(c.slug for c in account.campaigns) or 'no campaigns'}")


@accounts_cli.command("set")
@click.argument("email")
@click.option("--role", type=click.Choice(ROLES))
@click.option("--disable/--enable", "disabled", default=None, help="Disabled accounts and their keys stop working.")
@click.option("--password-stdin", is_flag=True, help="Set a new password read from standard input.")
@click.option("--password", "prompt_password", is_flag=True, help="Prompt for a new password.")
@domain_errors
def accounts_set(email: str, role: str | None, disabled: bool | None, password_stdin: bool,
                 prompt_password: bool) -> None:
    """Change an account's role, disable or enable it, or set its password."""
    password = _read_password(password_stdin) if (password_stdin or prompt_password) else None
    with open_session() as session:
        a = service.update_account(session, email, role=role, disabled=disabled, password=password)
        click.echo(f"{a.id}\t{a.email}\t{a.role}\t{'disabled' if a.disabled else 'active'}")


# ---- keys -----------------------------------------------------------------------------------------
@keys_cli.command("create")
@click.option("--account", required=True, help="E-mail (or id) of the account the key acts for.")
@click.option("--name", required=True, help="Who or what the key is for.")
@domain_errors
def keys_create(account: str, name: str) -> None:
    """Create an API key and print it (shown only this once)."""
    with open_session() as session:
        key, plain = service.create_key(session, account, name)
        click.echo(plain)
        click.echo(f"key {key.prefix} ({name}) of {key.account.email} ({key.account.role}) created; "
                   "it is stored hashed and cannot be shown again.", err=True)


@keys_cli.command("list")
def keys_list() -> None:
    """List API keys (never the keys themselves)."""
    with open_session() as session:
        for key in service.list_keys(session):
            state = "revoked" if key.revoked_at else ("disabled account" if key.account.disabled else "active")
            used = key.last_used_at.isoformat() if key.last_used_at else "never"
            click.echo(f"{key.id}\t{key.prefix}\t{state}\t{key.name}\t{key.account.email}\t"
                       f"{key.account.role}\tlast used {used}")


@keys_cli.command("revoke")
@click.argument("key")
@domain_errors
def keys_revoke(key: str) -> None:
    """Revoke a key by id or prefix."""
    with open_session() as session:
        revoked = service.revoke_key(session, key)
        click.echo(f"key {revoked.prefix} revoked")
