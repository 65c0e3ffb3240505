"""Variants of an image (other widths, other formats): made once, then served like originals.

A variant is made on its first request, stored in the same store as its original under a key
derived from the original's (``app.core.renditions``), recorded in ``renditions``, and from then
on read like any stored object. Making one reads the original, decodes, scales and encodes it in
a worker thread; at most ``concurrency`` are made at once per process, which with the pixel limit
bounds the memory they take (about ``concurrency * max_pixels * 4`` bytes of pixels). Requests
for a variant in the making wait for it (``SingleFlight``); replicas that make one at the same
moment write the same bytes (fixed encoder settings) whole, and the first row recorded wins.
A variant whose object went missing from the store is made again when it is next read.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from uuid import UUID

import anyio
import anyio.to_thread
import structlog

from app.core.exceptions import InvalidRequest
from app.core.image_types import PNG, ImageType, image_type_for_media_type
from app.core.interfaces import BlobStore, RenditionRepository
from app.core.models import ImageDetail
from app.core.renditions import (
    DEFAULT_WIDTHS,
    Rendition,
    VariantFormat,
    image_type_of_format,
    rendition_key,
    rendition_name,
)
from app.service.content import ImageContent, StoredContent
from app.service.lru import BoundedLru
from app.service.resizing import WRITABLE_TYPES, measure, resize
from app.service.single_flight import SingleFlight

log = structlog.get_logger(__name__)
_KNOWN_ENTRIES = 100_000
DEFAULT_MAX_PIXELS = 4096 * 4096


@dataclass(frozen=True)
class VariantSettings:
    """The width ladder, how many variants one process makes at once, and the pixel limit."""

    widths: tuple[int, ...] = DEFAULT_WIDTHS
    concurrency: int = 2
    max_pixels: int = DEFAULT_MAX_PIXELS


class Variants:
    """Finds an image's variants, making each on its first request."""

    def __init__(
        self,
        *,
        repository: RenditionRepository,
        store: BlobStore,
        stored: StoredContent,
        settings: VariantSettings,
    ) -> None:
        self._repository = repository
        self._store = store
        self._stored = stored
        self._settings = settings
        self._limiter = anyio.CapacityLimiter(settings.concurrency)
        # Renditions never change: what is known of them is right on every replica until their
        # image is deleted (``forget``).
        self._known: BoundedLru[tuple[UUID, str], Rendition] = BoundedLru(_KNOWN_ENTRIES)
        self._measured: BoundedLru[UUID, tuple[int, int]] = BoundedLru(_KNOWN_ENTRIES)
        self._making: SingleFlight[str, Rendition] = SingleFlight()

    async def content(
        self, image: ImageDetail, *, width: int | None, variant_format: VariantFormat | None
    ) -> ImageContent:
        """The variant of ``image`` asked for; the original itself when that is what it is."""
        if width is not None and width not in self._settings.widths:
            ladder = ", ".join(str(w) for w in self._settings.widths)
            raise InvalidRequest(f"width must be one of {ladder}, not {width}")
        original_type = image_type_for_media_type(image.media_type)
        if variant_format is not None:
            target = image_type_of_format(variant_format)
        else:
            target = original_type if original_type in WRITABLE_TYPES else PNG
        source_width, _ = await self._dimensions(image)
        # Never upscaled: a width above the original's is the original's.
        width = source_width if width is None else min(width, source_width)
        if width == source_width and target == original_type:
            return ImageContent.original(image, self._stored)
        rendition = await self._rendition(image, width, target)
        etag = f'"{image.guid.hex}-{rendition.name}"'
        remake = partial(self._remake, image, rendition.name, width, target)
        return ImageContent(image, self._stored, key=rendition.key, etag=etag, remake=remake)

    def forget(self, image: ImageDetail) -> None:
        """Drop what is known of a deleted image's renditions, and their bytes in memory."""
        self._measured.pop(image.guid)
        for image_type in WRITABLE_TYPES:
            for width in self._settings.widths:
                name = rendition_name(width, image_type)
                self._known.pop((image.guid, name))
                self._stored.forget(rendition_key(image.filename, name))

    def forget_all(self) -> None:
        """Drop what is known of every rendition."""
        self._known.clear()
        self._measured.clear()

    async def _rendition(self, image: ImageDetail, width: int, target: ImageType) -> Rendition:
        name = rendition_name(width, target)
        known = self._known.get((image.guid, name))
        if known is None:
            known = await anyio.to_thread.run_sync(self._repository.get, image.guid, name)
        if known is None:
            make = partial(self._make, image, name, width, target)
            known = await self._making.run(rendition_key(image.filename, name), make)
        self._known.put((image.guid, name), known)
        return known

    async def _remake(self, image: ImageDetail, name: str, width: int, target: ImageType) -> None:
        """Make a recorded rendition whose object went missing again. Its row stays: the same
        settings encode the same bytes, so its size and ETag still hold."""
        make = partial(self._make, image, name, width, target)
        await self._making.run(rendition_key(image.filename, name), make)

    async def _make(
        self, image: ImageDetail, name: str, width: int, target: ImageType
    ) -> Rendition:
        """Make, store and record one rendition in a worker thread, within the limit."""
        work = partial(self._make_blocking, image, name, width, target)
        return await anyio.to_thread.run_sync(work, limiter=self._limiter)

    def _make_blocking(
        self, image: ImageDetail, name: str, width: int, target: ImageType
    ) -> Rendition:
        key = rendition_key(image.filename, name)
        resized = resize(
            self._read(image.filename),
            width=width,
            image_type=target,
            max_pixels=self._settings.max_pixels,
        )
        # The bytes first, whole (a rename in a folder, one PUT in a bucket), then the row: a
        # crash between leaves an object that reconcile knows as a rendition of its image.
        self._store.put(key, resized.data, content_type=target.media_type)
        made = Rendition(
            image_guid=image.guid,
            name=name,
            key=key,
            media_type=target.media_type,
            width=resized.width,
            height=resized.height,
            bytes=len(resized.data),
        )
        recorded = self._repository.add(made)
        log.info("variant_made", guid=str(image.guid), name=name, bytes=made.bytes)
        return recorded

    async def _dimensions(self, image: ImageDetail) -> tuple[int, int]:
        """The original's width and height; measured from its bytes for rows made before they
        were recorded (``python -m app backfill`` records them)."""
        if image.width and image.height:
            return image.width, image.height
        measured = self._measured.get(image.guid)
        if measured is None:
            read = partial(self._measure_blocking, image.filename)
            measured = await anyio.to_thread.run_sync(read, limiter=self._limiter)
            self._measured.put(image.guid, measured)
        return measured

    def _measure_blocking(self, key: str) -> tuple[int, int]:
        return measure(self._read(key))

    def _read(self, key: str) -> bytes:
        return self._store.open(key).read()
