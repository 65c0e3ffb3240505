"""Submitting generation jobs, reading them back, and waiting for them to finish.

A job is written before any money is spent; whichever replica's runner claims it makes the
image. A request that waits for its job (the synchronous ``POST /image``) only watches: if the
client leaves, the job goes on. An Idempotency-Key names one job per owner on every replica.
"""

from __future__ import annotations

import contextlib
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any
from uuid import UUID, uuid4

import anyio
import anyio.to_thread
import structlog

from app.core import metrics
from app.core.callers import Caller
from app.core.exceptions import (
    GenerationCapacity,
    IdempotencyKeyReused,
    ImageNotFound,
    JobNotFound,
    PixyProxyException,
    exception_for_code,
)
from app.core.interfaces import ImageRepository, JobRepository
from app.core.jobs import Job, JobProblem, JobRecord, JobStatus
from app.core.models import ImageCreate, ImageDetail
from app.service.job_watcher import JobWatcher
from app.service.options import ModelCatalog

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Submission:
    """A submitted job, and whether this request created it (False: an idempotent replay)."""

    job: JobRecord
    created: bool


def request_hash(request: ImageCreate) -> str:
    """A fingerprint of the request body, independent of its JSON formatting."""
    return hashlib.sha256(request.model_dump_json().encode()).hexdigest()


def job_failure(problem: JobProblem) -> PixyProxyException:
    """The exception a failed job's request is answered with, as if it had just happened."""
    return exception_for_code(problem.code)(
        problem.detail, retry_after=problem.retry_after, extra=problem.extra
    )


def problem_body(problem: JobProblem) -> dict[str, Any]:
    """The problem as a client sees it: its fields, with what it carries besides them."""
    body = problem.model_dump(exclude_none=True, exclude={"extra"})
    return body | problem.extra


class JobService:
    """Submits jobs, reads them for their owner, and waits for them."""

    def __init__(
        self,
        *,
        jobs: JobRepository,
        images: ImageRepository,
        catalog: ModelCatalog,
        queue_limit: int,
        hourly_limit: int = 0,
        idempotency_ttl: timedelta,
        watcher: JobWatcher,
        wake_runner: Callable[[], None],
    ) -> None:
        self._watcher = watcher
        self._jobs = jobs
        self._images = images
        self._catalog = catalog
        self._hourly_limit = hourly_limit
        self._queue_limit = queue_limit
        self._idempotency_ttl = idempotency_ttl
        self._wake_runner = wake_runner

    async def submit(self, request: ImageCreate, *, caller: Caller, key: str | None) -> Submission:
        """Record a new job (or find the one ``key`` names) and let a runner know.

        The options are checked against the models first: a refused one costs nothing.
        """
        generation = self._catalog.resolve(request)
        owner = caller.id
        fingerprint = request_hash(request) if key is not None else None
        queued = await anyio.to_thread.run_sync(self._jobs.queued)
        if queued >= self._queue_limit:
            raise GenerationCapacity("the generation queue is full; retry shortly", retry_after=30)
        now = datetime.now(UTC)
        record = JobRecord(
            id=uuid4(),
            owner=owner,
            prompt=request.prompt,
            options=generation.options(),
            not_before=now,
            idempotency_key=key,
            request_hash=fingerprint,
            webhook_url=request.webhook_url,
            created_at=now,
            updated_at=now,
        )
        submit = partial(self._jobs.submit, record, hourly_limit=self._hourly_limit)
        job, created = await anyio.to_thread.run_sync(submit)
        if not created and job.created_at < now - self._idempotency_ttl:
            forget = partial(
                self._jobs.forget_key, owner=owner, key=str(key), before=job.created_at
            )
            if await anyio.to_thread.run_sync(forget):  # an expired key: it names a new job
                job, created = await anyio.to_thread.run_sync(submit)
        if not created:
            if job.request_hash != fingerprint:
                raise IdempotencyKeyReused("this Idempotency-Key was used with a different body")
            return Submission(job, created=False)
        metrics.series(metrics.JOBS, JobStatus.QUEUED.value).inc()
        log.info("job_submitted", job=str(job.id))
        self._wake_runner()
        return Submission(job, created=True)

    async def get(self, job_id: UUID, *, caller: Caller) -> Job:
        """The job as its owner (or an operator) sees it; ``JobNotFound`` for anyone else."""
        return await self.view(await self.owned(job_id, caller=caller))

    async def owned(self, job_id: UUID, *, caller: Caller) -> JobRecord:
        """The job's record if ``caller`` made it (or is an operator); ``JobNotFound`` for
        anyone else, as for a job that does not exist."""
        record = await anyio.to_thread.run_sync(self._jobs.get, job_id)
        if record is None or not (record.owner == caller.id or caller.admin):
            raise JobNotFound(f"you have no job with the id {job_id}")
        return record

    async def view(self, record: JobRecord) -> Job:
        """What a client sees of a job: its image once succeeded (``None`` once that image was
        deleted), what it cost, and its problem once failed."""
        image, usage = None, None
        if record.status is JobStatus.SUCCEEDED:
            with contextlib.suppress(ImageNotFound):
                image = await self.image_of(record)
            usage = await anyio.to_thread.run_sync(self._jobs.usage, record.id)
        return Job(
            id=record.id,
            status=record.status,
            created_at=record.created_at,
            updated_at=record.updated_at,
            attempts=record.attempts,
            image=image,
            error=None if record.error is None else problem_body(record.error),
            usage=usage,
        )

    async def image_of(self, record: JobRecord) -> ImageDetail:
        """The image a succeeded job made; ``ImageNotFound`` once it was deleted (a job's image
        is written with its success, so nothing else takes it away)."""
        return await anyio.to_thread.run_sync(self._images.get, record.id)

    async def wait(self, job_id: UUID, *, seconds: float) -> JobRecord:
        """The job once it has finished, or as it stands after ``seconds``.

        The replica's watcher wakes the wait when the job changes, here or on another replica.
        """
        deadline = time.monotonic() + seconds
        record = await self._current(job_id)
        async with self._watcher.watch(job_id, record.revision) as watch:
            while not record.status.terminal:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                if await watch.wait(remaining):
                    record = await self._current(job_id)
                    watch.revision = record.revision
        return record

    async def _current(self, job_id: UUID) -> JobRecord:
        record = await anyio.to_thread.run_sync(self._jobs.get, job_id)
        if record is None:
            raise JobNotFound(f"no job has the id {job_id}")
        return record
