"""Blob stores on a temporary folder and on moto's S3 server over HTTP."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest

from app.core.content import ByteRange
from app.core.exceptions import (
    ConfigurationError,
    ContentMissing,
    RangeNotSatisfiable,
    StorageError,
    StorageUnavailable,
)
from app.core.image_types import media_type_for_key
from app.data.blob_local import LocalBlobStore
from app.data.blob_s3 import S3BlobStore
from tests.fixtures import free_port

Store = LocalBlobStore | S3BlobStore


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    if request.param == "local":
        local = LocalBlobStore(tmp_path / "images")
        local.ensure_ready()
        return local
    endpoint = request.getfixturevalue("moto_endpoint")
    bucket = request.getfixturevalue("bucket")
    return S3BlobStore(boto3.client("s3", endpoint_url=endpoint), bucket, "pics")


def read_all(store: Store, key: str, byte_range: ByteRange | None = None) -> bytes:
    stream = store.open(key, byte_range)
    try:
        return b"".join(stream.chunks)
    finally:
        stream.close()


def test_put_open_stat_delete(store: Store) -> None:
    key = store.key_for("0b7d2b52.png")
    store.put(key, b"\x89PNG bytes", content_type="image/png")
    assert read_all(store, key) == b"\x89PNG bytes"
    assert store.stat(key) == len(b"\x89PNG bytes")
    store.delete(key)
    with pytest.raises(ContentMissing):
        store.open(key)
    store.delete(key)  # deleting again is not an error


@pytest.mark.parametrize("action", ["open", "stat"])
def test_missing_key_is_content_missing(store: Store, action: str) -> None:
    with pytest.raises(ContentMissing):
        getattr(store, action)(store.key_for("never-stored.png"))


DATA = bytes(range(256)) * 4 * 1024  # 1 MiB, more than one chunk


@pytest.mark.parametrize(
    ("byte_range", "start", "end"),
    [
        (None, 0, len(DATA) - 1),
        (ByteRange(0, 99), 0, 99),
        (ByteRange(1000, 300_000), 1000, 300_000),
        (ByteRange(len(DATA) - 10, None), len(DATA) - 10, len(DATA) - 1),
        (ByteRange(None, 500), len(DATA) - 500, len(DATA) - 1),
        (ByteRange(5, 10**12), 5, len(DATA) - 1),
        (ByteRange(None, 10**12), 0, len(DATA) - 1),
    ],
)
def test_ranges_stream_exactly_the_bytes_asked_for(
    store: Store, byte_range: ByteRange | None, start: int, end: int
) -> None:
    key = store.key_for("ranged.png")
    store.put(key, DATA, content_type="image/png")
    stream = store.open(key, byte_range)
    try:
        assert (stream.size, stream.start, stream.end) == (len(DATA), start, end)
        assert b"".join(stream.chunks) == DATA[start : end + 1]
    finally:
        stream.close()


@pytest.mark.parametrize("byte_range", [ByteRange(len(DATA), None), ByteRange(None, 0)])
def test_unsatisfiable_range_reports_the_size(store: Store, byte_range: ByteRange) -> None:
    key = store.key_for("ranged.png")
    store.put(key, DATA, content_type="image/png")
    with pytest.raises(RangeNotSatisfiable) as raised:
        store.open(key, byte_range)
    assert raised.value.size == len(DATA)
    assert raised.value.headers == {"Content-Range": f"bytes */{len(DATA)}"}


def test_s3_keys_carry_the_prefix_and_content_type(moto_endpoint: str, bucket: str) -> None:
    client = boto3.client("s3", endpoint_url=moto_endpoint)
    store = S3BlobStore(client, bucket, "/pics/")
    key = store.key_for("a.png")
    assert key == "pics/a.png"
    store.put(key, b"data", content_type="image/png")
    head = client.head_object(Bucket=bucket, Key="pics/a.png")
    assert head["ContentType"] == "image/png"


def test_s3_bucket_is_created_when_asked(moto_endpoint: str, s3_env: dict[str, str]) -> None:
    client = boto3.client("s3", endpoint_url=moto_endpoint)
    store = S3BlobStore(client, "pixy-created-at-start")
    store.ensure_ready(create=True)
    store.ensure_ready(create=True)  # a second replica starting finds it there
    assert "pixy-created-at-start" in [b["Name"] for b in client.list_buckets()["Buckets"]]


def test_s3_missing_bucket_without_create_is_an_error(
    moto_endpoint: str, s3_env: dict[str, str]
) -> None:
    store = S3BlobStore(boto3.client("s3", endpoint_url=moto_endpoint), "pixy-no-such-bucket")
    with pytest.raises(ConfigurationError, match="PIXY_S3_CREATE_BUCKET"):
        store.ensure_ready(create=False)


def test_s3_unreachable_endpoint_is_storage_unavailable(s3_env: dict[str, str]) -> None:
    client = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{free_port()}")
    store = S3BlobStore(client, "bucket")
    with pytest.raises(StorageUnavailable):
        store.put("a.png", b"x", content_type="image/png")


@pytest.mark.parametrize("key", ["../escape.png", "a/../../b.png", "/etc/passwd", ".hidden", ""])
def test_local_store_refuses_keys_it_did_not_generate(tmp_path: Path, key: str) -> None:
    store = LocalBlobStore(tmp_path)
    with pytest.raises(StorageError):
        store.open(key)
    with pytest.raises(StorageError):
        store.put(key, b"x", content_type="image/png")


def test_local_put_leaves_no_temporary_files(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    store.put("a.png", b"1", content_type="image/png")
    store.put("a.png", b"2", content_type="image/png")
    assert [p.name for p in tmp_path.iterdir()] == ["a.png"]
    assert read_all(store, "a.png") == b"2"


@pytest.mark.parametrize(
    ("key", "content_type"),
    [("a.png", "image/png"), ("a.jpg", "image/jpeg"), ("a.webp", "image/webp")],
)
def test_local_store_keeps_the_content_type_in_the_extension(
    tmp_path: Path, key: str, content_type: str
) -> None:
    store = LocalBlobStore(tmp_path)
    store.put(key, b"bytes", content_type=content_type)
    assert media_type_for_key(key) == content_type  # what the content route serves it as
    assert read_all(store, key) == b"bytes"


@pytest.mark.parametrize(
    ("key", "content_type"),
    [("a.png", "image/jpeg"), ("a.jpg", "image/png"), ("a", "image/png"), ("a.bin", "image/avif")],
)
def test_local_store_refuses_a_type_its_key_does_not_name(
    tmp_path: Path, key: str, content_type: str
) -> None:
    store = LocalBlobStore(tmp_path)
    with pytest.raises(StorageError, match="extension"):
        store.put(key, b"bytes", content_type=content_type)
    assert list(tmp_path.iterdir()) == []
