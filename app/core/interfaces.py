"""The interfaces each backend implements; concrete classes are chosen in ``app.main``.

Repositories and blob stores are blocking (pymysql, sqlite3, boto3): the service layer calls
them from the thread pool. Generators are async.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Sequence
from datetime import datetime
from typing import Protocol
from uuid import UUID

from app.core.cancellation import Cancellation
from app.core.content import BlobStream, ByteRange, ContentLink, StoredObject
from app.core.deletion import Cleanup, DeletedImage
from app.core.generation import GeneratedImage, GenerationRequest, TokenUsage
from app.core.jobs import JobPartial, JobProblem, JobRecord, JobStatus, JobUsage
from app.core.models import ImageDetail, ImageFilter
from app.core.renditions import Rendition
from app.core.usage import UsageRow
from app.core.webhooks import WebhookDelivery


class ImageRepository(Protocol):
    """Image metadata: one row per image, looked up by guid."""

    def add(self, image: ImageDetail) -> None:
        """Insert the row of a new image."""

    def get(self, guid: UUID) -> ImageDetail:
        """Return the image with this guid, or raise ``ImageNotFound``."""

    def get_many(self, guids: Sequence[str]) -> dict[str, ImageDetail]:
        """The images of these guids (as text) that exist, by guid."""

    def list_guids(
        self,
        filters: ImageFilter | None = None,
        *,
        limit: int,
        offset: int = 0,
        after: UUID | None = None,
        cancel: Cancellation | None = None,
    ) -> list[str]:
        """The guids (as text) of the images matching ``filters``, newest first, after ``after``;
        cancelling ``cancel`` stops the query (``QueryCancelled``).

        Text, not ``UUID``: a page of them is looked up in a cache, where parsing 500 of them
        would cost more than the lookups.
        """

    def count(
        self, filters: ImageFilter | None = None, *, cancel: Cancellation | None = None
    ) -> int:
        """How many images match ``filters``; cancelling ``cancel`` stops the query."""

    def ping(self) -> None:
        """Raise if the database cannot answer a trivial query."""

    def filenames(self) -> Iterator[str]:
        """Every image's filename (its object key), in batches under the hood."""

    def close(self) -> None:
        """Release pooled connections."""


class UnmeasuredImages(Protocol):
    """The image rows made before dimensions were recorded (``python -m app backfill``)."""

    def without_dimensions(self, *, after_id: int, limit: int) -> list[tuple[int, str]]:
        """(id, filename) of rows without dimensions, by id after ``after_id``."""

    def set_dimensions(self, row_id: int, *, width: int, height: int, size: int) -> None:
        """Record what an older row's image measures."""


class UsageRepository(Protocol):
    """What images cost (``usage_records``): summed, and written for images made without."""

    def usage(
        self, *, owner: str | None, since: datetime | None, until: datetime | None
    ) -> list[UsageRow]:
        """Sums per (owner, model, day) of the images in ``[since, until)``."""

    def last_image_id(self) -> int:
        """The id of the newest image row (0 when there is none)."""

    def record_missing(self, *, after: int, through: int, limit: int) -> tuple[int | None, int]:
        """Write the usage rows of up to ``limit`` images in ``(after, through]`` lacking one;
        the last id done (None once none are left) and how many were written."""


class RenditionRepository(Protocol):
    """Renditions of images (variants): one row per image and rendition name."""

    def get(self, image_guid: UUID, name: str) -> Rendition | None:
        """The rendition ``name`` of an image, if it was made."""

    def add(self, rendition: Rendition) -> Rendition:
        """Record a rendition; the one recorded first when another replica was quicker."""

    def keys(self) -> Iterator[str]:
        """Every rendition's object key, in batches under the hood."""


