"""Image content as the web layer serves it: the validators that name it, and its bytes.

An image never changes once made, so its bytes are named by a strong ETag made from its guid
(and, for a rendition, the rendition's name) and dated by ``created_at``. Small objects are kept
in memory once read whole; anything else streams from the store.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import anyio.to_thread
import structlog

from app.core.content import BlobStream, ByteRange, ContentLink, span
from app.core.exceptions import ContentMissing
from app.core.image_types import media_type_for_key
from app.core.interfaces import BlobStore, ContentLinker
from app.core.models import ImageDetail
from app.service.lru import BoundedLru

log = structlog.get_logger(__name__)
_PREFETCH_BYTES = 256 * 1024


class StoredContent:
    """Reads stored objects for serving, and says where clients may fetch them directly.

    Objects up to 256 KiB come back read whole (one trip to the thread pool instead of one per
    chunk) and, when read whole, are kept in a memory cache of ``cache_bytes``: objects never
    change; a deleted one is forgotten (``forget``) once its replica learns of the deletion.
    """

    def __init__(
        self, store: BlobStore, *, linker: ContentLinker | None = None, cache_bytes: int = 0
    ) -> None:
        self._store = store
        self._linker = linker
        self._memory: BoundedLru[str, bytes] = BoundedLru(cache_bytes, len)

    async def open(self, key: str, byte_range: ByteRange | None = None) -> BlobStream:
        """The object under ``key``, or a range of it; a small one comes read already."""
        cached = self._memory.get(key)
        if cached is not None:
            start, end = span(byte_range, len(cached))
            body = cached if end - start + 1 == len(cached) else cached[start : end + 1]
            return BlobStream.of_bytes(body, size=len(cached), start=start)
        stream = await anyio.to_thread.run_sync(self._open_prefetched, key, byte_range)
        if stream.body is not None and not stream.partial:
            self._memory.put(key, stream.body)
        return stream

    def forget(self, key: str) -> None:
        """Drop the object under ``key`` from memory (it was deleted)."""
        self._memory.pop(key)

    def forget_all(self) -> None:
        """Drop every object from memory."""
        self._memory.clear()

    async def size(self, key: str) -> int:
        """The size of the object under ``key``, without reading it."""
        cached = self._memory.get(key)
        if cached is not None:
            return len(cached)
        return await anyio.to_thread.run_sync(self._store.stat, key)

    async def link(self, key: str) -> ContentLink | None:
        """Where a client can fetch the object directly; None when the service streams it."""
        if self._linker is None:
            return None
        return await anyio.to_thread.run_sync(self._linker.link, key)

    def _open_prefetched(self, key: str, byte_range: ByteRange | None) -> BlobStream:
        stream = self._store.open(key, byte_range)
        if stream.length > _PREFETCH_BYTES:
            return stream
        return BlobStream.of_bytes(stream.read(), size=stream.size, start=stream.start)


class ImageContent:
    """The bytes of one image as a ``ContentSource``.

    ``original`` serves the image as generated. A rendition of it is another ``ImageContent``
    with its own key and an ETag that names the rendition too: everything cached about a
    source's headers is keyed by its ETag, never by the guid alone. A rendition can be made
    again (``remake``): when its object has gone missing, it is, and served.
    """

    __slots__ = ("_remake", "_stored", "etag", "image", "key")

    def __init__(
        self,
        image: ImageDetail,
        stored: StoredContent,
        *,
        key: str,
        etag: str,
        remake: Callable[[], Awaitable[object]] | None = None,
    ) -> None:
        self.image = image
        self.key = key
        self.etag = etag
        self._stored = stored
        self._remake = remake

    @classmethod
    def original(cls, image: ImageDetail, stored: StoredContent) -> ImageContent:
        """The image's bytes as they were generated."""
        return cls(image, stored, key=image.filename, etag=f'"{image.guid.hex}"')

    @property
    def last_modified(self) -> datetime:
        """When the image was made, to the second as HTTP dates have it."""
        return self.image.created_at.astimezone(UTC).replace(microsecond=0)

    @property
    def media_type(self) -> str:
        """The media type named by the key's extension (the key ends in the real one)."""
        return media_type_for_key(self.key)

    @property
    def filename(self) -> str:
        """The last part of the key."""
        return self.key.rsplit("/", 1)[-1]

    async def size(self) -> int:
        """The number of bytes, without reading them."""
        try:
            return await self._stored.size(self.key)
        except ContentMissing:
            if not await self._made_again():
                raise
        return await self._stored.size(self.key)

    async def open(self, byte_range: ByteRange | None = None) -> BlobStream:
        """The bytes, or the range of them asked for."""
        # try/except rather than a context manager: a cached read, the common case, then costs
        # nothing for it (a generator-based one was a microsecond a request, 1% of a served 30 KB).
        try:
            return await self._stored.open(self.key, byte_range)
        except ContentMissing:
            if not await self._made_again():
                raise
        return await self._stored.open(self.key, byte_range)

    async def link(self) -> ContentLink | None:
        """Where a client can fetch the bytes directly; None when the service streams them."""
        return await self._stored.link(self.key)

    async def _made_again(self) -> bool:
        """Make the missing bytes again if they can be (a rendition's); whether they were."""
        if self._remake is None:
            # Once per request: the image's row exists but its bytes are gone.
            log.error("content_missing", guid=str(self.image.guid), key=self.key)
            return False
        log.warning("variant_missing", guid=str(self.image.guid), key=self.key)
        await self._remake()
        return True
