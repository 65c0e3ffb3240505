"""Deleting an image: by its owner or an operator (``DELETE /image/{guid}``), or by retention.

The rows go first, in one transaction that records what is left to do in an outbox (the
objects, the CDN paths); then this replica forgets the image and removes its objects at once,
and the CDN is asked in the background. Whatever fails is retried from the outbox
(``service/deletion_cleanup.py``); other replicas forget the image within the staleness bound
(``service/cache_eviction.py``). See docs/ARCHITECTURE.md, "Deletion".
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import Literal
from uuid import UUID

import anyio.to_thread
import structlog

from app.core.callers import Caller
from app.core.exceptions import ImageNotFound
from app.core.interfaces import DeletionRepository
from app.core.metrics import IMAGES_DELETED
from app.service.deletion_cleanup import Cleanups

log = structlog.get_logger(__name__)
Reason = Literal["request", "retention"]


class ImageDeletion:
    """Deletes images everywhere: rows, objects, variants, partials, caches and the CDN."""

    def __init__(
        self,
        *,
        repository: DeletionRepository,
        cleanups: Cleanups,
        forget: Callable[[str], None],
        cdn: bool,
    ) -> None:
        self._repository = repository
        self._cleanups = cleanups
        self._forget = forget
        self._cdn = cdn

    async def delete(self, guid: UUID, caller: Caller) -> None:
        """Delete the image if the caller owns it or is an operator; ``ImageNotFound`` if it
        is gone, or is another key's (or nobody's, for a key that is no operator's)."""
        owner = None if caller.admin else caller.id
        if not await self._delete(guid, owner=owner, reason="request", by=caller.label):
            raise ImageNotFound(f"no image has the guid {guid}")

    async def expire(self, guid: UUID) -> bool:
        """Delete an image past retention; False if another replica or a client was quicker."""
        return await self._delete(guid, owner=None, reason="retention", by="retention")

    async def _delete(self, guid: UUID, *, owner: str | None, reason: Reason, by: str) -> bool:
        remove = partial(
            self._repository.delete_image,
            guid,
            owner=owner,
            cdn=self._cdn,
            now=datetime.now(UTC),
            grace=self._cleanups.retry_seconds,
        )
        deleted = await anyio.to_thread.run_sync(remove)
        if deleted is None:
            return False
        IMAGES_DELETED.labels(reason).inc()
        log.info("image_deleted", guid=str(guid), reason=reason, by=by)
        self._forget(str(guid))
        # The rows are gone: nothing past this point may fail the delete.
        await self._cleanups.run_now(deleted.cleanups)
        return True
