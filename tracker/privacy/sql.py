"""``column IN (values)`` for long lists, as one parameter on PostgreSQL."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

__all__ = ["one_of"]


def one_of(session: Session, column: Any, values: Sequence[Any]) -> Any:
    """``column`` is one of ``values``: ``= ANY(array)`` on PostgreSQL, ``IN (...)`` elsewhere.

    psycopg adapts every parameter while holding the GIL, which the redirect threads of the same
    process wait for; one array parameter instead of thousands keeps the drain's and the purge's long
    id lists from stalling them.
    """
    if session.get_bind().dialect.name == "postgresql":
        return column == sa.any_(sa.literal(list(values), postgresql.ARRAY(column.type)))
    return column.in_(values)
