"""Deleting through the service: what fails half way is finished later, never orphaned; the
CDN is retried; a replica's caches forget a deleted image (SQLite and MySQL, a real folder)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from uuid import UUID, uuid4

import pytest

from app.core.callers import Caller
from app.core.exceptions import CdnUnavailable, ImageNotFound, StorageUnavailable
from app.data.blob_local import LocalBlobStore
from app.data.database import Database
from app.data.deletion_repository import SqlDeletionRepository
from app.data.image_repository import SqlImageRepository
from app.data.init import init_database
from app.service.cache_eviction import DeletionFeed
from app.service.cursors import CursorCodec
from app.service.deletion import ImageDeletion
from app.service.deletion_cleanup import Cleanups
from app.service.image_reading import ImageReader
from tests.data.test_image_repository import make_image

pytestmark = pytest.mark.anyio
OWNER = Caller(id="k1")


class FlakyStore(LocalBlobStore):
    """A real folder whose removals fail while ``down`` is set."""

    down = False

    def delete(self, key: str) -> None:
        if self.down:
            raise StorageUnavailable("the folder is away")
        super().delete(key)


class FlakyCdn:
    """A CDN that refuses while ``down`` is set, and records what it was asked."""

    def __init__(self) -> None:
        self.down = True
        self.asked: list[tuple[list[str], str]] = []

    def invalidate(self, paths: Sequence[str], *, reference: str) -> None:
        if self.down:
            raise CdnUnavailable("no answer")
        self.asked.append((list(paths), reference))


class Parts:
    def __init__(self, database: Database, tmp_path: Path, cdn: FlakyCdn | None) -> None:
        init_database(database)
        self.store = FlakyStore(tmp_path / "images")
        self.store.ensure_ready()
        self.images = SqlImageRepository(database)
        self.repository = SqlDeletionRepository(database)
        self.reader = ImageReader(
            repository=self.images,
            store=self.store,
            cursors=CursorCodec(b"k"),
            content_cache_bytes=1 << 20,
        )
        # Due at once when retried: a test cannot wait for a real interval.
        self.cleanups = Cleanups(
            repository=self.repository, store=self.store, cdn=cdn, retry_seconds=0
        )
        self.deletion = ImageDeletion(
            repository=self.repository,
            cleanups=self.cleanups,
            forget=self.reader.forget,
            cdn=cdn is not None,
        )

    def add(self) -> str:
        image = make_image()
        self.store.put(image.filename, b"png bytes", content_type="image/png")
        self.images.add(image)
        self.images_owner(str(image.guid))
        return str(image.guid)

    def images_owner(self, guid: str) -> None:
        self.repository._db.execute(
            "UPDATE images SET owner = 'k1' WHERE guid = :guid", {"guid": guid}
        )


async def test_objects_a_failing_store_kept_are_removed_once_it_is_back(
    database: Database, tmp_path: Path
) -> None:
    parts = Parts(database, tmp_path, cdn=None)
    guid = parts.add()
    parts.store.down = True
    await parts.deletion.delete(UUID(guid), OWNER)  # the delete stands
    with pytest.raises(ImageNotFound):
        await parts.reader.get(UUID(guid))
    assert (parts.store.root / f"{guid}.png").exists()
    assert parts.repository.pending_cleanups() == 1
    parts.cleanups.run_due()  # still down: kept
    assert parts.repository.pending_cleanups() == 1
    parts.store.down = False
    parts.cleanups.run_due()
    assert not (parts.store.root / f"{guid}.png").exists()
    assert parts.repository.pending_cleanups() == 0


async def test_a_failing_cdn_is_asked_again_until_it_answers(
    database: Database, tmp_path: Path
) -> None:
    cdn = FlakyCdn()
    parts = Parts(database, tmp_path, cdn=cdn)
    guid = parts.add()
    await parts.deletion.delete(UUID(guid), OWNER)
    parts.cleanups.run_due()
    assert cdn.asked == [] and parts.repository.pending_cleanups() == 1
    cdn.down = False
    parts.cleanups.run_due()
    assert [paths for paths, _ in cdn.asked] == [[f"/image/{guid}", f"/image/{guid}/content*"]]
    assert parts.repository.pending_cleanups() == 0


async def test_another_replica_forgets_a_deleted_image_on_its_next_poll(
    database: Database, tmp_path: Path
) -> None:
    parts = Parts(database, tmp_path, cdn=None)
    other = ImageReader(repository=parts.images, store=parts.store, cursors=CursorCodec(b"k"))
    feed = DeletionFeed(
        parts.repository, forget=other.forget, forget_all=other.forget_all, interval=1, window=0
    )
    await feed.poll()  # learns where the log stands
    guid = UUID(parts.add())
    assert (await other.get(guid)).guid == guid  # cached now
    await parts.deletion.delete(guid, Caller(id="admin", admin=True))
    assert (await other.get(guid)).guid == guid  # still cached: it has not polled yet
    await feed.poll()
    with pytest.raises(ImageNotFound):
        await other.get(guid)


async def test_a_key_that_is_not_the_owner_gets_not_found(
    database: Database, tmp_path: Path
) -> None:
    parts = Parts(database, tmp_path, cdn=None)
    guid = UUID(parts.add())
    with pytest.raises(ImageNotFound):
        await parts.deletion.delete(guid, Caller(id="k2"))
    with pytest.raises(ImageNotFound):
        await parts.deletion.delete(uuid4(), Caller(id="admin", admin=True))
    assert (await parts.reader.get(guid)).guid == guid
