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


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/image/?colour=red", "colour"),
        ("/image?promt=duck", "promt"),
        ("/image/?limit=2&Prompt=duck", "Prompt"),  # names are case-sensitive, as in the schema
        ("/usage?form=2026-12-01", "form"),
        ("/usage?from_=2026-12-01", "from_"),  # the field's Python name is not its parameter
    ],
)
def test_a_parameter_the_route_does_not_take_is_named_in_a_422(
    server: LiveServer, path: str, name: str
) -> None:
    """As an unknown body field is: ignored, a misspelt filter would list every image."""
    with server.client() as client:
        guid = client.post("/image/", json={"prompt": "a parameter test"}).json()["guid"]
        url = path.format(guid=guid)
        response = client.get(url)
        head = client.head(url)
    body = assert_problem(response, 422, "invalid_request")
    assert [error["loc"] for error in body["errors"]] == [["query", name]]
    assert body["errors"][0]["type"] == "extra_forbidden"
    assert body["errors"][0]["msg"].startswith("unknown parameter; this endpoint takes ")
    assert head.status_code == 422


def test_content_answers_whatever_else_its_url_carries(server: LiveServer) -> None:
    """An <img> URL is decorated by pages and shares (cache busters, click ids): the image
    answers, the parameters the route takes still apply."""
    with server.client() as client:
        guid = client.post("/image/", json={"prompt": "a shared picture"}).json()["guid"]
        plain = client.get(f"/image/{guid}/content")
        shared = client.get(f"/image/{guid}/content", params={"v": "2", "fbclid": "IwAR0x"})
        variant = client.get(f"/image/{guid}/content", params={"width": "64", "utm_source": "x"})
        bad = client.get(f"/image/{guid}/content", params={"width": "65", "v": "2"})
    assert shared.status_code == 200 and shared.content == plain.content
    assert variant.status_code == 200 and variant.content != plain.content
    assert "width must be one of" in assert_problem(bad, 422, "invalid_request")["detail"]


def test_every_parameter_the_schema_declares_is_taken(server: LiveServer) -> None:
    """The check and the schema name the same parameters: one list, from the query models."""
    values = {"width": "64", "format": "webp", "redirect": "false", "limit": "1", "count": "true"}
    values |= {"from": "2026-01-01", "to": "2026-01-02", "key": "anonymous"}
    values |= {"created_after": "2020-01-01", "created_before": "2999-01-01", "offset": "0"}
    values |= {"guid": "00000000-0000-0000-0000-000000000000", "media_type": "image/png"}
    with server.client() as client:
        guid = client.post("/image/", json={"prompt": "every parameter"}).json()["guid"]
        paths = client.get("/openapi.json").json()["paths"]
        for path in ("/image", "/usage", "/image/{guid}/content"):
            names = [p["name"] for p in paths[path]["get"]["parameters"] if p["in"] == "query"]
            query = {name: values.get(name, "x") for name in names if name != "cursor"}
            if path == "/image":  # every filter at once: the image must match them all
                query |= {"prompt": "every", "prompt_contains": "every", "guid": guid}
                query |= {"filename": f"{guid}.png", "model": "offline"}
            response = client.get(path.format(guid=guid), params=query)
            assert response.status_code == 200, (path, response.text)
            if path == "/image":
                assert [image["guid"] for image in response.json()] == [guid]


def test_a_usage_range_that_ends_before_it_starts_is_a_422(server: LiveServer) -> None:
    with server.client() as client:
        reversed_range = client.get("/usage", params={"from": "2026-12-02", "to": "2026-12-01"})
        # The same moment in two offsets: an empty range, not a reversed one.
        empty = client.get(
            "/usage", params={"from": "2026-12-01T05:00:00+05:00", "to": "2026-12-01T00:00:00Z"}
        )
    body = assert_problem(reversed_range, 422, "invalid_request")
    assert body["errors"] == [
        {"loc": ["query", "to"], "msg": "to must not be before from", "type": "value_error"}
    ]
    assert empty.status_code == 200, empty.text
    assert empty.json()["total"]["images"] == 0


def test_a_listing_range_that_ends_before_it_starts_and_a_wordless_search_are_422s(
    server: LiveServer,
) -> None:
    with server.client() as client:
        reversed_range = client.get(
            "/image/", params={"created_after": "2026-12-02", "created_before": "2026-12-01"}
        )
        empty_range = client.get(
            "/image/", params={"created_after": "2026-12-01", "created_before": "2026-12-01"}
        )
        wordless = client.get("/image/", params={"prompt": " \t "})
        spaces_inside = client.get("/image/", params={"prompt_contains": " "})
    body = assert_problem(reversed_range, 422, "invalid_request")
    assert [error["loc"] for error in body["errors"]] == [["query", "created_before"]]
    assert body["errors"][0]["msg"] == "created_before must not be before created_after"
    assert empty_range.status_code == 200 and empty_range.json() == []
    body = assert_problem(wordless, 422, "invalid_request")
    assert body["errors"][0]["msg"] == "a prompt search needs at least one word"
    assert spaces_inside.status_code == 200  # a literal substring: a space is one
