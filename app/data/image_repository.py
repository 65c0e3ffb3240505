"""Image metadata in SQL: rows of the ``images`` table to and from ``ImageDetail``."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from uuid import UUID

import structlog

from app.core.cancellation import Cancellation
from app.core.exceptions import (
    DatabaseError,
    ImageNotFound,
    InvalidRequest,
    QueryCancelled,
    QueryTimeout,
    SearchCapacity,
)
from app.core.generation import TokenUsage
from app.core.models import ImageDetail, ImageFilter
from app.data.database import Database, Row
from app.data.dialect import Dialect, fold, from_db_time, to_db_time
from app.data.image_search import is_text_search, where_clause

_COLUMNS = (
    "guid, filename, prompt, created_at, updated_at, media_type, width, height, bytes, model,"
    " quality"
)
_WRITTEN = _COLUMNS + ", owner, text_input_tokens, image_input_tokens, output_tokens, cost_microusd"
# SQLite also stores the folded prompt its substring searches scan (sql/sqlite/010).
_WRITTEN_BY_DIALECT: dict[Dialect, str] = {
    "mysql": _WRITTEN,
    "sqlite": _WRITTEN + ", prompt_folded",
}
INSERT_IMAGE: dict[Dialect, str] = {
    dialect: f"INSERT INTO images ({columns}) VALUES ("  # noqa: S608 - constant
    + ", ".join(f":{column.strip()}" for column in columns.split(","))
    + ")"
    for dialect, columns in _WRITTEN_BY_DIALECT.items()
}
"""Insert one image row from ``image_row``'s parameters, on each dialect."""
_SELECT_BY_GUID = f"SELECT {_COLUMNS} FROM images WHERE guid = :guid"  # noqa: S608 - constant
_SELECT_BY_GUIDS = f"SELECT {_COLUMNS} FROM images WHERE guid IN "  # noqa: S608 - constant
_POSITION_BY_GUID = "SELECT id, created_at FROM images WHERE guid = :guid"
# Keyset paging: strictly after the cursor row in (created_at DESC, id DESC) order. The first
# condition alone is an index range; the second drops the rows that share its timestamp.
_AFTER_CURSOR = "created_at <= :cursor_at AND (created_at < :cursor_at OR id < :cursor_id)"
_FILENAMES_AFTER = "SELECT id, filename FROM images WHERE id > :last_id ORDER BY id LIMIT :limit"
_BATCH = 10_000
_UNMEASURED = (
    "SELECT id, filename FROM images WHERE width IS NULL AND id > :after_id ORDER BY id"
    " LIMIT :limit"
)
_MEASURE = "UPDATE images SET width = :width, height = :height, bytes = :bytes WHERE id = :id"
_ORDER_AND_PAGE = " ORDER BY created_at DESC, id DESC LIMIT :limit OFFSET :offset"
# The longest a listing query may run before the database stops it (QueryTimeout, 504). Pages
# by index take milliseconds; this bounds scans (substring words, deep offsets, counts).
LISTING_TIMEOUT_SECONDS = 5.0

log = structlog.get_logger(__name__)


