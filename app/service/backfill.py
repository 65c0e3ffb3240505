"""Fill in what rows made before image metadata existed lack: dimensions and sizes.

The migration that added the columns set each old row's media type from its key; width,
height and bytes need the image itself, so ``python -m app backfill`` reads each one's header
from the store once. Rows whose object is gone or unreadable are counted and left as they are.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

import structlog
from PIL import Image, UnidentifiedImageError

from app.core.exceptions import ContentMissing
from app.core.interfaces import BlobStore, UnmeasuredImages

log = structlog.get_logger(__name__)
_BATCH = 500
_HEADER_BYTES = 64 * 1024  # where PNG, JPEG and WebP say their dimensions


@dataclass
class BackfillReport:
    """What a backfill did."""

    measured: int = 0
    unreadable: list[str] = field(default_factory=list)


def backfill(*, images: UnmeasuredImages, store: BlobStore) -> BackfillReport:
    """Measure every row that has no dimensions yet (blocking)."""
    report = BackfillReport()
    after_id = 0
    while batch := images.without_dimensions(after_id=after_id, limit=_BATCH):
        for row_id, filename in batch:
            measured = _measure(store, filename)
            if measured is None:
                report.unreadable.append(filename)
            else:
                width, height, size = measured
                images.set_dimensions(row_id, width=width, height=height, size=size)
                report.measured += 1
        after_id = batch[-1][0]
    log.info("backfill_done", measured=report.measured, unreadable=len(report.unreadable))
    return report


def _measure(store: BlobStore, key: str) -> tuple[int, int, int] | None:
    try:
        stream = store.open(key)
    except ContentMissing:
        return None
    try:
        head = bytearray()
        for chunk in stream.chunks:
            head += chunk
            if len(head) >= _HEADER_BYTES:
                break
        with Image.open(io.BytesIO(bytes(head))) as image:
            width, height = image.size
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        return None
    finally:
        stream.close()
    return width, height, stream.size
