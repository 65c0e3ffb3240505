"""Jobs end to end in one process: submitted, claimed, run against the real ``openai`` client
on the fake server, stored in a folder, on SQLite and MySQL."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import anyio
import pytest

from app.core.callers import Caller
from app.core.exceptions import IdempotencyKeyReused, JobNotFound
from app.core.interfaces import ImageGenerator
from app.core.jobs import JobStatus
from app.core.models import ImageCreate
from app.core.settings import DEFAULT_PRICES
from app.data.blob_local import LocalBlobStore
from app.data.database import Database
from app.data.image_repository import SqlImageRepository
from app.data.init import init_database
from app.data.job_repository import SqlJobRepository
from app.service.byte_budget import ByteBudget
from app.service.generation import ImageKeeper
from app.service.job_runner import JobRunner, RunnerSettings
from app.service.job_watcher import JobWatcher
from app.service.jobs import JobService
from app.service.options import ModelCatalog
from tests.fakes.openai_server import FakeOpenAI
from tests.service.test_openai_generator import generator_for

pytestmark = pytest.mark.anyio

ME, YOU = Caller("me"), Caller("you")
CATALOG = ModelCatalog(
    models=("gpt-image-2",), sizes={}, prices={"gpt-image-2": DEFAULT_PRICES["gpt-image-2"]}
)


@dataclass
class Running:
    service: JobService
    runner: JobRunner
    jobs: SqlJobRepository
    store: LocalBlobStore


@asynccontextmanager
async def running(
    database: Database, tmp_path: Path, generator: ImageGenerator, **settings: float
) -> AsyncIterator[Running]:
    """A job service and its runner, running until the block ends."""
    init_database(database)
    store = LocalBlobStore(tmp_path / "images")
    store.ensure_ready()
    jobs = SqlJobRepository(database)
    images = SqlImageRepository(database)
    runner: JobRunner | None = None
    watcher = JobWatcher(jobs, poll_seconds=0.2)
    service = JobService(
        jobs=jobs,
        images=images,
        catalog=CATALOG,
        queue_limit=100,
        idempotency_ttl=timedelta(hours=24),
        watcher=watcher,
        wake_runner=lambda: runner.wake() if runner else None,
    )
    runner = JobRunner(
        jobs=jobs,
        generator=generator,
        keeper=ImageKeeper(
            store=store, jobs=jobs, images=images, cost_microusd=CATALOG.cost_microusd
        ),
        budget=ByteBudget(32 * 1024 * 1024),
        runner_id="test-runner",
        settings=RunnerSettings(poll_seconds=0.2, **settings),  # type: ignore[arg-type]
        on_change=watcher.changed,
    )
    async with anyio.create_task_group() as group:
        group.start_soon(runner.run)
        group.start_soon(watcher.run)
        yield Running(service, runner, jobs, store)
        group.cancel_scope.cancel()


async def until(condition: Callable[[], bool], seconds: float = 10) -> None:
    """Wait for ``condition`` to hold, checking every 50 ms."""
    with anyio.fail_after(seconds):
        while True:
            if condition():
                return
            await anyio.sleep(0.05)


async def test_a_job_becomes_an_image_under_its_own_id(
    database: Database, tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    generator = generator_for(fake_openai.base_url)
    async with running(database, tmp_path, generator) as setup:
        submitted = await setup.service.submit(ImageCreate(prompt="a duck"), caller=ME, key=None)
        done = await setup.service.wait(submitted.job.id, seconds=20)
        job = await setup.service.get(done.id, caller=ME)
        with pytest.raises(JobNotFound):
            await setup.service.get(done.id, caller=YOU)
    await generator.close()
    assert done.status is JobStatus.SUCCEEDED and done.attempts == 1
    assert job.image is not None and job.image.guid == done.id
    assert job.image.filename == f"{done.id}.png"
    assert (setup.store.root / job.image.filename).stat().st_size > 1_000
    assert len(fake_openai.requests) == 1


async def test_a_rate_limited_job_waits_out_retry_after_then_succeeds(
    database: Database, tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    fake_openai.script, fake_openai.retry_after = ["rate_limit"], "1"
    generator = generator_for(fake_openai.base_url)
    async with running(database, tmp_path, generator) as setup:
        submitted = await setup.service.submit(ImageCreate(prompt="later"), caller=ME, key=None)
        await until(lambda: len(fake_openai.requests) >= 1)
        await anyio.sleep(0.3)
        between = setup.jobs.get(submitted.job.id)
        done = await setup.service.wait(submitted.job.id, seconds=20)
    await generator.close()
    assert between is not None and between.status is JobStatus.QUEUED
    assert between.not_before > between.created_at + timedelta(seconds=0.9)
    assert done.status is JobStatus.SUCCEEDED and done.attempts == 2
    assert len(fake_openai.requests) == 2


@pytest.mark.parametrize(
    ("scenario", "code"),
    [
        ("quota", "provider_quota_exceeded"),
        ("safety", "prompt_rejected"),
        ("server_error", "provider_error"),
        ("not_image", "invalid_image"),
    ],
)
async def test_failures_that_may_be_billed_or_cannot_heal_fail_at_once(
    database: Database, tmp_path: Path, fake_openai: FakeOpenAI, scenario: str, code: str
) -> None:
    fake_openai.scenario = scenario
    generator = generator_for(fake_openai.base_url)
    async with running(database, tmp_path, generator) as setup:
        submitted = await setup.service.submit(ImageCreate(prompt=scenario), caller=ME, key=None)
        done = await setup.service.wait(submitted.job.id, seconds=20)
    await generator.close()
    assert done.status is JobStatus.FAILED
    assert done.error is not None and done.error.code == code
    assert len(fake_openai.requests) == 1  # never retried
    assert list(setup.store.root.iterdir()) == []  # nothing stored


async def test_draining_gives_an_unfinished_job_back_to_the_queue(
    database: Database, tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    fake_openai.scenario = "hang"
    generator = generator_for(fake_openai.base_url, timeout=30)
    async with running(database, tmp_path, generator) as setup:
        submitted = await setup.service.submit(ImageCreate(prompt="slow"), caller=ME, key=None)
        await until(lambda: setup.runner.running > 0)
        await setup.runner.drain(0.2)
        after = setup.jobs.get(submitted.job.id)
    fake_openai.release.set()
    await generator.close()
    assert after is not None
    assert (after.status, after.attempts, after.lease_owner) == (JobStatus.QUEUED, 0, None)


async def test_a_runner_keeps_at_most_its_concurrency_in_flight(
    database: Database, tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    fake_openai.scenario = "hang"
    generator = generator_for(fake_openai.base_url, timeout=30)
    async with running(database, tmp_path, generator, concurrency=3) as setup:
        for n in range(5):
            await setup.service.submit(ImageCreate(prompt=f"job {n}"), caller=ME, key=None)
        await until(lambda: len(fake_openai.requests) >= 3)
        await anyio.sleep(0.5)
        in_flight, waiting = setup.runner.running, setup.jobs.queued()
        fake_openai.scenario = "ok"
        fake_openai.release.set()
    await generator.close()
    assert (in_flight, waiting, len(fake_openai.requests)) == (3, 2, 3)


async def test_an_idempotency_key_gives_the_same_job_and_refuses_another_body(
    database: Database, tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    generator = generator_for(fake_openai.base_url)
    async with running(database, tmp_path, generator) as setup:
        first = await setup.service.submit(ImageCreate(prompt="once"), caller=ME, key="k")
        again = await setup.service.submit(ImageCreate(prompt="once"), caller=ME, key="k")
        theirs = await setup.service.submit(ImageCreate(prompt="once"), caller=YOU, key="k")
        with pytest.raises(IdempotencyKeyReused):
            await setup.service.submit(ImageCreate(prompt="twice"), caller=ME, key="k")
        for submission in (first, theirs):
            await setup.service.wait(submission.job.id, seconds=20)
    await generator.close()
    assert first.created and not again.created and theirs.created
    assert again.job.id == first.job.id != theirs.job.id
    assert len(fake_openai.requests) == 2


async def test_an_expired_lease_elsewhere_is_taken_over_and_finished(
    database: Database, tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    init_database(database)
    jobs = SqlJobRepository(database)
    service_less = JobService(
        jobs=jobs,
        images=SqlImageRepository(database),
        catalog=CATALOG,
        queue_limit=10,
        idempotency_ttl=timedelta(hours=24),
        watcher=JobWatcher(jobs, poll_seconds=0.2),
        wake_runner=lambda: None,
    )
    submitted = await service_less.submit(ImageCreate(prompt="orphan"), caller=ME, key=None)
    # A replica claimed it and died: its lease ran out a while ago.
    now = datetime.now(UTC)
    assert jobs.claim(runner="dead", limit=1, now=now, lease_until=now - timedelta(seconds=1))
    generator = generator_for(fake_openai.base_url)
    async with running(database, tmp_path, generator, lease_seconds=3) as setup:
        done = await setup.service.wait(submitted.job.id, seconds=20)
    await generator.close()
    assert done.status is JobStatus.SUCCEEDED
    assert done.attempts == 2
    assert (setup.store.root / f"{done.id}-2.png").exists()  # a later attempt's own key
