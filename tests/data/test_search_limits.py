"""What bounds a costly search in the repository, on SQLite and MySQL: a deadline the database
enforces, and a share of the pool that leaves connections for everything else."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any
from uuid import UUID

import pytest

from app.core.cancellation import Cancellation
from app.core.exceptions import QueryTimeout, SearchCapacity
from app.core.models import ImageFilter
from app.data.database import Database
from app.data.dialect import time_limited
from app.data.image_repository import SqlImageRepository
from app.data.image_search import search_words, where_clause
from app.data.init import init_database
from tests.seeding import seed_images

# Ten substring words that every seeded prompt holds: each row is tested against all ten.
EVERY_ROW = ImageFilter(prompt="a b c d e f g h i j")


@pytest.fixture
def seeded(database: Database) -> Iterator[tuple[Database, list[str]]]:
    init_database(database)
    yield database, seed_images(database, 20_000)


def test_a_listing_past_its_deadline_is_stopped_and_its_connection_serves_on(
    seeded: tuple[Database, list[str]],
) -> None:
    database, guids = seeded
    hurried = SqlImageRepository(database, listing_timeout=0.001, search_slots=1)
    with pytest.raises(QueryTimeout):
        hurried.count(EVERY_ROW)
    with pytest.raises(QueryTimeout):
        hurried.list_guids(EVERY_ROW, limit=10, offset=19_990)
    # The slot and the connections came back: the same search with time to spare answers.
    patient = SqlImageRepository(database, search_slots=1)
    assert patient.count(EVERY_ROW) == 20_000
    assert patient.list_guids(EVERY_ROW, limit=1, offset=19_999) == [guids[0]]
    assert str(hurried.get_many([guids[5]])[guids[5]].guid) == guids[5]


def test_text_searches_beyond_their_share_of_the_pool_are_refused_at_once(
    seeded: tuple[Database, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    database, guids = seeded
    repository = SqlImageRepository(database, search_slots=1)
    running, finish = threading.Event(), threading.Event()
    real_fetch = database.fetch_column

    def slow_search(sql: str, params: Any = None, **options: Any) -> list[Any]:
        if "prompt" in sql:  # a text search holds its connection until the test lets it go
            running.set()
            finish.wait(30)
        return real_fetch(sql, params, **options)

    monkeypatch.setattr(database, "fetch_column", slow_search)
    first = threading.Thread(target=repository.list_guids, args=(EVERY_ROW,), kwargs={"limit": 5})
    first.start()
    try:
        assert running.wait(30)
        with pytest.raises(SearchCapacity):
            repository.list_guids(ImageFilter(prompt_contains="duck"), limit=5)
        with pytest.raises(SearchCapacity):
            repository.count(ImageFilter(prompt="duck"))
        # Everything that is not a text search goes on meanwhile.
        assert repository.get(UUID(guids[7])).prompt
        assert len(repository.list_guids(ImageFilter(), limit=5)) == 5
        assert repository.count(ImageFilter(filename=f"{guids[3]}.png")) == 1
    finally:
        finish.set()
        first.join()
    assert repository.count(ImageFilter(prompt="duck")) > 0  # the slot came back


def test_a_repeated_word_is_searched_once() -> None:
    assert search_words("a A duck DUCK Duck \u00e1 goose") == ["a", "duck", "goose"]
    conditions, _ = where_clause(ImageFilter(prompt="a a a a a a a a a a"), "mysql")
    assert len(conditions) == 1


def test_sqlite_scans_the_stored_folded_prompt_without_calling_python() -> None:
    conditions, params = where_clause(
        ImageFilter(prompt="ab cd the", prompt_contains="X%y"), "sqlite"
    )
    assert conditions == [
        f"instr(COALESCE(prompt_folded, pp_fold(prompt)), :prompt_term_{n}) > 0" for n in range(4)
    ]
    assert list(params.values()) == ["ab", "cd", "the", "x%y"]


def test_time_limits_for_each_server() -> None:
    sql = "SELECT guid FROM images WHERE prompt LIKE %(p)s"
    assert time_limited(sql, 5, mariadb=True) == f"SET STATEMENT max_statement_time=5.000 FOR {sql}"
    assert time_limited(sql, 2.5, mariadb=False) == (
        "SELECT /*+ MAX_EXECUTION_TIME(2500) */ guid FROM images WHERE prompt LIKE %(p)s"
    )
    with pytest.raises(ValueError, match="SELECT"):
        time_limited("DELETE FROM images", 1, mariadb=True)


def test_a_page_and_its_count_share_one_time_limit(database: Database) -> None:
    init_database(database)
    repository = SqlImageRepository(database, listing_timeout=5.0)
    token = Cancellation()
    assert repository.list_guids(limit=10, cancel=token) == []
    assert token.deadline is not None  # the first statement started the request's clock
    assert 4.0 < token.deadline - time.monotonic() <= 5.0
    token.deadline = time.monotonic() - 0.01  # the page used it all up
    with pytest.raises(QueryTimeout):
        repository.count(cancel=token)
    assert repository.count() == 0  # a statement of its own has the whole limit
