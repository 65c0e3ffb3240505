"""Reading images: one image, pages of images, and an image's content to serve."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from uuid import UUID

import anyio.to_thread

from app.core.cancellation import Cancellation
from app.core.exceptions import InvalidRequest
from app.core.interfaces import BlobStore, ContentLinker, ImageRepository, RenditionRepository
from app.core.models import ImageDetail, ImageFilter, ImagePage
from app.core.renditions import VariantFormat
from app.service.coalesce import Coalescer
from app.service.content import ImageContent, StoredContent
from app.service.cursors import CursorCodec
from app.service.lru import BoundedLru
from app.service.variants import Variants, VariantSettings

_CACHED_DETAIL_BYTES = 32 * 1024 * 1024
_Details = list[ImageDetail]  # the method ImageReader.list hides the builtin in the class
_PageKey = tuple[ImageFilter, int, int, UUID | None, bool]


def _detail_weight(image: ImageDetail) -> int:
    # A generous guess at its memory: the prompt (up to 4 bytes a character), its UTF-8 copy that
    # rendering leaves on the string, the rendered JSON, and the rest. Prompts run up to 4,000
    # characters, so a count of entries alone would not bound the memory.
    return 12 * len(image.prompt) + 2048


class ImageReader:
    """Reads images; never changes anything.

    An image never changes once made, so its detail and its bytes are cached per process.
    An image may be deleted, though: every replica learns of deletions from the database within
    ``PIXY_CACHE_STALENESS_SECONDS`` (``service/cache_eviction.py``) and calls ``forget``. Misses
    are not cached: the image may be created meanwhile, on any replica.
    """

    def __init__(
        self,
        *,
        repository: ImageRepository,
        store: BlobStore,
        cursors: CursorCodec,
        linker: ContentLinker | None = None,
        content_cache_bytes: int = 0,
        renditions: RenditionRepository | None = None,
        variants: VariantSettings | None = None,
    ) -> None:
        self._repository = repository
        self._store = store
        self._cursors = cursors
        self._stored = StoredContent(store, linker=linker, cache_bytes=content_cache_bytes)
        self._details: BoundedLru[str, ImageDetail] = BoundedLru(
            _CACHED_DETAIL_BYTES, _detail_weight
        )
        self._pages: Coalescer[_PageKey, ImagePage] = Coalescer()
        # Bumped by every eviction: a detail read from the database before an eviction is not
        # cached after it (it may be of the image just deleted).
        self._evictions = 0
        self._variants: Variants | None = None
        if renditions is not None:
            self._variants = Variants(
                repository=renditions,
                store=store,
                stored=self._stored,
                settings=variants or VariantSettings(),
            )

    async def get(self, guid: UUID) -> ImageDetail:
        """The image with this guid, or ``ImageNotFound``."""
        key = str(guid)
        cached = self._details.get(key)
        if cached is not None:
            return cached
        evictions = self._evictions
        image = await anyio.to_thread.run_sync(self._repository.get, guid)
        if evictions == self._evictions:
            self._details.put(key, image)
        return image

    def forget(self, guid: str) -> None:
        """Drop what this process cached of a deleted image: its detail and its bytes."""
        self._evictions += 1
        image = self._details.pop(guid)
        if image is not None:
            self._stored.forget(image.filename)
            if self._variants is not None:
                self._variants.forget(image)

    def forget_all(self) -> None:
        """Drop every cached detail and object (when deletions could not be learned)."""
        self._evictions += 1
        self._details.clear()
        self._stored.forget_all()
        if self._variants is not None:
            self._variants.forget_all()

    async def list(
        self,
        filters: ImageFilter | None = None,
        *,
        limit: int,
        offset: int = 0,
        cursor: str | None = None,
        count: bool = False,
    ) -> ImagePage:
        """One page of images newest first, with the cursor of the next page if there is one.

        A caller may be cancelled while it waits (its client left): once no caller waits for
        the read any more, its query is stopped in the database, not left to its deadline.
        """
        filters = filters or ImageFilter()
        after = self._cursors.decode(cursor) if cursor is not None else None
        read = partial(
            self._read_page, filters, limit=limit, offset=offset, after=after, count=count
        )
        # Callers that share a read share its page too: the same objects, rendered once.
        return await self._pages.run((filters, limit, offset, after, count), read)

    async def _read_page(
        self,
        filters: ImageFilter,
        cancel: Cancellation,
        *,
        limit: int,
        offset: int,
        after: UUID | None,
        count: bool,
    ) -> ImagePage:
        # One row more than asked tells whether another page follows, without counting.
        page = partial(
            self._repository.list_guids,
            filters,
            limit=limit + 1,
            offset=offset,
            after=after,
            cancel=cancel,
        )
        guids = await anyio.to_thread.run_sync(page)
        images = await self._details_of(guids[:limit])
        next_cursor = self._cursors.encode(UUID(guids[limit - 1])) if len(guids) > limit else None
        total = None
        if count:
            counting = partial(self._repository.count, filters, cancel=cancel)
            total = await anyio.to_thread.run_sync(counting)
        return ImagePage(images=images, next_cursor=next_cursor, total=total)

    async def _details_of(self, guids: Sequence[str]) -> _Details:
        """The details of these images in this order: cached ones, the rest in one query."""
        known = {guid: self._details.get(guid) for guid in guids}
        missing = [guid for guid, image in known.items() if image is None]
        if missing:
            evictions = self._evictions
            found = await anyio.to_thread.run_sync(self._repository.get_many, missing)
            for guid, image in found.items():
                if evictions == self._evictions:
                    self._details.put(guid, image)
            known |= found
        return [image for image in known.values() if image is not None]

    async def content(
        self,
        guid: UUID,
        *,
        width: int | None = None,
        variant_format: VariantFormat | None = None,
    ) -> ImageContent:
        """The bytes of the image with this guid, or of a variant of it, to serve.

        ``ImageNotFound`` if there is none; a variant is made on its first request.
        """
        image = await self.get(guid)
        if width is None and variant_format is None:
            return ImageContent.original(image, self._stored)
        if self._variants is None:
            raise InvalidRequest("this service makes no variants")
        return await self._variants.content(image, width=width, variant_format=variant_format)
