"""What images cost, summed by key, model and day on SQLite and MySQL: kept when images go."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID, uuid4

import pytest

from app.core.models import ImageDetail
from app.data.database import Database
from app.data.deletion_repository import SqlDeletionRepository
from app.data.dialect import to_db_time
from app.data.image_repository import INSERT_IMAGE, image_row
from app.data.init import init_database
from app.data.job_repository import SqlJobRepository
from app.data.usage_repository import SqlUsageRepository
from app.service.usage_catch_up import UsageCatchUp
from tests.data.migrations import init_database_before
from tests.data.test_job_repository import LEASE, USAGE, new_job

NOW = datetime.now(UTC)


def made(database: Database, prompt: str, cost: int = 1_000) -> ImageDetail:
    """An image made by a job of owner-a with the gpt-image-1 model, costing ``cost``."""
    jobs = SqlJobRepository(database)
    job, _ = jobs.submit(new_job(prompt))
    jobs.claim(runner="r", limit=10, now=NOW, lease_until=NOW + LEASE)
    image = ImageDetail(
        guid=job.id,
        prompt=prompt,
        filename=f"{job.id}.png",
        created_at=NOW,
        updated_at=NOW,
        model="gpt-image-1",
    )
    assert jobs.succeed(
        job.id, image=image, owner=job.owner, usage=USAGE, cost_microusd=cost, now=NOW
    )
    return image


def test_a_deleted_image_stays_in_the_usage_and_its_job_keeps_its_cost(
    database: Database,
) -> None:
    init_database(database)
    made(database, "kept", 1_000)
    deleted = made(database, "deleted", 2_000)
    assert SqlDeletionRepository(database).delete_image(
        deleted.guid, owner=None, cdn=False, now=NOW, grace=0
    )

    (row,) = SqlUsageRepository(database).usage(owner="owner-a", since=None, until=None)
    assert (row.model, row.day, row.images, row.cost_microusd) == (
        "gpt-image-1",
        NOW.date(),
        2,
        3_000,
    )
    assert row.output_tokens == 2 * USAGE.output
    job_usage = SqlJobRepository(database).usage(deleted.guid)
    assert job_usage is not None and job_usage.cost_usd == 0.002
    assert SqlUsageRepository(database).usage(owner="owner-b", since=None, until=None) == []


@pytest.mark.anyio
async def test_images_without_usage_rows_get_them_from_the_catch_up(
    database: Database, tmp_path: Path
) -> None:
    """Images made before 011, and those an older release writes beside this one, are counted
    once the catch-up has run: the first pass reads them all, a later one what came since."""
    init_database_before(database, "011", tmp_path)
    for n in range(3):
        old_image(database, f"old {n}")
    assert "011_usage_records.sql" in init_database(database)
    repository = SqlUsageRepository(database)
    catch_up = UsageCatchUp(repository)

    assert await catch_up.catch_up() == 3
    assert await catch_up.catch_up() == 0  # nothing is written twice
    made(database, "new, with its usage")
    old_image(database, "by an older release")  # after the first pass: no usage row
    assert await catch_up.catch_up() == 1
    rows = repository.usage(owner="owner-a", since=None, until=None)
    by_model = {row.model: (row.images, row.cost_microusd) for row in rows}
    assert by_model == {None: (4, 4 * 5), "gpt-image-1": (1, 1_000)}

    # Ids far apart (a table long in use): each statement reads one window of them.
    database.execute(
        "INSERT INTO images (id, guid, filename, prompt, created_at, updated_at)"
        " VALUES (:id, :guid, :filename, 'far', :at, :at)",
        {
            "id": 175_000,
            "guid": str(uuid4()),
            "filename": "far.png",
            "at": to_db_time(NOW, database.dialect),
        },
    )
    assert await UsageCatchUp(repository).catch_up() == 1  # a first pass: every image


def old_image(database: Database, prompt: str) -> UUID:
    """An image row as releases before 011 wrote it: no usage row."""
    image = ImageDetail(
        guid=uuid4(), prompt=prompt, filename=f"{prompt}.png", created_at=NOW, updated_at=NOW
    )
    row = image_row(image, database.dialect, owner="owner-a", usage=USAGE, cost_microusd=5)
    database.execute(INSERT_IMAGE[database.dialect], row)
    return image.guid
