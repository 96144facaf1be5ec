"""What every ``tracker`` command module shares: domain errors as CLI messages, a database session.

It sits below the command modules (``tracker/commands.py``, ``tracker/auth/cli.py``, ``tracker/privacy/cli.py``)
so that none of them imports another for these helpers.
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import click
from sqlalchemy.orm import Session

from tracker.db import get_db
from tracker.errors import DomainError

__all__ = ["domain_errors", "open_session"]


def domain_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Print a service's domain error as a CLI message and exit non-zero."""
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except DomainError as exc:
            where = f" ({exc.field})" if exc.field else ""
            raise click.ClickException(f"{exc.message}{where}") from None
    return wrapper


def open_session() -> Session:
    """Return a new session of the current app's database (use it as a context manager)."""
    return get_db().Session()
