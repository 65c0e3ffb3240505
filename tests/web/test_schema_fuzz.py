"""Schemathesis against the app's own OpenAPI schema, on a live server with the offline
generator: a bounded number of generated requests per endpoint, never a 5xx, every response
as documented.

Hypothesis drives each operation directly: schemathesis' pytest plugin does not run under the
pytest this project uses.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import checks

from tests.fixtures import LiveServer, start_live_server

EXAMPLES_PER_OPERATION = 30
# What the contract promises. Schema-valid data may still be refused on purpose (a cursor that
# was not signed by the service, cursor and offset together), so positive-data acceptance is
# not among them.
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
]


@pytest.fixture(scope="module")
def fuzzed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = start_live_server(tmp_path_factory.mktemp("fuzz"), PIXY_LOG_LEVEL="WARNING")
    with server.client() as client:
        client.post("/image/", json={"prompt": "something to find"})
    yield server
    server.stop()


def test_every_operation_matches_its_schema(fuzzed_server: LiveServer) -> None:
    schema = schemathesis.openapi.from_url(f"{fuzzed_server.base_url}/openapi.json")
    labels = []
    for result in schema.get_all_operations():
        operation = result.ok()  # type: ignore[union-attr] # an invalid schema raises here
        labels.append(operation.label)

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def conforms(case: schemathesis.Case[Any]) -> None:
            case.call_and_validate(checks=CHECKS)

        conforms()
    assert sorted(labels) == [
        "GET /healthz",
        "GET /image",
        "GET /image/{guid}",
        "GET /image/{guid}/content",
        "GET /jobs/{job_id}",
        "GET /jobs/{job_id}/events",
        "GET /jobs/{job_id}/partials/{index}",
        "GET /metrics",
        "GET /models",
        "GET /readyz",
        "GET /usage",
        "POST /image",
    ]
