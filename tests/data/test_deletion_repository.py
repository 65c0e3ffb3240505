"""Deleting images in SQL on SQLite and MySQL: one transaction, the outbox, the log, leases."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import TypeVar
from uuid import UUID

import pytest

from app.core.deletion import DeletedImage
from app.core.jobs import JobRecord
from app.core.renditions import Rendition
from app.data.database import Database
from app.data.deletion_repository import SqlDeletionRepository
from app.data.dialect import to_db_time
from app.data.image_repository import SqlImageRepository
from app.data.init import init_database
from app.data.job_repository import SqlJobRepository
from app.data.rendition_repository import SqlRenditionRepository
from tests.data.test_image_repository import make_image
from tests.data.test_job_repository import PROBLEM, new_job

T = TypeVar("T")
NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)


@pytest.fixture
def deletions(database: Database) -> SqlDeletionRepository:
    init_database(database)
    return SqlDeletionRepository(database)


def add_image(database: Database, *, owner: str | None = "k1", at: datetime | None = None) -> UUID:
    image = make_image(at=at)
    SqlImageRepository(database).add(image)
    database.execute(
        "UPDATE images SET owner = :owner WHERE guid = :guid",
        {"owner": owner, "guid": str(image.guid)},
    )
    SqlRenditionRepository(database).add(
        Rendition(image.guid, "w64.webp", f"{image.guid}_w64.webp", "image/webp", 64, 64, 10)
    )
    return image.guid


def delete(repo: SqlDeletionRepository, guid: UUID, owner: str | None) -> DeletedImage | None:
    return repo.delete_image(guid, owner=owner, cdn=True, now=NOW, grace=30)


def test_the_owner_deletes_the_rows_and_the_outbox_holds_the_rest(
    database: Database, deletions: SqlDeletionRepository
) -> None:
    guid = add_image(database)
    assert delete(deletions, guid, "another") is None
    deleted = delete(deletions, guid, "k1")
    assert deleted is not None
    assert sorted((c.kind, c.target) for c in deleted.cleanups) == [
        ("cdn", str(guid)),
        ("object", f"{guid}.png"),
        ("object", f"{guid}_w64.webp"),
    ]
    assert SqlRenditionRepository(database).get(guid, "w64.webp") is None
    assert delete(deletions, guid, None) is None
    assert deletions.deletions_after(0, limit=10) == [(1, str(guid))]
    assert deletions.pending_cleanups() == 3
    # The CDN is due now; the objects only after the grace (the deleting request removes them).
    claimed = deletions.claim_cleanups(now=NOW, until=NOW + timedelta(seconds=30), limit=10)
    assert [c.kind for c in claimed] == ["cdn"]
    assert deletions.claim_cleanups(now=NOW, until=NOW, limit=10) == []
    later = NOW + timedelta(seconds=31)
    again = deletions.claim_cleanups(now=later, until=later + timedelta(seconds=30), limit=10)
    assert len(again) == 3 and all(c.attempts >= 1 for c in again if c.kind == "cdn")
    deletions.finish_cleanups([c.id for c in again])
    assert deletions.pending_cleanups() == 0


def test_an_image_of_no_owner_is_deleted_only_for_an_operator(
    database: Database, deletions: SqlDeletionRepository
) -> None:
    guid = add_image(database, owner=None)
    assert delete(deletions, guid, "k1") is None
    assert delete(deletions, guid, None) is not None


def test_racing_deletes_find_the_image_once(
    database: Database, deletions: SqlDeletionRepository
) -> None:
    guids = [add_image(database) for _ in range(5)]
    for guid in guids:
        results = at_once([partial(delete, deletions, guid, "k1")] * 4)
        assert sum(result is not None for result in results) == 1


def at_once(works: list[Callable[[], T]]) -> list[T]:
    """What each of ``works`` returned, run in threads let go together."""
    results: list[T] = []
    barrier = threading.Barrier(len(works))

    def run(work: Callable[[], T]) -> None:
        barrier.wait()
        results.append(work())

    threads = [threading.Thread(target=run, args=(work,)) for work in works]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_a_lease_is_held_by_one_owner_until_it_expires_or_is_released(
    deletions: SqlDeletionRepository,
) -> None:
    until = NOW + timedelta(minutes=1)
    assert deletions.take_lease("retention", owner="a", now=NOW, until=until)
    assert not deletions.take_lease("retention", owner="b", now=NOW, until=until)
    assert deletions.take_lease("retention", owner="a", now=NOW, until=until + timedelta(1))
    deletions.release_lease("retention", owner="b")  # not b's: nothing happens
    assert not deletions.take_lease("retention", owner="b", now=until, until=until)
    after = until + timedelta(days=2)
    assert deletions.take_lease("retention", owner="b", now=after, until=after)
    deletions.release_lease("retention", owner="b")
    assert deletions.take_lease("retention", owner="c", now=NOW, until=until)


def test_old_images_are_found_oldest_first_and_old_deletions_pruned(
    database: Database, deletions: SqlDeletionRepository
) -> None:
    old = [add_image(database, at=NOW - timedelta(days=d)) for d in (3, 5)]
    add_image(database, at=NOW)
    assert deletions.images_created_before(NOW - timedelta(days=1), limit=10) == old[::-1]
    delete(deletions, old[0], None)
    assert deletions.prune_deletions(before=NOW - timedelta(hours=1)) == 0
    assert deletions.prune_deletions(before=NOW + timedelta(seconds=1)) == 1
    assert deletions.deletions_after(0, limit=10) == []


def dated_job(at: datetime) -> JobRecord:
    """A new job submitted at ``at``."""
    return new_job().model_copy(update={"not_before": at, "created_at": at, "updated_at": at})


def finished_job(
    database: Database, *, at: datetime, partial: str | None = None, webhook: str | None = None
) -> UUID:
    """A job that failed at ``at``: with a partial render's object key; with a webhook URL and
    its delivery in the state given (``"none"``: not enqueued yet)."""
    jobs = SqlJobRepository(database)
    hook = "https://ducky.example/hook" if webhook is not None else None
    job, _ = jobs.submit(dated_job(at).model_copy(update={"webhook_url": hook}))
    jobs.claim(runner="r", limit=10, now=at, lease_until=at + timedelta(minutes=1))
    if partial is not None:
        jobs.add_partial(job.id, index=0, key=partial, media_type="image/png", now=at)
    jobs.fail(job.id, problem=PROBLEM, now=at)
    if webhook not in (None, "none"):
        database.execute(
            "INSERT INTO webhook_deliveries (id, job_id, url, status, attempts, next_attempt_at,"
            " created_at, updated_at) VALUES (:id, :job, 'https://ducky.example/hook', :status,"
            " 1, :at, :at, :at)",
            {
                "id": f"msg_{job.id.hex}",
                "job": str(job.id),
                "status": webhook,
                "at": to_db_time(at, database.dialect),
            },
        )
    return job.id


def test_jobs_past_retention_go_with_their_partials_and_delivery(
    database: Database, deletions: SqlDeletionRepository
) -> None:
    old = NOW - timedelta(days=40)
    forgotten = [
        finished_job(database, at=old, partial="partial-old.png"),
        finished_job(database, at=old, webhook="delivered"),
        finished_job(database, at=old, webhook="failed"),
    ]
    kept = [
        finished_job(database, at=old, webhook="pending"),  # still to tell Ducky about it
        finished_job(database, at=old, webhook="none"),  # no dispatcher has run since it ended
        finished_job(database, at=NOW - timedelta(days=2), partial="partial-new.png"),
    ]
    jobs = SqlJobRepository(database)
    running, _ = jobs.submit(dated_job(old))
    jobs.claim(runner="r", limit=10, now=old, lease_until=old + timedelta(minutes=1))
    queued, _ = jobs.submit(dated_job(old))
    kept += [running.id, queued.id]

    before = NOW - timedelta(days=30)
    assert deletions.expire_jobs(before=before, now=NOW, limit=2) == 2
    assert deletions.expire_jobs(before=before, now=NOW, limit=100) == 1
    assert deletions.expire_jobs(before=before, now=NOW, limit=100) == 0

    assert [jobs.get(job_id) for job_id in forgotten] == [None] * 3
    assert all(jobs.get(job_id) is not None for job_id in kept)
    deliveries = database.fetch_column("SELECT job_id FROM webhook_deliveries")
    assert sorted(deliveries) == [str(kept[0])]
    assert jobs.partial_keys() == ["partial-new.png"]
    due = deletions.claim_cleanups(now=NOW, until=NOW + timedelta(minutes=1), limit=10)
    assert [(cleanup.kind, cleanup.target) for cleanup in due] == [("object", "partial-old.png")]
