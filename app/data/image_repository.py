"""Image metadata in SQL: rows of the ``images`` table to and from ``ImageDetail``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from app.core.exceptions import DatabaseError, ImageNotFound
from app.core.models import ImageDetail
from app.data.database import Database, Row

_COLUMNS = "guid, filename, prompt, created_at, updated_at"

_INSERT = (
    "INSERT INTO images (guid, filename, prompt, created_at, updated_at)"
    " VALUES (:guid, :filename, :prompt, :created_at, :updated_at)"
)
_SELECT_BY_GUID = f"SELECT {_COLUMNS} FROM images WHERE guid = :guid"  # noqa: S608 - constant
_SELECT_PAGE = (
    f"SELECT {_COLUMNS} FROM images"  # noqa: S608 - constant
    " ORDER BY created_at DESC, id DESC LIMIT :limit OFFSET :offset"
)


class SqlImageRepository:
    """The ``ImageRepository`` on MySQL or SQLite."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def add(self, image: ImageDetail) -> None:
        """Insert the row of a new image."""
        self._db.execute(_INSERT, self._to_row(image))

    def get(self, guid: UUID) -> ImageDetail:
        """Return the image with this guid, or raise ``ImageNotFound``."""
        rows = self._db.fetch_all(_SELECT_BY_GUID, {"guid": str(guid)})
        if not rows:
            raise ImageNotFound(f"no image has the guid {guid}")
        return self._from_row(rows[0])

    def list(self, *, limit: int, offset: int) -> list[ImageDetail]:
        """Return images newest first."""
        rows = self._db.fetch_all(_SELECT_PAGE, {"limit": limit, "offset": offset})
        return [self._from_row(row) for row in rows]

    def close(self) -> None:
        """Release pooled connections."""
        self._db.close()

    def _to_row(self, image: ImageDetail) -> Row:
        return {
            "guid": str(image.guid),
            "filename": image.filename,
            "prompt": image.prompt,
            "created_at": self._to_db_time(image.created_at),
            "updated_at": self._to_db_time(image.updated_at),
        }

    def _from_row(self, row: Row) -> ImageDetail:
        try:
            return ImageDetail(
                guid=UUID(row["guid"]),
                filename=row["filename"],
                prompt=row["prompt"],
                created_at=self._from_db_time(row["created_at"]),
                updated_at=self._from_db_time(row["updated_at"]),
            )
        except (ValueError, KeyError) as exc:
            raise DatabaseError("an images row could not be read") from exc

    def _to_db_time(self, moment: datetime) -> Any:
        naive_utc = moment.astimezone(UTC).replace(tzinfo=None)
        return (
            naive_utc
            if self._db.dialect == "mysql"
            else naive_utc.isoformat(timespec="microseconds")
        )

    @staticmethod
    def _from_db_time(value: Any) -> datetime:
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
        return moment.replace(tzinfo=UTC)
