"""HTTP for content: one response class answers GET and HEAD for any ``ContentSource``.

As Starlette's ``FileResponse`` does for a file, ``ContentResponse`` owns the whole exchange
for a source: 304 for a current cached copy, 206 for one satisfiable range, 200 otherwise, and
HEAD without reading a byte. A range outside the bytes raises ``RangeNotSatisfiable``, which the
single error handler renders as a 416 problem. Content never changes once stored, so every
answer may be cached for a year.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime

import anyio
import anyio.to_thread
from pydantic import BaseModel, Field
from starlette.datastructures import Headers
from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from app.core.content import BlobStream, ByteRange, ContentSource, range_position, span
from app.core.metrics import CONTENT_BYTES
from app.core.renditions import VariantFormat
from app.service.lru import BoundedLru
from app.web.query_models import openapi_parameters

IMMUTABLE = "public, max-age=31536000, immutable"
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")
RawHeaders = list[tuple[bytes, bytes]]


class ContentQuery(BaseModel):
    """The content route's query: a variant's width and format, and whether to redirect."""

    width: int | None = Field(
        default=None,
        description="A variant this many pixels wide, from PIXY_VARIANT_WIDTHS; never wider "
        "than the original (a larger width gives the original's).",
    )
    variant_format: VariantFormat | None = Field(
        default=None,
        alias="format",
        description="The variant's format; the original's by default.",
    )
    redirect: bool = Field(
        default=True,
        description="In redirect mode, false asks for the bytes through the service.",
    )


CONTENT_PARAMETERS = openapi_parameters(ContentQuery)


class ContentResponse(Response):
    """The answer to a GET or HEAD of a content source, worked out when it is sent."""

    def __init__(self, source: ContentSource) -> None:
        self.source = source
        self.status_code = 200  # until the request's headers say otherwise
        self.raw_headers = []
        self.background = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._answer_request(scope, receive, send)
        if self.background is not None:
            await self.background()

    async def _answer_request(self, scope: Scope, receive: Receive, send: Send) -> None:
        source = self.source
        request = Headers(scope=scope)
        fixed = _fixed_headers(source)
        if is_not_modified(request, source):
            await _answer(send, 304, list(fixed.validators))
            return
        byte_range = requested_range(request, source)
        status = 206 if byte_range else 200
        if scope["method"] == "HEAD":
            size = await source.size()
            start, end = span(byte_range, size)
            await _answer(send, status, fixed.content + _span(start, end, size, byte_range))
            return
        stream = await source.open(byte_range)
        headers = fixed.content + _span(stream.start, stream.end, stream.size, byte_range)
        await _send_stream(scope, receive, send, status, headers, stream)


def is_not_modified(headers: Headers, source: ContentSource) -> bool:
    """Whether the client's cached copy is current (RFC 9110 §13.1.2 and §13.1.3)."""
    if_none_match = headers.get("if-none-match")
    if if_none_match is not None:
        tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
        return "*" in tags or source.etag in tags
    since = _http_date(headers.get("if-modified-since"))
    return since is not None and source.last_modified <= since


def requested_range(headers: Headers, source: ContentSource) -> ByteRange | None:
    """The single byte range asked for, or None to send everything.

    Multiple ranges, malformed ranges and an ``If-Range`` that no longer matches are all
    answered with the whole content, as RFC 9110 §14.2 allows.
    """
    value = headers.get("range")
    if value is None or not _if_range_matches(headers.get("if-range"), source):
        return None
    match = _RANGE.fullmatch(value.strip().replace(" ", ""))
    if match is None:
        return None
    first, last = (range_position(part) if part else None for part in match.groups())
    if first is None and last is None:
        return None
    if first is not None and last is not None and last < first:
        return None
    return ByteRange(first, last)


class _FixedHeaders:
    """The headers that never change for a source, encoded once."""

    __slots__ = ("content", "validators")

    def __init__(self, source: ContentSource) -> None:
        # Every answer about the content carries these, 304s included.
        self.validators: RawHeaders = [
            (b"etag", source.etag.encode("latin-1")),
            (b"last-modified", _encode_date(source.last_modified)),
            (b"cache-control", IMMUTABLE.encode("latin-1")),
            (b"x-content-type-options", b"nosniff"),
            (b"accept-ranges", b"bytes"),
        ]
        # Answers with the bytes (or their HEAD) name their type and file too.
        disposition = f'inline; filename="{source.filename}"'
        self.content: RawHeaders = [
            *self.validators,
            (b"content-type", source.media_type.encode("latin-1")),
            (b"content-disposition", disposition.encode("latin-1")),
        ]


# Keyed by ETag, which names exactly what is served (an image or a rendition of it): the
# headers are formatted once per source rather than on every request.
_FIXED_HEADERS: BoundedLru[str, _FixedHeaders] = BoundedLru(10_000)


def _fixed_headers(source: ContentSource) -> _FixedHeaders:
    fixed = _FIXED_HEADERS.get(source.etag)
    if fixed is None:
        fixed = _FixedHeaders(source)
        _FIXED_HEADERS.put(source.etag, fixed)
    return fixed


def _span(start: int, end: int, size: int, byte_range: ByteRange | None) -> RawHeaders:
    """Content-Length, and Content-Range when a range was asked for."""
    headers = [(b"content-length", str(end - start + 1).encode("latin-1"))]
    if byte_range is not None:
        headers.append((b"content-range", f"bytes {start}-{end}/{size}".encode("latin-1")))
    return headers


async def _answer(send: Send, status: int, headers: RawHeaders, body: bytes = b"") -> None:
    # ``headers`` is sent as it is (the request log appends to it): never a cached list.
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _send_stream(
    scope: Scope, receive: Receive, send: Send, status: int, headers: RawHeaders, stream: BlobStream
) -> None:
    """Send bytes read already at once; stream the rest, closing the stream whatever happens."""
    if stream.body is not None:
        CONTENT_BYTES.inc(len(stream.body))
        await _answer(send, status, headers, stream.body)
        return
    try:
        # Starlette's streaming reads each chunk in the thread pool and stops early when the
        # client goes away; the headers are ours already.
        response = StreamingResponse(_counted(stream.chunks), status_code=status)
        response.raw_headers = headers
        await response(scope, receive, send)
    finally:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(stream.close)


def _counted(chunks: Iterator[bytes]) -> Iterator[bytes]:
    for chunk in chunks:
        CONTENT_BYTES.inc(len(chunk))
        yield chunk


def _if_range_matches(value: str | None, source: ContentSource) -> bool:
    if value is None:
        return True
    if value.startswith('"'):
        return value == source.etag
    date = _http_date(value)
    return date is not None and source.last_modified == date


def _encode_date(moment: datetime) -> bytes:
    return format_datetime(moment, usegmt=True).encode("latin-1")


def _http_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
