"""`python -m app reconcile`: objects without rows, rows without objects, and --fix."""

from __future__ import annotations

import io
import os
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from uuid import uuid4

import boto3
import pytest
from PIL import Image

from app.core.generation import TokenUsage
from app.core.image_types import PNG, media_type_for_key
from app.core.jobs import JobRecord, JobStatus
from app.core.renditions import Rendition, rendition_key
from app.data.blob_local import LocalBlobStore
from app.data.blob_s3 import S3BlobStore
from app.data.database import Database, open_database
from app.data.image_repository import SqlImageRepository
from app.data.init import init_database
from app.data.job_repository import SqlJobRepository
from app.data.rendition_repository import SqlRenditionRepository
from app.service.generation import ImageKeeper, Kept, check_image, object_name
from app.service.reconcile import Action, job_id_of, reconcile
from tests.data.test_image_repository import make_image
from tests.data.test_job_repository import LEASE, PROBLEM, new_job
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


@pytest.fixture(params=["sqlite", "mysql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """An empty database with the schema: an SQLite file, then a scratch MySQL database."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'pixyproxy.db'}"
    else:
        url = request.getfixturevalue("mysql_url")
    db = open_database(url, pool_size=2)
    init_database(db)
    yield db
    db.close()


def a_png(size: tuple[int, int] = (3, 2)) -> bytes:
    """A small real PNG: a repaired row records the image's type and dimensions."""
    out = io.BytesIO()
    Image.new("RGB", size, "yellow").save(out, format="PNG")
    return out.getvalue()


def job_with_bytes(
    jobs: SqlJobRepository, store: LocalBlobStore, prompt: str, *, lease_until: datetime | None
) -> JobRecord:
    """A job, claimed under a lease until ``lease_until`` unless None, and its stored bytes."""
    job, _ = jobs.submit(new_job(prompt))
    if lease_until is not None:
        (job,) = jobs.claim(runner="gone", limit=1, now=datetime.now(UTC), lease_until=lease_until)
    store.put(store.key_for(object_name(job, PNG)), a_png(), content_type="image/png")
    return job


def test_fix_writes_the_row_a_dead_runner_left_unwritten_and_nothing_it_may_still_write(
    tmp_path: Path, database: Database
) -> None:
    images, jobs = SqlImageRepository(database), SqlJobRepository(database)
    store = LocalBlobStore(tmp_path / "images")
    store.ensure_ready()
    now = datetime.now(UTC)
    later = now + timedelta(hours=3)  # every object is old by then; grace is an hour
    # Stored, then the runner died before its row: its lease ran out long ago.
    dead = job_with_bytes(jobs, store, "paid for, never recorded", lease_until=now)
    # A runner holds this one, or may take it back: it may yet be recorded.
    held = job_with_bytes(jobs, store, "still running", lease_until=later + timedelta(hours=1))
    recent = job_with_bytes(jobs, store, "its lease just ran out", lease_until=later)
    # A partial render its event stream still serves is no orphan.
    preview = f"{held.id}-partial-0.png"
    store.put(preview, b"png", content_type="image/png")
    assert jobs.add_partial(held.id, index=0, key=preview, media_type="image/png", now=now)
    # A failed job's bytes and a losing attempt's bytes: no row will ever point at them.
    failed = job_with_bytes(jobs, store, "failed", lease_until=now + LEASE)
    jobs.fail(failed.id, problem=PROBLEM, now=now)
    won = job_with_bytes(jobs, store, "won", lease_until=now + LEASE)
    keeper = ImageKeeper(store=store, jobs=jobs, images=images, cost_microusd=lambda m, u: 0)
    kept = Kept(check_image(a_png()), len(a_png()), "gpt-image-2", TokenUsage())
    keeper.record(won, object_name(won, PNG), kept)
    lost_key = f"{won.id}-2.png"
    store.put(lost_key, b"png", content_type="image/png")
    store.put("not-a-job.png", b"png", content_type="image/png")
    waiting = job_with_bytes(jobs, store, "queued again", lease_until=None)  # last: not claimed

    report = reconcile(images=images, store=store, jobs=jobs, fix=True, now=later)

    key = partial(object_name, image_type=PNG)
    assert report.actions == {
        key(dead): Action.REPAIRED,
        key(held): Action.IN_FLIGHT,
        key(recent): Action.IN_FLIGHT,
        key(waiting): Action.IN_FLIGHT,
        key(failed): Action.REMOVED,
        lost_key: Action.REMOVED,
        "not-a-job.png": Action.REMOVED,
    }
    repaired = images.get(dead.id)
    assert (repaired.prompt, repaired.filename) == (dead.prompt, key(dead))
    assert (repaired.media_type, repaired.width, repaired.height) == ("image/png", 3, 2)
    assert repaired.bytes == len(a_png())
    finished = jobs.get(dead.id)
    assert finished is not None and finished.status is JobStatus.SUCCEEDED
    assert {o.key for o in store.list_objects()} == {
        preview,
        key(dead),
        key(held),
        key(recent),
        key(waiting),
        key(won),
    }
    again = reconcile(images=images, store=store, jobs=jobs, fix=True, now=later)
    assert sorted(again.actions) == sorted([key(held), key(recent), key(waiting)])
    assert report.rows_without_objects == again.rows_without_objects == []


def test_job_ids_are_read_from_the_names_jobs_give() -> None:
    job_id = uuid4()
    assert job_id_of(f"{job_id}.png") == job_id
    assert job_id_of(f"pre/{job_id}-3.webp") == job_id
    assert job_id_of(f"{job_id}.png.bak") is None
    assert job_id_of(f"x{job_id}.png") is None
    assert job_id_of("duck.png") is None


def test_reconcile_command_writes_the_row_of_a_dead_runner(tmp_path: Path) -> None:
    db = open_database(f"sqlite:///{tmp_path / 'pixyproxy.db'}", pool_size=1)
    init_database(db)
    store = LocalBlobStore(tmp_path / "images")
    store.ensure_ready()
    jobs = SqlJobRepository(db)
    dead = job_with_bytes(jobs, store, "a duck", lease_until=datetime.now(UTC) - timedelta(hours=2))
    old = time.time() - 7200
    os.utime(tmp_path / "images" / object_name(dead, PNG), (old, old))

    fixed = run_app_command(tmp_path, "reconcile", "--fix", PIXY_LOG_LEVEL="ERROR")

    assert f"object without row: {dead.id}.png (written" in fixed.stdout
    assert "repaired)" in fixed.stdout
    assert "1 rows written from their jobs" in fixed.stdout
    assert fixed.returncode == 0, fixed.stdout
    assert SqlImageRepository(db).get(dead.id).prompt == "a duck"
    db.close()
