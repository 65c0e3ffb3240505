"""Input a client controls never reaches a 500: bodies, content types, paths, parameters."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.fixtures import LiveServer, start_live_server
from tests.problems import assert_problem


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = start_live_server(tmp_path_factory.mktemp("bad-input"), PIXY_MAX_BODY_BYTES="2048")
    yield live
    live.stop()


def test_body_over_the_limit_is_413(server: LiveServer) -> None:
    body = b'{"prompt": "' + b"x" * 4000 + b'"}'

    def chunked() -> Iterator[bytes]:
        yield body[:1000]
        yield body[1000:]

    with server.client() as client:
        declared = client.post(
            "/image/", content=body, headers={"Content-Type": "application/json"}
        )
        streamed = client.post(
            "/image/", content=chunked(), headers={"Content-Type": "application/json"}
        )
        listing = client.get("/image/").json()
    assert_problem(declared, 413, "request_too_large")
    assert_problem(streamed, 413, "request_too_large")
    assert listing == []


@pytest.mark.parametrize(
    "headers",
    [
        {"Content-Type": "text/plain"},
        {"Content-Type": "application/x-www-form-urlencoded"},
        {"Content-Type": "multipart/form-data; boundary=x"},
        {},
    ],
)
def test_bodies_that_are_not_json_are_415(server: LiveServer, headers: dict[str, str]) -> None:
    with server.client() as client:
        response = client.post("/image/", content=b'{"prompt": "a duck"}', headers=headers)
    assert_problem(response, 415, "unsupported_media_type")


def test_json_with_charset_and_vendor_types_is_accepted(server: LiveServer) -> None:
    with server.client() as client:
        for content_type in ("application/json; charset=utf-8", "application/vnd.pixy+json"):
            response = client.post(
                "/image/", content=b'{"prompt": "typed"}', headers={"Content-Type": content_type}
            )
            assert response.status_code == 200, content_type


@pytest.mark.parametrize(
    "path",
    [
        "/image/..%2F..%2Fetc%2Fpasswd/content",
        "/image/%2e%2e/content",
        "/image/../../etc/passwd",
        "/image/00000000-0000-0000-0000-000000000000%2Fcontent",
        "/image/%00/content",
        "/image/" + "a" * 5000,
        "/image/{guid}",
        "/image/00000000-0000-0000-0000-00000000000g",
        "/image/00000000000000000000000000000000000",
    ],
)
def test_path_tricks_are_4xx(server: LiveServer, path: str) -> None:
    with server.client() as client:
        response = client.get(path)
    assert 400 <= response.status_code < 500, (path, response.status_code)
    assert response.headers["content-type"] == "application/problem+json"
    assert "Traceback" not in response.text


@pytest.mark.parametrize(
    "query",
    [
        "limit=1&limit=2",
        "prompt=a&prompt=b",
        "offset=0&offset=0",
        "limit=10000000000000000000000000000",
        "offset=-1",
        "created_after=2026-13-45",
        "limit=%00",
    ],
)
def test_bad_or_repeated_parameters_are_422(server: LiveServer, query: str) -> None:
    with server.client() as client:
        response = client.get(f"/image/?{query}")
    assert_problem(response, 422, "invalid_request")


@pytest.mark.parametrize(
    "body",
    [
        {"prompt": "ok", "model": "dall-e-3"},
        {"prompt": ["a", "list"]},
        {"prompt": {"nested": 1}},
        {"prompt": True},
        "just a string",
        None,
    ],
)
def test_bodies_of_the_wrong_shape_are_422(server: LiveServer, body: Any) -> None:
    with server.client() as client:
        response = client.post(
            "/image/", content=json.dumps(body), headers={"Content-Type": "application/json"}
        )
    assert_problem(response, 422, "invalid_request")


def test_health_is_outside_auth_and_logged(tmp_path_factory: pytest.TempPathFactory) -> None:
    keyed = start_live_server(tmp_path_factory.mktemp("health"), PIXY_API_KEYS="k-123")
    try:
        with keyed.client() as client:
            alive = client.get("/healthz")
            ready = client.get("/readyz")
    finally:
        keyed.stop()
    assert alive.json() == {"status": "ok"} and ready.json() == {"status": "ready"}
    log = "\n".join(keyed.log_lines())
    for response, function in ((alive, "healthz"), (ready, "readyz")):
        rid = response.headers["x-request-id"]
        assert f"{rid} " in log and f"[{function}:" in log
