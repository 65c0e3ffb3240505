"""Schemathesis against the app's own OpenAPI schema, on a live server with the offline
generator: a bounded number of generated requests per endpoint, never a 5xx, every response
as documented; then its command line with every check and every phase (stateful included)
for a minute, with an API key, as an attacker ran it.

Hypothesis drives each operation directly: schemathesis' pytest plugin does not run under the
pytest this project uses.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
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
        "DELETE /image/{guid}",
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


FUZZ_KEY = "fuzz-key-not-a-secret"
CLI_SECONDS = 60  # fuzzing and the stateful phase repeat until this is spent
# Schema-valid requests that the service refuses on purpose, which no OpenAPI schema can say:
# a cursor with a well-formed but foreign signature, cursor and offset together, a date that
# has no UTC equivalent (GET); an Idempotency-Key sent again with another body (POST, the 422
# of the IETF idempotency draft). Everything else schema-valid must be accepted.
CLI_CONFIG = """
[[operations]]
include-path = "/image"
include-method = "GET"
checks.positive_data_acceptance.expected-statuses = [
    "2xx", "3xx", "401", "403", "404", "409", "422", "429", "5xx"]

[[operations]]
include-path = "/image"
include-method = "POST"
checks.positive_data_acceptance.expected-statuses = [
    "2xx", "3xx", "401", "403", "404", "409", "422", "429", "5xx"]
"""


def test_schemathesis_with_every_check_and_phase_finds_nothing(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    workdir = tmp_path_factory.mktemp("fuzz-cli")
    config = workdir / "schemathesis.toml"
    config.write_text(CLI_CONFIG)
    server = start_live_server(workdir, PIXY_LOG_LEVEL="WARNING", PIXY_API_KEYS=FUZZ_KEY)
    with server.client() as client:
        paths = client.get("/openapi.json").json()["paths"]
    operations = sum(len(methods) for methods in paths.values())
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "--config-file",
        str(config),
        "run",
        f"{server.base_url}/openapi.json",
        "--checks",
        "all",
        "--phases",
        "examples,coverage,fuzzing,stateful",
        "--max-time",
        str(CLI_SECONDS),
        "--header",
        f"Authorization: Bearer {FUZZ_KEY}",
        "--suppress-health-check",
        "all",
        "--seed",
        "20",
    ]
    try:
        run = subprocess.run(
            command,
            cwd=workdir,
            capture_output=True,
            text=True,
            timeout=CLI_SECONDS * 4,
            check=False,
        )
    finally:
        server.stop()
    summary = run.stdout[-6000:]
    assert run.returncode == 0, summary
    for phase in ("Examples", "Coverage", "Fuzzing", "Stateful"):
        assert f"✅ {phase}" in run.stdout, summary
    assert f"Tested: {operations}" in run.stdout, summary  # every operation
