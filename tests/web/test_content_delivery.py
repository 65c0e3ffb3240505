"""GET/HEAD /image/{guid}/content as a CDN origin, on the local folder and on S3 (moto)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fixtures import (
    S3_CREDENTIALS,
    LiveServer,
    run_app_command,
    s3_client,
    start_live_server,
)
from tests.problems import assert_problem
from tests.web.conftest import Backend

CACHE_HEADERS = (
    "etag",
    "last-modified",
    "cache-control",
    "x-content-type-options",
    "accept-ranges",
)


@pytest.fixture(scope="module")
def image(backend: Backend) -> dict[str, Any]:
    """One image made on the backend, with its bytes read from the store itself."""
    with backend.server.client() as client:
        created: dict[str, Any] = client.post("/image/", json={"prompt": "a CDN duck"}).json()
    created["bytes"] = backend.stored_object(created["filename"])
    return created


def content_url(image: dict[str, Any]) -> str:
    return f"/image/{image['guid']}/content"


def test_full_get_carries_exactly_the_headers_a_cdn_needs(
    backend: Backend, image: dict[str, Any]
) -> None:
    with backend.server.client() as client:
        response = client.get(content_url(image))
    assert response.status_code == 200
    assert response.content == image["bytes"]
    created = parsedate_to_datetime(response.headers["last-modified"])
    assert created.isoformat() == image["created_at"][:19] + "+00:00"
    expected = {
        "content-type": "image/png",
        "content-length": str(len(image["bytes"])),
        "etag": f'"{uuid.UUID(image["guid"]).hex}"',
        "last-modified": format_datetime(created, usegmt=True),
        "cache-control": "public, max-age=31536000, immutable",
        "x-content-type-options": "nosniff",
        "content-disposition": f'inline; filename="{image["guid"]}.png"',
        "accept-ranges": "bytes",
    }
    assert {name: response.headers.get(name) for name in expected} == expected


def test_head_answers_the_same_headers_without_a_body(
    backend: Backend, image: dict[str, Any]
) -> None:
    with backend.server.client() as client:
        got = client.get(content_url(image))
        head = client.head(content_url(image))
    assert head.status_code == 200
    assert head.content == b""
    ignored = {"date", "x-request-id", "transfer-encoding"}
    assert {k: v for k, v in head.headers.items() if k not in ignored} == {
        k: v for k, v in got.headers.items() if k not in ignored
    }


def test_if_none_match_answers_304_with_the_caching_headers(
    backend: Backend, image: dict[str, Any]
) -> None:
    with backend.server.client() as client:
        first = client.get(content_url(image))
        for tag in (first.headers["etag"], f'"other", {first.headers["etag"]}', "*"):
            again = client.get(content_url(image), headers={"If-None-Match": tag})
            assert again.status_code == 304, tag
            assert again.content == b""
            for name in CACHE_HEADERS:
                assert again.headers[name] == first.headers[name]
        changed = client.get(content_url(image), headers={"If-None-Match": '"other"'})
    assert changed.status_code == 200
    assert changed.content == image["bytes"]


def test_if_modified_since_answers_304_unless_older(
    backend: Backend, image: dict[str, Any]
) -> None:
    with backend.server.client() as client:
        stamp = client.get(content_url(image)).headers["last-modified"]
        same = client.get(content_url(image), headers={"If-Modified-Since": stamp})
        older = client.get(
            content_url(image), headers={"If-Modified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"}
        )
        garbage = client.get(content_url(image), headers={"If-Modified-Since": "yesterday"})
    assert same.status_code == 304
    assert same.headers["etag"] and same.headers["cache-control"].endswith("immutable")
    assert older.status_code == 200 and older.content == image["bytes"]
    assert garbage.status_code == 200


@pytest.mark.parametrize(
    ("header", "first", "last"),
    [
        ("bytes=0-99", 0, 99),
        ("bytes=100-199", 100, 199),
        ("bytes=-100", -100, None),
        ("bytes=1000-", 1000, None),
        ("bytes=5-999999999", 5, None),
    ],
)
def test_single_ranges_answer_206_with_the_exact_bytes(
    backend: Backend, image: dict[str, Any], header: str, first: int, last: int | None
) -> None:
    data: bytes = image["bytes"]
    start = first if first >= 0 else len(data) + first
    end = len(data) - 1 if last is None else last
    with backend.server.client() as client:
        response = client.get(content_url(image), headers={"Range": header})
        head = client.head(content_url(image), headers={"Range": header})
    assert response.status_code == 206
    assert response.content == data[start : end + 1]
    assert response.headers["content-range"] == f"bytes {start}-{end}/{len(data)}"
    assert response.headers["content-length"] == str(end - start + 1)
    assert response.headers["etag"] and response.headers["content-type"] == "image/png"
    assert head.status_code == 206
    assert head.headers["content-range"] == response.headers["content-range"]


@pytest.mark.parametrize("header", ["bytes=999999999-", "bytes=-0"])
def test_unsatisfiable_range_is_416(backend: Backend, image: dict[str, Any], header: str) -> None:
    with backend.server.client() as client:
        response = client.get(content_url(image), headers={"Range": header})
    assert_problem(response, 416, "range_not_satisfiable")
    assert response.headers["content-range"] == f"bytes */{len(image['bytes'])}"


@pytest.mark.parametrize(
    "header", ["bytes=0-1,5-9", "bytes=10-5", "items=0-9", "bytes=abc", "bytes=-"]
)
def test_ranges_we_do_not_serve_get_the_whole_image(
    backend: Backend, image: dict[str, Any], header: str
) -> None:
    with backend.server.client() as client:
        response = client.get(content_url(image), headers={"Range": header})
    assert response.status_code == 200
    assert response.content == image["bytes"]


def test_if_range_that_no_longer_matches_sends_everything(
    backend: Backend, image: dict[str, Any]
) -> None:
    with backend.server.client() as client:
        etag = client.head(content_url(image)).headers["etag"]
        matching = client.get(content_url(image), headers={"Range": "bytes=0-9", "If-Range": etag})
        stale = client.get(content_url(image), headers={"Range": "bytes=0-9", "If-Range": '"x"'})
    assert matching.status_code == 206 and len(matching.content) == 10
    assert stale.status_code == 200 and stale.content == image["bytes"]


def test_a_missing_object_is_a_clear_problem_logged_once(backend: Backend) -> None:
    with backend.server.client() as client:
        created = client.post("/image/", json={"prompt": "soon gone"}).json()
        backend.delete_object(created["filename"])
        response = client.get(f"/image/{created['guid']}/content")
        head = client.head(f"/image/{created['guid']}/content")
    body = assert_problem(response, 404, "content_missing")
    assert head.status_code == 404
    rid = body["request_id"]
    time.sleep(0.2)
    errors = [line for line in backend.server.log_lines() if rid in line and " ERROR " in line]
    assert len(errors) == 1 and "content_missing" in errors[0]


# Redirect mode ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def redirect_servers(
    tmp_path_factory: pytest.TempPathFactory, moto_endpoint: str
) -> Iterator[dict[str, Any]]:
    """Two servers on one bucket: presigned redirects, and redirects to a CDN base URL."""
    bucket = f"pixy-{uuid.uuid4().hex[:12]}"
    port = moto_endpoint.rsplit(":", 1)[1]
    common = {
        "PIXY_STORAGE_URL": f"s3://{bucket}/img",
        "PIXY_S3_ENDPOINT_URL": moto_endpoint,
        "PIXY_S3_CREATE_BUCKET": "true",
        "PIXY_CONTENT_DELIVERY": "redirect",
        **S3_CREDENTIALS,
    }
    presigned = start_live_server(
        tmp_path_factory.mktemp("presigned"),
        # Clients outside reach the bucket under another name than the service does.
        PIXY_S3_PUBLIC_ENDPOINT_URL=f"http://localhost:{port}",
        PIXY_PRESIGN_TTL="600",
        **common,
    )
    cdn = start_live_server(
        tmp_path_factory.mktemp("cdn"), PIXY_PUBLIC_BASE_URL="https://cdn.example.test/i/", **common
    )
    yield {"presigned": presigned, "cdn": cdn, "bucket": bucket, "port": port}
    presigned.stop()
    cdn.stop()


def test_presigned_redirect_leads_to_the_bytes(redirect_servers: dict[str, Any]) -> None:
    server: LiveServer = redirect_servers["presigned"]
    with server.client() as client:
        created = client.post("/image/", json={"prompt": "redirected duck"}).json()
        first = client.get(f"/image/{created['guid']}/content")
        second = client.get(f"/image/{created['guid']}/content")
        streamed = client.get(f"/image/{created['guid']}/content", params={"redirect": "false"})
    assert first.status_code == 307
    location = first.headers["location"]
    assert location.startswith(f"http://localhost:{redirect_servers['port']}/")
    assert "X-Amz-Signature=" in location and "X-Amz-Expires=600" in location
    assert second.headers["location"] == location  # stable within the signing window
    max_age = int(first.headers["cache-control"].removeprefix("public, max-age="))
    assert 0 < max_age <= 600
    followed = httpx.get(location, timeout=10)
    assert followed.status_code == 200
    assert followed.content == streamed.content
    assert streamed.status_code == 200 and streamed.headers["content-type"] == "image/png"


def test_cdn_base_redirect_appends_the_key(redirect_servers: dict[str, Any]) -> None:
    server: LiveServer = redirect_servers["cdn"]
    with server.client() as client:
        created = client.post("/image/", json={"prompt": "cdn duck"}).json()
        response = client.get(f"/image/{created['guid']}/content")
        head = client.head(f"/image/{created['guid']}/content")
    assert response.status_code == 307
    assert response.headers["location"] == f"https://cdn.example.test/i/{created['filename']}"
    assert created["filename"] == f"img/{created['guid']}.png"
    assert head.status_code == 307
    with server.client() as client:
        streamed = client.get(f"/image/{created['guid']}/content?redirect=0")
        unclear = client.get(f"/image/{created['guid']}/content?redirect=maybe")
    assert streamed.status_code == 200 and streamed.headers["content-type"] == "image/png"
    body = assert_problem(unclear, 422, "invalid_request")
    assert ["query", "redirect"] in [error["loc"] for error in body["errors"]]
    s3 = s3_client(f"http://127.0.0.1:{redirect_servers['port']}")
    assert s3.head_object(Bucket=redirect_servers["bucket"], Key=created["filename"])


def test_redirect_mode_on_a_local_folder_is_refused_at_start(tmp_path: Path) -> None:
    result = run_app_command(tmp_path, PIXY_CONTENT_DELIVERY="redirect")
    assert result.returncode != 0
    assert "PIXY_PUBLIC_BASE_URL" in result.stdout + result.stderr


def test_redirect_mode_on_a_local_folder_with_a_base_url_redirects(tmp_path: Path) -> None:
    server = start_live_server(
        tmp_path, PIXY_CONTENT_DELIVERY="redirect", PIXY_PUBLIC_BASE_URL="https://cdn.test"
    )
    try:
        with server.client() as client:
            created = client.post("/image/", json={"prompt": "local cdn"}).json()
            response = client.get(f"/image/{created['guid']}/content")
    finally:
        server.stop()
    assert response.status_code == 307
    assert response.headers["location"] == f"https://cdn.test/{created['filename']}"
