"""Conditional and range header parsing, HEAD without reading any bytes, and ContentResponse
on its own: headers per rendition, streams closed."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import pytest
from fastapi.testclient import TestClient
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.core.content import BlobStream, ByteRange, ContentSource
from app.core.models import ImageDetail
from app.data.blob_local import LocalBlobStore
from app.main import create_app
from app.service.content import ImageContent, StoredContent
from app.service.image_reading import ImageReader
from app.service.services import Services
from app.web.content_delivery import ContentResponse, is_not_modified, requested_range
from tests.conftest import make_settings

IMAGE = ImageDetail(
    guid=uuid4(),
    prompt="p",
    filename="x.png",
    created_at=datetime(2026, 5, 4, 3, 2, 1, 999_000, tzinfo=UTC),
    updated_at=datetime(2026, 5, 4, 3, 2, 1, 999_000, tzinfo=UTC),
)
# Parsing headers reads only what names the bytes: the store is never asked for them.
SOURCE = ImageContent.original(IMAGE, StoredContent(LocalBlobStore(Path("never-read"))))


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, False),
        ({"If-None-Match": SOURCE.etag}, True),
        ({"If-None-Match": f"W/{SOURCE.etag}"}, True),
        ({"If-None-Match": '"a", "b"'}, False),
        ({"If-Modified-Since": "Mon, 04 May 2026 03:02:01 GMT"}, True),
        ({"If-Modified-Since": "Mon, 04 May 2026 03:02:00 GMT"}, False),
        # If-None-Match wins over If-Modified-Since.
        ({"If-None-Match": '"a"', "If-Modified-Since": "Mon, 04 May 2026 03:02:01 GMT"}, False),
        ({"If-Modified-Since": "not a date"}, False),
    ],
)
def test_is_not_modified(headers: dict[str, str], expected: bool) -> None:
    assert is_not_modified(Headers(headers), SOURCE) is expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("bytes=0-99", ByteRange(0, 99)),
        ("bytes=5-", ByteRange(5, None)),
        ("bytes=-7", ByteRange(None, 7)),
        ("bytes = 1 - 2", ByteRange(1, 2)),
        ("bytes=2-1", None),
        ("bytes=-", None),
        ("bytes=0-1,3-4", None),
        ("lines=0-1", None),
    ],
)
def test_requested_range(value: str, expected: ByteRange | None) -> None:
    assert requested_range(Headers({"Range": value}), SOURCE) == expected


class NoReadingStore(LocalBlobStore):
    """A real folder store that fails the test if anything opens an object."""

    def open(self, key: str, byte_range: ByteRange | None = None) -> BlobStream:
        raise AssertionError("HEAD must not read the object's bytes")


def test_head_does_not_read_the_bytes(tmp_path: Path) -> None:
    app = create_app(
        make_settings(
            database_url=f"sqlite:///{tmp_path / 'db.sqlite'}",
            storage_url=f"file://{tmp_path / 'images'}",
        )
    )
    with TestClient(app) as client:
        created = client.post("/image/", json={"prompt": "head only"}).json()
        services: Services = app.state.services
        reader = services.reader
        app.state.services = dataclasses.replace(
            services,
            reader=ImageReader(
                repository=reader._repository,
                store=NoReadingStore(tmp_path / "images"),
                cursors=reader._cursors,
            ),
        )
        head = client.head(f"/image/{created['guid']}/content")
        ranged = client.head(f"/image/{created['guid']}/content", headers={"Range": "bytes=-10"})
    size = (tmp_path / "images" / created["filename"]).stat().st_size
    assert head.status_code == 200
    assert head.headers["content-length"] == str(size)
    assert ranged.status_code == 206
    assert ranged.headers["content-range"] == f"bytes {size - 10}-{size - 1}/{size}"


def serve(sources: Mapping[str, ContentSource]) -> TestClient:
    """A bare app that answers ``/<name>`` with ``ContentResponse`` for each source."""

    def route(name: str, source: ContentSource) -> Route:
        async def endpoint(request: Request) -> Response:
            return ContentResponse(source)

        return Route(f"/{name}", endpoint, methods=["GET", "HEAD"])

    return TestClient(Starlette(routes=[route(name, source) for name, source in sources.items()]))


def test_a_rendition_has_headers_of_its_own(tmp_path: Path) -> None:
    # Renditions of one image share its guid: anything keyed by the guid alone would mix them up.
    store = LocalBlobStore(tmp_path)
    store.put(IMAGE.filename, b"\x89PNG original", content_type="image/png")
    store.put("x-small.webp", b"RIFF small", content_type="image/webp")
    stored = StoredContent(store)
    small = ImageContent(IMAGE, stored, key="x-small.webp", etag=f'"{IMAGE.guid.hex}-small"')
    with serve({"original": ImageContent.original(IMAGE, stored), "small": small}) as client:
        original = client.get("/original")
        rendition = client.get("/small")
        crossed = client.get("/small", headers={"If-None-Match": original.headers["etag"]})
        current = client.get("/small", headers={"If-None-Match": rendition.headers["etag"]})
    assert original.content == b"\x89PNG original"
    assert original.headers["etag"] == SOURCE.etag
    assert rendition.content == b"RIFF small"
    assert rendition.headers["etag"] == f'"{IMAGE.guid.hex}-small"'
    assert rendition.headers["content-type"] == "image/webp"
    assert rendition.headers["content-disposition"] == 'inline; filename="x-small.webp"'
    assert crossed.status_code == 200
    assert current.status_code == 304


class ClosingStore(LocalBlobStore):
    """A real folder store that records every stream closed, by key."""

    closed: list[str]

    def open(self, key: str, byte_range: ByteRange | None = None) -> BlobStream:
        stream = super().open(key, byte_range)

        def close() -> None:
            self.closed.append(key)
            stream.close()

        return dataclasses.replace(stream, close=close)


def test_every_stream_opened_is_closed(tmp_path: Path) -> None:
    store = ClosingStore(tmp_path)
    store.closed = []
    big = bytes(range(256)) * 2048  # 512 KiB: streamed in chunks, not read whole
    store.put("small.png", b"\x89PNG small", content_type="image/png")
    store.put("big.png", big, content_type="image/png")
    stored = StoredContent(store)
    small_image = IMAGE.model_copy(update={"guid": uuid4(), "filename": "small.png"})
    big_image = IMAGE.model_copy(update={"guid": uuid4(), "filename": "big.png"})
    sources = {
        "small": ImageContent.original(small_image, stored),
        "big": ImageContent.original(big_image, stored),
    }
    with serve(sources) as client:
        assert client.get("/small").content == b"\x89PNG small"
        assert client.get("/big").content == big
        assert client.get("/big", headers={"Range": "bytes=1-"}).content == big[1:]
    assert store.closed == ["small.png", "big.png", "big.png"]
