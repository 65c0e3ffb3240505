"""Finds what a crash between storing bytes and writing a row can leave behind, and repairs
what it safely can.

Bytes are stored before their row is written (docs/ARCHITECTURE.md, "Jobs"), so an object
without a row is a generation whose row was never written, or whose attempt lost to another.
Its name says which job made it (``<job id>[-<attempt>].<ext>``, see ``object_name``); what
the job says decides what ``fix`` does with an object older than the grace period:

- the job is ``running`` but its lease ran out longer than the grace period ago (its runner
  died, and no live replica took the job back, which they do within seconds): the row is
  written from the job and the bytes (type, dimensions, size) and the job finished, in one
  transaction, as its runner would have (``ImageKeeper.record``); the provider's token usage
  was lost with the runner, so none is recorded;
- the job is ``queued``, or ``running`` under a lease that is live or just ran out: a runner
  may still record these bytes, so they are kept (a row written beside a job that runs again
  would have the job generate and pay a second time);
- the job ``failed`` or ``succeeded`` (with another attempt's bytes), or there is no such job:
  no row will ever point at the bytes, so they are removed.

Younger objects are only reported: they may belong to a generation still in flight. Rows
without an object are reported, never removed: the row of a succeeded job is what its client
was given, replicas cache it for good, and the object may still be restored from a backup or
a versioned bucket. That is a person's call.

Renditions (variants, ``app.core.renditions``) are known objects too: every key the
``renditions`` table records, and every key derived from a known image's key (a variant stored
by a replica that crashed before recording it is still its image's, and is made the same again).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from uuid import UUID

import structlog

from app.core.content import StoredObject
from app.core.exceptions import ContentMissing, InvalidImage
from app.core.generation import TokenUsage
from app.core.interfaces import BlobStore, ImageRepository, JobRepository, RenditionRepository
from app.core.jobs import JobRecord, JobStatus
from app.core.renditions import key_stem, original_key_stem
from app.service.generation import ImageKeeper, Kept, check_image

log = structlog.get_logger(__name__)

# What ``generation.object_name`` makes: the job's id, an attempt past the first, an extension.
_JOB_OBJECT = re.compile(
    r"(?P<id>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})(?:-\d+)?\.\w+"
)


class Action(StrEnum):
    """What a reconcile run did with one object without a row."""

    KEPT = "kept"  # too young, or not fixing
    IN_FLIGHT = "in flight"  # its job may still record it
    REPAIRED = "repaired"  # its row was written from its job
    REMOVED = "removed"  # no row will ever point at it


@dataclass
class ReconcileReport:
    """What a reconcile run found and did."""

    objects: int = 0
    rows: int = 0
    renditions: int = 0
    orphan_objects: list[StoredObject] = field(default_factory=list)
    rows_without_objects: list[str] = field(default_factory=list)
    actions: dict[str, Action] = field(default_factory=dict)

    @property
    def removed(self) -> list[str]:
        """The keys of the objects removed."""
        return [key for key, action in self.actions.items() if action is Action.REMOVED]

    @property
    def repaired(self) -> list[str]:
        """The keys of the objects whose rows were written from their jobs."""
        return [key for key, action in self.actions.items() if action is Action.REPAIRED]

    @property
    def consistent(self) -> bool:
        """Whether nothing is left that needs attention."""
        settled = {Action.REMOVED, Action.REPAIRED}
        left = [o for o in self.orphan_objects if self.actions.get(o.key) not in settled]
        return not left and not self.rows_without_objects


def job_id_of(key: str) -> UUID | None:
    """The id of the job whose generation stored ``key``, if its name is one a job gives."""
    match = _JOB_OBJECT.fullmatch(key.rsplit("/", 1)[-1])
    return UUID(match["id"]) if match else None


def reconcile(
    *,
    images: ImageRepository,
    store: BlobStore,
    renditions: RenditionRepository | None = None,
    jobs: JobRepository | None = None,
    fix: bool = False,
    grace: timedelta = timedelta(hours=1),
    now: datetime | None = None,
) -> ReconcileReport:
    """Compare the store with the images table; with ``fix``, settle old objects without rows.

    Without ``jobs`` no row is written: every old object without a row is removed, as before
    generation became jobs.
    """
    report = ReconcileReport()
    filenames = set(images.filenames())
    report.rows = len(filenames)
    rendition_keys = set(renditions.keys()) if renditions is not None else set()
    image_stems = {key_stem(filename) for filename in filenames}
    # Partial renders of jobs are previews their event streams still serve.
    partial_keys = set(jobs.partial_keys()) if jobs is not None else set()
    seen: set[str] = set()
    for stored in store.list_objects():
        report.objects += 1
        seen.add(stored.key)
        if stored.key in filenames or stored.key in partial_keys:
            continue
        if stored.key in rendition_keys or original_key_stem(stored.key) in image_stems:
            report.renditions += 1
        else:
            report.orphan_objects.append(stored)
    # A rendition row without its object is made again when next read, but the store lost
    # something: reported like an image row without its object.
    report.rows_without_objects = sorted((filenames | rendition_keys) - seen)
    moment = now or datetime.now(UTC)
    keeper = None
    if jobs is not None:
        keeper = ImageKeeper(store=store, jobs=jobs, images=images, cost_microusd=_unknown_cost)
    for orphan in report.orphan_objects:
        action = Action.KEPT
        if fix and orphan.modified < moment - grace:
            action = _settle(orphan, store=store, jobs=jobs, keeper=keeper, since=moment - grace)
        report.actions[orphan.key] = action
    return report


def _settle(
    orphan: StoredObject,
    *,
    store: BlobStore,
    jobs: JobRepository | None,
    keeper: ImageKeeper | None,
    since: datetime,
) -> Action:
    """Repair, keep or remove one old object without a row, as its job decides."""
    job_id = job_id_of(orphan.key)
    job = jobs.get(job_id) if jobs is not None and job_id is not None else None
    if job is not None and _may_still_record(job, since):
        log.info("orphan_object_in_flight", key=orphan.key, job=str(job.id))
        return Action.IN_FLIGHT
    kept = _read(store, orphan.key, job) if job is not None else None
    if job is not None and keeper is not None and kept is not None:
        # Its runner is gone: record the bytes as it would have. None means another attempt
        # of the job recorded its own bytes first, and the keeper removed these.
        if keeper.record(job, orphan.key, kept) is None:
            return Action.REMOVED
        log.warning("orphan_object_recorded", key=orphan.key, job=str(job.id))
        return Action.REPAIRED
    store.delete(orphan.key)
    log.warning("orphan_object_removed", key=orphan.key)
    return Action.REMOVED


def _read(store: BlobStore, key: str, job: JobRecord) -> Kept | None:
    """What a row of a running job's bytes needs from them; None for any other job, or for
    bytes that are not a whole image (no row may point at those)."""
    if job.status is not JobStatus.RUNNING:
        return None
    try:
        stream = store.open(key)
    except ContentMissing:
        return None
    data = stream.read()
    try:
        info = check_image(data)
    except InvalidImage:
        return None
    return Kept(info, len(data), str(job.options.get("model", "")), TokenUsage())


def _unknown_cost(model: str, usage: TokenUsage) -> int:
    """The cost of a repaired job: its usage died with its runner, so it is recorded as none."""
    return 0


def _may_still_record(job: JobRecord, since: datetime) -> bool:
    """Whether a runner may yet write a row for this job's bytes: the job waits, or its lease
    was live after ``since`` (a live replica takes an expired job back within seconds)."""
    if job.status is JobStatus.QUEUED:
        return True
    lease = job.lease_expires_at
    return job.status is JobStatus.RUNNING and lease is not None and lease > since
