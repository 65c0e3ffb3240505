"""Idempotent generation: the same Idempotency-Key and body give the first result, once.

As Stripe and the IETF httpapi draft describe it: a key is claimed in the database before the
generation starts (so concurrent duplicates, on any replica, generate exactly once), answered
from the stored guid afterwards, refused with another body, and given up if the request fails
so that the client may retry. Keys are scoped per API key.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial

import anyio
import anyio.to_thread
import structlog

from app.core.exceptions import IdempotencyInProgress, IdempotencyKeyReused
from app.core.interfaces import IdempotencyRepository, ImageRepository
from app.core.models import ImageCreate, ImageDetail
from app.service.private import ImageCreator

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Creation:
    """A generated image, and whether it was replayed from an earlier request."""

    image: ImageDetail
    replayed: bool = False


def request_hash(request: ImageCreate) -> str:
    """A fingerprint of the request body, independent of its JSON formatting."""
    return hashlib.sha256(request.model_dump_json().encode()).hexdigest()


class IdempotentCreator:
    """Generates at most once per (caller, Idempotency-Key)."""

    def __init__(
        self,
        *,
        creator: ImageCreator,
        keys: IdempotencyRepository,
        images: ImageRepository,
        ttl: timedelta,
        stale_after: timedelta,
    ) -> None:
        self._creator = creator
        self._keys = keys
        self._images = images
        self._ttl = ttl
        self._stale_after = stale_after

    async def generate(self, request: ImageCreate, *, scope: str, key: str | None) -> Creation:
        """Generate, or replay what the key's first request generated."""
        if key is None:
            return Creation(await self._creator.generate(request))
        fingerprint = request_hash(request)
        for _ in range(3):  # a claim can race an expiring or released key; settle it in a few
            if await self._claim(scope, key, fingerprint):
                return Creation(await self._generate_claimed(request, scope, key))
            replay = await self._existing(scope, key, fingerprint)
            if replay is not None:
                return Creation(replay, replayed=True)
        raise IdempotencyInProgress("the key is busy; retry shortly", retry_after=1)

    async def _claim(self, scope: str, key: str, fingerprint: str) -> bool:
        now = datetime.now(UTC)
        claim = partial(
            self._keys.claim,
            scope=scope,
            key=key,
            request_hash=fingerprint,
            now=now,
            expires_at=now + self._ttl,
        )
        return await anyio.to_thread.run_sync(claim)

    async def _existing(self, scope: str, key: str, fingerprint: str) -> ImageDetail | None:
        """The image of a finished first request, None when the key just became free."""
        get = partial(self._keys.get, scope=scope, key=key, now=datetime.now(UTC))
        record = await anyio.to_thread.run_sync(get)
        if record is None:
            return None
        if record.request_hash != fingerprint:
            raise IdempotencyKeyReused("this Idempotency-Key was used with a different body")
        if record.image_guid is not None:
            return await anyio.to_thread.run_sync(self._images.get, record.image_guid)
        if datetime.now(UTC) - record.created_at > self._stale_after:
            # The first request's process died before finishing: let this one take over.
            release = partial(
                self._keys.release_stale, scope=scope, key=key, created_at=record.created_at
            )
            await anyio.to_thread.run_sync(release)
            return None
        raise IdempotencyInProgress(
            "the first request with this Idempotency-Key is still running", retry_after=5
        )

    async def _generate_claimed(self, request: ImageCreate, scope: str, key: str) -> ImageDetail:
        try:
            image = await self._creator.generate(request)
        except BaseException:
            with anyio.CancelScope(shield=True):
                release = partial(self._keys.release, scope=scope, key=key)
                await anyio.to_thread.run_sync(release)
            raise
        complete = partial(self._keys.complete, scope=scope, key=key, guid=image.guid)
        await anyio.to_thread.run_sync(complete)
        return image
