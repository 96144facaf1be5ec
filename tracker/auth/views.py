"""Accounts and API keys over the API: ``/api/v1/accounts`` (admins) and ``/api/v1/keys`` (everyone: own keys).

Admins list, create and change accounts (role, disabled, password, staff campaigns) and see and revoke
every key. Every account may list, create and revoke its own keys, which act with its own role.
"""
from __future__ import annotations

from typing import Any

from apiflask import APIBlueprint, Schema
from apiflask.fields import AwareDateTime, Boolean, Integer, List, Nested, String
from apiflask.validators import Length, OneOf

from tracker.auth import service
from tracker.auth.access import current_account, permits, requires
from tracker.auth.models import ROLES, Account, ApiKey
from tracker.db import db_session
from tracker.errors import Forbidden

bp = APIBlueprint("api_auth", __name__, url_prefix="/api/v1", tag="Accounts and keys")

CAMPAIGN_REFS = List(String(validate=Length(1, 100)), validate=Length(max=1000),
                     metadata={"description": "Campaign ids or slugs"})


class AccountIn(Schema):
    email = String(required=True, validate=Length(3, 254))
    role = String(required=True, validate=OneOf(ROLES))
    password = String(load_only=True, validate=Length(service.MIN_PASSWORD, service.MAX_PASSWORD),
                      metadata={"description": "Omit for an account that uses API keys only (no sign-in)."})
    campaigns = List(String(validate=Length(1, 100)), validate=Length(max=1000),
                     metadata={"description": "Campaign ids or slugs (staff accounts only)"})


class AccountPatch(Schema):
    role = String(validate=OneOf(ROLES))
    disabled = Boolean(metadata={"description": "A disabled account cannot sign in and its keys stop working."})
    password = String(load_only=True, validate=Length(service.MIN_PASSWORD, service.MAX_PASSWORD))


class CampaignsIn(Schema):
    campaigns = List(String(validate=Length(1, 100)), required=True, validate=Length(1, 1000),
                     metadata={"description": "Campaign ids or slugs"})


class AccountOut(Schema):
    id = Integer()
    email = String()
    role = String()
    disabled = Boolean()
    can_sign_in = Boolean(metadata={"description": "Whether the account has a password"})
    campaigns = List(String(), metadata={"description": "Slugs of the assigned campaigns (staff)"})
    created_at = AwareDateTime()
    last_sign_in_at = AwareDateTime(allow_none=True)


class AccountItem(AccountOut):
    """AccountOut nested in a list (a separate class keeps the OpenAPI components distinct)."""


class AccountList(Schema):
    items = List(Nested(AccountItem))


class KeyIn(Schema):
    name = String(required=True, validate=Length(1, 100))
    account = String(validate=Length(1, 254),
                     metadata={"description": "E-mail or id of the account (admins only; default: your own)"})


class KeyOut(Schema):
    id = Integer()
    prefix = String()
    name = String()
    account = String(metadata={"description": "E-mail of the account the key acts for"})
    role = String()
    active = Boolean(metadata={"description": "Not revoked and its account not disabled"})
    created_at = AwareDateTime()
    last_used_at = AwareDateTime(allow_none=True)
    revoked_at = AwareDateTime(allow_none=True)


class KeyCreated(KeyOut):
    key = String(metadata={"description": "The key itself: shown only in this answer, stored hashed"})


class KeyItem(KeyOut):
    """KeyOut nested in a list (a separate class keeps the OpenAPI components distinct)."""


class KeyList(Schema):
    items = List(Nested(KeyItem))


def account_out(account: Account) -> dict[str, Any]:
    return {"id": account.id, "email": account.email, "role": account.role, "disabled": account.disabled,
            "can_sign_in": account.password_hash is not None, "campaigns": [c.slug for c in account.campaigns],
            "created_at": account.created_at, "last_sign_in_at": account.last_sign_in_at}


def key_out(key: ApiKey) -> dict[str, Any]:
    return {"id": key.id, "prefix": key.prefix, "name": key.name, "account": key.account.email,
            "role": key.account.role, "active": key.revoked_at is None and not key.account.disabled,
            "created_at": key.created_at, "last_used_at": key.last_used_at, "revoked_at": key.revoked_at}


