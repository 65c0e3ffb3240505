"""GET/HEAD /image/{guid}/content?width=W&format=F on a live server, on the folder and on S3."""

from __future__ import annotations

import io
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from PIL import Image

from app.core.renditions import rendition_key
from tests.fixtures import LiveServer
from tests.problems import assert_problem
from tests.service.test_resizing import png_bomb
from tests.web.conftest import Backend
from tests.web.test_content_delivery import redirect_servers

__all__ = ["redirect_servers"]


@pytest.fixture(scope="module")
def image(backend: Backend) -> dict[str, Any]:
    """One image made on the backend, with its original bytes."""
    with backend.server.client() as client:
        created: dict[str, Any] = client.post("/image/", json={"prompt": "a tiny duck"}).json()
    created["original"] = backend.stored_object(created["filename"])
    return created


def url(image: dict[str, Any]) -> str:
    return f"/image/{image['guid']}/content"


def test_a_variant_is_stored_and_served_like_an_original(
    backend: Backend, image: dict[str, Any]
) -> None:
    with backend.server.client() as client:
        first = client.get(url(image), params={"width": 256, "format": "webp"})
        again = client.get(url(image), params={"format": "webp", "width": "256"})
        original = client.get(url(image))
    assert first.status_code == 200, first.text
    key = rendition_key(image["filename"], "w256.webp")
    assert first.content == again.content == backend.stored_object(key)
    assert original.content == image["original"]
    expected = {
        "content-type": "image/webp",
        "content-length": str(len(first.content)),
        "etag": f'"{uuid.UUID(image["guid"]).hex}-w256.webp"',
        "cache-control": "public, max-age=31536000, immutable",
        "x-content-type-options": "nosniff",
        "content-disposition": f'inline; filename="{key.rsplit("/", 1)[-1]}"',
        "accept-ranges": "bytes",
        "last-modified": original.headers["last-modified"],
    }
    assert {name: first.headers.get(name) for name in expected} == expected
    assert again.headers["etag"] == first.headers["etag"]
    made = Image.open(io.BytesIO(first.content))
    assert made.format == "WEBP"
    assert made.size == (256, round(256 * image["height"] / image["width"]))


def test_head_range_and_304_answer_for_a_variant(backend: Backend, image: dict[str, Any]) -> None:
    query = {"width": "128", "format": "jpeg"}
    with backend.server.client() as client:
        got = client.get(url(image), params=query)
        head = client.head(url(image), params=query)
        part = client.get(url(image), params=query, headers={"Range": "bytes=10-109"})
        cached = client.get(
            url(image), params=query, headers={"If-None-Match": got.headers["etag"]}
        )
        other = client.get(
            url(image), params={"width": 64}, headers={"If-None-Match": got.headers["etag"]}
        )
    assert got.status_code == 200 and got.headers["content-type"] == "image/jpeg"
    ignored = {"date", "x-request-id"}
    assert head.status_code == 200 and head.content == b""
    assert {k: v for k, v in head.headers.items() if k not in ignored} == {
        k: v for k, v in got.headers.items() if k not in ignored
    }
    assert part.status_code == 206
    assert part.content == got.content[10:110]
    assert part.headers["content-range"] == f"bytes 10-109/{len(got.content)}"
    assert cached.status_code == 304 and cached.content == b""
    assert cached.headers["etag"] == got.headers["etag"]
    assert other.status_code == 200  # another variant has another ETag


def test_concurrent_first_requests_get_the_same_bytes(
    backend: Backend, image: dict[str, Any]
) -> None:
    def fetch(_: int) -> bytes:
        with backend.server.client() as client:
            response = client.get(url(image), params={"width": 384, "format": "avif"})
            assert response.status_code == 200, response.text
            return response.content

    with ThreadPoolExecutor(8) as pool:
        bodies = set(pool.map(fetch, range(8)))
    assert len(bodies) == 1
    width = min(384, image["width"])  # never upscaled: the fake provider's images are smaller
    key = rendition_key(image["filename"], f"w{width}.avif")
    assert bodies == {backend.stored_object(key)}
    logged = backend.server.log_lines()
    made = [line for line in logged if "variant_made" in line and image["guid"] in line]
    assert len([line for line in made if f"w{width}.avif" in line]) == 1


def test_a_width_above_the_original_serves_the_original(
    backend: Backend, image: dict[str, Any]
) -> None:
    with backend.server.client() as client:
        same = client.get(url(image), params={"width": 2048})
        converted = client.get(url(image), params={"width": 2048, "format": "webp"})
    assert same.content == image["original"]
    assert same.headers["etag"] == f'"{uuid.UUID(image["guid"]).hex}"'
    assert converted.headers["etag"].endswith(f'-w{image["width"]}.webp"')
    assert Image.open(io.BytesIO(converted.content)).size == (image["width"], image["height"])


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"width": "100"}, None),
        ({"width": "wide"}, "width"),
        ({"width": "256.5"}, "width"),
        ({"width": "256", "format": "gif"}, "format"),
        ({"format": "PNG; rm"}, "format"),
    ],
)
def test_bad_variant_queries_are_422_problems(
    backend: Backend, image: dict[str, Any], query: dict[str, str], field: str | None
) -> None:
    with backend.server.client() as client:
        response = client.get(url(image), params=query)
    body = assert_problem(response, 422, "invalid_request")
    if field is None:
        assert (
            "width must be one of 64, 128, 256, 384, 512, 768, 1024, 1536, 2048" in body["detail"]
        )
    else:
        assert ["query", field] in [error["loc"] for error in body["errors"]]


def test_a_decompression_bomb_gets_no_variant(backend: Backend) -> None:
    with backend.server.client() as client:
        created = client.post("/image/", json={"prompt": "a bomb"}).json()
        backend.replace_object(created["filename"], png_bomb(20_000, 20_000))
        response = client.get(f"/image/{created['guid']}/content", params={"width": 64})
        health = client.get("/healthz")
    body = assert_problem(response, 422, "image_too_large")
    assert "variants are made of images up to 16777216 pixels" in body["detail"]
    assert health.status_code == 200


def test_variants_of_an_unknown_image_are_404(backend: Backend) -> None:
    with backend.server.client() as client:
        response = client.get(f"/image/{uuid.uuid4()}/content", params={"width": 64})
    assert_problem(response, 404, "image_not_found")


def test_redirect_mode_sends_clients_to_the_stored_variant(
    redirect_servers: dict[str, Any],
) -> None:
    server: LiveServer = redirect_servers["presigned"]
    query = {"width": "256", "format": "webp"}
    with server.client() as client:
        created = client.post("/image/", json={"prompt": "redirected variant"}).json()
        first = client.get(f"/image/{created['guid']}/content", params=query)
        streamed = client.get(
            f"/image/{created['guid']}/content", params={**query, "redirect": "false"}
        )
    assert first.status_code == 307
    key = rendition_key(created["filename"], "w256.webp")
    assert f"/{redirect_servers['bucket']}/{key}?" in first.headers["location"]
    followed = httpx.get(first.headers["location"], timeout=10)
    assert followed.status_code == 200
    assert followed.content == streamed.content
    assert streamed.headers["content-type"] == "image/webp"
