"""Rows made before image metadata existed: the migration types them, backfill measures them."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

from app.data.blob_local import LocalBlobStore
from app.data.database import Database
from app.data.dialect import to_db_time
from app.data.image_repository import SqlImageRepository
from app.data.init import init_database, migration_files
from app.service.backfill import backfill
from app.service.generators.offline import draw_image
from tests.data.migrations import init_database_before

_OLD_INSERT = (
    "INSERT INTO images (guid, filename, prompt, created_at, updated_at)"
    " VALUES (:guid, :filename, :prompt, :at, :at)"
)


def test_old_rows_get_their_media_type_then_their_dimensions(
    database: Database, tmp_path: Path
) -> None:
    init_database_before(database, "005", tmp_path)
    store = LocalBlobStore(tmp_path / "images")
    store.ensure_ready()
    made = {
        "old.png": draw_image("an old png", width=300, height=200),
        "old.jpg": draw_image("an old jpeg", size=128, output_format="jpeg"),
        "gone.png": None,
    }
    at = to_db_time(datetime.now(UTC), database.dialect)
    for name, data in made.items():
        key = f"{uuid4()}-{name}"
        params = {"guid": str(uuid4()), "filename": key, "prompt": name, "at": at}
        database.execute(_OLD_INSERT, params)
        if data is not None:
            store.put(key, data, content_type="image/png" if name.endswith("png") else "image/jpeg")

    assert init_database(database) == [p.name for p in migration_files(database.dialect)][4:]
    images = SqlImageRepository(database)
    by_prompt = {image.prompt: image for image in images.get_many(_guids(database)).values()}
    assert {name: image.media_type for name, image in by_prompt.items()} == {
        "old.png": "image/png",
        "old.jpg": "image/jpeg",
        "gone.png": "image/png",
    }
    assert all(image.width is None for image in by_prompt.values())

    report = backfill(images=images, store=store)
    measured = {image.prompt: image for image in images.get_many(_guids(database)).values()}
    assert report.measured == 2
    assert [key.rsplit("-", 1)[-1] for key in report.unreadable] == ["gone.png"]
    assert (measured["old.png"].width, measured["old.png"].height) == (300, 200)
    assert measured["old.png"].bytes == len(made["old.png"] or b"")
    assert (measured["old.jpg"].width, measured["old.jpg"].height) == (128, 128)
    assert measured["gone.png"].width is None
    assert backfill(images=images, store=store).measured == 0  # nothing left to measure


def _guids(database: Database) -> list[str]:
    return [str(row["guid"]) for row in database.fetch_all("SELECT guid FROM images")]
