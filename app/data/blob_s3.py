"""Image bytes in an S3-compatible bucket (AWS S3, MinIO, moto) through boto3."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from app.core.content import BlobStream, ByteRange, StoredObject
from app.core.exceptions import (
    ConfigurationError,
    ContentMissing,
    RangeNotSatisfiable,
    StorageError,
    StorageUnavailable,
)
from app.core.metrics import timed_store_call

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

CHUNK_SIZE = 1024 * 1024
_MISSING_CODES = frozenset({"NoSuchKey", "404", "NotFound"})
_THROTTLE_CODES = frozenset({"SlowDown", "ServiceUnavailable", "RequestTimeout", "InternalError"})


class S3BlobStore:
    """The ``BlobStore`` on one bucket, optionally under a key prefix."""

    def __init__(
        self,
        client: S3Client,
        bucket: str,
        prefix: str = "",
        *,
        signing_client: S3Client | None = None,
    ) -> None:
        self._client = client
        # Presigned URLs are for clients outside: signed against the endpoint they can reach.
        self._signing_client = signing_client or client
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""

    def ensure_ready(self, *, create: bool, region: str | None = None) -> None:
        """Check the bucket is reachable; create it first when asked to."""
        try:
            if self._bucket_exists():
                return
            if not create:
                raise ConfigurationError(
                    f"the bucket {self.bucket} does not exist: create it, "
                    "or set PIXY_S3_CREATE_BUCKET=true"
                )
            self._create_bucket(region)
        except (BotoCoreError, ClientError) as exc:
            raise _translate(exc, f"bucket {self.bucket}") from exc

    def key_for(self, name: str) -> str:
        """The object key for a generated name, under the configured prefix."""
        return self.prefix + name

    @timed_store_call("put")
    def put(self, key: str, data: bytes, *, content_type: str) -> None:
        """Upload ``data`` in one request: S3 makes an object whole or not at all."""
        try:
            self._client.put_object(
                Bucket=self.bucket, Key=key, Body=data, ContentType=content_type
            )
        except (BotoCoreError, ClientError) as exc:
            raise _translate(exc, key) from exc

    @timed_store_call("open")
    def open(self, key: str, byte_range: ByteRange | None = None) -> BlobStream:
        """Stream the object, or the range asked for, as S3 sends it."""
        try:
            if byte_range is None:
                response = self._client.get_object(Bucket=self.bucket, Key=key)
            else:
                response = self._client.get_object(
                    Bucket=self.bucket, Key=key, Range=byte_range.header_value()
                )
        except ClientError as exc:
            if _error_code(exc) == "InvalidRange":
                raise RangeNotSatisfiable(size=self.stat(key)) from exc
            raise _translate(exc, key) from exc
        except BotoCoreError as exc:
            raise _translate(exc, key) from exc
        body = response["Body"]
        size = int(response["ContentLength"])
        start, end = 0, size - 1
        if content_range := response.get("ContentRange"):
            # "bytes 100-199/5000"
            span, _, total = content_range.removeprefix("bytes ").partition("/")
            first, _, last = span.partition("-")
            start, end, size = int(first), int(last), int(total)
        chunks = _guarded(body.iter_chunks(CHUNK_SIZE), key)
        return BlobStream(size, start, end, chunks, body.close)

    @timed_store_call("stat")
    def stat(self, key: str) -> int:
        """The object's size, from a HEAD request."""
        try:
            return int(self._client.head_object(Bucket=self.bucket, Key=key)["ContentLength"])
        except (BotoCoreError, ClientError) as exc:
            raise _translate(exc, key) from exc

    @timed_store_call("presigned_url")
    def presigned_url(self, key: str, *, expires_in: int) -> str:
        """A URL that lets anyone GET ``key`` for ``expires_in`` seconds."""
        try:
            return self._signing_client.generate_presigned_url(
                "get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=expires_in
            )
        except BotoCoreError as exc:
            raise _translate(exc, key) from exc

    @timed_store_call("delete")
    def delete(self, key: str) -> None:
        """Remove ``key``; S3 treats removing a missing key as success."""
        try:
            self._client.delete_object(Bucket=self.bucket, Key=key)
        except (BotoCoreError, ClientError) as exc:
            raise _translate(exc, key) from exc

    @timed_store_call("check")
    def check(self) -> None:
        """Raise ``StorageUnavailable`` unless the bucket answers."""
        try:
            self._client.head_bucket(Bucket=self.bucket)
        except (BotoCoreError, ClientError) as exc:
            raise StorageUnavailable(f"the bucket {self.bucket} does not answer") from exc

    def list_objects(self) -> Iterator[StoredObject]:
        """Every object under the prefix, page by page."""
        pages = self._client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self.prefix
        )
        try:
            for page in pages:
                for item in page.get("Contents", []):
                    yield StoredObject(key=item["Key"], modified=item["LastModified"])
        except (BotoCoreError, ClientError) as exc:
            raise _translate(exc, f"bucket {self.bucket}") from exc

    def _bucket_exists(self) -> bool:
        try:
            self._client.head_bucket(Bucket=self.bucket)
        except ClientError as exc:
            if _error_code(exc) in _MISSING_CODES | {"NoSuchBucket"}:
                return False
            raise
        return True

    def _create_bucket(self, region: str | None) -> None:
        try:
            if region and region != "us-east-1":
                self._client.create_bucket(
                    Bucket=self.bucket,
                    CreateBucketConfiguration={"LocationConstraint": region},  # type: ignore[typeddict-item]
                )
            else:
                self._client.create_bucket(Bucket=self.bucket)
        except ClientError as exc:
            # Another replica creating it at the same moment is fine.
            if _error_code(exc) not in {"BucketAlreadyOwnedByYou", "BucketAlreadyExists"}:
                raise


def _guarded(chunks: Iterator[bytes], key: str) -> Iterator[bytes]:
    """The body's chunks, with a connection lost mid-way reported as ours."""
    try:
        yield from chunks
    except BotoCoreError as exc:
        raise StorageUnavailable(f"the image store stopped sending {key}") from exc


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _translate(exc: BotoCoreError | ClientError, what: str) -> Exception:
    if isinstance(exc, BotoCoreError):
        return StorageUnavailable("the image store is unreachable")
    code = _error_code(exc)
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    if code in _MISSING_CODES:
        return ContentMissing(f"the stored object {what} is missing")
    if code in _THROTTLE_CODES or status >= 500:
        return StorageUnavailable("the image store is unavailable")
    return StorageError(f"the image store refused an operation ({code or status})")
