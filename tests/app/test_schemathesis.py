"""schemathesis against the WSGI app's own ``/api/openapi.json``: every operation, no 5xx, documented answers.

Each operation of the document is called with generated valid and invalid requests (hypothesis with
``derandomize=True``: the same examples on every run, so CI is repeatable) and every answer is
checked: never a server error, a status code the document lists for the operation, the documented
content type, and a body matching the documented schema (error bodies included:
``{"error": {"code", "message", "field"}}``). Failures of every operation are collected and reported
together.

(``schemathesis.pytest.from_fixture`` reads a private attribute pytest 9 no longer has, so the
operations are walked here with schemathesis' strategies instead of its pytest plugin.)
"""
from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# Examples per operation (valid and invalid requests together) for each database: the admin reaches
# every handler, the other roles mostly their refusals. About 2 minutes for SQLite + PostgreSQL.
EXAMPLES = 50
OTHER_ROLE_EXAMPLES = 15


def _check_operations(app: Any, headers: dict[str, str], examples: int = EXAMPLES) -> list[str]:
    """Run every operation with generated requests; return one line per failing operation."""
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app, headers=headers)
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20, [op.label for op in operations]
    for operation in operations:
        strategy = st.one_of(operation.as_strategy(GenerationMode.POSITIVE),
                             operation.as_strategy(GenerationMode.NEGATIVE))

        @settings(max_examples=examples, derandomize=True, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck), report_multiple_bugs=False)
        @given(case=strategy)
        def run(case: Any) -> None:
            response = case.call(headers=headers)
            case.validate_response(response, checks=CHECKS, headers=headers)

        try:
            run()
        except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - report every operation's failure
            failures.append(f"{operation.label}: {type(exc).__name__}: {str(exc)[:1500]}")
    return failures


ROLES = ("admin", "marketer", "staff", "analyst", "ingest")


@pytest.mark.parametrize("role", ROLES)
def test_every_operation_answers_as_documented(app: Any, auth: dict[str, str], role_key: Any, role: str) -> None:
    """Every role sees documented answers only: its own 2xx and 4xx, and the refusals (403) of the rest."""
    if role == "admin":
        headers = auth
    else:
        campaign = app.test_client().post("/api/v1/campaigns", json={"name": "Assigned"}, headers=auth)
        assert campaign.status_code == 201, campaign.json
        key = role_key(role, [campaign.json["slug"]] if role == "staff" else None)
        headers = {"Authorization": f"Bearer {key}"}
    failures = _check_operations(app, headers, EXAMPLES if role == "admin" else OTHER_ROLE_EXAMPLES)
    assert not failures, "\n\n".join(failures)