# ---- accounts -------------------------------------------------------------------------------------
@bp.get("/accounts")
@requires("accounts:manage")
@bp.output(AccountList)
def list_accounts() -> dict[str, Any]:
    """List accounts"""
    return {"items": [account_out(a) for a in service.list_accounts(db_session())]}


@bp.post("/accounts")
@requires("accounts:manage")
@bp.input(AccountIn, arg_name="data")
@bp.output(AccountOut, status_code=201)
def create_account(data: dict[str, Any]) -> dict[str, Any]:
    """Create an account (staff accounts may be given campaigns at once)"""
    account = service.create_account(db_session(), data["email"], data["role"], data.get("password"),
                                     campaigns=data.get("campaigns"))
    return account_out(account)


@bp.get("/accounts/me")
@requires("keys:own")
@bp.output(AccountOut)
def my_account() -> dict[str, Any]:
    """The account of the key making the request"""
    return account_out(current_account())  # type: ignore[arg-type]


@bp.get("/accounts/<int:account_id>")
@requires("accounts:manage")
@bp.output(AccountOut)
def get_account(account_id: int) -> dict[str, Any]:
    """Get an account"""
    return account_out(service.find_account(db_session(), account_id))


@bp.patch("/accounts/<int:account_id>")
@requires("accounts:manage")
@bp.input(AccountPatch, arg_name="data")
@bp.output(AccountOut)
def update_account(account_id: int, data: dict[str, Any]) -> dict[str, Any]:
    """Change an account's role, disable or enable it, or set its password"""
    account = service.update_account(db_session(), account_id, role=data.get("role"),
                                     disabled=data.get("disabled"), password=data.get("password"),
                                     acting=current_account())
    return account_out(account)


@bp.post("/accounts/<int:account_id>/campaigns")
@requires("accounts:manage")
@bp.input(CampaignsIn, arg_name="data")
@bp.output(AccountOut)
def assign_campaigns(account_id: int, data: dict[str, Any]) -> dict[str, Any]:
    """Assign campaigns to a staff account (already assigned ones are kept)"""
    return account_out(service.assign_campaigns(db_session(), account_id, data["campaigns"]))


@bp.delete("/accounts/<int:account_id>/campaigns/<campaign>")
@requires("accounts:manage")
@bp.output(AccountOut)
def unassign_campaign(account_id: int, campaign: str) -> dict[str, Any]:
    """Take a campaign (id or slug) away from an account"""
    return account_out(service.unassign_campaigns(db_session(), account_id, [campaign]))


# ---- keys -----------------------------------------------------------------------------------------
def _own_scope() -> Account | None:
    """None for admins (every key), else the caller's account (only its keys)."""
    account = current_account()
    return None if permits(account, "keys:manage") else account


@bp.get("/keys")
@requires("keys:own")
@bp.output(KeyList)
def list_keys() -> dict[str, Any]:
    """List API keys (admins: every key; others: their own); never the keys themselves"""
    return {"items": [key_out(k) for k in service.list_keys(db_session(), _own_scope())]}


@bp.post("/keys")
@requires("keys:own")
@bp.input(KeyIn, arg_name="data")
@bp.output(KeyCreated, status_code=201)
def create_key(data: dict[str, Any]) -> dict[str, Any]:
    """Create an API key; the answer holds the key, which cannot be shown again"""
    session = db_session()
    me = current_account()
    owner: Account | str = me  # type: ignore[assignment]
    if data.get("account") not in (None, ""):
        if not permits(me, "keys:manage"):
            raise Forbidden("only admins create keys for other accounts (leave out account)", "account")
        owner = data["account"]
    key, plain = service.create_key(session, owner, data["name"])
    return {**key_out(key), "key": plain}


@bp.delete("/keys/<key_ref>")
@requires("keys:own")
@bp.output(KeyOut)
def revoke_key(key_ref: str) -> dict[str, Any]:
    """Revoke a key by id or prefix (admins: any key; others: their own)"""
    return key_out(service.revoke_key(db_session(), key_ref, _own_scope()))
