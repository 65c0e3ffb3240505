"""Retention (``PIXY_RETENTION_DAYS``): images older than that are deleted like any other.

A sweep runs soon after start and then every ``interval`` seconds on whichever replica holds
the ``retention`` lease in the database, in batches, each image through ``ImageDeletion``.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from functools import partial

import anyio
import anyio.to_thread
import structlog

from app.core.exceptions import PixyProxyException
from app.core.interfaces import DeletionRepository
from app.service.deletion import ImageDeletion

log = structlog.get_logger(__name__)
_LEASE = "retention"
_BATCH = 100
_FIRST_DELAY_SECONDS = 5.0


class RetentionSweep:
    """Deletes images past retention, one replica at a time."""

    def __init__(
        self,
        *,
        repository: DeletionRepository,
        deletion: ImageDeletion,
        days: float,
        interval: float,
        owner: str,
        batch: int = _BATCH,
    ) -> None:
        self._repository = repository
        self._deletion = deletion
        self._age = timedelta(days=days)
        self._interval = interval
        self._owner = owner
        self._batch = batch

    async def run(self) -> None:
        """Sweep soon after start, then every interval (the app's lifetime)."""
        # Replicas started together do not all ask for the lease at the same moment.
        await anyio.sleep(min(self._interval, _FIRST_DELAY_SECONDS) * random.uniform(0.5, 1))  # noqa: S311 - not a secret
        while True:
            try:
                await self.sweep()
            except PixyProxyException as exc:
                log.warning("retention_sweep_failed", error=exc.code, detail=exc.detail)
            await anyio.sleep(self._interval)

    async def sweep(self) -> int:
        """Delete every image past retention if this replica gets the lease; how many."""
        if not await self._lease():
            return 0
        deleted = 0
        cutoff = datetime.now(UTC) - self._age
        try:
            while True:
                older = partial(self._repository.images_created_before, cutoff, limit=self._batch)
                guids = await anyio.to_thread.run_sync(older)
                for guid in guids:
                    deleted += await self._deletion.expire(guid)
                if len(guids) < self._batch or not await self._lease():
                    break
        finally:
            release = partial(self._repository.release_lease, _LEASE, owner=self._owner)
            await anyio.to_thread.run_sync(release)
            log.info("retention_sweep", deleted=deleted, cutoff=cutoff.isoformat())
        return deleted

    async def _lease(self) -> bool:
        """Take or renew the lease for long enough to delete a batch."""
        now = datetime.now(UTC)
        until = now + timedelta(seconds=max(60.0, self._interval))
        take = partial(self._repository.take_lease, _LEASE, owner=self._owner, now=now, until=until)
        return await anyio.to_thread.run_sync(take)
