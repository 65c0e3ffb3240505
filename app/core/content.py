"""Stored content on its way to a client: byte ranges, streams, and what a response serves.

A blob store opens a ``BlobStream``; the service wraps the bytes of one image (or, later, one
rendition of it) in a ``ContentSource``; the web layer answers any HTTP request for a source
with one response class. Nothing here knows about HTTP frameworks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from app.core.exceptions import RangeNotSatisfiable

# Beyond any object's size: a Range position with more digits is read as this. Python refuses
# to parse integers of more than 4,300 digits, and no object needs more than 18.
BEYOND_ANY_SIZE = 10**18


def range_position(digits: str) -> int:
    """A position of a ``Range`` header, from its decimal digits, capped at ``BEYOND_ANY_SIZE``."""
    significant = digits.lstrip("0")
    return BEYOND_ANY_SIZE if len(significant) > 18 else int(significant or "0")


@dataclass(frozen=True)
class ByteRange:
    """One range of bytes: ``first-last``, ``first-`` (open) or ``-last`` (a suffix length)."""

    first: int | None
    last: int | None

    def resolve(self, size: int) -> tuple[int, int]:
        """The inclusive (start, end) offsets in an object of ``size`` bytes."""
        if self.first is None:
            suffix = self.last or 0
            if suffix <= 0 or size == 0:
                raise RangeNotSatisfiable(size=size)
            return max(0, size - suffix), size - 1
        if self.first >= size:
            raise RangeNotSatisfiable(size=size)
        end = size - 1 if self.last is None else min(self.last, size - 1)
        return self.first, end

    def header_value(self) -> str:
        """The range as an HTTP ``Range`` header value (S3 takes the same syntax)."""
        first = "" if self.first is None else str(self.first)
        last = "" if self.last is None else str(self.last)
        return f"bytes={first}-{last}"


def span(byte_range: ByteRange | None, size: int) -> tuple[int, int]:
    """The inclusive (start, end) offsets ``byte_range`` asks for; the whole object if None."""
    return byte_range.resolve(size) if byte_range else (0, size - 1)


@dataclass(frozen=True)
class BlobStream:
    """Bytes ``start`` to ``end`` (inclusive) of an object of ``size`` bytes, in chunks.

    ``body`` holds those bytes when they were read at once (small objects, or memory); then
    ``chunks`` yields just that and ``close`` has nothing to release.
    """

    size: int
    start: int
    end: int
    chunks: Iterator[bytes]
    close: Callable[[], None]
    body: bytes | None = None

    @classmethod
    def of_bytes(cls, body: bytes, *, size: int, start: int = 0) -> BlobStream:
        """A stream over ``body``, held in memory: bytes from ``start`` of an object of ``size``."""
        return cls(size, start, start + len(body) - 1, iter((body,)), _nothing_to_close, body)

    @property
    def length(self) -> int:
        """How many bytes the chunks hold in all."""
        return self.end - self.start + 1

    @property
    def partial(self) -> bool:
        """Whether this is less than the whole object."""
        return self.length != self.size

    def read(self) -> bytes:
        """All the bytes, the stream closed after."""
        try:
            return b"".join(self.chunks)
        finally:
            self.close()


def _nothing_to_close() -> None:
    return None


class ContentSource(Protocol):
    """Bytes a response can serve: what names and types them, their size, and the bytes.

    ``etag`` names exactly what is served (an image, or one rendition of it), so anything
    cached about a source's headers is keyed by it.
    """

    @property
    def etag(self) -> str:
        """The strong entity tag of these bytes, quoted as HTTP sends it."""

    @property
    def last_modified(self) -> datetime:
        """When the bytes were made, in UTC, to the second as HTTP dates have it."""

    @property
    def media_type(self) -> str:
        """The media type the bytes are served as."""

    @property
    def filename(self) -> str:
        """The name a client saves the bytes under."""

    async def size(self) -> int:
        """The number of bytes, without reading them."""

    async def open(self, byte_range: ByteRange | None = None) -> BlobStream:
        """The bytes, or the range of them asked for (``RangeNotSatisfiable`` outside them)."""


@dataclass(frozen=True)
class ContentLink:
    """Where a client can fetch an object directly, and how long it may cache that answer."""

    url: str
    max_age: int


@dataclass(frozen=True)
class StoredObject:
    """One object in a store, as a listing of the store shows it."""

    key: str
    modified: datetime
