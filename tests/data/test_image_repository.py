"""The image repository on SQLite and MySQL: rows to models and back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest

from app.core.exceptions import DatabaseError, ImageNotFound
from app.core.models import PROMPT_MAX_LENGTH, ImageDetail, ImageFilter
from app.data.database import Database
from app.data.image_repository import SqlImageRepository
from app.data.init import init_database

PROMPTS = [
    "a rubber duck on a sink",
    "🦆 emoji 🛁 and ZWJ 👩‍💻",
    "日本語の猫と中文的狗",
    "quotes ' \" ` and backslash \\",
    "'; DROP TABLE images; --",
    "line one\nline two\r\n\ttabbed",
    "x" * PROMPT_MAX_LENGTH,
    "100% :name %(x)s ?",
]


def make_image(prompt: str = "a duck", at: datetime | None = None) -> ImageDetail:
    guid = uuid4()
    moment = at or datetime.now(UTC)
    return ImageDetail(
        guid=guid, prompt=prompt, filename=f"{guid}.png", created_at=moment, updated_at=moment
    )


def listed(
    repository: SqlImageRepository,
    filters: ImageFilter | None = None,
    *,
    limit: int,
    offset: int = 0,
    after: UUID | None = None,
) -> list[ImageDetail]:
    """The images a listing shows, in its order: its guids, then their details, as the service
    reads them."""
    guids = repository.list_guids(filters, limit=limit, offset=offset, after=after)
    found = repository.get_many(guids)
    return [found[guid] for guid in guids]


@pytest.fixture
def repository(database: Database) -> SqlImageRepository:
    init_database(database)
    return SqlImageRepository(database)


@pytest.mark.parametrize("prompt", PROMPTS)
def test_added_image_reads_back_equal(repository: SqlImageRepository, prompt: str) -> None:
    image = make_image(prompt)
    repository.add(image)
    assert repository.get(image.guid) == image


def test_get_unknown_guid_raises_image_not_found(repository: SqlImageRepository) -> None:
    with pytest.raises(ImageNotFound):
        repository.get(uuid4())


def test_get_many_finds_the_known_guids_and_skips_the_rest(
    repository: SqlImageRepository,
) -> None:
    images = [make_image(f"many {n}") for n in range(3)]
    for image in images:
        repository.add(image)
    asked = [str(images[2].guid), str(uuid4()), str(images[0].guid)]
    assert repository.get_many(asked) == {asked[0]: images[2], asked[2]: images[0]}
    assert repository.get_many([]) == {}


def test_list_guids_are_text_newest_first(repository: SqlImageRepository) -> None:
    base = datetime(2026, 1, 1, tzinfo=UTC)
    images = [make_image(f"guid {n}", base + timedelta(seconds=n)) for n in range(5)]
    for image in images:
        repository.add(image)
    assert repository.list_guids(limit=3, offset=1) == [str(images[n].guid) for n in (3, 2, 1)]


def test_list_is_newest_first_with_id_breaking_ties(repository: SqlImageRepository) -> None:
    base = datetime(2026, 1, 1, tzinfo=UTC)
    older = make_image("older", base)
    same_a = make_image("same a", base + timedelta(seconds=1))
    same_b = make_image("same b", base + timedelta(seconds=1))
    for image in (older, same_a, same_b):
        repository.add(image)
    assert listed(repository, limit=10, offset=0) == [same_b, same_a, older]
    assert listed(repository, limit=1, offset=1) == [same_a]


def test_duplicate_guid_is_refused(repository: SqlImageRepository) -> None:
    image = make_image()
    repository.add(image)
    with pytest.raises(DatabaseError):
        repository.add(image)


def test_row_columns_hold_exactly_what_the_model_says(
    repository: SqlImageRepository, database: Database
) -> None:
    image = make_image("🦆 exact")
    repository.add(image)
    rows = database.fetch_all(
        "SELECT guid, filename, prompt FROM images WHERE guid = :guid", {"guid": str(image.guid)}
    )
    assert rows == [{"guid": str(image.guid), "filename": image.filename, "prompt": "🦆 exact"}]
    assert UUID(rows[0]["guid"]) == image.guid
