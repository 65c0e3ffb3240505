"""Conditional and range header parsing, and HEAD without reading any bytes."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import pytest
from fastapi.testclient import TestClient
from starlette.datastructures import Headers

from app.core.content import BlobStream, ByteRange
from app.core.models import ImageDetail
from app.data.blob_local import LocalBlobStore
from app.main import create_app
from app.service.content import ImageContent, StoredContent
from app.service.image_reading import ImageReader
from app.service.services import Services
from app.web.content_delivery import is_not_modified, requested_range
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
