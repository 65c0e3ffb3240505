"""Generation jobs in SQL: submitted, claimed under a lease, renewed, finished or taken over.

Claims lock the due rows with ``FOR UPDATE SKIP LOCKED`` on MySQL 8 / MariaDB 10.6+, so runners
on several replicas never wait for each other nor take the same job; on SQLite a claim is one
``BEGIN IMMEDIATE`` transaction, which is the only writer while it runs.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from app.core.exceptions import BudgetExceeded, DatabaseError, DatabaseUnavailable
from app.core.generation import TokenUsage
from app.core.jobs import JobPartial, JobProblem, JobRecord, JobStatus, JobUsage
from app.core.models import ImageDetail
from app.data.database import Database, Row, is_duplicate_key
from app.data.dialect import from_db_time, to_db_time
from app.data.image_repository import INSERT_IMAGE, image_row
from app.data.usage_repository import RECORD_USAGE, usage_row

_COLUMNS = (
    "id, owner, prompt, options, status, attempts, lease_owner, lease_expires_at, not_before,"
    " error, idempotency_key, request_hash, webhook_url, created_at, updated_at, revision,"
    " status_revision"
)
_VALUES = (
    ":id, :owner, :prompt, :options, :status, :attempts, :lease_owner, :lease_expires_at,"
    " :not_before, :error, :idempotency_key, :request_hash, :webhook_url, :created_at,"
    " :updated_at, :revision, :status_revision"
)
_INSERT = f"INSERT INTO jobs ({_COLUMNS}) VALUES ({_VALUES})"  # noqa: S608 - constant
_SELECT = f"SELECT {_COLUMNS} FROM jobs"  # noqa: S608 - constant
_BY_ID = _SELECT + " WHERE id = :id"
_BY_KEY = _SELECT + " WHERE owner = :owner AND idempotency_key = :key"
_FORGET_KEY = (
    "UPDATE jobs SET idempotency_key = NULL"
    " WHERE owner = :owner AND idempotency_key = :key AND created_at < :before"
    " AND status IN ('succeeded', 'failed')"
)
_DUE = _SELECT + " WHERE status = 'queued' AND not_before <= :now ORDER BY not_before LIMIT :limit"
# Every visible change bumps the job's revision (the id of the event telling it); a status
# change records its revision too. status_revision comes first: MySQL assigns left to right
# with the new values, SQLite with the old ones, and this order means the same on both.
# A claim takes one row by its primary key: a unique lookup locks that row alone, whatever plan
# stale index statistics would pick for a list (a scan locked every row and deadlocked INSERTs).
_TAKE = (
    "UPDATE jobs SET status_revision = revision + 1, revision = revision + 1,"
    " status = 'running', lease_owner = :runner,"
    " lease_expires_at = :lease_until, attempts = attempts + 1, updated_at = :now WHERE id = :id"
)
_RENEW = (
    "UPDATE jobs SET lease_expires_at = :lease_until"
    " WHERE lease_owner = :runner AND status = 'running' AND id IN "
)
_FAIL_EXPIRED = (
    "UPDATE jobs SET status_revision = revision + 1, revision = revision + 1,"
    " status = 'failed', error = :error, lease_owner = NULL,"
    " lease_expires_at = NULL, updated_at = :now"
    " WHERE status = 'running' AND lease_expires_at < :now AND attempts >= :max_attempts"
)
_REQUEUE_EXPIRED = (
    "UPDATE jobs SET status_revision = revision + 1, revision = revision + 1,"
    " status = 'queued', lease_owner = NULL, lease_expires_at = NULL,"
    " not_before = :now, updated_at = :now WHERE status = 'running' AND lease_expires_at < :now"
)
_FINISH = (
    "UPDATE jobs SET status_revision = revision + 1, revision = revision + 1,"
    " status = :status, error = :error, lease_owner = NULL,"
    " lease_expires_at = NULL, updated_at = :now WHERE id = :id AND status = 'running'"
)
_REQUEUE = (
    "UPDATE jobs SET status_revision = revision + 1, revision = revision + 1,"
    " status = 'queued', lease_owner = NULL, lease_expires_at = NULL,"
    " not_before = :not_before, attempts = attempts - :refund, updated_at = :now"
    " WHERE id = :id AND status = 'running' AND lease_owner = :runner"
)
_QUEUED = "SELECT COUNT(*) FROM jobs WHERE status = 'queued'"
_REVISIONS = "SELECT id, revision FROM jobs WHERE id IN "
_BUMP_FOR_PARTIAL = "UPDATE jobs SET revision = revision + 1 WHERE id = :id AND status = 'running'"
_PARTIAL_KEYS = "SELECT object_key FROM job_partials"
_INSERT_PARTIAL = (
    "INSERT INTO job_partials (job_id, idx, revision, object_key, media_type, created_at)"
    " SELECT id, :idx, revision, :key, :media_type, :now FROM jobs WHERE id = :id"
)
_PARTIALS = (
    "SELECT idx, revision, object_key, media_type FROM job_partials"
    " WHERE job_id = :id AND revision > :after ORDER BY revision"
)
_PARTIAL = (
    "SELECT idx, revision, object_key, media_type FROM job_partials"
    " WHERE job_id = :id AND idx = :idx"
)
_USAGE = (
    "SELECT text_input_tokens, image_input_tokens, output_tokens, cost_microusd"
    " FROM usage_records WHERE guid = :guid"
)
_RECENT = (
    "SELECT created_at FROM jobs WHERE owner = :owner AND created_at > :since"
    " ORDER BY created_at LIMIT :limit"
)
_BUDGET_WINDOW = timedelta(hours=1)
_STATUSES = "SELECT id, status FROM jobs WHERE id IN "


class SqlJobRepository:
    """The ``JobRepository`` on MySQL or SQLite."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def submit(self, job: JobRecord, *, hourly_limit: int = 0) -> tuple[JobRecord, bool]:
        """Insert ``job``; with an idempotency key already used, the job it names instead.

        With ``hourly_limit``, the owner may have submitted at most that many jobs in the last
        hour: past it, ``BudgetExceeded`` (a replay of a key's job is never counted). The count
        and the insert hold a lock per owner, so that concurrent submissions on any replica
        never overshoot.

        Returns the job and whether it is the one just inserted.
        """
        if job.idempotency_key is not None:
            known = self._db.fetch_all(_BY_KEY, {"owner": job.owner, "key": job.idempotency_key})
            if known:
                return self._from_row(known[0]), False
        if hourly_limit > 0:
            inserted = self._insert_within_budget(job, hourly_limit)
        else:
            inserted = self._db.insert_unless_duplicate(_INSERT, self._to_row(job))
        if inserted:
            return job, True
        rows = self._db.fetch_all(_BY_KEY, {"owner": job.owner, "key": job.idempotency_key})
        if not rows:  # the key's job was forgotten between the two statements: insert again
            return self.submit(job)
        return self._from_row(rows[0]), False

    def _insert_within_budget(self, job: JobRecord, limit: int) -> bool:
        since = job.created_at - _BUDGET_WINDOW
        params = {"owner": job.owner, "since": self._time(since), "limit": limit}
        try:
            with self._db.connection() as conn, self._owner_lock(conn, job.owner):
                cursor = conn.cursor()
                cursor.execute(self._db.prepare(_RECENT), params)
                recent = [from_db_time(row["created_at"]) for row in cursor.fetchall()]
                if len(recent) >= limit:
                    frees_at = recent[0] + _BUDGET_WINDOW
                    # Another replica's job may carry a moment a hair later than this one's.
                    window = _BUDGET_WINDOW.total_seconds()
                    wait = min(math.ceil((frees_at - job.created_at).total_seconds()), int(window))
                    raise BudgetExceeded(
                        f"this key may start {limit} images an hour; the next slot frees in"
                        f" {wait} s",
                        retry_after=max(1, wait),
                    )
                cursor.execute(self._db.prepare(_INSERT), self._to_row(job))
        except DatabaseError as exc:
            if is_duplicate_key(exc.__cause__):
                return False
            raise
        return True

    @contextmanager
    def _owner_lock(self, conn: Any, owner: str) -> Iterator[None]:
        """Hold the owner's budget lock on ``conn`` (a transaction's write lock on SQLite)."""
        cursor = conn.cursor()
        if self._db.dialect == "sqlite":
            cursor.execute("BEGIN IMMEDIATE")
            yield
            return
        name = f"pixyproxy_budget_{owner}"
        cursor.execute("SELECT GET_LOCK(%(name)s, %(wait)s) AS locked", {"name": name, "wait": 10})
        if cursor.fetchone()["locked"] != 1:
            raise DatabaseUnavailable("the budget of this key is busy; retry shortly")
        try:
            yield
        finally:
            cursor.execute("SELECT RELEASE_LOCK(%(name)s)", {"name": name})
            cursor.fetchall()

    def forget_key(self, *, owner: str, key: str, before: datetime) -> bool:
        """Free an idempotency key whose job finished before ``before``; False if none did."""
        params = {"owner": owner, "key": key, "before": self._time(before)}
        return self._db.execute(_FORGET_KEY, params) > 0

    def get(self, job_id: UUID) -> JobRecord | None:
        """The job with this id, if any."""
        rows = self._db.fetch_all(_BY_ID, {"id": str(job_id)})
        return self._from_row(rows[0]) if rows else None

    def statuses(self, job_ids: Sequence[UUID]) -> dict[UUID, JobStatus]:
        """The status of each of these jobs that exists."""
        if not job_ids:
            return {}
        ids, names = _in_list(job_ids)
        rows = self._db.fetch_all(_STATUSES + names, ids)
        return {UUID(str(row["id"])): JobStatus(row["status"]) for row in rows}

    def usage(self, job_id: UUID) -> JobUsage | None:
        """What the image of a succeeded job cost (also once the image was deleted)."""
        rows = self._db.fetch_all(_USAGE, {"guid": str(job_id)})
        if not rows:
            return None
        row = rows[0]
        return JobUsage(
            text_input_tokens=int(row["text_input_tokens"]),
            image_input_tokens=int(row["image_input_tokens"]),
            output_tokens=int(row["output_tokens"]),
            cost_usd=int(row["cost_microusd"]) / 1_000_000,
        )

    def revisions(self, job_ids: Sequence[UUID]) -> dict[UUID, int]:
        """The current revision of each of these jobs that exists (one query for them all)."""
        if not job_ids:
            return {}
        ids, names = _in_list(job_ids)
        rows = self._db.fetch_all(_REVISIONS + names, ids)
        return {UUID(str(row["id"])): int(row["revision"]) for row in rows}

    def add_partial(
        self, job_id: UUID, *, index: int, key: str, media_type: str, now: datetime
    ) -> int | None:
        """Record a partial render of a running job; its event's revision (None if the job is
        not running any more, or the partial was recorded already)."""
        params = {
            "id": str(job_id),
            "idx": index,
            "key": key,
            "media_type": media_type,
            "now": self._time(now),
        }
        try:
            with self._db.transaction() as cursor:
                cursor.execute(self._db.prepare(_BUMP_FOR_PARTIAL), params)
                if cursor.rowcount != 1:
                    return None
                cursor.execute(self._db.prepare(_INSERT_PARTIAL), params)
        except DatabaseError as exc:
            if is_duplicate_key(exc.__cause__):
                return None
            raise
        rows = self._db.fetch_all(_PARTIAL, {"id": str(job_id), "idx": index})
        return int(rows[0]["revision"]) if rows else None

    def partials(self, job_id: UUID, *, after: int = 0) -> list[JobPartial]:
        """The partial renders of a job recorded after revision ``after``, in order."""
        rows = self._db.fetch_all(_PARTIALS, {"id": str(job_id), "after": after})
        return [_partial(row) for row in rows]

    def partial_keys(self) -> list[str]:
        """The object key of every recorded partial render."""
        return [str(key) for key in self._db.fetch_column(_PARTIAL_KEYS)]

    def partial(self, job_id: UUID, index: int) -> JobPartial | None:
        """One partial render of a job, if it was recorded."""
        rows = self._db.fetch_all(_PARTIAL, {"id": str(job_id), "idx": index})
        return _partial(rows[0]) if rows else None

    def queued(self) -> int:
        """How many jobs wait to be claimed."""
        return int(self._db.fetch_column(_QUEUED)[0])

    def claim(
        self, *, runner: str, limit: int, now: datetime, lease_until: datetime
    ) -> list[JobRecord]:
        """Take up to ``limit`` due jobs for ``runner``, oldest first, leased until then."""
        times = {"now": self._time(now), "lease_until": self._time(lease_until)}
        rows = self._db.claim(
            _DUE,
            {"now": times["now"], "limit": limit},
            _TAKE,
            lambda row: {"runner": runner, **times, "id": row["id"]},
        )
        # Every row was locked for this transaction, so the update took each of them.
        claimed = [self._from_row(row) for row in rows]
        return [
            job.model_copy(
                update={
                    "status": JobStatus.RUNNING,
                    "lease_owner": runner,
                    "lease_expires_at": lease_until,
                    "attempts": job.attempts + 1,
                    "updated_at": now,
                    "revision": job.revision + 1,
                    "status_revision": job.revision + 1,
                }
            )
            for job in claimed
        ]

    def renew(self, *, runner: str, job_ids: Sequence[UUID], lease_until: datetime) -> int:
        """Extend the lease of these jobs while ``runner`` holds them; how many it holds."""
        if not job_ids:
            return 0
        ids, names = _in_list(job_ids)
        params = {"runner": runner, "lease_until": self._time(lease_until), **ids}
        return self._db.execute(_RENEW + names, params)

    def take_back_expired(
        self, *, now: datetime, max_attempts: int, problem: JobProblem
    ) -> tuple[int, int]:
        """Jobs whose runner stopped renewing: failed past ``max_attempts``, else queued again.

        Returns how many were failed and how many queued again.
        """
        at = self._time(now)
        failed = self._db.execute(
            _FAIL_EXPIRED,
            {"now": at, "max_attempts": max_attempts, "error": problem.model_dump_json()},
        )
        requeued = self._db.execute(_REQUEUE_EXPIRED, {"now": at})
        return failed, requeued

    def requeue(
        self, job_id: UUID, *, runner: str, not_before: datetime, now: datetime, refund: bool
    ) -> bool:
        """Give a running job back to the queue, due at ``not_before``.

        ``refund`` takes back the attempt its claim counted (the runner stopped, not the job).
        """
        params = {
            "id": str(job_id),
            "runner": runner,
            "not_before": self._time(not_before),
            "now": self._time(now),
            "refund": 1 if refund else 0,
        }
        return self._db.execute(_REQUEUE, params) == 1

    def fail(self, job_id: UUID, *, problem: JobProblem, now: datetime) -> bool:
        """Record that a running job failed; False if it was not running any more."""
        params = {
            "id": str(job_id),
            "status": JobStatus.FAILED.value,
            "error": problem.model_dump_json(),
            "now": self._time(now),
        }
        return self._db.execute(_FINISH, params) == 1

    def succeed(
        self,
        job_id: UUID,
        *,
        image: ImageDetail,
        owner: str,
        usage: TokenUsage,
        cost_microusd: int,
        now: datetime,
    ) -> bool:
        """Record the image and mark its job succeeded, both or neither.

        False when the image's row exists already: another runner finished the job first, or
        an earlier call committed although its answer was lost.
        """
        row = image_row(
            image, self._db.dialect, owner=owner, usage=usage, cost_microusd=cost_microusd
        )
        finish = {
            "id": str(job_id),
            "status": JobStatus.SUCCEEDED.value,
            "error": None,
            "now": self._time(now),
        }
        try:
            with self._db.transaction() as cursor:
                cursor.execute(self._db.prepare(INSERT_IMAGE[self._db.dialect]), row)
                cursor.execute(self._db.prepare(RECORD_USAGE), usage_row(row))
                cursor.execute(self._db.prepare(_FINISH), finish)
        except DatabaseError as exc:
            if is_duplicate_key(exc.__cause__):
                return False
            raise
        return True

    def _time(self, moment: datetime) -> Any:
        return to_db_time(moment, self._db.dialect)

    def _to_row(self, job: JobRecord) -> Row:
        lease = job.lease_expires_at
        return {
            "id": str(job.id),
            "owner": job.owner,
            "prompt": job.prompt,
            "options": json.dumps(job.options, sort_keys=True),
            "status": job.status.value,
            "attempts": job.attempts,
            "lease_owner": job.lease_owner,
            "lease_expires_at": None if lease is None else self._time(lease),
            "not_before": self._time(job.not_before),
            "error": None if job.error is None else job.error.model_dump_json(),
            "idempotency_key": job.idempotency_key,
            "request_hash": job.request_hash,
            "webhook_url": job.webhook_url,
            "created_at": self._time(job.created_at),
            "updated_at": self._time(job.updated_at),
            "revision": job.revision,
            "status_revision": job.status_revision,
        }

    @staticmethod
    def _from_row(row: Row) -> JobRecord:
        lease = row["lease_expires_at"]
        return JobRecord(
            id=UUID(str(row["id"])),
            owner=row["owner"],
            prompt=row["prompt"],
            options=json.loads(row["options"]),
            status=JobStatus(row["status"]),
            attempts=int(row["attempts"]),
            lease_owner=row["lease_owner"],
            lease_expires_at=None if lease is None else from_db_time(lease),
            not_before=from_db_time(row["not_before"]),
            error=None if row["error"] is None else JobProblem.model_validate_json(row["error"]),
            idempotency_key=row["idempotency_key"],
            request_hash=row["request_hash"],
            webhook_url=row["webhook_url"],
            created_at=from_db_time(row["created_at"]),
            updated_at=from_db_time(row["updated_at"]),
            revision=int(row["revision"]),
            status_revision=int(row["status_revision"]),
        )


def _in_list(values: Sequence[object]) -> tuple[dict[str, str], str]:
    """Named parameters for ``IN (...)`` and the list of their names, as SQL text."""
    params = {f"v{n}": str(value) for n, value in enumerate(values)}
    return params, "(" + ", ".join(f":{name}" for name in params) + ")"


def _partial(row: Row) -> JobPartial:
    return JobPartial(
        index=int(row["idx"]),
        revision=int(row["revision"]),
        key=str(row["object_key"]),
        media_type=str(row["media_type"]),
    )
