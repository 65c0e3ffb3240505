"""Deleting images and old jobs in SQL: rows at once, objects through an outbox.

One transaction locks the image's row (``FOR UPDATE`` on MySQL, ``BEGIN IMMEDIATE`` on
SQLite), so of two deletes racing on two replicas exactly one finds it; it removes the row, its
renditions and partials rows, records their object keys in the ``deleted_objects`` outbox and
the guid in the ``deletions`` log (sql/mysql/009_deletions.sql). Jobs past their retention go
the same way: the job's row, its partials' rows and its webhook delivery, the partials' objects
to the outbox.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from app.core.deletion import Cleanup, CleanupKind, DeletedImage
from app.data.database import Database, Row
from app.data.dialect import DbTime, to_db_time

_IMAGE = "SELECT filename, owner FROM images WHERE guid = :guid"
_RENDITION_KEYS = "SELECT object_key FROM renditions WHERE image_guid = :guid"
_PARTIAL_KEYS = "SELECT object_key FROM job_partials WHERE job_id = :guid"
_DELETE_ROWS = (
    "DELETE FROM images WHERE guid = :guid",
    "DELETE FROM renditions WHERE image_guid = :guid",
    "DELETE FROM job_partials WHERE job_id = :guid",
)
_RECORD_CLEANUP = (
    "INSERT INTO deleted_objects (kind, target, attempts, due_at, created_at)"
    " VALUES (:kind, :target, 0, :due_at, :now)"
)
_LOG_DELETION = "INSERT INTO deletions (guid, deleted_at) VALUES (:guid, :now)"
_DUE = (
    "SELECT id, kind, target, attempts, due_at FROM deleted_objects WHERE due_at <= :now"
    " ORDER BY due_at, id LIMIT :limit"
)
# Taken only if nobody took it meanwhile (the same due_at): one replica does each cleanup.
_TAKE = (
    "UPDATE deleted_objects SET due_at = :until, attempts = attempts + 1"
    " WHERE id = :id AND due_at = :due_at"
)
_FINISH = "DELETE FROM deleted_objects WHERE id IN ({ids})"
_PENDING = "SELECT COUNT(*) FROM deleted_objects"
_DELETIONS_AFTER = "SELECT id, guid FROM deletions WHERE id > :last_id ORDER BY id LIMIT :limit"
_LAST_DELETION = "SELECT COALESCE(MAX(id), 0) FROM deletions"
_PRUNE = "DELETE FROM deletions WHERE deleted_at < :before"
_OLDEST = "SELECT guid FROM images WHERE created_at < :before ORDER BY created_at, id LIMIT :limit"
_NEW_LEASE = (
    "INSERT INTO maintenance_leases (name, owner, expires_at) VALUES (:name, :owner, :until)"
)
_TAKE_LEASE = (
    "UPDATE maintenance_leases SET owner = :owner, expires_at = :until"
    " WHERE name = :name AND (owner = :owner OR expires_at < :now)"
)
_RELEASE_LEASE = "DELETE FROM maintenance_leases WHERE name = :name AND owner = :owner"
# A finished job with a webhook is kept until its delivery has ended (delivered or given up):
# one not enqueued yet (no dispatcher ran since) or still pending keeps it.
_EXPIRED_JOB_CONDITIONS = (
    " status IN ('succeeded', 'failed') AND updated_at < :before AND (webhook_url IS NULL OR"
    " EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.job_id = jobs.id"
    " AND d.status IN ('delivered', 'failed')))"
)
# Candidates are read without locks: a locking range over ix_jobs_finished would hold the gap
# that runners finishing jobs write into. Each is then locked by its primary key alone.
_EXPIRED_JOBS = f"SELECT id FROM jobs WHERE{_EXPIRED_JOB_CONDITIONS} LIMIT :limit"  # noqa: S608 - constant
_EXPIRED_JOB = f"SELECT id FROM jobs WHERE id = :id AND{_EXPIRED_JOB_CONDITIONS}"  # noqa: S608 - constant
_DELETE_JOB_ROWS = (
    "DELETE FROM job_partials WHERE job_id = :id",
    "DELETE FROM webhook_deliveries WHERE job_id = :id",
    "DELETE FROM jobs WHERE id = :id",
)


class SqlDeletionRepository:
    """The ``DeletionRepository`` on MySQL or SQLite."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def delete_image(
        self, guid: UUID, *, owner: str | None, cdn: bool, now: datetime, grace: float
    ) -> DeletedImage | None:
        """Remove the image's rows and record what is left to do, in one transaction."""
        params: dict[str, Any] = {"guid": str(guid), "now": self._time(now)}
        locking = _IMAGE + " FOR UPDATE" if self._db.dialect == "mysql" else _IMAGE
        with self._db.transaction() as cursor:
            cursor.execute(self._db.prepare(locking), params)
            row = cursor.fetchone()
            if row is None or (owner is not None and row["owner"] != owner):
                return None  # not there, or not theirs: the same answer, nothing revealed
            keys = [str(row["filename"])]
            for query in (_RENDITION_KEYS, _PARTIAL_KEYS):
                cursor.execute(self._db.prepare(query), params)
                keys += [str(found["object_key"]) for found in cursor.fetchall()]
            for statement in _DELETE_ROWS:
                cursor.execute(self._db.prepare(statement), params)
            later = self._time(now + timedelta(seconds=grace))
            work: list[tuple[CleanupKind, str, DbTime]] = [("object", k, later) for k in keys]
            if cdn:
                work.append(("cdn", str(guid), params["now"]))
            cleanups = []
            for kind, target, due_at in work:
                values = {"kind": kind, "target": target, "due_at": due_at, "now": params["now"]}
                cursor.execute(self._db.prepare(_RECORD_CLEANUP), values)
                cleanups.append(Cleanup(id=int(cursor.lastrowid), kind=kind, target=target))
            cursor.execute(self._db.prepare(_LOG_DELETION), params)
        return DeletedImage(guid=guid, cleanups=tuple(cleanups))

    def claim_cleanups(self, *, now: datetime, until: datetime, limit: int) -> list[Cleanup]:
        """Take up to ``limit`` due cleanups; each is due again at ``until`` unless finished."""
        rows = self._db.fetch_all(_DUE, {"now": self._time(now), "limit": limit})
        taken: list[Cleanup] = []
        for row in rows:
            params = {"id": row["id"], "due_at": row["due_at"], "until": self._time(until)}
            if self._db.execute(_TAKE, params) == 1:
                taken.append(_cleanup(row))
        return taken

    def finish_cleanups(self, ids: Sequence[int]) -> None:
        """Clear cleanups that were done."""
        if ids:
            names = {f"i{n}": value for n, value in enumerate(ids)}
            self._db.execute(_FINISH.format(ids=", ".join(f":{n}" for n in names)), names)

    def pending_cleanups(self) -> int:
        """How many cleanups wait in the outbox."""
        return int(self._db.fetch_column(_PENDING)[0])

    def deletions_after(self, last_id: int, *, limit: int) -> list[tuple[int, str]]:
        """Ids and guids of the deletions logged after ``last_id``, in order."""
        rows = self._db.fetch_all(_DELETIONS_AFTER, {"last_id": last_id, "limit": limit})
        return [(int(row["id"]), str(row["guid"])) for row in rows]

    def last_deletion_id(self) -> int:
        """The id of the last deletion logged (0 if none)."""
        return int(self._db.fetch_column(_LAST_DELETION)[0])

    def prune_deletions(self, *, before: datetime) -> int:
        """Forget deletions logged before ``before``."""
        return self._db.execute(_PRUNE, {"before": self._time(before)})

    def images_created_before(self, before: datetime, *, limit: int) -> list[UUID]:
        """Up to ``limit`` guids of images made before ``before``, oldest first."""
        found = self._db.fetch_column(_OLDEST, {"before": self._time(before), "limit": limit})
        return [UUID(str(guid)) for guid in found]

    def expire_jobs(self, *, before: datetime, now: datetime, limit: int) -> int:
        """Remove up to ``limit`` jobs that finished before ``before``; how many were removed.

        A job whose webhook has not been delivered (or given up on) stays. Its partial renders'
        objects are recorded in the outbox, due at once, in the transaction that removes it.
        """
        cutoff = self._time(before)
        candidates = self._db.fetch_column(_EXPIRED_JOBS, {"before": cutoff, "limit": limit})
        locking = _EXPIRED_JOB + (" FOR UPDATE" if self._db.dialect == "mysql" else "")
        at = self._time(now)
        removed = 0
        for job_id in candidates:
            # One short transaction a job: its locks (and the gaps its deletes lock on MySQL)
            # are held only while it goes.
            with self._db.transaction() as cursor:
                params = {"id": job_id, "before": cutoff}
                cursor.execute(self._db.prepare(locking), params)
                if cursor.fetchone() is None:
                    continue  # changed since it was read
                cursor.execute(self._db.prepare(_PARTIAL_KEYS), {"guid": job_id})
                keys = [str(found["object_key"]) for found in cursor.fetchall()]
                for statement in _DELETE_JOB_ROWS:
                    cursor.execute(self._db.prepare(statement), params)
                for key in keys:
                    cleanup = {"kind": "object", "target": key, "due_at": at, "now": at}
                    cursor.execute(self._db.prepare(_RECORD_CLEANUP), cleanup)
            removed += 1
        return removed

    def take_lease(self, name: str, *, owner: str, now: datetime, until: datetime) -> bool:
        """Hold the lease ``name`` until ``until`` if it is free, expired, or already ours."""
        params = {"name": name, "owner": owner, "now": self._time(now), "until": self._time(until)}
        if self._db.insert_unless_duplicate(_NEW_LEASE, params):
            return True
        return self._db.execute(_TAKE_LEASE, params) == 1

    def release_lease(self, name: str, *, owner: str) -> None:
        """Give back the lease ``name`` if ``owner`` holds it."""
        self._db.execute(_RELEASE_LEASE, {"name": name, "owner": owner})

    def _time(self, moment: datetime) -> DbTime:
        return to_db_time(moment, self._db.dialect)


def _cleanup(row: Row) -> Cleanup:
    kind, target = str(row["kind"]), str(row["target"])
    if kind not in ("object", "cdn"):
        raise ValueError(f"unknown cleanup kind {kind!r}")
    return Cleanup(id=int(row["id"]), kind=kind, target=target, attempts=int(row["attempts"]))  # type: ignore[arg-type]
