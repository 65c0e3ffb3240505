"""Variants on real parts (SQLite and MySQL, a local folder): made once, then read back."""

from __future__ import annotations

import asyncio
import io
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import pytest
from PIL import Image

from app.core.content import ByteRange
from app.core.exceptions import ContentMissing, ImageTooLarge, InvalidRequest
from app.core.models import ImageDetail
from app.data.blob_local import LocalBlobStore
from app.data.database import Database
from app.data.image_repository import SqlImageRepository
from app.data.init import init_database
from app.data.rendition_repository import SqlRenditionRepository
from app.service.content import ImageContent
from app.service.cursors import CursorCodec
from app.service.image_reading import ImageReader
from app.service.variants import VariantSettings

pytestmark = pytest.mark.anyio


class CountingStore(LocalBlobStore):
    """A real folder store that counts the objects written to it."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.puts: list[str] = []

    def put(self, key: str, data: bytes, *, content_type: str) -> None:
        self.puts.append(key)
        super().put(key, data, content_type=content_type)


@pytest.fixture
def store(tmp_path: Path) -> CountingStore:
    counting = CountingStore(tmp_path / "images")
    counting.ensure_ready()
    return counting


def reader_on(database: Database, store: LocalBlobStore, **settings: object) -> ImageReader:
    init_database(database)
    return ImageReader(
        repository=SqlImageRepository(database),
        store=store,
        cursors=CursorCodec(b"test"),
        renditions=SqlRenditionRepository(database),
        variants=VariantSettings(**settings),  # type: ignore[arg-type]
    )


def add_image(database: Database, store: LocalBlobStore, *, size: tuple[int, int]) -> ImageDetail:
    """A PNG of ``size`` stored and recorded without its dimensions, as older rows are."""
    out = io.BytesIO()
    Image.effect_noise(size, 40).convert("RGB").save(out, format="PNG")
    now = datetime.now(UTC)
    guid = uuid4()
    detail = ImageDetail(
        guid=guid, prompt="noise", filename=f"{guid}.png", created_at=now, updated_at=now
    )
    store.put(detail.filename, out.getvalue(), content_type="image/png")
    SqlImageRepository(database).add(detail)
    return detail


async def read(content: ImageContent, byte_range: ByteRange | None = None) -> bytes:
    stream = await content.open(byte_range)
    try:
        return b"".join(stream.chunks)
    finally:
        stream.close()


async def test_concurrent_first_requests_make_one_variant(
    database: Database, store: CountingStore
) -> None:
    reader = reader_on(database, store)
    image = add_image(database, store, size=(600, 400))
    store.puts.clear()
    contents = await asyncio.gather(
        *(reader.content(image.guid, width=256, variant_format="webp") for _ in range(8))
    )
    assert store.puts == [f"{image.guid}_w256.webp"]
    assert {c.key for c in contents} == {f"{image.guid}_w256.webp"}
    assert {c.etag for c in contents} == {f'"{image.guid.hex}-w256.webp"'}
    data = await read(contents[0])
    assert Image.open(io.BytesIO(data)).size == (256, 171)
    assert await read(contents[0], ByteRange(10, 19)) == data[10:20]

    # Another process (a replica, a restart) finds the recorded one and makes nothing.
    again = await reader_on(database, store).content(image.guid, width=256, variant_format="webp")
    assert (again.key, again.etag) == (contents[0].key, contents[0].etag)
    assert await read(again) == data
    assert len(store.puts) == 1
    recorded = SqlRenditionRepository(database).get(image.guid, "w256.webp")
    assert recorded is not None
    assert (recorded.width, recorded.height, recorded.bytes) == (256, 171, len(data))
    assert recorded.media_type == "image/webp"


async def test_the_original_serves_when_nothing_would_change(
    database: Database, store: CountingStore
) -> None:
    reader = reader_on(database, store)
    image = add_image(database, store, size=(300, 200))
    store.puts.clear()
    for content in (
        await reader.content(image.guid, width=512),  # never upscaled: the original's width
        await reader.content(image.guid, variant_format="png"),
    ):
        assert (content.key, content.etag) == (image.filename, f'"{image.guid.hex}"')
    larger = await reader.content(image.guid, width=2048, variant_format="jpeg")
    assert larger.key == f"{image.guid}_w300.jpg"
    assert store.puts == [larger.key]


async def test_widths_off_the_ladder_are_refused(database: Database, store: CountingStore) -> None:
    reader = reader_on(database, store, widths=(100, 200))
    image = add_image(database, store, size=(300, 200))
    with pytest.raises(InvalidRequest, match="width must be one of 100, 200, not 256"):
        await reader.content(image.guid, width=256)
    assert (await reader.content(image.guid, width=100)).key == f"{image.guid}_w100.png"


async def test_images_over_the_pixel_limit_get_no_variant(
    database: Database, store: CountingStore
) -> None:
    reader = reader_on(database, store, max_pixels=300 * 199)
    image = add_image(database, store, size=(300, 200))
    store.puts.clear()
    with pytest.raises(ImageTooLarge):
        await reader.content(image.guid, width=64)
    assert store.puts == []
    assert SqlRenditionRepository(database).get(image.guid, "w64.png") is None


async def test_a_variant_whose_object_went_missing_is_made_again(
    database: Database, store: CountingStore
) -> None:
    reader = reader_on(database, store)
    image = add_image(database, store, size=(600, 400))
    first = await reader.content(image.guid, width=128, variant_format="webp")
    data = await read(first)
    store.delete(first.key)  # lost from the bucket; its row stays
    store.puts.clear()

    again = await reader.content(image.guid, width=128, variant_format="webp")
    assert await again.size() == len(data)
    assert await read(again) == data  # the same bytes: the ETag still names them
    assert store.puts == [first.key]

    store.delete(image.filename)  # an original cannot be made again
    original = await reader.content(image.guid)
    with pytest.raises(ContentMissing):
        await read(original)
