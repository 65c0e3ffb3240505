"""Renditions in SQL: rows of the ``renditions`` table to and from ``Rendition``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from uuid import UUID

from app.core.exceptions import DatabaseError
from app.core.renditions import Rendition
from app.data.database import Database, Row
from app.data.dialect import to_db_time

_COLUMNS = "image_guid, name, object_key, media_type, width, height, bytes"
_INSERT = (
    f"INSERT INTO renditions ({_COLUMNS}, created_at) VALUES (:image_guid, :name, :object_key,"  # noqa: S608 - constant
    " :media_type, :width, :height, :bytes, :created_at)"
)
_SELECT = f"SELECT {_COLUMNS} FROM renditions WHERE image_guid = :image_guid AND name = :name"  # noqa: S608 - constant
_KEYS_AFTER = "SELECT id, object_key FROM renditions WHERE id > :last_id ORDER BY id LIMIT :limit"
_BATCH = 10_000


class SqlRenditionRepository:
    """The ``RenditionRepository`` on MySQL or SQLite."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def get(self, image_guid: UUID, name: str) -> Rendition | None:
        """The rendition ``name`` of an image, if it was made."""
        rows = self._db.fetch_all(_SELECT, {"image_guid": str(image_guid), "name": name})
        return _from_row(rows[0]) if rows else None

    def add(self, rendition: Rendition) -> Rendition:
        """Record a rendition; the one recorded first when another replica was quicker."""
        params = {
            "image_guid": str(rendition.image_guid),
            "name": rendition.name,
            "object_key": rendition.key,
            "media_type": rendition.media_type,
            "width": rendition.width,
            "height": rendition.height,
            "bytes": rendition.bytes,
            "created_at": to_db_time(datetime.now(UTC), self._db.dialect),
        }
        if self._db.insert_unless_duplicate(_INSERT, params):
            return rendition
        recorded = self.get(rendition.image_guid, rendition.name)
        if recorded is None:  # a duplicate key, yet no row: the key belongs to another name
            raise DatabaseError(f"the rendition key {rendition.key} is recorded for another row")
        return recorded

    def keys(self) -> Iterator[str]:
        """Every rendition's object key, walking the table by id so that no batch is large."""
        last_id = 0
        while True:
            rows = self._db.fetch_all(_KEYS_AFTER, {"last_id": last_id, "limit": _BATCH})
            yield from (str(row["object_key"]) for row in rows)
            if len(rows) < _BATCH:
                return
            last_id = rows[-1]["id"]


def _from_row(row: Row) -> Rendition:
    try:
        return Rendition(
            image_guid=UUID(str(row["image_guid"])),
            name=str(row["name"]),
            key=str(row["object_key"]),
            media_type=str(row["media_type"]),
            width=int(row["width"]),
            height=int(row["height"]),
            bytes=int(row["bytes"]),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise DatabaseError("a renditions row could not be read") from exc
