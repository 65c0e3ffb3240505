"""Usage in SQL: ``usage_records`` (one row per image generated, deleted ones included) summed
by key, model and UTC day."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from app.core.usage import UsageRow
from app.data.database import Database
from app.data.dialect import to_db_time

_DAY = {"mysql": "DATE(created_at)", "sqlite": "substr(created_at, 1, 10)"}
_SUMS = (
    "COUNT(*) AS images, SUM(text_input_tokens) AS text_input_tokens,"
    " SUM(image_input_tokens) AS image_input_tokens, SUM(output_tokens) AS output_tokens,"
    " SUM(cost_microusd) AS cost_microusd"
)


class SqlUsageRepository:
    """The ``UsageRepository`` on MySQL or SQLite."""

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
