"""The API documentation lists every endpoint with the problems it can answer."""

from __future__ import annotations

import re
import uuid
from typing import Any

from fastapi.testclient import TestClient

from app.main import create_app
from app.service.cursors import CursorCodec
from tests.conftest import make_settings


def openapi() -> dict[str, Any]:
    with TestClient(create_app(make_settings())) as client:
        assert client.get("/docs").status_code == 200
        schema: dict[str, Any] = client.get("/openapi.json").json()
        return schema


def test_every_endpoint_is_documented_with_its_errors() -> None:
    paths = openapi()["paths"]
    expected = {
        ("/image", "get"): {"200", "422", "500", "503"},
        ("/image", "post"): {
            *("200", "202", "401", "413", "415", "422", "429", "500", "502", "503", "504"),
        },
        ("/image/{guid}", "get"): {"200", "404", "422", "500", "503"},
        ("/image/{guid}", "delete"): {"204", "401", "404", "422", "500", "503"},
        ("/image/{guid}/content", "get"): {
            *("200", "206", "304", "307", "404", "416", "422", "500", "503"),
        },
        ("/jobs/{job_id}", "get"): {"200", "401", "404", "422", "500", "503"},
        ("/jobs/{job_id}/events", "get"): {"200", "401", "404", "422", "500", "503"},
        ("/jobs/{job_id}/partials/{index}", "get"): {"200", "401", "404", "422", "500", "503"},
        ("/usage", "get"): {"200", "401", "403", "422", "500", "503"},
        ("/models", "get"): {"200", "500"},
        ("/healthz", "get"): {"200"},
        ("/readyz", "get"): {"200", "503"},
        ("/metrics", "get"): {"200"},
    }
    assert {(p, m) for p, ops in paths.items() for m in ops} == set(expected)
    for (path, method), statuses in expected.items():
        responses = paths[path][method]["responses"]
        assert statuses <= set(responses), (path, method, set(responses))
        for status in statuses - {"200", "202", "204", "206", "304", "307"}:
            assert "application/problem+json" in responses[status]["content"]


def test_query_parameters_checked_by_a_model_are_documented() -> None:
    paths = openapi()["paths"]
    listing = {p["name"]: p for p in paths["/image"]["get"]["parameters"]}
    assert {"limit", "offset", "cursor", "count", "prompt"} <= set(listing)
    assert listing["limit"]["schema"]["maximum"] == 500
    content = {p["name"]: p for p in paths["/image/{guid}/content"]["get"]["parameters"]}
    assert content["guid"]["in"] == "path"
    assert content["redirect"]["in"] == "query"
    redirect = content["redirect"]["schema"]
    assert redirect == {"type": "boolean", "default": True, "title": "Redirect"}


def test_post_documents_the_api_key_schemes() -> None:
    schema = openapi()
    security = schema["paths"]["/image"]["post"]["security"]
    assert {name for requirement in security for name in requirement} == {
        "HTTPBearer",
        "APIKeyHeader",
    }
    assert "security" not in schema["paths"]["/image"]["get"]


def test_the_schema_states_what_the_service_refuses() -> None:
    schema = openapi()
    paths = schema["paths"]
    prompt = schema["components"]["schemas"]["ImageCreate"]["properties"]["prompt"]
    pattern = re.compile(prompt["pattern"])
    assert pattern.search("a duck") and not pattern.search("bell\u0007")
    assert not pattern.search("\u200b\u200b") and not pattern.search(" \t")
    listing = {p["name"]: p["schema"] for p in paths["/image"]["get"]["parameters"]}
    cursor = re.compile(listing["cursor"]["anyOf"][0]["pattern"])
    assert cursor.search(CursorCodec(b"any").encode(uuid.uuid4()))
    assert not cursor.search("0") and not cursor.search("x" * 38)
    assert "400" in paths["/image"]["post"]["responses"]
    for path, name in (("/image/{guid}", "guid"), ("/jobs/{job_id}", "job_id")):
        (parameter,) = [p for p in paths[path]["get"]["parameters"] if p["name"] == name]
        guid = re.compile(parameter["schema"]["pattern"])
        assert guid.search(str(uuid.uuid4())) and not guid.search(str(uuid.uuid4()).upper())
