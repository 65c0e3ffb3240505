"""Deleting images: what a delete leaves to do, and the CloudFront paths of an image.

A delete removes the image's rows in one transaction that also records, in an outbox, every
object to remove and the CDN paths to invalidate; that work is done after the commit and
retried until it succeeds (docs/ARCHITECTURE.md, "Deletion").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from uuid import UUID

CleanupKind = Literal["object", "cdn"]
"""``object``: an object key to remove from the store; ``cdn``: an image guid to invalidate."""


@dataclass(frozen=True)
class Cleanup:
    """One piece of work a delete left: a row of the ``deleted_objects`` outbox."""

    id: int
    kind: CleanupKind
    target: str
    attempts: int = 0


@dataclass(frozen=True)
class DeletedImage:
    """An image whose rows are gone, and the work its delete left in the outbox."""

    guid: UUID
    cleanups: tuple[Cleanup, ...]


def cdn_paths(guid: str) -> list[str]:
    """The paths CloudFront may hold for an image: its detail, its content and every variant
    (``?width=``/``?format=`` are query strings of the content path, invalidated with it)."""
    return [f"/image/{guid}", f"/image/{guid}/content*"]
