"""Public use cases: read one image, list images, deliver an image's bytes."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from uuid import UUID

import anyio.to_thread
import structlog

from app.core.content import BlobStream, ByteRange, ContentLink
from app.core.exceptions import ContentMissing, NotReady, PixyProxyException
from app.core.interfaces import BlobStore, ContentLinker, ImageRepository
from app.core.models import ImageDetail, ImageFilter, ImagePage
from app.service.cursors import CursorCodec

log = structlog.get_logger(__name__)
_READY_TIMEOUT_SECONDS = 3.0
_CACHED_DETAILS = 10_000
_PREFETCH_BYTES = 256 * 1024


class ImageReader:
    """Reads images; never changes anything."""

    def __init__(
        self,
        *,
        repository: ImageRepository,
        store: BlobStore,
        cursors: CursorCodec,
        linker: ContentLinker | None = None,
    ) -> None:
        self._repository = repository
        self._store = store
        self._cursors = cursors
        self._linker = linker
        # An image's detail never changes once made, so a cached one is right on every replica.
        # Misses are not cached: the image may be created meanwhile, on any replica.
        self._details: OrderedDict[UUID, ImageDetail] = OrderedDict()

    async def get(self, guid: UUID) -> ImageDetail:
        """The image with this guid, or ``ImageNotFound``."""
        cached = self._details.get(guid)
        if cached is not None:
            self._details.move_to_end(guid)
            return cached
        image = await anyio.to_thread.run_sync(self._repository.get, guid)
        self._details[guid] = image
        if len(self._details) > _CACHED_DETAILS:
            self._details.popitem(last=False)
        return image

    async def list(
        self,
        filters: ImageFilter | None = None,
        *,
        limit: int,
        offset: int = 0,
        cursor: str | None = None,
        count: bool = False,
    ) -> ImagePage:
        """One page of images newest first, with the cursor of the next page if there is one."""
        filters = filters or ImageFilter()
        after = self._cursors.decode(cursor) if cursor is not None else None
        # One row more than asked tells whether another page follows, without counting.
        page = partial(self._repository.list, filters, limit=limit + 1, offset=offset, after=after)
        images = await anyio.to_thread.run_sync(page)
        next_cursor = self._cursors.encode(images[limit - 1].guid) if len(images) > limit else None
        total = await anyio.to_thread.run_sync(self._repository.count, filters) if count else None
        return ImagePage(images=images[:limit], next_cursor=next_cursor, total=total)

    async def open_content(
        self, image: ImageDetail, byte_range: ByteRange | None = None
    ) -> BlobStream:
        """Stream an image's bytes, or a range of them; a small body comes read already."""
        with _reporting_missing(image):
            return await anyio.to_thread.run_sync(self._open_prefetched, image.filename, byte_range)

    def _open_prefetched(self, key: str, byte_range: ByteRange | None) -> BlobStream:
        # One trip to the thread pool for a small image instead of one per chunk.
        stream = self._store.open(key, byte_range)
        if stream.length > _PREFETCH_BYTES:
            return stream
        try:
            stream.body = b"".join(stream.chunks)
        finally:
            stream.close()
        stream.chunks = iter((stream.body,))
        return stream

    async def content_size(self, image: ImageDetail) -> int:
        """The size of an image's bytes, without reading them."""
        with _reporting_missing(image):
            return await anyio.to_thread.run_sync(self._store.stat, image.filename)

    async def check_ready(self) -> None:
        """Raise ``NotReady`` unless the database and the store both answer in time."""
        for name, check in (("database", self._repository.ping), ("store", self._store.check)):
            try:
                with anyio.fail_after(_READY_TIMEOUT_SECONDS):
                    await anyio.to_thread.run_sync(check, abandon_on_cancel=True)
            except (PixyProxyException, TimeoutError) as exc:
                raise NotReady(f"the {name} is not reachable") from exc

    async def content_link(self, image: ImageDetail) -> ContentLink | None:
        """Where a client can fetch the image's bytes directly; None when they are streamed."""
        if self._linker is None:
            return None
        return await anyio.to_thread.run_sync(self._linker.link, image.filename)


@contextmanager
def _reporting_missing(image: ImageDetail) -> Iterator[None]:
    """Log, once per request, that an image's row exists but its bytes are gone."""
    try:
        yield
    except ContentMissing:
        log.error("content_missing", guid=str(image.guid), key=image.filename)
        raise
