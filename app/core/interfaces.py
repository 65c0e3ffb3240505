"""The interfaces each backend implements; concrete classes are chosen in ``app.main``.

Repositories and blob stores are blocking (pymysql, sqlite3, boto3): the service layer calls
them from the thread pool. Generators are async.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Protocol
from uuid import UUID

from app.core.content import BlobStream, ByteRange, ContentLink, StoredObject
from app.core.models import IdempotencyRecord, ImageDetail, ImageFilter


class ImageRepository(Protocol):
    """Image metadata: one row per image, looked up by guid."""

    def add(self, image: ImageDetail) -> None:
        """Insert the row of a new image."""

    def get(self, guid: UUID) -> ImageDetail:
        """Return the image with this guid, or raise ``ImageNotFound``."""

    def get_many(self, guids: Sequence[str]) -> dict[str, ImageDetail]:
        """The images of these guids (as text) that exist, by guid."""

    def list_guids(
        self,
        filters: ImageFilter | None = None,
        *,
        limit: int,
        offset: int = 0,
        after: UUID | None = None,
    ) -> list[str]:
        """The guids (as text) of the images matching ``filters``, newest first, after ``after``.

        Text, not ``UUID``: a page of them is looked up in a cache, where parsing 500 of them
        would cost more than the lookups.
        """

    def count(self, filters: ImageFilter | None = None) -> int:
        """How many images match ``filters``."""

    def ping(self) -> None:
        """Raise if the database cannot answer a trivial query."""

    def filenames(self) -> Iterator[str]:
        """Every image's filename (its object key), in batches under the hood."""

    def close(self) -> None:
        """Release pooled connections."""


class IdempotencyRepository(Protocol):
    """Idempotency keys: claimed before a generation, completed with its image's guid."""

    def claim(
        self, *, scope: str, key: str, request_hash: str, now: datetime, expires_at: datetime
    ) -> bool:
        """Take the key for a new request; False when someone holds it already."""

    def get(self, *, scope: str, key: str, now: datetime) -> IdempotencyRecord | None:
        """The live record of a key, if any."""

    def complete(self, *, scope: str, key: str, guid: UUID) -> None:
        """Record the image the key's request created."""

    def release(self, *, scope: str, key: str) -> None:
        """Give the key up after its request failed."""

    def release_stale(self, *, scope: str, key: str, created_at: datetime) -> bool:
        """Take back a claim whose request died unfinished; False if it moved on."""


class BlobStore(Protocol):
    """Image bytes, addressed by keys that PixyProxy generates (never by client input)."""

    def key_for(self, name: str) -> str:
        """The full object key for a generated name (adds the store's prefix, if any)."""

    def put(self, key: str, data: bytes, *, content_type: str) -> None:
        """Store ``data`` under ``key``, completely or not at all."""

    def open(self, key: str, byte_range: ByteRange | None = None) -> BlobStream:
        """Stream the bytes under ``key`` (or a range of them); ``ContentMissing`` if absent."""

    def stat(self, key: str) -> int:
        """The size in bytes of the object under ``key``, without reading it."""

    def delete(self, key: str) -> None:
        """Remove ``key``; removing a missing key is not an error."""

    def check(self) -> None:
        """Raise if the store cannot be reached."""

    def list_objects(self) -> Iterator[StoredObject]:
        """Every object under the store's prefix, with when it was last written."""


class Presigner(Protocol):
    """A store that can sign time-limited GET URLs for its objects."""

    def presigned_url(self, key: str, *, expires_in: int) -> str:
        """A URL that lets anyone GET ``key`` for ``expires_in`` seconds."""


class ContentLinker(Protocol):
    """Says where a client can fetch stored bytes directly (a bucket or a CDN)."""

    def link(self, key: str) -> ContentLink:
        """A URL for the object under ``key`` and how long a cache may keep the redirect."""


class ImageGenerator(Protocol):
    """Turns a prompt into image bytes."""

    async def generate(self, prompt: str) -> bytes:
        """Return the bytes of one image drawn for ``prompt``."""

    async def close(self) -> None:
        """Release network clients."""
