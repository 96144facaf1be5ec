"""Accounts and API keys: validation, password hashing, sign-in, key lifecycle. Each function commits once.

Passwords are hashed with Argon2id (argon2-cffi's defaults, RFC 9106's low-memory profile) and
re-hashed on sign-in when those parameters change. API keys carry 190 random bits, so they are stored
as a plain SHA-256 hash (a slow password hash is for the low-entropy secrets people choose); a key is
shown once, belongs to one account and acts with that account's role.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from datetime import timedelta

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from email_validator import EmailNotValidError, validate_email
from sqlalchemy.orm import Session

from tracker.auth.models import ROLES, Account, ApiKey, PageSession
from tracker.db import utcnow
from tracker.errors import Conflict, NotFound, ValidationError
from tracker.inputs import row_id
from tracker.links.models import Campaign

__all__ = ["KEY_PREFIX", "MIN_PASSWORD", "ROLES", "assign_campaigns", "authenticate", "bootstrap_admin",
           "create_account", "create_key", "find_account", "find_key", "has_accounts", "list_accounts",
           "list_keys", "normalise_email", "revoke_key", "unassign_campaigns", "update_account", "verify_key"]

KEY_PREFIX = "trk_"
MIN_PASSWORD = 12
MAX_PASSWORD = 1024  # bounds the work one sign-in attempt can ask for

_hasher = PasswordHasher()
# Verified against when the e-mail is unknown, so a wrong address takes as long as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def key_hash(secret: str) -> str:
    """How an API key is stored (and looked up): its SHA-256, hex."""
    return hashlib.sha256(secret.encode()).hexdigest()


# ---- accounts -----------------------------------------------------------------------------------
def normalise_email(raw: str | None) -> str:
    """Return the address trimmed and lower-cased (addresses are unique case-insensitively).

    Raises
    ------
    ValidationError
        When it is not a syntactically valid address (field ``email``).
    """
    raw = (raw or "").strip()
    if not raw:
        raise ValidationError("email is required", "email")
    try:
        info = validate_email(raw, check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValidationError(f"email is not a valid address: {exc}", "email") from None
    email = info.normalized.lower()
    if len(email) > 254:
        raise ValidationError("email is longer than 254 characters", "email")
    return email


def _check_role(role: str | None) -> str:
    role = (role or "").strip().lower()
    if role not in ROLES:
        raise ValidationError(f"role must be one of {', '.join(ROLES)}", "role")
    return role


def _hash_password(password: str | None) -> str:
    if password is None or len(password) < MIN_PASSWORD:
        raise ValidationError(f"password must have at least {MIN_PASSWORD} characters", "password")
    if len(password) > MAX_PASSWORD:
        raise ValidationError(f"password must have at most {MAX_PASSWORD} characters", "password")
    return _hasher.hash(password)


def create_account(session: Session, email: str, role: str, password: str | None = None,
                   campaigns: Iterable[str | int] | None = None) -> Account:
    """Create an account; without a password it can use API keys but not sign in to the pages.

    ``campaigns`` (ids or slugs) are assigned at once; only staff accounts take campaigns.
    Raises ValidationError (``email``, ``role``, ``password``, ``campaigns``), NotFound (``campaigns``)
    or Conflict (``email`` taken).
    """
    email = normalise_email(email)
    role = _check_role(role)
    campaigns = list(campaigns or ())
    if campaigns and role != "staff":
        raise ValidationError(_staff_only(role), "campaigns")
    assigned = _campaigns(session, campaigns)
    password_hash = _hash_password(password) if password is not None else None
    if session.scalar(sa.select(Account.id).where(Account.email == email)) is not None:
        raise Conflict(f"an account with email {email} exists", "email")
    account = Account(email=email, role=role, password_hash=password_hash, disabled=False, campaigns=assigned)
    session.add(account)
    session.commit()
    return account


def _staff_only(role: str) -> str:
    return (f"only staff accounts are assigned to campaigns (this account is {role}, which is not limited "
            "to campaigns)")


def find_account(session: Session, ref: str | int) -> Account:
    """Return the account with this id or e-mail address, or raise NotFound (``account``)."""
    if isinstance(ref, int) or str(ref).isdigit():
        number = row_id(ref)  # larger than any id, or digits int() refuses: no such account
        account = session.get(Account, number) if number is not None else None
    else:
        account = session.scalar(sa.select(Account).where(Account.email == str(ref).strip().lower()))
    if account is None:
        raise NotFound(f"no account {ref}", "account")
    return account


def list_accounts(session: Session) -> list[Account]:
    return list(session.scalars(sa.select(Account).order_by(Account.id)))


def has_accounts(session: Session) -> bool:
    return bool(session.scalar(sa.select(sa.func.count()).select_from(Account)))


def update_account(session: Session, ref: str | int, *, role: str | None = None, disabled: bool | None = None,
                   password: str | None = None, acting: Account | None = None) -> Account:
    """Change an account's role, disabled flag or password.

    ``acting`` is the admin making the change: an admin cannot disable or demote their own account.
    Nobody (the CLI included) can disable or demote the last enabled admin, so an installation is
    never left without a working admin by mistake.
    """
    account = find_account(session, ref)
    if acting is not None and acting.id == account.id:
        if disabled:
            raise ValidationError("you cannot disable your own account", "disabled")
        if role is not None and _check_role(role) != account.role:
            raise ValidationError("you cannot change your own role", "role")
    demoted = role is not None and _check_role(role) != "admin"
    if account.role == "admin" and not account.disabled and (disabled or demoted):
        others = session.scalar(sa.select(sa.func.count()).select_from(Account).where(
            Account.role == "admin", Account.disabled.is_(False), Account.id != account.id))
        if not others:
            raise ValidationError(f"{account.email} is the last enabled admin: make another admin first",
                                  "disabled" if disabled else "role")
    if role is not None:
        account.role = _check_role(role)
    if disabled is not None:
        account.disabled = bool(disabled)
    if password is not None:
        account.password_hash = _hash_password(password)
    session.commit()
    return account


def _campaigns(session: Session, refs: Iterable[str | int]) -> list[Campaign]:
    found = []
    for ref in refs:
        ref = str(ref).strip()
        cond = Campaign.slug == ref.lower()
        if row_id(ref) is not None:
            cond = sa.or_(cond, Campaign.id == row_id(ref))
        campaign = session.scalar(sa.select(Campaign).where(cond))
        if campaign is None:
            raise NotFound(f"no campaign {ref}", "campaigns")
        found.append(campaign)
    return found


def assign_campaigns(session: Session, ref: str | int, campaigns: Iterable[str | int]) -> Account:
    """Give a staff account access to these campaigns (ids or slugs); assigning twice is a no-op."""
    account = find_account(session, ref)
    if account.role != "staff":
        raise ValidationError(_staff_only(account.role), "campaigns")
    for campaign in _campaigns(session, campaigns):
        if campaign not in account.campaigns:
            account.campaigns.append(campaign)
    session.commit()
    return account


def unassign_campaigns(session: Session, ref: str | int, campaigns: Iterable[str | int]) -> Account:
    """Take these campaigns (ids or slugs) away from an account; missing assignments are ignored."""
    account = find_account(session, ref)
    for campaign in _campaigns(session, campaigns):
        if campaign in account.campaigns:
            account.campaigns.remove(campaign)
    session.commit()
    return account


def authenticate(session: Session, email: str | None, password: str | None) -> Account | None:
    """Return the enabled account with this e-mail and password (noting the sign-in time), or None.

    Unknown addresses, wrong passwords, password-less and disabled accounts all give None after the
    same amount of hashing work, so the answer does not tell which addresses exist.
    """
    try:
        email = normalise_email(email)
    except ValidationError:
        email = ""
    account = session.scalar(sa.select(Account).where(Account.email == email)) if email else None
    stored = account.password_hash if account is not None and account.password_hash else _DUMMY_HASH
    try:
        _hasher.verify(stored, (password or "")[:MAX_PASSWORD])
    except (VerificationError, InvalidHashError):
        return None
    if account is None or account.password_hash is None or account.disabled:
        return None
    if _hasher.check_needs_rehash(account.password_hash):
        account.password_hash = _hasher.hash(password or "")
    account.last_sign_in_at = utcnow()
    session.commit()
    return account


def session_hash(session_id: str) -> str:
    """What is stored of a page session id (its SHA-256), so the table alone signs nobody in."""
    return hashlib.sha256(session_id.encode()).hexdigest()


def start_page_session(session: Session, account: Account, lifetime: timedelta) -> str:
    """Record a new page session of ``account`` and return its id (for the signed cookie).

    Sessions older than ``lifetime`` are deleted on the way (they are refused anyway), so the table
    holds about the sessions of the last ``lifetime``.
    """
    session.execute(sa.delete(PageSession).where(PageSession.created_at < utcnow() - lifetime))
    session_id = secrets.token_urlsafe(32)
    session.add(PageSession(id_hash=session_hash(session_id), account_id=account.id, created_at=utcnow()))
    session.commit()
    return session_id


def page_session_open(session: Session, session_id: object, account_id: int, lifetime: timedelta) -> bool:
    """Whether ``session_id`` is a live page session of ``account_id``: not signed out, younger than ``lifetime``."""
    if not isinstance(session_id, str) or not session_id:
        return False
    row = session.get(PageSession, session_hash(session_id))
    return row is not None and row.account_id == account_id and row.created_at >= utcnow() - lifetime


def end_page_session(session: Session, session_id: object) -> None:
    """Sign out: the session id is refused from now on, on every app server sharing the database."""
    if isinstance(session_id, str) and session_id:
        session.execute(sa.delete(PageSession).where(PageSession.id_hash == session_hash(session_id)))
        session.commit()


def bootstrap_admin(session: Session, email: str = "admin@example.com") -> tuple[Account, str, str] | None:
    """On an installation without accounts, create an admin with a random password and a key.

    Returns (account, password, key) to print once, or None when accounts exist already.
    """
    if has_accounts(session):
        return None
    password = secrets.token_urlsafe(15)
    account = create_account(session, email, "admin", password)
    _, plain = create_key(session, account, "first admin key")
    return account, password, plain


# ---- API keys -----------------------------------------------------------------------------------
def create_key(session: Session, account: Account | str | int, name: str) -> tuple[ApiKey, str]:
    """Create an API key of ``account``; return the row and the plain key (the only time it is available)."""
    if not isinstance(account, Account):
        account = find_account(session, account)
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise ValidationError("name is required (at most 100 characters)", "name")
    if account.disabled:
        raise ValidationError(f"account {account.email} is disabled", "account")
    prefix = secrets.token_hex(4)
    plain = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(24)}"
    key = ApiKey(account_id=account.id, name=name, prefix=prefix, key_hash=key_hash(plain))
    session.add(key)
    session.commit()
    return key, plain


def verify_key(session: Session, plain: str | None) -> ApiKey | None:
    """Return the active key matching ``plain`` of an enabled account (noting when it was used), or None."""
    if not plain or not plain.startswith(KEY_PREFIX) or plain.count("_") < 2:
        return None
    prefix = plain[len(KEY_PREFIX):].split("_", 1)[0]
    key = session.scalar(sa.select(ApiKey).join(ApiKey.account).where(
        ApiKey.prefix == prefix, ApiKey.revoked_at.is_(None), Account.disabled.is_(False)))
    if key is None or not hmac.compare_digest(key.key_hash, key_hash(plain)):
        return None
    now = utcnow()
    if key.last_used_at is None or now - key.last_used_at > timedelta(minutes=1):
        key.last_used_at = now
        session.commit()
    return key


def list_keys(session: Session, account: Account | None = None) -> list[ApiKey]:
    """Every key (or only ``account``'s), oldest first; never the keys themselves."""
    query = sa.select(ApiKey).order_by(ApiKey.id)
    if account is not None:
        query = query.where(ApiKey.account_id == account.id)
    return list(session.scalars(query))


def find_key(session: Session, ref: str, account: Account | None = None) -> ApiKey:
    """Return the key with this id or prefix (only among ``account``'s keys when given), or raise NotFound."""
    ref = str(ref).strip()
    cond = ApiKey.prefix == ref
    if row_id(ref) is not None:
        cond = sa.or_(cond, ApiKey.id == row_id(ref))
    query = sa.select(ApiKey).where(cond)
    if account is not None:
        query = query.where(ApiKey.account_id == account.id)
    key = session.scalar(query)
    if key is None:
        raise NotFound(f"no API key {ref}", "key")
    return key


def revoke_key(session: Session, ref: str, account: Account | None = None) -> ApiKey:
    """Revoke a key by id or prefix (revoking twice keeps the first time)."""
    key = find_key(session, ref, account)
    key.revoked_at = key.revoked_at or utcnow()
    session.commit()
    return key
