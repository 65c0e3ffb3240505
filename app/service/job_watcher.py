"""Waiting for jobs to change, on any replica, without a query per waiter.

One ``JobWatcher`` per replica asks for the revisions of every watched job in one query per
poll (``PIXY_JOB_POLL_SECONDS``); the local runner wakes waiters at once. Event streams and
synchronous ``POST /image`` requests both wait this way.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from uuid import UUID

import anyio
import anyio.to_thread
import structlog

from app.core import metrics
from app.core.exceptions import PixyProxyException
from app.core.interfaces import JobRepository

log = structlog.get_logger(__name__)


class JobWatcher:
    """Wakes the streams of this replica when their jobs change: one query per poll for all."""

    def __init__(self, jobs: JobRepository, *, poll_seconds: float) -> None:
        self._jobs = jobs
        self._poll_seconds = poll_seconds
        self._watching: dict[UUID, set[_Watch]] = {}

    @property
    def watched(self) -> int:
        """How many jobs are being watched."""
        return len(self._watching)

    def changed(self, job_id: UUID) -> None:
        """The local runner changed ``job_id``: wake its streams now (event loop only)."""
        for watch in self._watching.get(job_id, ()):
            watch.wake()

    @asynccontextmanager
    async def watch(self, job_id: UUID, revision: int) -> AsyncIterator[_Watch]:
        """Watch ``job_id`` from ``revision`` on, for as long as the block runs."""
        watch = _Watch(revision)
        self._watching.setdefault(job_id, set()).add(watch)
        metrics.JOB_WATCHES.inc()
        try:
            yield watch
        finally:
            metrics.JOB_WATCHES.dec()
            watchers = self._watching.get(job_id)
            if watchers is not None:
                watchers.discard(watch)
                if not watchers:
                    del self._watching[job_id]

    async def run(self) -> None:
        """Poll the revisions of every watched job until cancelled."""
        while True:
            await anyio.sleep(self._poll_seconds)
            if not self._watching:
                continue
            try:
                revisions = await anyio.to_thread.run_sync(
                    self._jobs.revisions, list(self._watching)
                )
            except PixyProxyException as exc:
                # Waiters look for themselves and meet the outage (a 503 that says where to
                # follow the job), rather than wait on a watcher that cannot see.
                log.warning("job_watch_failed", code=exc.code)
                for watches in self._watching.values():
                    for watch in watches:
                        watch.wake()
                continue
            metrics.EVENT_POLLS.inc()
            for job_id, revision in revisions.items():
                for watch in self._watching.get(job_id, ()):
                    if revision > watch.revision:
                        watch.wake()


class _Watch:
    """One stream's view of a job: the last revision it sent, and a wake-up."""

    def __init__(self, revision: int) -> None:
        self.revision = revision
        self._woken = anyio.Event()

    def wake(self) -> None:
        self._woken.set()

    async def wait(self, seconds: float) -> bool:
        """Wait for a change for at most ``seconds``; whether one came."""
        with anyio.move_on_after(seconds):
            await self._woken.wait()
        woken = self._woken.is_set()
        if woken:
            self._woken = anyio.Event()
        return woken
