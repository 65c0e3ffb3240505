"""HTTP semantics of image content: caching headers, conditional and range requests.

Images never change once stored, so the guid is a strong ETag, ``created_at`` the
Last-Modified date, and every answer may be cached for a year.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from uuid import UUID

from pydantic import BaseModel, Field
from starlette.datastructures import Headers

from app.core.content import ByteRange, range_position
from app.core.image_types import media_type_for_key
from app.core.models import ImageDetail
from app.service.lru import BoundedLru
from app.web.query_models import openapi_parameters

IMMUTABLE = "public, max-age=31536000, immutable"
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")
_CONTENT_HEADERS: BoundedLru[UUID, dict[str, str]] = BoundedLru(10_000)


class ContentQuery(BaseModel):
    """The content route's query."""

    redirect: bool = Field(
        default=True,
        description="In redirect mode, false asks for the bytes through the service.",
    )


CONTENT_PARAMETERS = openapi_parameters(ContentQuery)


def etag(image: ImageDetail) -> str:
    """The strong entity tag of an image's bytes."""
    return f'"{image.guid.hex}"'


def last_modified(image: ImageDetail) -> datetime:
    """When the bytes were made, to the second as HTTP dates have it."""
    return image.created_at.astimezone(UTC).replace(microsecond=0)


def validator_headers(image: ImageDetail) -> dict[str, str]:
    """The headers every answer about an image's content carries, 304s included."""
    return {
        "ETag": etag(image),
        "Last-Modified": format_datetime(last_modified(image), usegmt=True),
        "Cache-Control": IMMUTABLE,
        "X-Content-Type-Options": "nosniff",
        "Accept-Ranges": "bytes",
    }


def content_headers(image: ImageDetail) -> dict[str, str]:
    """Validator headers plus the type and name of the bytes, as a new dict to add to."""
    headers = _CONTENT_HEADERS.get(image.guid)
    if headers is None:
        name = image.filename.rsplit("/", 1)[-1]
        headers = {
            **validator_headers(image),
            "Content-Type": media_type_for_key(image.filename),
            "Content-Disposition": f'inline; filename="{name}"',
        }
        # They never change for an image: formatted once (dates cost microseconds each time).
        _CONTENT_HEADERS.put(image.guid, headers)
    return dict(headers)


def is_not_modified(headers: Headers, image: ImageDetail) -> bool:
    """Whether the client's cached copy is current (RFC 9110 §13.1.2 and §13.1.3)."""
    if_none_match = headers.get("if-none-match")
    if if_none_match is not None:
        tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
        return "*" in tags or etag(image) in tags
    since = _http_date(headers.get("if-modified-since"))
    return since is not None and last_modified(image) <= since


def requested_range(headers: Headers, image: ImageDetail) -> ByteRange | None:
    """The single byte range asked for, or None to send everything.

    Multiple ranges, malformed ranges and an ``If-Range`` that no longer matches are all
    answered with the whole image, as RFC 9110 §14.2 allows.
    """
    value = headers.get("range")
    if value is None or not _if_range_matches(headers.get("if-range"), image):
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


def span_headers(start: int, end: int, size: int, *, ranged: bool) -> dict[str, str]:
    """Content-Length, and Content-Range when a range was asked for."""
    headers = {"Content-Length": str(end - start + 1)}
    if ranged:
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    return headers


def _if_range_matches(value: str | None, image: ImageDetail) -> bool:
    if value is None:
        return True
    if value.startswith('"'):
        return value == etag(image)
    date = _http_date(value)
    return date is not None and last_modified(image) == date


def _http_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
