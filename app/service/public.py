"""Public use cases: read one image, list images, read an image's bytes."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from uuid import UUID

import anyio.to_thread

from app.core.image_types import media_type_for_key
from app.core.interfaces import BlobStore, ImageRepository
from app.core.models import ImageDetail


@dataclass(frozen=True)
class ImageContent:
    """An image's bytes with the detail they belong to."""

    detail: ImageDetail
    data: bytes
    media_type: str


class ImageReader:
    """Reads images; never changes anything."""

    def __init__(self, *, repository: ImageRepository, store: BlobStore) -> None:
        self._repository = repository
        self._store = store

    async def get(self, guid: UUID) -> ImageDetail:
        """The image with this guid, or ``ImageNotFound``."""
        return await anyio.to_thread.run_sync(self._repository.get, guid)

    async def list(self, *, limit: int, offset: int) -> list[ImageDetail]:
        """Images newest first."""
        page = partial(self._repository.list, limit=limit, offset=offset)
        return await anyio.to_thread.run_sync(page)

    async def content(self, guid: UUID) -> ImageContent:
        """The bytes of the image with this guid, with their media type."""
        detail = await self.get(guid)
        data = await anyio.to_thread.run_sync(self._store.get, detail.filename)
        return ImageContent(
            detail=detail, data=data, media_type=media_type_for_key(detail.filename)
        )
