"""Webhook delivery: each replica's dispatcher works the outbox (docs/ARCHITECTURE.md, "Webhooks").

Every second or so a ``WebhookDispatcher`` enqueues a delivery for each finished job that named
a URL, claims due deliveries under a lease, and sends each as a Standard Webhooks message. A
non-2xx answer, a timeout or a refused address is retried on the retry schedule by whichever
replica claims it next, with the same ``webhook-id``; all of that state is in the database.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from uuid import UUID

import anyio
import anyio.abc
import anyio.to_thread
import httpx2
import structlog

from app.core import metrics
from app.core.exceptions import PixyProxyException
from app.core.interfaces import JobRepository, WebhookRepository
from app.core.jobs import Job, JobRecord, JobStatus
from app.core.webhooks import WebhookDelivery, parse_webhook_url
from app.service.webhook_targets import WebhookRefused, WebhookTargets

log = structlog.get_logger(__name__)

_RESPONSE_READ_LIMIT = 1024
# How far back a starting dispatcher looks for finished jobs without a delivery (jobs that
# finished while no replica ran one), and how far each later pass looks behind the last: more
# than a runner's commit can lag behind the time it wrote.
_STARTUP_LOOKBACK = timedelta(days=7)
_PASS_OVERLAP = timedelta(minutes=5)
_ENQUEUE_BATCH = 500


@dataclass(frozen=True)
class DispatcherSettings:
    """How a dispatcher delivers: the signing key, the retry schedule, its bounds."""

    key: bytes
    retry_schedule: tuple[float, ...]
    concurrency: int = 16
    poll_seconds: float = 1.0
    lease_seconds: float = 60.0
    connect_seconds: float = 5.0
    total_seconds: float = 10.0


@dataclass(frozen=True)
class _Attempt:
    """What one attempt came to: the answer's status (if any), and what went wrong (if so)."""

    payload: str | None
    status: int | None = None
    error: str | None = None
    final: bool = False  # no later attempt can do better (the job is gone)


def signature(key: bytes, message_id: str, timestamp: int, body: str) -> str:
    """The ``webhook-signature`` header of a message: ``v1,`` and the base64 HMAC-SHA256."""
    signed = f"{message_id}.{timestamp}.{body}".encode()
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


