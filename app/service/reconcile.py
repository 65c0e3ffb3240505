"""Finds what a crash between storing bytes and writing a row can leave behind.

Objects without a row are orphans (their upload succeeded, their insert did not): with ``fix``
the ones older than a grace period are removed; younger ones may belong to a generation still
in flight. Rows without an object are reported only: removing rows is for a person to decide.

Renditions (variants, ``app.core.renditions``) are known objects too: every key the
``renditions`` table records, and every key derived from a known image's key (a variant stored
by a replica that crashed before recording it is still its image's, and is made the same again).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import structlog

from app.core.content import StoredObject
from app.core.interfaces import BlobStore, ImageRepository, RenditionRepository
from app.core.renditions import key_stem, original_key_stem

log = structlog.get_logger(__name__)


@dataclass
class ReconcileReport:
    """What a reconcile run found and did."""

    objects: int = 0
    rows: int = 0
    renditions: int = 0
    orphan_objects: list[StoredObject] = field(default_factory=list)
    rows_without_objects: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    @property
    def consistent(self) -> bool:
        """Whether nothing is left that needs attention."""
        left = [o for o in self.orphan_objects if o.key not in set(self.removed)]
        return not left and not self.rows_without_objects


def reconcile(
    *,
    images: ImageRepository,
    store: BlobStore,
    renditions: RenditionRepository | None = None,
    fix: bool = False,
    grace: timedelta = timedelta(hours=1),
    now: datetime | None = None,
) -> ReconcileReport:
    """Compare the store with the images table; remove old orphans when ``fix`` is set."""
    report = ReconcileReport()
    filenames = set(images.filenames())
    report.rows = len(filenames)
    rendition_keys = set(renditions.keys()) if renditions is not None else set()
    image_stems = {key_stem(filename) for filename in filenames}
    seen: set[str] = set()
    for stored in store.list_objects():
        report.objects += 1
        seen.add(stored.key)
        if stored.key in filenames:
            continue
        if stored.key in rendition_keys or original_key_stem(stored.key) in image_stems:
            report.renditions += 1
        else:
            report.orphan_objects.append(stored)
    # A rendition row without its object serves a 404: reported like an image's.
    report.rows_without_objects = sorted((filenames | rendition_keys) - seen)
    if fix:
        cutoff = (now or datetime.now(UTC)) - grace
        for orphan in report.orphan_objects:
            if orphan.modified < cutoff:
                store.delete(orphan.key)
                report.removed.append(orphan.key)
                log.warning("orphan_object_removed", key=orphan.key)
    return report
