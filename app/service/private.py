"""Private use cases, the ones that spend money or change data: generating an image."""

from __future__ import annotations

import io
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from uuid import uuid4

import anyio.to_thread
import structlog
from PIL import Image, UnidentifiedImageError

from app.core import metrics
from app.core.exceptions import GenerationCapacity, InvalidImage, PixyProxyException
from app.core.image_types import ImageType, sniff_image_type
from app.core.interfaces import BlobStore, ImageGenerator, ImageRepository
from app.core.models import ImageCreate, ImageDetail

log = structlog.get_logger(__name__)


def check_image(data: bytes) -> ImageType:
    """Return the type of ``data`` if it is a whole image we serve, else raise ``InvalidImage``."""
    image_type = sniff_image_type(data)
    if image_type is None:
        raise InvalidImage("the generator returned data that is not an image")
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise InvalidImage("the generator returned a damaged image") from exc
    return image_type


class ImageCreator:
    """Generates images, stores their bytes and records them."""

    def __init__(
        self,
        *,
        repository: ImageRepository,
        store: BlobStore,
        generator: ImageGenerator,
        max_concurrent: int = 8,
        queue_timeout: float = 10.0,
    ) -> None:
        self._repository = repository
        self._store = store
        self._generator = generator
        self._slots = anyio.Semaphore(max_concurrent)
        self._queue_timeout = queue_timeout

    async def generate(self, request: ImageCreate) -> ImageDetail:
        """Generate an image for the prompt; the bytes are stored before the row is written."""
        request = ImageCreate.model_validate(request.model_dump())
        async with self._generation_slot():
            started, outcome = time.perf_counter(), "ok"
            try:
                return await self._generate(request)
            except PixyProxyException as exc:
                outcome = exc.code
                raise
            except BaseException:
                outcome = "internal_error"
                raise
            finally:
                metrics.series(metrics.GENERATIONS, outcome).inc()
                elapsed = time.perf_counter() - started
                metrics.series(metrics.GENERATION_DURATION, outcome).observe(elapsed)

    async def _generate(self, request: ImageCreate) -> ImageDetail:
        data = await self._generator.generate(request.prompt)
        # One trip to the thread pool for the blocking steps, which a cancelled request cannot
        # interrupt half way: a stored object always gets its row or is removed again.
        detail = await anyio.to_thread.run_sync(self._keep, request.prompt, data)
        log.info("image_created", guid=str(detail.guid), filename=detail.filename, size=len(data))
        return detail

    def _keep(self, prompt: str, data: bytes) -> ImageDetail:
        """Check the bytes, store them, then record the row (blocking)."""
        image_type = check_image(data)
        guid = uuid4()
        now = datetime.now(UTC)
        detail = ImageDetail(
            guid=guid,
            prompt=prompt,
            filename=self._store.key_for(f"{guid}.{image_type.extension}"),
            created_at=now,
            updated_at=now,
        )
        self._store.put(detail.filename, data, content_type=image_type.media_type)
        try:
            self._repository.add(detail)
        except BaseException:
            self._remove_orphan(detail.filename)
            raise
        return detail

    @asynccontextmanager
    async def _generation_slot(self) -> AsyncIterator[None]:
        """Hold one of the limited generation slots, waiting a bounded time for it."""
        with anyio.move_on_after(self._queue_timeout) as waiting:
            await self._slots.acquire()
        if waiting.cancelled_caught:
            raise GenerationCapacity(
                "every generation slot is busy; retry shortly",
                retry_after=max(1, round(self._queue_timeout)),
            )
        try:
            yield
        finally:
            self._slots.release()

    def _remove_orphan(self, key: str) -> None:
        """Remove the bytes of an image whose row could not be written."""
        try:
            self._store.delete(key)
            log.warning("orphan_object_removed", key=key)
        except Exception:
            log.exception("orphan_object_left", key=key)