class DeletionRepository(Protocol):
    """Deleting images: their rows at once, the rest through an outbox; the log of deleted
    guids that replicas poll; leases that let one replica at a time run a sweep."""

    def delete_image(
        self, guid: UUID, *, owner: str | None, cdn: bool, now: datetime, grace: float
    ) -> DeletedImage | None:
        """Remove the image's rows (renditions and partials too) in one transaction that
        records its objects (and, with ``cdn``, its paths) in the outbox, due after ``grace``
        seconds (the CDN at once). ``owner`` None acts for an operator; otherwise only an image
        of that owner is deleted. None when there is no such image (or it is not theirs)."""

    def claim_cleanups(self, *, now: datetime, until: datetime, limit: int) -> list[Cleanup]:
        """Take up to ``limit`` due cleanups, none due again before ``until`` (a retry)."""

    def finish_cleanups(self, ids: Sequence[int]) -> None:
        """Clear cleanups that were done."""

    def pending_cleanups(self) -> int:
        """How many cleanups wait in the outbox."""

    def deletions_after(self, last_id: int, *, limit: int) -> list[tuple[int, str]]:
        """Ids and guids of the deletions logged after ``last_id``, in order."""

    def last_deletion_id(self) -> int:
        """The id of the last deletion logged (0 if none)."""

    def prune_deletions(self, *, before: datetime) -> int:
        """Forget deletions logged before ``before``; how many were forgotten."""

    def images_created_before(self, before: datetime, *, limit: int) -> list[UUID]:
        """Up to ``limit`` guids of images made before ``before``, oldest first."""

    def expire_jobs(self, *, before: datetime, now: datetime, limit: int) -> int:
        """Remove up to ``limit`` jobs finished before ``before`` (none whose webhook has not
        been delivered or given up on), their partials' objects left in the outbox; how many."""

    def take_lease(self, name: str, *, owner: str, now: datetime, until: datetime) -> bool:
        """Hold the lease ``name`` until ``until`` if it is free, expired, or already ours."""

    def release_lease(self, name: str, *, owner: str) -> None:
        """Give back the lease ``name`` if ``owner`` holds it."""


class CdnInvalidator(Protocol):
    """A CDN in front of image content, asked to drop what it cached of deleted images."""

    def invalidate(self, paths: Sequence[str], *, reference: str) -> None:
        """Ask for ``paths`` to be invalidated; the same ``reference`` asks only once.

        ``CdnUnavailable`` when the CDN refuses or does not answer.
        """


class JobRepository(Protocol):
    """Generation jobs: submitted, claimed under a lease, renewed, finished or taken over."""

    def submit(self, job: JobRecord, *, hourly_limit: int = 0) -> tuple[JobRecord, bool]:
        """Insert ``job``, or return the job its idempotency key names; True if inserted.

        ``BudgetExceeded`` when the owner submitted ``hourly_limit`` jobs in the last hour.
        """

    def forget_key(self, *, owner: str, key: str, before: datetime) -> bool:
        """Free an idempotency key whose job finished before ``before``."""

    def get(self, job_id: UUID) -> JobRecord | None:
        """The job with this id, if any."""

    def statuses(self, job_ids: Sequence[UUID]) -> dict[UUID, JobStatus]:
        """The status of each of these jobs that exists."""

    def usage(self, job_id: UUID) -> JobUsage | None:
        """What the image of a succeeded job cost, if it has one."""

    def revisions(self, job_ids: Sequence[UUID]) -> dict[UUID, int]:
        """The current revision of each of these jobs that exists."""

    def add_partial(
        self, job_id: UUID, *, index: int, key: str, media_type: str, now: datetime
    ) -> int | None:
        """Record a partial render of a running job; its event's revision, or None."""

    def partials(self, job_id: UUID, *, after: int = 0) -> list[JobPartial]:
        """The partial renders of a job recorded after revision ``after``, in order."""

    def partial(self, job_id: UUID, index: int) -> JobPartial | None:
        """One partial render of a job, if it was recorded."""

    def partial_keys(self) -> list[str]:
        """The object key of every recorded partial render."""

    def queued(self) -> int:
        """How many jobs wait to be claimed."""

    def claim(
        self, *, runner: str, limit: int, now: datetime, lease_until: datetime
    ) -> list[JobRecord]:
        """Take up to ``limit`` due jobs for ``runner``, leased until ``lease_until``."""

    def renew(self, *, runner: str, job_ids: Sequence[UUID], lease_until: datetime) -> int:
        """Extend the lease of these jobs while ``runner`` holds them; how many it holds."""

    def take_back_expired(
        self, *, now: datetime, max_attempts: int, problem: JobProblem
    ) -> tuple[int, int]:
        """Fail or queue again the jobs whose lease ran out; (failed, queued again)."""

    def requeue(
        self, job_id: UUID, *, runner: str, not_before: datetime, now: datetime, refund: bool
    ) -> bool:
        """Give a running job back to the queue, due at ``not_before``."""

    def fail(self, job_id: UUID, *, problem: JobProblem, now: datetime) -> bool:
        """Record that a running job failed."""

    def succeed(
        self,
        job_id: UUID,
        *,
        image: ImageDetail,
        owner: str,
        usage: TokenUsage,
        cost_microusd: int,
        now: datetime,
    ) -> bool:
        """Record the image and finish its job, both or neither; False if done already."""


