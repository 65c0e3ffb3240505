"""The work deletions leave (objects to remove, CDN paths to invalidate), done until it is.

Every row of the ``deleted_objects`` outbox is done once: the deleting request removes its own
objects at once; the rest (the CDN, and whatever failed or was left by a replica that died) is
claimed by one replica's worker at a time and, if it fails, tried again ``retry_seconds`` later.
Failures are logged and counted; none reaches the client whose delete left them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import anyio
import anyio.to_thread
import structlog

from app.core.deletion import Cleanup, cdn_paths
from app.core.exceptions import PixyProxyException
from app.core.interfaces import BlobStore, CdnInvalidator, DeletionRepository
from app.core.metrics import CDN_INVALIDATIONS, DELETION_CLEANUPS, DELETION_CLEANUPS_PENDING

log = structlog.get_logger(__name__)
_BATCH = 100
_DELETIONS_KEPT = timedelta(hours=1)  # far longer than any replica's poll interval


class Cleanups:
    """Removes the objects of deleted images and invalidates their CDN paths."""

    def __init__(
        self,
        *,
        repository: DeletionRepository,
        store: BlobStore,
        cdn: CdnInvalidator | None,
        retry_seconds: float,
    ) -> None:
        self._repository = repository
        self._store = store
        self._cdn = cdn
        self.retry_seconds = retry_seconds
        self._wake = anyio.Event()

    async def run_now(self, cleanups: Sequence[Cleanup]) -> None:
        """Remove a just-deleted image's objects; wake the worker for its CDN paths."""
        objects = [cleanup for cleanup in cleanups if cleanup.kind == "object"]
        if len(objects) < len(cleanups):
            self._wake.set()
        try:
            await anyio.to_thread.run_sync(self._finish_objects, objects)
        except PixyProxyException as exc:
            log.warning("deletion_cleanup_deferred", error=exc.code, detail=exc.detail)

    async def run(self) -> None:
        """Do due work now and then, or at once when a delete asks (the app's lifetime)."""
        while True:
            with anyio.move_on_after(self.retry_seconds):
                await self._wake.wait()
            self._wake = anyio.Event()
            try:
                await anyio.to_thread.run_sync(self.run_due)
            except PixyProxyException as exc:
                log.warning("deletion_cleanups_failed", error=exc.code, detail=exc.detail)

    def run_due(self) -> None:
        """Claim due work, do it, and forget old deletions (blocking)."""
        now = datetime.now(UTC)
        until = now + timedelta(seconds=self.retry_seconds)
        while True:
            claimed = self._repository.claim_cleanups(now=now, until=until, limit=_BATCH)
            self._finish_objects([cleanup for cleanup in claimed if cleanup.kind == "object"])
            self._invalidate([cleanup for cleanup in claimed if cleanup.kind == "cdn"])
            if len(claimed) < _BATCH:
                break
        self._repository.prune_deletions(before=now - _DELETIONS_KEPT)
        DELETION_CLEANUPS_PENDING.set(self._repository.pending_cleanups())

    def _finish_objects(self, cleanups: Sequence[Cleanup]) -> None:
        done: list[int] = []
        for cleanup in cleanups:
            try:
                self._store.delete(cleanup.target)
            except PixyProxyException as exc:
                DELETION_CLEANUPS.labels("object", "failed").inc()
                log.warning("object_removal_failed", key=cleanup.target, error=exc.code)
                continue
            DELETION_CLEANUPS.labels("object", "done").inc()
            done.append(cleanup.id)
        self._repository.finish_cleanups(done)

    def _invalidate(self, cleanups: Sequence[Cleanup]) -> None:
        """One invalidation for every image in the batch."""
        if not cleanups:
            return
        if self._cdn is None:  # the distribution was unset since: nothing to ask
            self._repository.finish_cleanups([cleanup.id for cleanup in cleanups])
            return
        paths = [path for cleanup in cleanups for path in cdn_paths(cleanup.target)]
        ids = ",".join(str(cleanup.id) for cleanup in cleanups)
        reference = "pixyproxy-delete-" + hashlib.sha256(ids.encode()).hexdigest()[:32]
        try:
            self._cdn.invalidate(paths, reference=reference)
        except PixyProxyException as exc:
            CDN_INVALIDATIONS.labels("failed").inc()
            DELETION_CLEANUPS.labels("cdn", "failed").inc(len(cleanups))
            log.warning(
                "cdn_invalidation_failed",
                images=len(cleanups),
                attempt=max(c.attempts for c in cleanups) + 1,
                retry_in=self.retry_seconds,
                detail=exc.detail,
            )
            return
        CDN_INVALIDATIONS.labels("ok").inc()
        DELETION_CLEANUPS.labels("cdn", "done").inc(len(cleanups))
        log.info("cdn_invalidated", images=len(cleanups), reference=reference)
        self._repository.finish_cleanups([cleanup.id for cleanup in cleanups])
