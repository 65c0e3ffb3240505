"""`python -m app reconcile`: objects without rows, rows without objects, and --fix."""

from __future__ import annotations

import os
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import uuid4

import boto3
import pytest

from app.core.image_types import media_type_for_key
from app.core.renditions import Rendition, rendition_key
from app.data.blob_local import LocalBlobStore
from app.data.blob_s3 import S3BlobStore
from app.data.database import open_database
from app.data.image_repository import SqlImageRepository
from app.data.init import init_database
from app.data.rendition_repository import SqlRenditionRepository
from app.service.reconcile import reconcile
from tests.data.test_image_repository import make_image
from tests.fixtures import run_app_command


def seed(repository: SqlImageRepository, store: LocalBlobStore | S3BlobStore) -> dict[str, str]:
    """One consistent image, one object without a row, one row without an object."""
    whole, rowless_bytes, missing = make_image("whole"), make_image("orphan"), make_image("lost")
    whole_key = store.key_for(whole.filename)
    repository.add(whole.model_copy(update={"filename": whole_key}))
    store.put(whole_key, b"png", content_type="image/png")
    orphan_key = store.key_for(rowless_bytes.filename)
    store.put(orphan_key, b"png", content_type="image/png")
    missing_key = store.key_for(missing.filename)
    repository.add(missing.model_copy(update={"filename": missing_key}))
    return {"whole": whole_key, "orphan": orphan_key, "missing": missing_key}


@pytest.mark.parametrize("kind", ["local", "s3"])
def test_reconcile_finds_both_kinds_and_fixes_old_orphans(
    tmp_path: Path, kind: str, request: pytest.FixtureRequest
) -> None:
    db = open_database(f"sqlite:///{tmp_path / 'db.sqlite'}", pool_size=1)
    init_database(db)
    repository = SqlImageRepository(db)
    store: LocalBlobStore | S3BlobStore
    if kind == "local":
        store = LocalBlobStore(tmp_path / "images")
        store.ensure_ready()
    else:
        endpoint, bucket = (
            request.getfixturevalue("moto_endpoint"),
            request.getfixturevalue("bucket"),
        )
        store = S3BlobStore(boto3.client("s3", endpoint_url=endpoint), bucket, "pre")
    keys = seed(repository, store)

    report = reconcile(images=repository, store=store)
    assert [o.key for o in report.orphan_objects] == [keys["orphan"]]
    assert report.rows_without_objects == [keys["missing"]]
    assert (report.objects, report.rows, report.removed) == (2, 2, [])
    assert not report.consistent

    young = reconcile(images=repository, store=store, fix=True, grace=timedelta(hours=1))
    assert young.removed == []  # too young: it may belong to a generation in flight

    later = datetime.now(UTC) + timedelta(hours=2)
    fixed = reconcile(images=repository, store=store, fix=True, grace=timedelta(hours=1), now=later)
    assert fixed.removed == [keys["orphan"]]
    assert [o.key for o in reconcile(images=repository, store=store).orphan_objects] == []
    db.close()


def test_reconcile_command(tmp_path: Path) -> None:
    db = open_database(f"sqlite:///{tmp_path / 'pixyproxy.db'}", pool_size=1)
    init_database(db)
    repository = SqlImageRepository(db)
    store = LocalBlobStore(tmp_path / "images")
    store.ensure_ready()
    keys = seed(repository, store)
    old = time.time() - 7200
    os.utime(tmp_path / "images" / keys["orphan"], (old, old))

    def command(*args: str) -> subprocess.CompletedProcess[str]:
        return run_app_command(tmp_path, "reconcile", *args, PIXY_LOG_LEVEL="ERROR")

    listed = command()
    assert listed.returncode == 1
    assert f"object without row: {keys['orphan']}" in listed.stdout
    assert f"row without object: {keys['missing']}" in listed.stdout
    assert (tmp_path / "images" / keys["orphan"]).exists()

    fixed = command("--fix")
    assert "1 objects without rows (1 removed)" in fixed.stdout
    assert not (tmp_path / "images" / keys["orphan"]).exists()
    assert fixed.returncode == 1  # the row without an object is for a person to decide

    db.execute("DELETE FROM images WHERE filename = :f", {"f": keys["missing"]})
    clean = command()
    assert clean.returncode == 0, clean.stdout
    assert "0 objects without rows (0 removed), 0 rows without objects" in clean.stdout
    db.close()


def test_renditions_of_known_images_are_never_orphans(tmp_path: Path) -> None:
    db = open_database(f"sqlite:///{tmp_path / 'db.sqlite'}", pool_size=1)
    init_database(db)
    repository, renditions = SqlImageRepository(db), SqlRenditionRepository(db)
    store = LocalBlobStore(tmp_path / "images")
    store.ensure_ready()
    keys = seed(repository, store)
    recorded = rendition_key(keys["whole"], "w256.webp")  # made and recorded
    unrecorded = rendition_key(keys["whole"], "w64.png")  # made; its replica died before the row
    stranger = rendition_key(keys["orphan"], "w64.png")  # of an image without a row
    lost = rendition_key(keys["whole"], "w128.webp")  # recorded, object gone
    for key in (recorded, unrecorded, stranger):
        store.put(key, b"img", content_type=media_type_for_key(key))
    for key, name in ((recorded, "w256.webp"), (lost, "w128.webp")):
        renditions.add(
            Rendition(uuid4(), name, key, media_type_for_key(key), width=1, height=1, bytes=3)
        )

    later = datetime.now(UTC) + timedelta(hours=2)
    report = reconcile(images=repository, store=store, renditions=renditions, fix=True, now=later)
    assert sorted(report.removed) == sorted([keys["orphan"], stranger])
    assert report.renditions == 2
    assert report.rows_without_objects == sorted([keys["missing"], lost])
    assert (tmp_path / "images" / recorded).exists() and (tmp_path / "images" / unrecorded).exists()
    db.close()
