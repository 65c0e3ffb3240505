"""The image listing's filters from the query, its paging limits and Link headers."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import Depends, Query
from starlette.requests import Request

from app.core.models import PROMPT_MAX_LENGTH, ImageFilter

MAX_OFFSET = 100_000_000


def page_links(request: Request, next_cursor: str | None) -> str:
    """RFC 8288 links to the first page and, unless this is the last, the next one."""
    first = request.url.remove_query_params(["cursor", "offset"])
    links = [f'<{first}>; rel="first"']
    if next_cursor is not None:
        links.insert(0, f'<{first.include_query_params(cursor=next_cursor)}>; rel="next"')
    return ", ".join(links)


async def image_filter(
    prompt: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=PROMPT_MAX_LENGTH,
            description="Words that must each start a word of the prompt (any order, any case).",
        ),
    ] = None,
    prompt_contains: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=PROMPT_MAX_LENGTH,
            description="Text the prompt must contain, literally; slower (scans every row).",
        ),
    ] = None,
    filename: Annotated[
        str | None, Query(min_length=1, max_length=255, description="Exact filename.")
    ] = None,
    guid: Annotated[UUID | None, Query(description="Exact guid.")] = None,
    created_after: Annotated[datetime | None, Query(description="ISO 8601; exclusive.")] = None,
    created_before: Annotated[datetime | None, Query(description="ISO 8601; exclusive.")] = None,
) -> ImageFilter:
    """The listing's filters, one query parameter each.

    Declared one by one rather than as ``Query()`` over ``ImageFilter``: FastAPI parses a query
    model several times slower, a third of a listing's cost. The model checks them again;
    async, like every dependency here, to spare a trip to the thread pool.
    """
    return ImageFilter(
        prompt=prompt,
        prompt_contains=prompt_contains,
        filename=filename,
        guid=guid,
        created_after=created_after,
        created_before=created_before,
    )


ImageFilterDep = Annotated[ImageFilter, Depends(image_filter)]
