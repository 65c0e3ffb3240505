"""Listing and search in the repository, the same on SQLite and MySQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

import pytest

from app.core.exceptions import InvalidRequest
from app.core.models import ImageDetail, ImageFilter
from app.data.database import Database
from app.data.dialect import fold, to_db_time
from app.data.image_repository import SqlImageRepository
from app.data.image_search import is_indexable, like_pattern
from app.data.init import init_database
from tests.data.migrations import init_database_before
from tests.data.test_image_repository import listed, make_image

BASE = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def repository(database: Database) -> SqlImageRepository:
    init_database(database)
    return SqlImageRepository(database)


def add_all(
    repository: SqlImageRepository, prompts: list[str], at: datetime = BASE
) -> list[ImageDetail]:
    images = [make_image(prompt, at) for prompt in prompts]
    for image in images:
        repository.add(image)
    return images


def walk(
    repository: SqlImageRepository, filters: ImageFilter | None = None, limit: int = 3
) -> list[UUID]:
    """Every guid of a listing, page by page with the keyset cursor."""
    seen: list[UUID] = []
    after = None
    while True:
        page = listed(repository, filters, limit=limit, after=after)
        seen += [image.guid for image in page]
        if len(page) < limit:
            return seen
        after = page[-1].guid


def test_equal_timestamps_are_ordered_by_insertion_newest_first(
    repository: SqlImageRepository,
) -> None:
    images = add_all(repository, [f"same moment {n}" for n in range(7)])
    expected = [image.guid for image in reversed(images)]
    assert [i.guid for i in listed(repository, limit=10)] == expected
    assert walk(repository, limit=2) == expected


def test_cursor_walk_returns_every_row_once_while_rows_are_inserted(
    repository: SqlImageRepository,
) -> None:
    originals = add_all(repository, [f"old {n}" for n in range(10)], BASE)
    seen: list[UUID] = []
    after = None
    for round_number in range(20):
        page = listed(repository, limit=3, after=after)
        seen += [image.guid for image in page]
        # New images arrive between page requests, newer than everything listed so far.
        add_all(repository, [f"new {round_number}"], BASE + timedelta(minutes=round_number + 1))
        if len(page) < 3:
            break
        after = page[-1].guid
    assert sorted(seen) == sorted(image.guid for image in originals)
    assert len(seen) == len(set(seen))


def test_cursor_to_a_missing_image_is_invalid(repository: SqlImageRepository) -> None:
    with pytest.raises(InvalidRequest):
        listed(repository, limit=5, after=UUID(int=7))


def test_offset_paging(repository: SqlImageRepository) -> None:
    images = add_all(repository, [f"p{n}" for n in range(5)])
    assert [i.guid for i in listed(repository, limit=2, offset=3)] == [
        images[1].guid,
        images[0].guid,
    ]


def test_the_filename_filter_is_exact_in_case_and_trailing_spaces(
    repository: SqlImageRepository,
) -> None:
    image = make_image("a duck", BASE).model_copy(update={"filename": "Duck-é.png"})
    repository.add(image)
    assert listed(repository, ImageFilter(filename="Duck-é.png"), limit=9) == [image]
    for other in ("duck-é.png", "DUCK-É.png", "Duck-é.png ", "Duck-e.png", "Duck-é.PNG"):
        assert listed(repository, ImageFilter(filename=other), limit=9) == [], other
        assert repository.count(ImageFilter(filename=other)) == 0, other


def test_exact_filters_and_dates_combine(repository: SqlImageRepository) -> None:
    early, middle, late = (
        add_all(repository, [name], BASE + timedelta(hours=hour))[0]
        for name, hour in (("early duck", 0), ("middle duck", 1), ("late goose", 2))
    )
    assert listed(repository, ImageFilter(guid=middle.guid), limit=9) == [middle]
    assert listed(repository, ImageFilter(filename=late.filename), limit=9) == [late]
    assert listed(repository, ImageFilter(created_after=early.created_at), limit=9) == [
        late,
        middle,
    ]
    assert listed(repository, ImageFilter(created_before=late.created_at), limit=9) == [
        middle,
        early,
    ]
    window = ImageFilter(
        created_after=BASE - timedelta(minutes=1), created_before=BASE + timedelta(minutes=90)
    )
    assert listed(repository, window, limit=9) == [middle, early]
    both = ImageFilter(prompt="duck", created_after=BASE + timedelta(minutes=30))
    assert listed(repository, both, limit=9) == [middle]
    assert listed(repository, ImageFilter(guid=middle.guid, filename=late.filename), limit=9) == []
    naive = ImageFilter(created_after=(BASE + timedelta(minutes=90)).replace(tzinfo=None))
    assert listed(repository, naive, limit=9) == [late]
    assert repository.count(ImageFilter(prompt="duck")) == 2
    assert repository.count() == 3


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("duck", {"a rubber duck on a sink", "DUCKS in a row", "Duckling café"}),
        ("DUCK sink", {"a rubber duck on a sink"}),
        ("sink duck", {"a rubber duck on a sink"}),
        ("cafe", {"Duckling café"}),
        ("CAFÉ", {"Duckling café"}),
        ("uck", set()),  # word search matches the start of words
        ("a row", {"DUCKS in a row"}),  # short words and stopwords are matched as substrings
        ("100%", {"100% cotton"}),
        ("猫", {"日本語の猫"}),
        ("日本語の猫", {"日本語の猫"}),
    ],
)
def test_prompt_word_search(repository: SqlImageRepository, query: str, expected: set[str]) -> None:
    add_all(
        repository,
        [
            "a rubber duck on a sink",
            "DUCKS in a row",
            "Duckling café",
            "100% cotton",
            "日本語の猫",
            "goose",
        ],
    )
    found = {image.prompt for image in listed(repository, ImageFilter(prompt=query), limit=50)}
    assert found == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("uck", {"a rubber duck"}),
        ("RUBBER D", {"a rubber duck"}),
        ("%", {"50% off_sale \\o/"}),
        ("_", {"50% off_sale \\o/"}),
        ("\\", {"50% off_sale \\o/"}),
        ("f_s", {"50% off_sale \\o/"}),
        ("0%", {"50% off_sale \\o/"}),
        ("!", {"bang! here"}),
        ("x%y", set()),
        ("'; DROP TABLE images; --", set()),
    ],
)
def test_prompt_contains_takes_wildcards_literally(
    repository: SqlImageRepository, text: str, expected: set[str]
) -> None:
    add_all(repository, ["a rubber duck", "50% off_sale \\o/", "bang! here", "xay"])
    found = {i.prompt for i in listed(repository, ImageFilter(prompt_contains=text), limit=50)}
    assert found == expected
    assert repository.count() == 4  # and the table is still there


def test_rows_made_before_the_folded_prompt_are_found_after_the_migration(
    database: Database, tmp_path: Path
) -> None:
    """On SQLite substring search reads the prompt folded when stored (010): the migration folds
    the rows already there, and the service folds each prompt it writes."""
    init_database_before(database, "010", tmp_path)
    for prompt in ("Ein GROSSER Café am See", "a goose"):
        database.execute(_BEFORE_010, old_row(prompt, database))

    assert "010_prompt_folded.sql" in init_database(database)
    repository = SqlImageRepository(database)
    add_all(repository, ["CAFÉ NOIR, new"])
    for search in (ImageFilter(prompt="am"), ImageFilter(prompt_contains="grosser cafe")):
        assert {image.prompt for image in listed(repository, search, limit=9)} == {
            "Ein GROSSER Café am See"
        }
    found = listed(repository, ImageFilter(prompt_contains="fé n"), limit=9)
    assert [image.prompt for image in found] == ["CAFÉ NOIR, new"]


def test_a_row_written_without_its_folded_prompt_is_still_found(database: Database) -> None:
    """Another writer (an older release, the sqlite3 shell) inserts rows as before 010: they
    are written, and searched by folding them when read."""
    init_database(database)
    database.execute(_BEFORE_010, old_row("Written ELSEWHERE, à la main", database))
    repository = SqlImageRepository(database)
    for search in (ImageFilter(prompt="a la"), ImageFilter(prompt_contains="elsewhere, a")):
        found = listed(repository, search, limit=9)
        assert [image.prompt for image in found] == ["Written ELSEWHERE, à la main"]


_BEFORE_010 = (
    "INSERT INTO images (guid, filename, prompt, created_at, updated_at)"
    " VALUES (:guid, :filename, :prompt, :at, :at)"
)


def old_row(prompt: str, database: Database) -> dict[str, str | datetime]:
    image = make_image(prompt, BASE)
    at = to_db_time(BASE, database.dialect)
    return {"guid": str(image.guid), "filename": image.filename, "prompt": prompt, "at": at}


def test_helpers() -> None:
    assert like_pattern("50%_!\\") == "%50!%!_!!\\%"
    assert fold("Café ÅNGSTRÖM") == "cafe angstrom"
    assert is_indexable("duck") and is_indexable("日本語")
    assert not is_indexable("the") and not is_indexable("ab") and not is_indexable("100%")