class BlobStore(Protocol):
    """Image bytes, addressed by keys that PixyProxy generates (never by client input)."""

    def key_for(self, name: str) -> str:
        """The full object key for a generated name (adds the store's prefix, if any)."""

    def put(self, key: str, data: bytes, *, content_type: str) -> None:
        """Store ``data`` under ``key``, completely or not at all, keeping its ``content_type``."""

    def open(self, key: str, byte_range: ByteRange | None = None) -> BlobStream:
        """Stream the bytes under ``key`` (or a range of them); ``ContentMissing`` if absent."""

    def stat(self, key: str) -> int:
        """The size in bytes of the object under ``key``, without reading it."""

    def delete(self, key: str) -> None:
        """Remove ``key``; removing a missing key is not an error."""

    def check(self) -> None:
        """Raise if the store cannot be reached."""

    def list_objects(self) -> Iterator[StoredObject]:
        """Every object under the store's prefix, with when it was last written."""


class Presigner(Protocol):
    """A store that can sign time-limited GET URLs for its objects."""

    def presigned_url(self, key: str, *, expires_in: int) -> str:
        """A URL that lets anyone GET ``key`` for ``expires_in`` seconds."""


class ContentLinker(Protocol):
    """Says where a client can fetch stored bytes directly (a bucket or a CDN)."""

    def link(self, key: str) -> ContentLink:
        """A URL for the object under ``key`` and how long a cache may keep the redirect."""


Admit = Callable[[int], Awaitable[None]]
"""Waits until the memory budget lets the caller hold that many more bytes."""

OnPartial = Callable[[int, bytes], Awaitable[None]]
"""Takes a partial render of the image being generated: its index and its bytes."""


class ImageGenerator(Protocol):
    """Turns a prompt into image bytes."""

    async def generate(
        self, request: GenerationRequest, admit: Admit, on_partial: OnPartial | None = None
    ) -> GeneratedImage:
        """Return one image drawn for ``request``, and what the provider counted for it.

        ``on_partial`` is awaited with each partial render (its index and bytes) when the
        generator streams them.

        ``admit`` is awaited with an estimate of the bytes about to be held before an answer
        is read or decoded, so that many answers arriving at once wait instead of piling up.
        """

    async def close(self) -> None:
        """Release network clients."""


class WebhookRepository(Protocol):
    """The webhook outbox: a delivery per finished job that named a URL, until it is done."""

    def enqueue_finished(self, *, since: datetime, now: datetime, limit: int) -> int:
        """Add a delivery for each job finished after ``since`` that has a URL and none yet."""

    def claim(
        self, *, owner: str, limit: int, now: datetime, lease_until: datetime
    ) -> list[WebhookDelivery]:
        """Take up to ``limit`` due deliveries for ``owner``, due again at ``lease_until``."""

    def delivered(self, delivery_id: str, *, owner: str, status: int, now: datetime) -> bool:
        """Record that the receiver took the delivery."""

    def retry(
        self,
        delivery_id: str,
        *,
        owner: str,
        at: datetime,
        payload: str | None,
        status: int | None,
        error: str,
        now: datetime,
    ) -> bool:
        """Record a failed attempt; the next is due ``at``, with the same ``payload``."""

    def give_up(
        self,
        delivery_id: str,
        *,
        owner: str,
        status: int | None,
        error: str,
        now: datetime,
    ) -> bool:
        """Record that the last attempt failed: no more will be made."""

    def release(self, delivery_id: str, *, owner: str, now: datetime) -> bool:
        """Give back an attempt that was cut off (the replica is stopping): due at once."""
