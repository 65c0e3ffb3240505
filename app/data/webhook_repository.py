"""The webhook outbox in SQL: deliveries enqueued for finished jobs, claimed under a lease.

Enqueueing is idempotent across replicas: ``job_id`` is unique, and a replica that finds a job
another replica has just enqueued inserts nothing. Claims lock the due rows with ``FOR UPDATE
SKIP LOCKED`` on MySQL 8 / MariaDB 10.6+ and take them in one ``BEGIN IMMEDIATE`` transaction on
SQLite, as job claims do. A claim moves ``next_attempt_at`` one lease ahead: a delivery whose
replica died during the attempt is due again then, with no sweep needed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from app.core.webhooks import WebhookDelivery
from app.data.database import Database, Row
from app.data.dialect import INSERT_IGNORING, to_db_time

# Candidates are read without locks, then inserted with the duplicates ignored: an INSERT ...
# SELECT would hold shared locks on the jobs rows and index gaps that runners are writing.
_FINISHED_WITHOUT_DELIVERY = (
    "SELECT j.id, j.webhook_url FROM jobs j"
    " WHERE j.status IN ('succeeded', 'failed') AND j.updated_at > :since"
    " AND j.webhook_url IS NOT NULL"
    " AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.job_id = j.id)"
    " ORDER BY j.updated_at LIMIT :limit"
)
_ENQUEUE = (
    " INTO webhook_deliveries (id, job_id, url, status, attempts, next_attempt_at, created_at,"
    " updated_at) VALUES (:id, :job_id, :url, 'pending', 0, :now, :now, :now)"
)
_DUE = (
    "SELECT id, job_id, url, attempts, payload FROM webhook_deliveries"
    " WHERE status = 'pending' AND next_attempt_at <= :now ORDER BY next_attempt_at LIMIT :limit"
)
# One row by its primary key, as job claims take theirs (a list UPDATE may lock a scan).
_TAKE = (
    "UPDATE webhook_deliveries SET lease_owner = :owner, next_attempt_at = :lease_until,"
    " attempts = attempts + 1, updated_at = :now WHERE id = :id"
)
# Each outcome is written only by the replica that holds the lease (see claim).
_DELIVERED = (
    "UPDATE webhook_deliveries SET status = 'delivered', lease_owner = NULL,"
    " last_status = :status, last_error = NULL, payload = NULL, updated_at = :now"
    " WHERE id = :id AND lease_owner = :owner AND status = 'pending'"
)
_RETRY = (
    "UPDATE webhook_deliveries SET next_attempt_at = :at, lease_owner = NULL,"
    " payload = :payload, last_status = :status, last_error = :error, updated_at = :now"
    " WHERE id = :id AND lease_owner = :owner AND status = 'pending'"
)
_GIVE_UP = (
    "UPDATE webhook_deliveries SET status = 'failed', lease_owner = NULL, payload = NULL,"
    " last_status = :status, last_error = :error, updated_at = :now"
    " WHERE id = :id AND lease_owner = :owner AND status = 'pending'"
)
_RELEASE = (
    "UPDATE webhook_deliveries SET next_attempt_at = :now, lease_owner = NULL,"
    " attempts = attempts - 1, updated_at = :now"
    " WHERE id = :id AND lease_owner = :owner AND status = 'pending'"
)
_ERROR_LENGTH = 255


def delivery_id(job_id: UUID) -> str:
    """The Standard Webhooks message id of a job's delivery: the same on every attempt."""
    return f"msg_{job_id.hex}"


class SqlWebhookRepository:
    """The ``WebhookRepository`` on MySQL or SQLite."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def enqueue_finished(self, *, since: datetime, now: datetime, limit: int) -> int:
        """Add a delivery for each job finished after ``since`` that has a URL and none yet.

        Returns how many finished jobs were found without one (a full ``limit``: look again).
        """
        params = {"since": self._time(since), "limit": limit}
        rows = self._db.fetch_all(_FINISHED_WITHOUT_DELIVERY, params)
        at = self._time(now)
        deliveries = []
        for row in rows:
            job_id = UUID(str(row["id"]))
            values = {"id": delivery_id(job_id), "job_id": str(job_id), "url": row["webhook_url"]}
            deliveries.append({**values, "now": at})
        self._db.execute_many(INSERT_IGNORING[self._db.dialect] + _ENQUEUE, deliveries)
        return len(rows)

    def claim(
        self, *, owner: str, limit: int, now: datetime, lease_until: datetime
    ) -> list[WebhookDelivery]:
        """Take up to ``limit`` due deliveries for ``owner``, due again at ``lease_until``."""
        times = {"now": self._time(now), "lease_until": self._time(lease_until)}
        rows = self._db.claim(
            _DUE,
            {"now": times["now"], "limit": limit},
            _TAKE,
            lambda row: {"owner": owner, **times, "id": row["id"]},
        )
        # Every row was locked by this transaction, so each update took its row.
        return [_claimed(row) for row in rows]

    def delivered(self, delivery_id: str, *, owner: str, status: int, now: datetime) -> bool:
        """Record that the receiver took the delivery; False if the lease was lost."""
        params = {"id": delivery_id, "owner": owner, "status": status, "now": self._time(now)}
        return self._db.execute(_DELIVERED, params) == 1

    def retry(
        self,
        delivery_id: str,
        *,
        owner: str,
        at: datetime,
        payload: str | None,
        status: int | None,
        error: str,
        now: datetime,
    ) -> bool:
        """Record a failed attempt; the next is due ``at``, with the same ``payload``."""
        params = {
            "id": delivery_id,
            "owner": owner,
            "at": self._time(at),
            "payload": payload,
            "status": status,
            "error": error[:_ERROR_LENGTH],
            "now": self._time(now),
        }
        return self._db.execute(_RETRY, params) == 1

    def give_up(
        self, delivery_id: str, *, owner: str, status: int | None, error: str, now: datetime
    ) -> bool:
        """Record that the last attempt failed: no more will be made."""
        params = {
            "id": delivery_id,
            "owner": owner,
            "status": status,
            "error": error[:_ERROR_LENGTH],
            "now": self._time(now),
        }
        return self._db.execute(_GIVE_UP, params) == 1

    def release(self, delivery_id: str, *, owner: str, now: datetime) -> bool:
        """Give back an attempt that was cut off (the replica is stopping): due at once."""
        params = {"id": delivery_id, "owner": owner, "now": self._time(now)}
        return self._db.execute(_RELEASE, params) == 1

    def _time(self, moment: datetime) -> Any:
        return to_db_time(moment, self._db.dialect)


def _claimed(row: Row) -> WebhookDelivery:
    return WebhookDelivery(
        id=row["id"],
        job_id=UUID(str(row["job_id"])),
        url=row["url"],
        attempts=int(row["attempts"]) + 1,
        payload=row["payload"],
    )
