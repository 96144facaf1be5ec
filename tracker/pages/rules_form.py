"""The redirect rules editor of a link's page: form rows to rules and back, and errors to the row they are about.

The form is plain HTML that works without script: one fieldset per rule (``rule-<row>-position``,
``rule-<row>-device`` checkboxes, ``-language``, ``-country``, ``-query``, ``-destination``, ``-remove``)
and one blank row to add a rule. ``static/app.js`` adds buttons to add and move rows. Rows are
saved in the order of their position numbers (ties: the order on the page); rows marked for removal and
blank rows are left out. Languages and countries are written as lists (``nb, no, nn``), query conditions
like a query string (``src=flyer&ref``: ``ref`` alone means any value). The links service validates the
result (:func:`tracker.redirects.rules.validate_rules`); its error names a path such as
``rules[1].conditions.country``, which :func:`row_errors` turns into the field of the row it came from.
"""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import unquote_plus

from werkzeug.datastructures import MultiDict

from tracker.errors import DomainError
from tracker.redirects.rules import DEVICES, MAX_RULES

__all__ = ["DEVICE_LABELS", "blank_row", "conditions_text", "form_rows", "is_blank", "query_text", "row_errors",
           "rows_of", "rules_of"]

DEVICE_LABELS = {"ios": "iPhone / iPad", "android": "Android", "mobile": "Phone or tablet", "desktop": "Computer",
                 "windows": "Windows", "macos": "macOS", "linux": "Linux"}
ROW_FIELD = re.compile(r"^rule-(\d{1,4})-(?:position|device|language|country|query|destination|remove)$")
ERROR_PATH = re.compile(r"^rules\[(\d+)\](?:\.conditions\.(device|language|country|query)|\.(destination))?")
MAX_ROWS = MAX_RULES + 10  # rows read from one form; more rules than MAX_RULES are refused by the service
_SPLIT = re.compile(r"[\s,;]+")


def _escape(text: str) -> str:
    """Write a query name or value so that :func:`_query` reads it back (``%``, ``+``, ``&``, ``=``, spaces)."""
    return text.replace("%", "%25").replace("+", "%2B").replace("&", "%26").replace("=", "%3D").replace(" ", "+")


def query_text(query: Mapping[str, str | None]) -> str:
    """``{"src": "flyer", "ref": None}`` -> ``src=flyer&ref``."""
    return "&".join(_escape(name) if value is None else f"{_escape(name)}={_escape(value)}"
                    for name, value in query.items())


def _query(text: str) -> dict[str, str | None]:
    """``src=flyer&ref`` -> ``{"src": "flyer", "ref": None}`` (percent-decoded, ``+`` a space, as browsers send)."""
    out: dict[str, str | None] = {}
    for part in text.strip().split("&"):
        if not part.strip():
            continue
        name, equals, value = part.strip().partition("=")
        out[unquote_plus(name)] = unquote_plus(value) if equals else None
    return out


def blank_row(row_id: int | str, position: int) -> dict[str, Any]:
    return {"id": str(row_id), "position": str(position), "device": [], "language": "", "country": "", "query": "",
            "destination": "", "remove": False}


def rows_of(rules: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The editor's rows for stored rules, and a blank one to add a rule with."""
    rows = []
    for i, rule in enumerate(rules):
        conditions = rule.get("conditions") or {}
        rows.append({**blank_row(i, i + 1), "device": list(conditions.get("device") or ()),
                     "language": ", ".join(conditions.get("language") or ()),
                     "country": ", ".join(conditions.get("country") or ()),
                     "query": query_text(conditions.get("query") or {}), "destination": rule.get("destination", "")})
    rows.append(blank_row(len(rules), len(rules) + 1))
    return rows


def form_rows(form: MultiDict[str, str]) -> list[dict[str, Any]]:
    """The rows a submitted editor holds, in page order (at most :data:`MAX_ROWS`)."""
    ids = sorted({int(match.group(1)) for key in form if (match := ROW_FIELD.match(key))})[:MAX_ROWS]
    rows = []
    for i in ids:
        rows.append({
            "id": str(i), "position": form.get(f"rule-{i}-position", "").strip()[:6],
            "device": [d for d in form.getlist(f"rule-{i}-device") if d in DEVICES],
            **{name: form.get(f"rule-{i}-{name}", "").strip() for name in ("language", "country", "query",
                                                                          "destination")},
            "remove": form.get(f"rule-{i}-remove") == "1",
        })
    return rows


def is_blank(row: Mapping[str, Any]) -> bool:
    return not (row["device"] or row["language"] or row["country"] or row["query"] or row["destination"])


def rules_of(rows: Sequence[Mapping[str, Any]]) -> tuple[list[dict[str, Any]], list[str]]:
    """The rules that ``rows`` hold, ordered by position, and the id of the row each rule came from.

    Rows marked for removal and blank rows are left out; a position that is not a number keeps the row
    where it is on the page.
    """
    kept = [(i, row) for i, row in enumerate(rows) if not row["remove"] and not is_blank(row)]

    def order(item: tuple[int, Mapping[str, Any]]) -> tuple[int, int]:
        i, row = item
        position = row["position"]
        return (int(position) if position.isdigit() else i + 1), i

    kept.sort(key=order)
    rules = []
    for _, row in kept:
        conditions: dict[str, Any] = {}
        if row["device"]:
            conditions["device"] = list(row["device"])
        for name in ("language", "country"):
            if row[name]:
                conditions[name] = [item for item in _SPLIT.split(row[name]) if item]
        if row["query"]:
            conditions["query"] = _query(row["query"])
        rules.append({"conditions": conditions, "destination": row["destination"]})
    return rules, [row["id"] for _, row in kept]


def row_errors(exc: DomainError, row_ids: Sequence[str]) -> dict[str, str]:
    """The service's error as ``{form field: message}``: ``rule-<row>-<field>``, ``rule-<row>`` for the row as a
    whole, or ``rules`` for the rules together."""
    match = ERROR_PATH.match(exc.field or "")
    if match is None or int(match.group(1)) >= len(row_ids):
        return {"rules": exc.message}
    row = row_ids[int(match.group(1))]
    name = match.group(2) or match.group(3)
    message = exc.message
    for prefix in (match.group(0) + ": ", match.group(0) + " "):  # the field is shown beside it: no path
        if name and message.startswith(prefix):
            message = message[len(prefix):]
            message = message[:1].upper() + message[1:]
            break
    return {f"rule-{row}-{name}" if name else f"rule-{row}": message}


def conditions_text(conditions: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The conditions of a rule as (label, value) pairs for the page."""
    out = []
    if conditions.get("device"):
        out.append(("Device", ", ".join(DEVICE_LABELS.get(d, d) for d in conditions["device"])))
    if conditions.get("language"):
        out.append(("Language", ", ".join(conditions["language"])))
    if conditions.get("country"):
        out.append(("Country", ", ".join(conditions["country"])))
    if conditions.get("query"):
        out.append(("Query", query_text(conditions["query"])))
    return out
