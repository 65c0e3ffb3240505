"""Idempotency keys in SQL: claimed before a generation, completed with its image's guid."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from app.core.models import IdempotencyRecord
from app.data.database import Database
from app.data.dialect import DbTime, from_db_time, to_db_time

_CLAIM = (
    "INSERT INTO idempotency_keys"
    " (scope, idempotency_key, request_hash, image_guid, created_at, expires_at)"
    " VALUES (:scope, :key, :request_hash, NULL, :created_at, :expires_at)"
)
_GET = (
    "SELECT request_hash, image_guid, created_at FROM idempotency_keys"
    " WHERE scope = :scope AND idempotency_key = :key AND expires_at > :now"
)
_COMPLETE = (
    "UPDATE idempotency_keys SET image_guid = :guid WHERE scope = :scope AND idempotency_key = :key"
)
_RELEASE = "DELETE FROM idempotency_keys WHERE scope = :scope AND idempotency_key = :key"
_RELEASE_IF_STARTED = _RELEASE + " AND image_guid IS NULL AND created_at = :created_at"
_PURGE = "DELETE FROM idempotency_keys WHERE expires_at <= :now"


class SqlIdempotencyRepository:
    """The ``IdempotencyRepository`` on MySQL or SQLite."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def claim(
        self, *, scope: str, key: str, request_hash: str, now: datetime, expires_at: datetime
    ) -> bool:
        """Take the key for a new request; False when someone holds it already."""
        self._db.execute(_PURGE, {"now": self._time(now)})
        return self._db.insert_unless_duplicate(
            _CLAIM,
            {
                "scope": scope,
                "key": key,
                "request_hash": request_hash,
                "created_at": self._time(now),
                "expires_at": self._time(expires_at),
            },
        )

    def get(self, *, scope: str, key: str, now: datetime) -> IdempotencyRecord | None:
        """The live record of a key, if any."""
        rows = self._db.fetch_all(_GET, {"scope": scope, "key": key, "now": self._time(now)})
        if not rows:
            return None
        row = rows[0]
        return IdempotencyRecord(
            request_hash=row["request_hash"],
            image_guid=UUID(row["image_guid"]) if row["image_guid"] else None,
            created_at=from_db_time(row["created_at"]),
        )

    def complete(self, *, scope: str, key: str, guid: UUID) -> None:
        """Record the image the key's request created."""
        self._db.execute(_COMPLETE, {"scope": scope, "key": key, "guid": str(guid)})

    def release(self, *, scope: str, key: str) -> None:
        """Give the key up after its request failed, so that a retry can run."""
        self._db.execute(_RELEASE, {"scope": scope, "key": key})

    def release_stale(self, *, scope: str, key: str, created_at: datetime) -> bool:
        """Take back a claim whose request died unfinished; False if it moved on meanwhile."""
        params = {"scope": scope, "key": key, "created_at": self._time(created_at)}
        return self._db.execute(_RELEASE_IF_STARTED, params) == 1

    def _time(self, moment: datetime) -> DbTime:
        return to_db_time(moment, self._db.dialect)
