"""Accounts and keys for tests: an account of any role, its API key, a page session signed in as it."""
from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy.orm import Session

from tracker.auth.models import Account
from tracker.auth.service import assign_campaigns, create_account, create_key

PASSWORD = "a long enough test password"


def make_account(session: Session, role: str = "admin", campaigns: Iterable[str | int] | None = None,
                 email: str | None = None, password: str | None = None) -> Account:
    """Create an account (without a password unless given: hashing costs 0.2 s) and assign campaigns."""
    email = email or f"{role}-{uuid.uuid4().hex[:10]}@example.com"
    account = create_account(session, email, role, password)
    if campaigns:
        account = assign_campaigns(session, account.id, campaigns)
    return account


def make_key(session: Session, role: str = "admin", campaigns: Iterable[str | int] | None = None) -> str:
    """Return a new Bearer key of a new account with ``role``."""
    _, plain = create_key(session, make_account(session, role, campaigns), f"tests ({role})")
    return plain


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def sign_in_session(client: Any, account: Account) -> Any:
    """Make ``client``'s page session signed in as ``account`` (what a successful sign-in stores)."""
    from tracker.auth.access import signed_in_session_data
    with client.session_transaction() as sess:
        sess.clear()
        sess.update(signed_in_session_data(account))
    return client
