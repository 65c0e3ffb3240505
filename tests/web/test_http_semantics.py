"""HTTP details an attacker found wrong (issue 20, "Smaller ones"), over a live server: blank
prompts, unreadable bodies, one URL per guid, one Idempotency-Key, HEAD and Allow, caching."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.fixtures import LiveServer, start_live_server
from tests.problems import assert_problem


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = start_live_server(tmp_path_factory.mktemp("semantics"))
    yield live
    live.stop()


@pytest.fixture(scope="module")
def image(server: LiveServer) -> dict[str, Any]:
    with server.client() as client:
        created: dict[str, Any] = client.post("/image/", json={"prompt": "one duck"}).json()
    return created


@pytest.mark.parametrize(
    "prompt",
    ["\u200b", "\u200b\u200c\u200d", " \ufeff\u2060 ", "\u3164\u2800", "\u00ad\n\u200e"],
)
def test_a_prompt_of_invisible_characters_is_blank(server: LiveServer, prompt: str) -> None:
    with server.client() as client:
        response = client.post("/image/", json={"prompt": prompt})
    body = assert_problem(response, 422, "invalid_request")
    assert body["errors"][0]["loc"] == ["body", "prompt"]
    assert body["errors"][0]["msg"] == "prompt must not be blank"  # no "Value error, " prefix


def test_a_visible_character_among_invisible_ones_is_a_prompt(server: LiveServer) -> None:
    with server.client() as client:
        response = client.post("/image/", json={"prompt": "\u200bduck\u200b"})
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    "content",
    [b'{"prompt": "\xff\xfe duck"}', b"[" * 30_000 + b"]" * 30_000],
    ids=["malformed-utf8", "deeply-nested"],
)
def test_a_body_that_cannot_be_read_is_400_invalid_body(server: LiveServer, content: bytes) -> None:
    with server.client() as client:
        response = client.post(
            "/image/", content=content, headers={"Content-Type": "application/json"}
        )
    assert_problem(response, 400, "invalid_body")


def test_other_spellings_of_a_guid_are_not_found(server: LiveServer, image: dict[str, Any]) -> None:
    guid = image["guid"]
    spellings = [guid.upper(), f"{{{guid}}}", f"urn:uuid:{guid}", guid.replace("-", "")]
    with server.client() as client:
        assert client.get(f"/image/{guid}").status_code == 200
        assert client.get(f"/image/{guid}/content").status_code == 200
        for spelled in spellings:
            for path in (f"/image/{spelled}", f"/image/{spelled}/content"):
                response = client.get(path)
                assert_problem(response, 404, "image_not_found")
                assert response.headers["cache-control"] == "no-store"  # no CDN keeps it
            assert_problem(client.get(f"/jobs/{spelled}"), 404, "job_not_found")
            assert_problem(client.get(f"/jobs/{spelled}/partials/0"), 404, "job_not_found")
            assert_problem(client.delete(f"/image/{spelled}"), 404, "image_not_found")
        assert client.get(f"/jobs/{guid}").status_code == 200
        assert client.get(f"/image/{guid}").status_code == 200  # no other spelling deleted it


def test_two_idempotency_keys_are_refused(server: LiveServer) -> None:
    headers = [("Idempotency-Key", "first"), ("Idempotency-Key", "second")]
    with server.client() as client:
        response = client.post("/image/", json={"prompt": "twice keyed"}, headers=headers)
        listed = client.get("/image/", params={"prompt": "twice"}).json()
    body = assert_problem(response, 422, "invalid_request")
    assert "one Idempotency-Key" in body["detail"]
    assert listed == []


def test_every_get_route_answers_head_with_the_get_head_and_no_body(
    server: LiveServer, image: dict[str, Any]
) -> None:
    paths = [
        "/image",
        "/image/",
        f"/image/{image['guid']}",
        f"/image/{image['guid']}/content",
        f"/jobs/{image['guid']}",
        "/healthz",
        "/readyz",
        "/metrics",
        "/",
        "/gallery",
        "/static/gallery.js",
        "/openapi.json",
        "/docs",
        "/redoc",
    ]
    with server.client() as client:
        for path in paths:
            got, head = client.get(path), client.head(path)
            assert head.status_code == got.status_code == 200, path
            assert head.content == b"", path
            assert head.headers["content-type"] == got.headers["content-type"], path
            if "content-length" in got.headers and path != "/metrics":  # metrics move
                assert head.headers["content-length"] == got.headers["content-length"], path
        missing = client.head("/image/00000000-0000-0000-0000-000000000000")
    assert missing.status_code == 404 and missing.content == b""


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("DELETE", "/image", "GET, HEAD, POST"),
        ("PUT", "/image/", "GET, HEAD, POST"),
        ("POST", "/image/00000000-0000-0000-0000-000000000000", "DELETE, GET, HEAD"),
        ("DELETE", "/image/00000000-0000-0000-0000-000000000000/content", "GET, HEAD"),
        ("POST", "/healthz", "GET, HEAD"),
        ("POST", "/jobs/00000000-0000-0000-0000-000000000000", "GET, HEAD"),
    ],
)
def test_405_allows_every_method_of_the_path(
    server: LiveServer, method: str, path: str, allowed: str
) -> None:
    with server.client() as client:
        response = client.request(method, path)
    assert_problem(response, 405, "method_not_allowed")
    assert response.headers["allow"] == allowed


def test_the_listing_may_be_stored_but_is_asked_for_again(
    server: LiveServer, image: dict[str, Any]
) -> None:
    with server.client() as client:
        listing = client.get("/image/")
        detail = client.get(f"/image/{image['guid']}")
    assert listing.headers["cache-control"] == "no-cache"
    assert image["guid"] in json.dumps(listing.json())
    assert detail.status_code == 200


def test_the_api_docs_load_nothing_from_another_origin(server: LiveServer) -> None:
    with server.client() as client:
        page = client.get("/docs")
        redoc = client.get("/redoc")
        linked = [
            *re.findall(r'(?:src|href)="([^"]+)"', page.text),
            *re.findall(r'(?:src|href)="([^"]+)"', redoc.text),
        ]
        assets = {path: client.get(path) for path in linked}
    assert page.status_code == redoc.status_code == 200
    assert len(linked) == 5  # Swagger UI: style, icon, script; ReDoc: icon, script
    assert "https://" not in page.text + redoc.text
    for path, asset in assets.items():
        assert path.startswith("/"), path  # this origin: no CDN, no web fonts
        assert asset.status_code == 200, path


@pytest.mark.parametrize(
    "query", ["created_before=405", "created_after=1700000000", "cursor=0", "cursor=" + "A" * 39]
)
def test_values_outside_the_schema_are_refused(server: LiveServer, query: str) -> None:
    with server.client() as client:
        response = client.get(f"/image/?{query}")
    assert_problem(response, 422, "invalid_request")


def test_usage_refuses_a_number_for_a_moment(server: LiveServer) -> None:
    with server.client() as client:
        response = client.get("/usage", params={"to": "0.5"})
    assert_problem(response, 422, "invalid_request")


def test_content_of_every_format_is_documented(server: LiveServer) -> None:
    with server.client() as client:
        content = client.get("/openapi.json").json()["paths"]["/image/{guid}/content"]["get"]
        made = client.post("/image/", json={"prompt": "a webp duck", "output_format": "webp"})
        served = client.get(f"/image/{made.json()['guid']}/content")
    documented = set(content["responses"]["200"]["content"])
    assert {"image/png", "image/jpeg", "image/webp"} <= documented
    assert served.headers["content-type"] in documented
