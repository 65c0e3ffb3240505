"""The job runner of one replica: claims due jobs under a lease and runs them to the end.

Every replica runs one, started and stopped with the app. It keeps up to ``concurrency``
provider calls in flight (they are I/O: a replica waits on many at once), renews the leases of
the jobs it holds, and gives back to the queue those whose runner died elsewhere. Which
failures are retried, and how, is decided once, in ``_attempt``:

- a rate limit (429 with Retry-After) queues the job again for after that time;
- quota, moderation, an invalid request, a timeout or a 5xx after the request was sent fail the
  job at once: the provider may have billed it, and we never pay twice;
- a failure after the provider answered (store or database down) retries the store and the
  row, not the provider;
- a runner that stops (drained, or dead: its lease runs out) gives the job back to the queue;
  attempts are bounded, past them the job fails.
"""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import TypeVar
from uuid import UUID

import anyio
import anyio.to_thread
import structlog

from app.core import metrics
from app.core.exceptions import (
    GenerationInterrupted,
    PixyProxyException,
    ProviderRateLimited,
    ServiceUnavailable,
)
from app.core.generation import GeneratedImage, GenerationRequest
from app.core.interfaces import Admit, ImageGenerator, JobRepository
from app.core.jobs import JobProblem, JobRecord, JobStatus
from app.service.byte_budget import ByteBudget
from app.service.generation import ImageKeeper, Kept

log = structlog.get_logger(__name__)
_T = TypeVar("_T")


@dataclass(frozen=True)
class RunnerSettings:
    """How a runner paces itself."""

    concurrency: int = 128
    lease_seconds: float = 30.0
    poll_seconds: float = 1.0
    max_attempts: int = 3
    persist_retry_seconds: float = 120.0


def problem_of(exc: PixyProxyException) -> JobProblem:
    """The problem a failed job keeps, from the exception that failed it."""
    return JobProblem(
        code=exc.code,
        status=exc.status,
        title=exc.title,
        detail=exc.detail,
        retry_after=exc.retry_after,
        extra=exc.extra,
    )


_UNEXPECTED = problem_of(PixyProxyException("the generation failed unexpectedly"))
_INTERRUPTED = problem_of(
    GenerationInterrupted("the replicas running this job stopped too often; submit it again")
)


