"""Accounts and keys for tests: an account of any role, its API key, a page session signed in as it."""
from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from argon2 import PasswordHasher
from sqlalchemy.orm import Session

from tracker.auth.models import Account
from tracker.auth.service import assign_campaigns, create_account, create_key
from tracker.db import get_db

PASSWORD = "a long enough test password"
# Hashed once per test run: hashing costs 0.2 s, and most tests only need an account that can sign in.
PASSWORD_HASH = PasswordHasher().hash(PASSWORD)


def make_account(session: Session, role: str = "admin", campaigns: Iterable[str | int] | None = None,
                 email: str | None = None, password: str | None = None, can_sign_in: bool = False) -> Account:
    """Create an account and assign campaigns.

    Without ``password`` it has none (keys only), unless ``can_sign_in``: then its password is
    :data:`PASSWORD`, set from the hash made once (hashing costs 0.2 s).
    """
    email = email or f"{role}-{uuid.uuid4().hex[:10]}@example.com"
    account = create_account(session, email, role, password)
    if campaigns:
        account = assign_campaigns(session, account.id, campaigns)
    if can_sign_in and password is None:
        account.password_hash = PASSWORD_HASH
        session.commit()
    return account


def make_key(session: Session, role: str = "admin", campaigns: Iterable[str | int] | None = None) -> str:
    """Return a new Bearer key of a new account with ``role``."""
    _, plain = create_key(session, make_account(session, role, campaigns), f"tests ({role})")
    return plain


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def sign_in_as(client: Any, role: str = "admin", campaigns: Iterable[str | int] | None = None) -> Account:
    """Sign ``client``'s page session in as a new account of ``role`` (what a successful sign-in stores).

    The sign-in form itself is tested in test_accounts.py; this skips its 0.2 s of password hashing.
    """
    from tracker.auth.access import signed_in_session_data
    with get_db(client.application).Session() as session:
        account = make_account(session, role, campaigns, can_sign_in=True)
        with client.application.app_context():
            data = signed_in_session_data(session, account)
    with client.session_transaction() as sess:
        sess.clear()
        sess.update(data)
    return account
