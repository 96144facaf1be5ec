"""Reports as CSV: the report's main table, one row per line, columns in the report's order."""
from __future__ import annotations

import io
from typing import Any

from tracker.csvout import dict_writer

__all__ = ["to_csv"]


def to_csv(report: dict[str, Any], name: str) -> tuple[str, str]:
    """Return (CSV text, file name) of ``report``'s main table (``report["csv"]`` names it; default rows).

    Numbers are written as Python prints them (full precision); missing values are empty fields; text
    a spreadsheet would run as a formula gets a leading ``'`` (:mod:`tracker.csvout`). The report's
    ``csv_delimiter`` (default ``,``) separates the fields: the paths export uses ``;``.
    """
    key = report.get("csv", "rows")
    rows: list[dict[str, Any]] = report[key]
    columns = report.get("columns") or (list(rows[0]) if rows else [])
    buffer = io.StringIO()
    writer = dict_writer(buffer, columns, extrasaction="ignore", delimiter=report.get("csv_delimiter", ","))
    writer.writeheader()
    writer.writerows(rows)
    parameters = report.get("parameters", {})
    filename = f"{name}_{parameters.get('from', '')}_{parameters.get('to', '')}.csv"
    return buffer.getvalue(), filename