class WebhookDispatcher:
    """Enqueues, claims and sends webhook deliveries on one replica."""

    def __init__(
        self,
        *,
        deliveries: WebhookRepository,
        jobs: JobRepository,
        view: Callable[[JobRecord], Awaitable[Job]],
        render: Callable[[Job], bytes],
        targets: WebhookTargets,
        settings: DispatcherSettings,
        owner: str,
    ) -> None:
        self._deliveries = deliveries
        self._jobs = jobs
        self._view = view
        self._render = render
        self._targets = targets
        self._settings = settings
        self._owner = owner
        self._since = datetime.now(UTC) - _STARTUP_LOOKBACK
        self._in_flight = 0
        self._stopping = anyio.Event()
        self._idle = anyio.Event()

    async def run(self) -> None:
        """Work the outbox until cancelled (or stopped)."""
        settings = self._settings
        timeout = httpx2.Timeout(settings.total_seconds, connect=settings.connect_seconds)
        limits = httpx2.Limits(max_connections=settings.concurrency)
        async with (
            # trust_env=False: no proxy from the environment, which would connect elsewhere
            # than to the address just checked.
            httpx2.AsyncClient(
                timeout=timeout, limits=limits, follow_redirects=False, trust_env=False
            ) as client,
            anyio.create_task_group() as tasks,
        ):
            while not self._stopping.is_set():
                try:
                    await self._enqueue()
                    await self._claim_and_start(client, tasks)
                except PixyProxyException as exc:  # the database is down: try again soon
                    log.warning("webhook_pass_failed", code=exc.code, detail=exc.detail)
                with anyio.move_on_after(settings.poll_seconds):
                    await self._stopping.wait()

    async def stop(self) -> None:
        """Claim nothing more, and let the attempts under way end (each is bounded in time)."""
        self._stopping.set()
        if self._in_flight:
            with anyio.move_on_after(self._settings.total_seconds + 1):
                await self._idle.wait()

    async def _enqueue(self) -> None:
        started = datetime.now(UTC)
        found = await anyio.to_thread.run_sync(
            lambda: self._deliveries.enqueue_finished(
                since=self._since, now=started, limit=_ENQUEUE_BATCH
            )
        )
        if found < _ENQUEUE_BATCH:  # a full batch: the next pass starts from the same place
            self._since = started - _PASS_OVERLAP

    async def _claim_and_start(
        self, client: httpx2.AsyncClient, tasks: anyio.abc.TaskGroup
    ) -> None:
        free = self._settings.concurrency - self._in_flight
        if free <= 0:
            return
        now = datetime.now(UTC)
        lease_until = now + timedelta(seconds=self._settings.lease_seconds)
        claimed = await anyio.to_thread.run_sync(
            lambda: self._deliveries.claim(
                owner=self._owner, limit=free, now=now, lease_until=lease_until
            )
        )
        for delivery in claimed:
            self._in_flight += 1
            self._idle = anyio.Event() if self._idle.is_set() else self._idle
            tasks.start_soon(self._deliver, client, delivery)

    async def _deliver(self, client: httpx2.AsyncClient, delivery: WebhookDelivery) -> None:
        try:
            attempt = await self._attempt(client, delivery)
            await self._record(delivery, attempt)
        except anyio.get_cancelled_exc_class():
            with anyio.CancelScope(shield=True):
                await self._release(delivery)
            raise
        except PixyProxyException as exc:  # the outcome could not be written: the lease ends
            log.warning("webhook_record_failed", delivery=delivery.id, code=exc.code)
        finally:
            self._in_flight -= 1
            if self._in_flight == 0:
                self._idle.set()

    async def _attempt(self, client: httpx2.AsyncClient, delivery: WebhookDelivery) -> _Attempt:
        """Send the delivery once; what came of it."""
        if delivery.attempts > len(self._settings.retry_schedule) + 1:
            # Its earlier attempts were cut off with their replicas: never more than the schedule.
            return _Attempt(delivery.payload, error="attempts exhausted", final=True)
        payload = delivery.payload
        try:
            if payload is None:
                payload = await self._payload(delivery.job_id)
            if payload is None:
                return _Attempt(None, error="the job no longer exists", final=True)
            target = parse_webhook_url(delivery.url)
            addresses = await self._targets.addresses(target)
        except (WebhookRefused, ValueError) as exc:
            return _Attempt(payload, error=f"refused: {exc}")
        except PixyProxyException as exc:
            return _Attempt(payload, error=f"job unreadable: {exc.code}")
        # The request goes to the address just checked (the Host header and TLS still name the
        # host): a name that resolved to a public address cannot point elsewhere on connecting.
        url = httpx2.URL(delivery.url)
        pinned = url.copy_with(host=str(addresses[0]))
        timestamp = int(time.time())
        headers = {
            "host": url.netloc.decode("ascii"),
            "content-type": "application/json",
            "user-agent": "PixyProxy-Webhooks",
            "webhook-id": delivery.id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": signature(self._settings.key, delivery.id, timestamp, payload),
        }
        extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
        try:
            with anyio.fail_after(self._settings.total_seconds):
                status = await _post(client, pinned, payload, headers, extensions)
        except TimeoutError:
            return _Attempt(payload, error="timed out")
        except httpx2.HTTPError as exc:
            return _Attempt(payload, error=f"{type(exc).__name__}: {exc}"[:200])
        if 200 <= status < 300:
            return _Attempt(payload, status=status)
        return _Attempt(payload, status=status, error=f"answered {status}")

    async def _payload(self, job_id: UUID) -> str | None:
        """The message of a finished job: its type and the job as ``GET /jobs/{id}`` shows it
        (``render`` is the web layer's JSON of a job)."""
        record = await anyio.to_thread.run_sync(self._jobs.get, job_id)
        if record is None:
            return None
        kind = "job.succeeded" if record.status is JobStatus.SUCCEEDED else "job.failed"
        data = self._render(await self._view(record)).decode()
        return f'{{"type":{json.dumps(kind)},"data":{data}}}'

    async def _record(self, delivery: WebhookDelivery, attempt: _Attempt) -> None:
        now = datetime.now(UTC)
        schedule = self._settings.retry_schedule
        if attempt.error is None:
            assert attempt.status is not None
            outcome = "delivered"
            done = partial(
                self._deliveries.delivered,
                delivery.id,
                owner=self._owner,
                status=attempt.status,
                now=now,
            )
        elif attempt.final or delivery.attempts > len(schedule):
            outcome = "failed"
            done = partial(
                self._deliveries.give_up,
                delivery.id,
                owner=self._owner,
                status=attempt.status,
                error=attempt.error,
                now=now,
            )
        else:
            outcome = "retry"
            done = partial(
                self._deliveries.retry,
                delivery.id,
                owner=self._owner,
                at=now + timedelta(seconds=schedule[delivery.attempts - 1]),
                payload=attempt.payload,
                status=attempt.status,
                error=attempt.error,
                now=now,
            )
        await anyio.to_thread.run_sync(done)
        metrics.series(metrics.WEBHOOK_DELIVERIES, outcome).inc()
        log.info(
            "webhook_attempt",
            delivery=delivery.id,
            job=str(delivery.job_id),
            attempt=delivery.attempts,
            outcome=outcome,
            status=attempt.status,
            error=attempt.error,
        )

    async def _release(self, delivery: WebhookDelivery) -> None:
        release = partial(
            self._deliveries.release, delivery.id, owner=self._owner, now=datetime.now(UTC)
        )
        try:
            await anyio.to_thread.run_sync(release)
        except PixyProxyException:  # its lease runs out instead: due again a minute later
            log.warning("webhook_release_failed", delivery=delivery.id)


async def _post(
    client: httpx2.AsyncClient,
    url: httpx2.URL,
    body: str,
    headers: dict[str, str],
    extensions: dict[str, str],
) -> int:
    """POST ``body``; the answer's status, its body read no further than a small limit."""
    request = client.build_request(
        "POST", url, content=body.encode(), headers=headers, extensions=extensions
    )
    response = await client.send(request, stream=True)
    try:
        read = 0
        async for chunk in response.aiter_raw():
            read += len(chunk)
            if read >= _RESPONSE_READ_LIMIT:
                break
        return response.status_code
    finally:
        await response.aclose()
