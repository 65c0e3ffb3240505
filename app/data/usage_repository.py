"""Usage in SQL: ``usage_records`` (one row per image generated, deleted ones included) summed
by key, model and UTC day."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from app.core.usage import UsageRow
from app.data.database import Database, Row
from app.data.dialect import INSERT_IGNORING, to_db_time

_DAY = {"mysql": "DATE(created_at)", "sqlite": "substr(created_at, 1, 10)"}
_SUMS = (
    "COUNT(*) AS images, SUM(text_input_tokens) AS text_input_tokens,"
    " SUM(image_input_tokens) AS image_input_tokens, SUM(output_tokens) AS output_tokens,"
    " SUM(cost_microusd) AS cost_microusd"
)


_COLUMNS = (
    "guid, owner, model, created_at, text_input_tokens, image_input_tokens, output_tokens,"
    " cost_microusd"
)
# Read without locks (a plain SELECT), keyset by id: images being inserted are not held up.
_WITHOUT_USAGE = (
    f"SELECT id, {_COLUMNS} FROM images i WHERE id > :after AND id <= :through"  # noqa: S608 - constant
    " AND NOT EXISTS (SELECT 1 FROM usage_records u WHERE u.guid = i.guid)"
    " ORDER BY id LIMIT :limit"
)
_RECORD = (
    f" INTO usage_records ({_COLUMNS}) VALUES (:guid, :owner, :model, :created_at,"
    " :text_input_tokens, :image_input_tokens, :output_tokens, :cost_microusd)"
)
RECORD_USAGE = "INSERT" + _RECORD
"""Insert one image's usage row (the job runner does, with the image: sql/mysql/011)."""
_LAST_IMAGE = "SELECT COALESCE(MAX(id), 0) FROM images"


class SqlUsageRepository:
    """The ``UsageRepository`` (``core.interfaces``) on MySQL or SQLite."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def usage(
        self, *, owner: str | None, since: datetime | None, until: datetime | None
    ) -> list[UsageRow]:
        """Sums of the images ``owner`` made (every owner when None) in ``[since, until)``."""
        conditions: list[str] = []
        params: dict[str, Any] = {}
        if owner is not None:
            conditions.append("owner = :owner")
            params["owner"] = owner
        if since is not None:
            conditions.append("created_at >= :since")
            params["since"] = to_db_time(since, self._db.dialect)
        if until is not None:
            conditions.append("created_at < :until")
            params["until"] = to_db_time(until, self._db.dialect)
        where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
        day = _DAY[self._db.dialect]
        sql = (
            f"SELECT owner, model, {day} AS day, {_SUMS} FROM usage_records{where}"  # noqa: S608 - constant
            f" GROUP BY owner, model, {day}"
        )
        return [_usage_row(row) for row in self._db.fetch_all(sql, params)]

    def last_image_id(self) -> int:
        """The id of the newest image row (0 when there is none)."""
        return int(self._db.fetch_column(_LAST_IMAGE)[0])

    def record_missing(self, *, after: int, through: int, limit: int) -> tuple[int | None, int]:
        """Write the usage row of up to ``limit`` images with ids in ``(after, through]`` that
        have none (made before ``usage_records``, or by an older release); the last id done
        (None once no more are left) and how many rows were written."""
        params = {"after": after, "through": through, "limit": limit}
        rows = self._db.fetch_all(_WITHOUT_USAGE, params)
        insert = INSERT_IGNORING[self._db.dialect] + _RECORD
        self._db.execute_many(insert, [usage_row(row) for row in rows])
        last = int(rows[-1]["id"]) if len(rows) == limit else None
        return last, len(rows)


def usage_row(image: Row) -> Row:
    """The ``RECORD_USAGE`` parameters of an image row (``image_row``'s, or one read back)."""
    return {column.strip(): image[column.strip()] for column in _COLUMNS.split(",")}


def _usage_row(row: dict[str, Any]) -> UsageRow:
    day = row["day"]
    return UsageRow(
        owner=row["owner"],
        model=row["model"],
        day=day if isinstance(day, date) else date.fromisoformat(str(day)),
        images=int(row["images"]),
        text_input_tokens=int(row["text_input_tokens"] or 0),
        image_input_tokens=int(row["image_input_tokens"] or 0),
        output_tokens=int(row["output_tokens"] or 0),
        cost_microusd=int(row["cost_microusd"] or 0),
    )
