"""The renditions table on SQLite and MySQL: one row per image and name, keys listed."""

from __future__ import annotations

from dataclasses import replace
from uuid import uuid4

from app.core.renditions import Rendition
from app.data.database import Database
from app.data.init import init_database
from app.data.rendition_repository import SqlRenditionRepository


def rendition(name: str = "w256.webp", **changes: object) -> Rendition:
    made = Rendition(
        image_guid=uuid4(),
        name=name,
        key=f"images/x_{name}",
        media_type="image/webp",
        width=256,
        height=171,
        bytes=4321,
    )
    return replace(made, **changes)  # type: ignore[arg-type]


def test_a_rendition_is_recorded_once_and_read_back(database: Database) -> None:
    init_database(database)
    renditions = SqlRenditionRepository(database)
    first = rendition()
    assert renditions.get(first.image_guid, first.name) is None
    assert renditions.add(first) == first
    # A replica that made it too records nothing new and learns what was recorded.
    late = replace(first, bytes=9999)
    assert renditions.add(late) == first
    assert renditions.get(first.image_guid, first.name) == first
    assert renditions.get(first.image_guid, "w128.webp") is None


def test_every_key_is_listed(database: Database) -> None:
    init_database(database)
    renditions = SqlRenditionRepository(database)
    made = [rendition(name, key=f"k{n}_{name}") for n, name in enumerate(["w64.png", "w128.png"])]
    for each in made:
        renditions.add(each)
    assert sorted(renditions.keys()) == sorted(r.key for r in made)
