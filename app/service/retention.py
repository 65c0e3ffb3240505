"""Retention: images older than ``PIXY_RETENTION_DAYS`` are deleted like any other, and jobs
that finished more than ``PIXY_JOB_RETENTION_DAYS`` ago are forgotten.

A sweep runs soon after start and then every ``interval`` seconds on whichever replica holds
the ``retention`` lease in the database, in batches, each image through ``ImageDeletion``. An
image outlives its job, and what either cost stays in ``usage_records``, which no sweep touches.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
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
    """Deletes images and forgets jobs past their retention, one replica at a time."""

    def __init__(
        self,
        *,
        repository: DeletionRepository,
        deletion: ImageDeletion,
        image_days: float,
        job_days: float,
        interval: float,
        owner: str,
        batch: int = _BATCH,
    ) -> None:
        self._repository = repository
        self._deletion = deletion
        self._image_age = timedelta(days=image_days) if image_days else None
        self._job_age = timedelta(days=job_days) if job_days else None
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

    async def sweep(self) -> tuple[int, int]:
        """Delete the images and forget the jobs past retention if this replica gets the
        lease; how many of each."""
        if not await self._lease():
            return 0, 0
        now = datetime.now(UTC)
        deleted = expired = 0
        try:
            if self._image_age is not None:
                deleted = await self._in_batches(
                    partial(self._delete_images, now - self._image_age)
                )
            if self._job_age is not None:
                expired = await self._in_batches(partial(self._expire_jobs, now, self._job_age))
        finally:
            release = partial(self._repository.release_lease, _LEASE, owner=self._owner)
            await anyio.to_thread.run_sync(release)
            log.info("retention_sweep", deleted=deleted, jobs_expired=expired)
        return deleted, expired

    async def _in_batches(self, batch: Callable[[], Awaitable[tuple[int, int]]]) -> int:
        """Run ``batch`` (rows found, rows removed) while it finds a full batch and the lease
        holds; how many rows were removed."""
        removed = 0
        while True:
            found, done = await batch()
            removed += done
            if found < self._batch or not await self._lease():
                return removed

    async def _delete_images(self, cutoff: datetime) -> tuple[int, int]:
        """Delete one batch of images made before ``cutoff`` (a client may be quicker)."""
        older = partial(self._repository.images_created_before, cutoff, limit=self._batch)
        guids = await anyio.to_thread.run_sync(older)
        deleted = 0
        for guid in guids:
            deleted += await self._deletion.expire(guid)
        return len(guids), deleted

    async def _expire_jobs(self, now: datetime, age: timedelta) -> tuple[int, int]:
        """Forget one batch of jobs that finished ``age`` before ``now``."""
        expire = partial(self._repository.expire_jobs, before=now - age, now=now, limit=self._batch)
        expired = await anyio.to_thread.run_sync(expire)
        return expired, expired

    async def _lease(self) -> bool:
        """Take or renew the lease for long enough to delete a batch."""
        now = datetime.now(UTC)
        until = now + timedelta(seconds=max(60.0, self._interval))
        take = partial(self._repository.take_lease, _LEASE, owner=self._owner, now=now, until=until)
        return await anyio.to_thread.run_sync(take)
