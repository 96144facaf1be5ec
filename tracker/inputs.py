"""Small input rules shared by services: what a row id may be, times in UTC, CSV records and their lines.

Ids are ``INTEGER`` columns (PostgreSQL ``int4``). A path or CSV cell of digits that is no possible id
(``99999999999999999999``, or Unicode digits such as ``²`` that ``str.isdigit`` accepts and ``int``
refuses) must give "not found" or "invalid", never a database error.
"""
from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from tracker.errors import ValidationError

__all__ = ["MAX_ROW_ID", "csv_records", "header_columns", "nul_field", "row_id", "to_utc"]

MAX_ROW_ID = 2**31 - 1
_DIGITS = re.compile(r"[0-9]{1,10}")


def row_id(value: object) -> int | None:
    """Return ``value`` as a possible row id (1 to 2**31-1), or None when it cannot be one.

    >>> row_id("42"), row_id(7), row_id("99999999999"), row_id("²"), row_id("slug")
    (42, 7, None, None, None)
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and _DIGITS.fullmatch(value.strip()):
        number = int(value.strip())
    else:
        return None
    return number if 1 <= number <= MAX_ROW_ID else None


def to_utc(value: datetime, field: str) -> datetime:
    """Return the aware ``value`` in UTC; a time that has no UTC equivalent (year 1 at +01:00, year 9999
    at -01:00) raises ``ValidationError`` naming ``field`` instead of ``OverflowError``."""
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValidationError(f"{field} is out of the range of dates the service stores", field) from None


def nul_field(value: Any, name: str = "") -> str | None:
    """Return the name of the first string in ``value`` (JSON-like data) holding a NUL character, or None.

    PostgreSQL text cannot hold NUL, and no field of the service needs it: such input is refused (422)
    before it reaches a service rather than failing in the database.

    >>> nul_field({"a": ["ok", "b\\x00d"]}), nul_field({"a": 1})
    ('a', None)
    """
    if isinstance(value, str):
        return name if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            found = nul_field(key, str(key)) or nul_field(item, str(key))
            if found is not None:
                return found
    elif isinstance(value, list):
        for item in value:
            found = nul_field(item, name)
            if found is not None:
                return found
    return None


def csv_records(text: str) -> Iterator[tuple[int, list[str]]]:
    """Yield (line number, values) for each record of CSV ``text`` that has a non-blank cell.

    The line number is where the record starts in the file (the first line is 1), counting the line
    breaks inside quoted cells and the blank lines skipped, so it is the line a spreadsheet or editor
    shows. An unreadable file raises ``ValidationError`` naming ``file`` and the line.
    """
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    line = 1
    try:
        for values in reader:
            if any(value.strip() for value in values):  # rows of empty cells (spreadsheet exports) are skipped
                yield line, values
            line = reader.line_num + 1
    except csv.Error as exc:
        raise ValidationError(f"the CSV cannot be read (line {line}): {exc}", "file") from None


def header_columns(names: list[str], aliases: Mapping[str, str]) -> list[str]:
    """The column names of a CSV header line: trimmed, lower case, spaces and dashes as ``_``, ``aliases`` applied.

    A one-column header holding ``;``, a tab or ``|`` is a file saved with another separator: that is
    refused with a ValidationError naming ``file``.
    """
    columns = []
    for name in names:
        key = name.strip().lower().replace(" ", "_").replace("-", "_")
        columns.append(aliases.get(key, key))
    if len(columns) == 1:
        for sep in (";", "\t", "|"):
            if sep in names[0]:
                raise ValidationError(f"the CSV must be comma-separated; its header is separated by {sep!r}", "file")
    return columns