class JobRunner:
    """Claims and runs generation jobs for one replica."""

    def __init__(
        self,
        *,
        jobs: JobRepository,
        generator: ImageGenerator,
        keeper: ImageKeeper,
        budget: ByteBudget,
        runner_id: str,
        settings: RunnerSettings,
        on_change: Callable[[UUID], None],
    ) -> None:
        self.runner_id = runner_id
        self._jobs = jobs
        self._generator = generator
        self._keeper = keeper
        self._budget = budget
        self._settings = settings
        self._on_change = on_change
        self._running: dict[UUID, anyio.CancelScope] = {}
        self._wakeup = anyio.Event()
        self._idle = anyio.Event()
        self._claiming = True
        self._stop_claiming_at: float | None = None

    @property
    def running(self) -> int:
        """How many jobs this runner is running."""
        return len(self._running)

    def wake(self) -> None:
        """Look for due jobs now rather than at the next poll (from the event loop only)."""
        self._wakeup.set()

    def stop_claiming(self) -> None:
        """Claim nothing more: the replica is draining. Jobs in flight go on."""
        if self._claiming:
            self._claiming = False
            self._stop_claiming_at = time.monotonic()
            log.info("job_runner_draining", running=self.running)
            self.wake()

    async def run(self) -> None:
        """Claim and run jobs until cancelled; database outages are waited out."""
        async with anyio.create_task_group() as group:
            group.start_soon(self._every, self._settings.lease_seconds / 3, self._renew_leases)
            group.start_soon(self._every, self._settings.lease_seconds / 3, self._take_back)
            while True:
                self._wakeup = anyio.Event()
                if self._claiming:
                    for job in await self._claim():
                        group.start_soon(self._execute, job)
                with anyio.move_on_after(self._settings.poll_seconds):
                    await self._wakeup.wait()

    async def drain(self, grace_seconds: float) -> None:
        """Stop claiming, let running jobs finish within the grace, queue the rest again.

        The grace counts from when claiming stopped (SIGTERM), not from this call.
        """
        self.stop_claiming()
        started = self._stop_claiming_at or time.monotonic()
        remaining = max(0.0, started + grace_seconds - time.monotonic())
        with anyio.move_on_after(remaining):
            while self._running:
                self._idle = anyio.Event()
                await self._idle.wait()
        if self._running:
            log.warning("job_runner_giving_back", jobs=len(self._running))
        for scope in list(self._running.values()):
            scope.cancel()
        while self._running:
            self._idle = anyio.Event()
            await self._idle.wait()

    async def _claim(self) -> list[JobRecord]:
        free = self._settings.concurrency - len(self._running)
        if free <= 0:
            return []
        now = datetime.now(UTC)
        claim = partial(
            self._jobs.claim,
            runner=self.runner_id,
            limit=free,
            now=now,
            lease_until=now + timedelta(seconds=self._settings.lease_seconds),
        )
        try:
            claimed = await anyio.to_thread.run_sync(claim)
        except PixyProxyException as exc:
            log.warning("job_claim_failed", code=exc.code)
            return []
        for job in claimed:
            self._on_change(job.id)
            metrics.series(metrics.JOBS, JobStatus.RUNNING.value).inc()
            if job.attempts == 1:
                waited = (now - job.created_at).total_seconds()
                metrics.JOB_QUEUED_DURATION.observe(max(0.0, waited))
        return claimed

    async def _execute(self, job: JobRecord) -> None:
        """Run one claimed job; on cancellation (drain), give it back to the queue."""
        scope = anyio.CancelScope()
        self._running[job.id] = scope
        metrics.JOBS_RUNNING.inc()
        log.info("job_started", job=str(job.id), attempt=job.attempts)
        try:
            with scope:
                await self._attempt(job)
            if scope.cancelled_caught:
                with anyio.CancelScope(shield=True):
                    await self._requeue(job, delay=0, refund=True)
        except Exception:
            log.exception("job_runner_error", job=str(job.id))
            with anyio.CancelScope(shield=True):
                await self._fail(job, _UNEXPECTED)
        finally:
            del self._running[job.id]
            metrics.JOBS_RUNNING.dec()
            if not self._running:
                self._idle.set()
            self.wake()  # a slot is free

    async def _attempt(self, job: JobRecord) -> None:
        started = time.perf_counter()
        outcome = await self._outcome_of(job)
        metrics.series(metrics.GENERATIONS, outcome).inc()
        elapsed = time.perf_counter() - started
        metrics.series(metrics.GENERATION_DURATION, outcome).observe(elapsed)

    async def _outcome_of(self, job: JobRecord) -> str:
        """Run the job once; "ok", "requeued" or the code of the problem it failed with."""
        if job.attempts > self._settings.max_attempts:
            await self._fail(job, _INTERRUPTED)
            return _INTERRUPTED.code
        async with self._budget.share() as share:
            try:
                generated = await self._call_provider(job, share.admit)
                info = await anyio.to_thread.run_sync(self._keeper.check, generated)
            except ProviderRateLimited as exc:
                if job.attempts >= self._settings.max_attempts:
                    await self._fail(job, problem_of(exc))
                    return exc.code
                await self._requeue(job, delay=exc.retry_after or 30, refund=False)
                return "requeued"
            except PixyProxyException as exc:
                await self._fail(job, problem_of(exc))
                return exc.code
            try:
                key = await self._persist(partial(self._keeper.store, job, generated, info))
            except PixyProxyException as exc:
                await self._fail(job, problem_of(exc))
                return exc.code
            kept = Kept.of(generated, info)
            del generated  # stored: the budget's share goes back when this block ends
        try:
            image = await self._persist(partial(self._keeper.record, job, key, kept))
        except ServiceUnavailable as exc:
            # The row may have been written before the connection dropped: the bytes stay,
            # and reconcile (or the runner that takes the job over) settles it.
            await self._fail(job, problem_of(exc))
            return exc.code
        except PixyProxyException as exc:
            await anyio.to_thread.run_sync(self._keeper.remove, key)  # refused: no row exists
            await self._fail(job, problem_of(exc))
            return exc.code
        log.info("job_succeeded", job=str(job.id), stored=image is not None)
        metrics.series(metrics.JOBS, JobStatus.SUCCEEDED.value).inc()
        metrics.JOB_ATTEMPTS.observe(job.attempts)
        self._on_change(job.id)
        return "ok"

    async def _call_provider(self, job: JobRecord, admit: Admit) -> GeneratedImage:
        started, outcome = time.perf_counter(), "ok"
        request = GenerationRequest.of(job.prompt, job.options)
        try:
            on_partial = partial(self._keep_partial, job)
            generated = await self._generator.generate(request, admit, on_partial)
            _count_usage(generated)
            return generated
        except PixyProxyException as exc:
            outcome = exc.code
            raise
        except Exception as exc:
            outcome = "internal_error"
            log.exception("provider_call_error", job=str(job.id))
            raise PixyProxyException("the generation failed unexpectedly") from exc
        finally:
            elapsed = time.perf_counter() - started
            metrics.series(metrics.PROVIDER_DURATION, outcome).observe(elapsed)

    async def _keep_partial(self, job: JobRecord, index: int, data: bytes) -> None:
        """Store a partial render and tell the job's streams; a failure loses only the preview."""
        try:
            await anyio.to_thread.run_sync(self._keeper.keep_partial, job, index, data)
        except PixyProxyException as exc:
            log.warning("partial_image_lost", job=str(job.id), index=index, code=exc.code)
            return
        self._on_change(job.id)

    async def _persist(self, step: Callable[[], _T]) -> _T:
        """Run a blocking step after the provider answered, retrying while a dependency is down.

        The image was paid for: the store and the database get a while to come back before
        the job fails.
        """
        deadline = time.monotonic() + self._settings.persist_retry_seconds
        delay = 0.5
        while True:
            try:
                return await anyio.to_thread.run_sync(step)
            except ServiceUnavailable as exc:
                if time.monotonic() + delay > deadline:
                    raise
                log.warning("job_persist_retry", code=exc.code, retry_in=delay)
                await anyio.sleep(delay)
                delay = min(delay * 2, 10.0)

    async def _fail(self, job: JobRecord, problem: JobProblem) -> None:
        log.info("job_failed", job=str(job.id), code=problem.code)
        fail = partial(self._jobs.fail, job.id, problem=problem, now=datetime.now(UTC))
        try:
            await self._persist(fail)
        except PixyProxyException as exc:
            # The lease runs out and another runner takes the job: not lost, maybe retried.
            log.error("job_fail_unrecorded", job=str(job.id), code=exc.code)
            return
        metrics.series(metrics.JOBS, JobStatus.FAILED.value).inc()
        metrics.JOB_ATTEMPTS.observe(job.attempts)
        self._on_change(job.id)

    async def _requeue(self, job: JobRecord, *, delay: float, refund: bool) -> None:
        now = datetime.now(UTC)
        requeue = partial(
            self._jobs.requeue,
            job.id,
            runner=self.runner_id,
            not_before=now + timedelta(seconds=delay),
            now=now,
            refund=refund,
        )
        try:
            await anyio.to_thread.run_sync(requeue)
        except PixyProxyException as exc:
            log.error("job_requeue_failed", job=str(job.id), code=exc.code)
            return
        log.info("job_requeued", job=str(job.id), delay=math.ceil(delay), refund=refund)
        self._on_change(job.id)
        metrics.series(metrics.JOBS, "requeued").inc()

    async def _renew_leases(self) -> None:
        if not self._running:
            return
        lease_until = datetime.now(UTC) + timedelta(seconds=self._settings.lease_seconds)
        renew = partial(
            self._jobs.renew,
            runner=self.runner_id,
            job_ids=list(self._running),
            lease_until=lease_until,
        )
        await anyio.to_thread.run_sync(renew)

    async def _take_back(self) -> None:
        take_back = partial(
            self._jobs.take_back_expired,
            now=datetime.now(UTC),
            max_attempts=self._settings.max_attempts,
            problem=_INTERRUPTED,
        )
        failed, requeued = await anyio.to_thread.run_sync(take_back)
        queued = await anyio.to_thread.run_sync(self._jobs.queued)
        metrics.JOB_QUEUE_DEPTH.set(queued)
        if failed or requeued:
            log.warning("job_leases_expired", failed=failed, requeued=requeued)
            metrics.series(metrics.JOBS, "requeued").inc(requeued)
            metrics.series(metrics.JOBS, JobStatus.FAILED.value).inc(failed)
            self.wake()

    @staticmethod
    async def _every(seconds: float, step: Callable[[], Awaitable[None]]) -> None:
        while True:
            await anyio.sleep(seconds)
            try:
                await step()
            except PixyProxyException as exc:
                log.warning("job_runner_housekeeping_failed", code=exc.code)


def _count_usage(generated: GeneratedImage) -> None:
    usage = generated.usage
    for kind, tokens in (
        ("text_input", usage.text_input),
        ("image_input", usage.image_input),
        ("output", usage.output),
    ):
        if tokens:
            metrics.series(metrics.PROVIDER_TOKENS, generated.model, kind).inc(tokens)
