"""The job repository on SQLite and MySQL: submitting, claiming under a lease, taking over."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest

from app.core.generation import TokenUsage
from app.core.jobs import JobProblem, JobRecord, JobStatus
from app.core.models import ImageDetail
from app.data.database import Database, open_database
from app.data.image_repository import SqlImageRepository
from app.data.init import init_database
from app.data.job_repository import SqlJobRepository
from tests.fixtures import mysql_connect

LEASE = timedelta(seconds=30)
USAGE = TokenUsage(text_input=10, image_input=0, output=4160)
PROBLEM = JobProblem(code="generation_interrupted", status=502, title="t", detail="d")


def new_job(prompt: str = "a duck", *, key: str | None = None, owner: str = "owner-a") -> JobRecord:
    now = datetime.now(UTC)
    return JobRecord(
        id=uuid4(),
        owner=owner,
        prompt=prompt,
        not_before=now,
        idempotency_key=key,
        request_hash="h" * 64 if key else None,
        created_at=now,
        updated_at=now,
    )


@pytest.fixture
def jobs(database: Database) -> SqlJobRepository:
    init_database(database)
    return SqlJobRepository(database)


def claim(jobs: SqlJobRepository, runner: str, limit: int = 10) -> list[JobRecord]:
    now = datetime.now(UTC)
    return jobs.claim(runner=runner, limit=limit, now=now, lease_until=now + LEASE)


def test_a_submitted_job_reads_back_as_it_was_written(jobs: SqlJobRepository) -> None:
    job = new_job("'; DROP TABLE jobs; -- 🦆", key="k-1")
    stored, created = jobs.submit(job)
    assert created and stored == job
    assert jobs.get(job.id) == job
    assert jobs.get(uuid4()) is None
    assert jobs.queued() == 1


def test_an_idempotency_key_names_one_job_per_owner(jobs: SqlJobRepository) -> None:
    first, created = jobs.submit(new_job(key="same"))
    again, created_again = jobs.submit(new_job("another body", key="same"))
    other_owner, created_other = jobs.submit(new_job(key="same", owner="owner-b"))
    assert created and not created_again and created_other
    assert again == first
    assert other_owner.id != first.id
    keyless = [jobs.submit(new_job())[1] for _ in range(2)]
    assert keyless == [True, True]


def test_a_claim_leases_due_jobs_oldest_first_and_counts_the_attempt(
    jobs: SqlJobRepository,
) -> None:
    submitted = [jobs.submit(new_job(f"job {n}"))[0] for n in range(3)]
    later = new_job("not yet").model_copy(
        update={"not_before": datetime.now(UTC) + timedelta(hours=1)}
    )
    jobs.submit(later)
    claimed = claim(jobs, "runner-1", limit=2)
    assert [job.id for job in claimed] == [job.id for job in submitted[:2]]
    for job in claimed:
        stored = jobs.get(job.id)
        assert stored is not None
        assert (stored.status, stored.attempts, stored.lease_owner) == (
            JobStatus.RUNNING,
            1,
            "runner-1",
        )
        assert stored == job
    assert [job.id for job in claim(jobs, "runner-2")] == [submitted[2].id]
    assert claim(jobs, "runner-3") == []  # the delayed job is not due


def test_racing_runners_claim_each_job_exactly_once(jobs: SqlJobRepository) -> None:
    submitted = {jobs.submit(new_job(f"race {n}"))[0].id for n in range(60)}

    def drain(runner: str) -> list[UUID]:
        taken: list[UUID] = []
        while batch := claim(jobs, runner, limit=3):
            taken.extend(job.id for job in batch)
        return taken

    with ThreadPoolExecutor(4) as pool:
        per_runner = list(pool.map(drain, [f"runner-{n}" for n in range(4)]))
    everything = [job_id for taken in per_runner for job_id in taken]
    assert len(everything) == len(set(everything)) == 60
    assert set(everything) == submitted


def test_an_expired_lease_is_taken_back_then_failed_past_the_attempts(
    jobs: SqlJobRepository,
) -> None:
    job, _ = jobs.submit(new_job())
    past = datetime.now(UTC) - timedelta(minutes=1)
    assert jobs.claim(runner="dead", limit=1, now=datetime.now(UTC), lease_until=past)
    assert jobs.renew(runner="alive", job_ids=[job.id], lease_until=datetime.now(UTC)) == 0
    assert jobs.take_back_expired(now=datetime.now(UTC), max_attempts=2, problem=PROBLEM) == (0, 1)
    requeued = jobs.get(job.id)
    assert requeued is not None
    assert (requeued.status, requeued.lease_owner, requeued.attempts) == (
        JobStatus.QUEUED,
        None,
        1,
    )
    assert jobs.claim(runner="dead-too", limit=1, now=datetime.now(UTC), lease_until=past)
    assert jobs.take_back_expired(now=datetime.now(UTC), max_attempts=2, problem=PROBLEM) == (1, 0)
    failed = jobs.get(job.id)
    assert failed is not None
    assert (failed.status, failed.error) == (JobStatus.FAILED, PROBLEM)


def test_a_renewed_lease_is_not_taken_back(jobs: SqlJobRepository) -> None:
    job, _ = jobs.submit(new_job())
    soon = datetime.now(UTC) + timedelta(milliseconds=1)
    jobs.claim(runner="alive", limit=1, now=datetime.now(UTC), lease_until=soon)
    renewed = jobs.renew(runner="alive", job_ids=[job.id], lease_until=datetime.now(UTC) + LEASE)
    assert renewed == 1
    assert jobs.take_back_expired(
        now=datetime.now(UTC) + timedelta(seconds=1), max_attempts=3, problem=PROBLEM
    ) == (0, 0)


def test_requeue_sets_the_due_time_and_may_refund_the_attempt(jobs: SqlJobRepository) -> None:
    job, _ = jobs.submit(new_job())
    claim(jobs, "runner")
    later = datetime.now(UTC) + timedelta(seconds=7)
    assert jobs.requeue(
        job.id, runner="runner", not_before=later, now=datetime.now(UTC), refund=False
    )
    assert claim(jobs, "runner") == []  # not due before the provider's Retry-After
    stored = jobs.get(job.id)
    assert stored is not None
    assert (stored.status, stored.attempts) == (JobStatus.QUEUED, 1)
    assert abs((stored.not_before - later).total_seconds()) < 0.01
    assert not jobs.requeue(job.id, runner="runner", not_before=later, now=later, refund=True)


def test_success_writes_the_image_and_finishes_the_job_together(
    jobs: SqlJobRepository, database: Database
) -> None:
    job, _ = jobs.submit(new_job("finished"))
    claim(jobs, "runner")
    now = datetime.now(UTC)
    image = ImageDetail(
        guid=job.id, prompt=job.prompt, filename=f"{job.id}.png", created_at=now, updated_at=now
    )
    assert jobs.succeed(job.id, image=image, owner=job.owner, usage=USAGE, cost_microusd=7, now=now)
    assert SqlImageRepository(database).get(job.id) == image
    done = jobs.get(job.id)
    assert done is not None and done.status is JobStatus.SUCCEEDED and done.lease_owner is None
    # Again (a commit whose answer was lost, or a second runner): refused, nothing changes.
    other = image.model_copy(update={"filename": f"{job.id}-2.png"})
    assert not jobs.succeed(
        job.id, image=other, owner=job.owner, usage=USAGE, cost_microusd=7, now=now
    )
    assert SqlImageRepository(database).get(job.id) == image


def test_fail_records_the_problem_once(jobs: SqlJobRepository) -> None:
    job, _ = jobs.submit(new_job())
    assert not jobs.fail(job.id, problem=PROBLEM, now=datetime.now(UTC))  # not running yet
    claim(jobs, "runner")
    assert jobs.fail(job.id, problem=PROBLEM, now=datetime.now(UTC))
    assert jobs.statuses([job.id, uuid4()]) == {job.id: JobStatus.FAILED}


def test_a_finished_jobs_key_can_be_forgotten(jobs: SqlJobRepository) -> None:
    job, _ = jobs.submit(new_job(key="old"))
    later = datetime.now(UTC) + timedelta(days=2)
    assert not jobs.forget_key(owner=job.owner, key="old", before=later)  # still queued
    claim(jobs, "runner")
    jobs.fail(job.id, problem=PROBLEM, now=datetime.now(UTC))
    assert jobs.forget_key(owner=job.owner, key="old", before=later)
    fresh, created = jobs.submit(new_job(key="old"))
    assert created and fresh.id != job.id


IN_FLIGHT = (
    "INSERT INTO jobs (id, owner, prompt, options, status, attempts, not_before, created_at,"
    " updated_at) VALUES (%s, 'owner-a', 'in flight', '{}', 'queued', 0, NOW(6), NOW(6), NOW(6))"
)


def test_a_claim_locks_only_the_jobs_it_takes(mysql_url: str) -> None:
    """A submission in flight holds its new row; a claim must not wait for it.

    A claim that updated its jobs by a list scanned the small table (the plan the statistics
    gave) and waited on that row while the INSERT waited on the claim's index lock: MariaDB
    broke the deadlock by failing the INSERT, a 503 for its client (the generation bench saw
    1-9 of 100 async submissions fail so).
    """
    database = open_database(mysql_url, pool_size=2)
    try:
        jobs = SqlJobRepository(database)
        init_database(database)
        due = [jobs.submit(new_job(f"due {n}"))[0] for n in range(5)]
        with mysql_connect(mysql_url) as submitting:
            submitting.begin()
            submitting.cursor().execute(IN_FLIGHT, (str(uuid4()),))  # not committed yet
            claimed = claim(jobs, "runner-a", limit=5)
            submitting.commit()
        assert {job.id for job in claimed} == {job.id for job in due}
        assert jobs.queued() == 1
    finally:
        database.close()
