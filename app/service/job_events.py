"""Live progress of jobs: events a client follows while its job moves, on any replica.

Every visible change of a job bumps its revision in the database (``data.job_repository``), and
each event's id is the revision that told it: a ``status`` event (the Job) at the revision of a
status change, a ``partial_image`` event at the revision its partial render was recorded. A
stream resumed with ``Last-Event-ID`` sends what came after it, whichever replica serves it.

Streams do not poll the database each: they wait on the replica's ``JobWatcher``.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any
from uuid import UUID

import anyio
import anyio.to_thread
import structlog

from app.core.callers import Caller
from app.core.exceptions import JobNotFound, PartialNotFound
from app.core.interfaces import JobRepository
from app.core.jobs import Job, JobRecord
from app.service.job_watcher import JobWatcher

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class JobEvent:
    """One event of a job's stream: ``status`` (data: the Job) or ``partial_image``."""

    id: int
    kind: str
    data: Job | dict[str, Any]


class JobEvents:
    """Builds a job's event stream for its owner."""

    def __init__(
        self,
        *,
        jobs: JobRepository,
        watcher: JobWatcher,
        view: Callable[[JobRecord], Any],
        owned: Callable[..., Awaitable[JobRecord]],
        read: Callable[[str], bytes],
        keepalive_seconds: float,
    ) -> None:
        self._jobs = jobs
        self._read = read
        self._watcher = watcher
        self._view = view
        self._owned = owned
        self._keepalive_seconds = keepalive_seconds

    async def open(self, job_id: UUID, *, caller: Caller) -> JobRecord:
        """The job, if the caller may follow it; ``JobNotFound`` for anyone else."""
        return await self._owned(job_id, caller=caller)

    async def partial(self, job_id: UUID, index: int, *, caller: Caller) -> tuple[bytes, str]:
        """A partial render of the caller's job: its bytes and media type."""
        await self.open(job_id, caller=caller)
        found = await anyio.to_thread.run_sync(self._jobs.partial, job_id, index)
        if found is None:
            raise PartialNotFound(f"job {job_id} has no partial image {index}")
        data = await anyio.to_thread.run_sync(self._read, found.key)
        return data, found.media_type

    async def stream(
        self, record: JobRecord, *, last_event_id: int | None
    ) -> AsyncIterator[JobEvent | None]:
        """The job's events after ``last_event_id`` (a fresh stream starts with its status),
        ending after the terminal status; ``None`` when a keep-alive is due."""
        job_id = record.id
        async with self._watcher.watch(job_id, record.revision) as watch:
            if last_event_id is None:
                event = await self._status(record, record.revision)
                yield event
                sent = event.id
            else:
                sent = last_event_id
            idle_since = time.monotonic()
            while True:
                events, record = await self._after(job_id, sent)
                for event in events:
                    yield event
                    sent = event.id
                    idle_since = time.monotonic()
                watch.revision = max(sent, record.revision)
                if record.status.terminal and record.status_revision <= sent:
                    return
                quiet = time.monotonic() - idle_since
                if not await watch.wait(max(0.0, self._keepalive_seconds - quiet)):
                    idle_since = time.monotonic()
                    yield None

    async def _after(self, job_id: UUID, sent: int) -> tuple[list[JobEvent], JobRecord]:
        """What happened to the job after revision ``sent``, in order, and the job now."""
        record = await anyio.to_thread.run_sync(self._fresh, job_id)
        if record.revision <= sent:
            return [], record
        partials = await anyio.to_thread.run_sync(partial(self._jobs.partials, job_id, after=sent))
        events = [
            JobEvent(
                render.revision,
                "partial_image",
                {"index": render.index, "url": f"/jobs/{job_id}/partials/{render.index}"},
            )
            for render in partials
        ]
        if record.status_revision > sent:
            events.append(await self._status(record, record.status_revision))
        return sorted(events, key=lambda event: event.id), record

    async def _status(self, record: JobRecord, revision: int) -> JobEvent:
        return JobEvent(revision, "status", await self._view(record))

    def _fresh(self, job_id: UUID) -> JobRecord:
        record = self._jobs.get(job_id)
        if record is None:
            raise JobNotFound(f"no job has the id {job_id}")
        return record
