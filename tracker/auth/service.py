"""API keys: created once and shown once, stored as a SHA-256 hash, revocable."""
from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from tracker.auth.models import ApiKey
from tracker.db import utcnow
from tracker.errors import NotFound, ValidationError

KEY_PREFIX = "trk_"


def _hash(secret: str) -> str:
    # Keys carry 190 random bits, so a plain (fast) hash is enough; a password hash is for the
    # low-entropy secrets people choose (accounts come in a later issue).
    return hashlib.sha256(secret.encode()).hexdigest()


def create_key(session: Session, name: str) -> tuple[ApiKey, str]:
    """Create an API key; return the row and the plain key (the only time it is available)."""
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise ValidationError("name is required (at most 100 characters)", "name")
    prefix = secrets.token_hex(4)
    plain = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(24)}"
    key = ApiKey(name=name, prefix=prefix, key_hash=_hash(plain))
    session.add(key)
    session.commit()
    return key, plain


def verify_key(session: Session, plain: str | None) -> ApiKey | None:
    """Return the active key matching ``plain`` (and note when it was used), or None."""
    if not plain or not plain.startswith(KEY_PREFIX) or plain.count("_") < 2:
        return None
    prefix = plain[len(KEY_PREFIX):].split("_", 1)[0]
    key = session.scalar(sa.select(ApiKey).where(ApiKey.prefix == prefix, ApiKey.revoked_at.is_(None)))
    if key is None or not hmac.compare_digest(key.key_hash, _hash(plain)):
        return None
    now = utcnow()
    if key.last_used_at is None or now - key.last_used_at > timedelta(minutes=1):
        key.last_used_at = now
        session.commit()
    return key


def list_keys(session: Session) -> list[ApiKey]:
    return list(session.scalars(sa.select(ApiKey).order_by(ApiKey.id)))


def revoke_key(session: Session, key_id_or_prefix: str) -> ApiKey:
    key = session.scalar(sa.select(ApiKey).where(
        sa.or_(ApiKey.prefix == key_id_or_prefix,
               ApiKey.id == (int(key_id_or_prefix) if key_id_or_prefix.isdigit() else -1))))
    if key is None:
        raise NotFound(f"no API key {key_id_or_prefix}", "key")
    key.revoked_at = key.revoked_at or utcnow()
    session.commit()
    return key


def has_keys(session: Session) -> bool:
    return session.scalar(sa.select(sa.func.count()).select_from(ApiKey)) > 0
