"""The use cases on real parts: SQLite, a local folder, the offline and OpenAI generators."""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import pytest

from app.core.content import ByteRange
from app.core.exceptions import ContentMissing, ImageNotFound
from app.core.models import ImageDetail
from app.data.blob_local import LocalBlobStore
from app.data.database import Database, open_database
from app.data.image_repository import SqlImageRepository
from app.data.init import init_database
from app.service.cursors import CursorCodec
from app.service.generators.offline import draw_image
from app.service.image_reading import ImageReader, _detail_weight

pytestmark = pytest.mark.anyio


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    db = open_database(f"sqlite:///{tmp_path / 'pixy.db'}", pool_size=2)
    yield db
    db.close()


@pytest.fixture
def store(tmp_path: Path) -> LocalBlobStore:
    local = LocalBlobStore(tmp_path / "images")
    local.ensure_ready()
    return local


def services(
    database: Database,
    store: LocalBlobStore,
    *,
    content_cache_bytes: int = 0,
) -> ImageReader:
    return ImageReader(
        repository=SqlImageRepository(database),
        store=store,
        cursors=CursorCodec(b"test"),
        content_cache_bytes=content_cache_bytes,
    )


def stored_image(database: Database, store: LocalBlobStore, prompt: str) -> ImageDetail:
    """An offline drawing of ``prompt``, stored and recorded as a generation would."""
    now = datetime.now(UTC)
    guid = uuid4()
    detail = ImageDetail(
        guid=guid, prompt=prompt, filename=f"{guid}.png", created_at=now, updated_at=now
    )
    store.put(detail.filename, draw_image(prompt), content_type="image/png")
    SqlImageRepository(database).add(detail)
    return detail


async def test_unknown_guid_is_image_not_found(database: Database, store: LocalBlobStore) -> None:
    init_database(database)
    reader = services(database, store)
    with pytest.raises(ImageNotFound):
        await reader.get(uuid4())


async def read_all(
    reader: ImageReader, detail: ImageDetail, byte_range: ByteRange | None = None
) -> bytes:
    stream = await (await reader.content(detail.guid)).open(byte_range)
    try:
        return b"".join(stream.chunks)
    finally:
        stream.close()


async def test_small_content_is_served_from_memory_once_read(
    database: Database, store: LocalBlobStore
) -> None:
    init_database(database)
    reader = services(database, store, content_cache_bytes=1024 * 1024)
    detail = stored_image(database, store, "kept in memory")
    data = await read_all(reader, detail)
    (store.root / detail.filename).unlink()  # the store can no longer answer: memory must
    assert await read_all(reader, detail) == data
    assert await read_all(reader, detail, ByteRange(2, 9)) == data[2:10]
    assert await (await reader.content(detail.guid)).size() == len(data)


async def test_without_the_content_cache_every_read_goes_to_the_store(
    database: Database, store: LocalBlobStore
) -> None:
    init_database(database)
    reader = services(database, store, content_cache_bytes=0)
    detail = stored_image(database, store, "read from the folder")
    await read_all(reader, detail)
    (store.root / detail.filename).unlink()
    with pytest.raises(ContentMissing):
        await read_all(reader, detail)


async def test_ranges_and_large_objects_are_not_cached(
    database: Database, store: LocalBlobStore
) -> None:
    init_database(database)
    reader = services(database, store, content_cache_bytes=64 * 1024 * 1024)
    small = stored_image(database, store, "only a range was read")
    large = small.model_copy(update={"guid": uuid4(), "filename": f"{uuid4()}.png"})
    store.put(large.filename, b"\x89PNG\r\n\x1a\n" + bytes(300 * 1024), content_type="image/png")
    SqlImageRepository(database).add(large)
    assert len(await read_all(reader, small, ByteRange(0, 3))) == 4
    assert len(await read_all(reader, large)) == 8 + 300 * 1024
    for image in (small, large):
        (store.root / image.filename).unlink()
        with pytest.raises(ContentMissing):
            await read_all(reader, image)


@pytest.mark.parametrize("prompt", ["a duck", "x" * 4000, "🦆" * 4000, "日本" * 2000])
def test_a_cached_detail_weighs_at_least_what_it_holds(prompt: str) -> None:
    # The detail cache is bounded by these weights, so they must not undercount the memory.
    tracemalloc.start()
    try:
        now = datetime.now(UTC)
        detail = ImageDetail(
            guid=uuid4(),
            prompt="".join(list(prompt)),
            filename="f.png",
            created_at=now,
            updated_at=now,
        )
        assert detail.json_bytes  # rendered, as a cached detail soon is
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert held <= _detail_weight(detail)
