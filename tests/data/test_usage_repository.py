"""What images cost, summed by key, model and day on SQLite and MySQL: kept when images go."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from app.core.models import ImageDetail
from app.data.database import Database
from app.data.deletion_repository import SqlDeletionRepository
from app.data.image_repository import INSERT_IMAGE, image_row
from app.data.init import init_database
from app.data.job_repository import SqlJobRepository
from app.data.usage_repository import SqlUsageRepository
from tests.data.migrations import init_database_before
from tests.data.test_job_repository import LEASE, USAGE, new_job

NOW = datetime.now(UTC)


def made(database: Database, prompt: str, cost: int) -> ImageDetail:
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


def test_images_made_before_the_usage_records_are_counted(
    database: Database, tmp_path: Path
) -> None:
    init_database_before(database, "011", tmp_path)
    image = ImageDetail(
        guid=new_job().id, prompt="old", filename="old.png", created_at=NOW, updated_at=NOW
    )
    row = image_row(image, database.dialect, owner="owner-a", usage=USAGE, cost_microusd=5)
    database.execute(INSERT_IMAGE, row)

    assert "011_usage_records.sql" in init_database(database)
    (summed,) = SqlUsageRepository(database).usage(owner="owner-a", since=None, until=None)
    assert (summed.images, summed.cost_microusd, summed.model) == (1, 5, None)