class SqlImageRepository:
    """The ``ImageRepository`` on MySQL or SQLite.

    Text searches may scan, so at most ``search_slots`` of them (half the pool by default) run
    at once; a search that finds every slot taken is refused with ``SearchCapacity`` rather than
    queued. Reads by guid and inserts so always find a connection, and a refused search holds
    no worker thread waiting. Every listing query is stopped after ``listing_timeout`` seconds.
    """

    def __init__(
        self,
        db: Database,
        *,
        listing_timeout: float = LISTING_TIMEOUT_SECONDS,
        search_slots: int | None = None,
    ) -> None:
        self._db = db
        self._listing_timeout = listing_timeout
        slots = search_slots if search_slots is not None else max(1, db.pool_size // 2)
        self._search_slots = threading.BoundedSemaphore(slots)

    def add(self, image: ImageDetail) -> None:
        """Insert the row of a new image."""
        self._db.execute(INSERT_IMAGE[self._db.dialect], image_row(image, self._db.dialect))

    def get(self, guid: UUID) -> ImageDetail:
        """Return the image with this guid, or raise ``ImageNotFound``."""
        rows = self._db.fetch_all(_SELECT_BY_GUID, {"guid": str(guid)})
        if not rows:
            raise ImageNotFound(f"no image has the guid {guid}")
        return self._from_row(rows[0])

    def get_many(self, guids: Sequence[str]) -> dict[str, ImageDetail]:
        """The images of these guids (as text) that exist, by guid."""
        if not guids:
            return {}
        names = [f"g{n}" for n in range(len(guids))]
        sql = _SELECT_BY_GUIDS + "(" + ", ".join(f":{name}" for name in names) + ")"
        rows = self._db.fetch_all(sql, dict(zip(names, guids, strict=True)))
        return {str(row["guid"]): self._from_row(row) for row in rows}

    def list_guids(
        self,
        filters: ImageFilter | None = None,
        *,
        limit: int,
        offset: int = 0,
        after: UUID | None = None,
        cancel: Cancellation | None = None,
    ) -> list[str]:
        """The guids (as text) of the images matching ``filters``, newest first, after ``after``:
        cheap to read; their details come from a cache or ``get_many``. Cancelling ``cancel``
        stops the query (``QueryCancelled``)."""
        filters = filters or ImageFilter()
        conditions, params = where_clause(filters, self._db.dialect)
        if after is not None:
            conditions.append(_AFTER_CURSOR)
            params |= self._position_of(after)
        sql = f"SELECT guid FROM images{_where(conditions)}{_ORDER_AND_PAGE}"  # noqa: S608
        params |= {"limit": limit, "offset": offset}
        with self._listing_slot(filters), _logged_cancel("list"):
            timeout = self._time_left(cancel)
            guids = self._db.fetch_column(sql, params, timeout=timeout, cancel=cancel)
        return [str(guid) for guid in guids]

    def count(
        self, filters: ImageFilter | None = None, *, cancel: Cancellation | None = None
    ) -> int:
        """How many images match ``filters``; cancelling ``cancel`` stops the query."""
        filters = filters or ImageFilter()
        conditions, params = where_clause(filters, self._db.dialect)
        sql = f"SELECT COUNT(*) AS n FROM images{_where(conditions)}"  # noqa: S608 - fragments
        with self._listing_slot(filters), _logged_cancel("count"):
            timeout = self._time_left(cancel)
            rows = self._db.fetch_all(sql, params, timeout=timeout, cancel=cancel)
        return int(rows[0]["n"])

    def _time_left(self, cancel: Cancellation | None) -> float:
        """What is left of the listing's time limit: a page and its count share it."""
        if cancel is None:
            return self._listing_timeout
        left = cancel.time_left(self._listing_timeout)
        if left <= 0:
            raise QueryTimeout("the query ran past its time limit and was stopped")
        return left

    def filenames(self) -> Iterator[str]:
        """Every filename, walking the table by id so that no batch is large."""
        last_id = 0
        while True:
            rows = self._db.fetch_all(_FILENAMES_AFTER, {"last_id": last_id, "limit": _BATCH})
            yield from (row["filename"] for row in rows)
            if len(rows) < _BATCH:
                return
            last_id = rows[-1]["id"]

    def without_dimensions(self, *, after_id: int, limit: int) -> list[tuple[int, str]]:
        """(id, filename) of rows made before dimensions were recorded, by id after ``after_id``."""
        rows = self._db.fetch_all(_UNMEASURED, {"after_id": after_id, "limit": limit})
        return [(int(row["id"]), str(row["filename"])) for row in rows]

    def set_dimensions(self, row_id: int, *, width: int, height: int, size: int) -> None:
        """Record what an older row's image measures."""
        params = {"id": row_id, "width": width, "height": height, "bytes": size}
        self._db.execute(_MEASURE, params)

    def ping(self) -> None:
        """Raise ``DatabaseUnavailable`` if the database cannot answer."""
        self._db.fetch_all("SELECT 1 AS ok")

    def close(self) -> None:
        """Release pooled connections."""
        self._db.close()

    @contextmanager
    def _listing_slot(self, filters: ImageFilter) -> Iterator[None]:
        """Hold one of the search slots while a text search runs; other listings need none."""
        if not is_text_search(filters):
            yield
            return
        if not self._search_slots.acquire(blocking=False):
            raise SearchCapacity("too many searches are running; retry shortly", retry_after=1)
        try:
            yield
        finally:
            self._search_slots.release()

    def _position_of(self, guid: UUID) -> dict[str, Any]:
        rows = self._db.fetch_all(_POSITION_BY_GUID, {"guid": str(guid)})
        if not rows:
            raise InvalidRequest("the cursor points at an image that no longer exists")
        return {"cursor_at": rows[0]["created_at"], "cursor_id": rows[0]["id"]}

    def _from_row(self, row: Row) -> ImageDetail:
        # Every field is converted to its type here, so the model skips validating it again.
        try:
            return ImageDetail.model_construct(
                guid=UUID(row["guid"]),
                filename=str(row["filename"]),
                prompt=str(row["prompt"]),
                created_at=from_db_time(row["created_at"]),
                updated_at=from_db_time(row["updated_at"]),
                media_type=str(row["media_type"]),
                width=_int_or_none(row["width"]),
                height=_int_or_none(row["height"]),
                bytes=_int_or_none(row["bytes"]),
                model=row["model"],
                quality=row["quality"],
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise DatabaseError("an images row could not be read") from exc


@contextmanager
def _logged_cancel(query: str) -> Iterator[None]:
    """Log a listing query stopped because nobody waited for it any more."""
    try:
        yield
    except QueryCancelled:
        log.info("listing_query_cancelled", query=query)
        raise


def _where(conditions: list[str]) -> str:
    return " WHERE " + " AND ".join(conditions) if conditions else ""


def image_row(
    image: ImageDetail,
    dialect: Dialect,
    *,
    owner: str | None = None,
    usage: TokenUsage | None = None,
    cost_microusd: int = 0,
) -> Row:
    """The parameters of ``INSERT_IMAGE`` for ``image``, whose it is and what it cost."""
    usage = usage or TokenUsage()
    folded = {"prompt_folded": fold(image.prompt)} if dialect == "sqlite" else {}
    return folded | {
        "guid": str(image.guid),
        "filename": image.filename,
        "prompt": image.prompt,
        "created_at": to_db_time(image.created_at, dialect),
        "updated_at": to_db_time(image.updated_at, dialect),
        "media_type": image.media_type,
        "width": image.width,
        "height": image.height,
        "bytes": image.bytes,
        "model": image.model,
        "quality": image.quality,
        "owner": owner,
        "text_input_tokens": usage.text_input,
        "image_input_tokens": usage.image_input,
        "output_tokens": usage.output,
        "cost_microusd": cost_microusd,
    }


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)
