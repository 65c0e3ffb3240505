"""Query parameters and Link headers of the image listing."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, Field
from starlette.requests import Request

from app.core.models import PROMPT_MAX_LENGTH, ImageFilter

MAX_OFFSET = 100_000_000


class ImageFilterQuery(BaseModel):
    """The search filters of ``GET /image``; every one given must hold."""

    prompt: str | None = Field(
        default=None,
        min_length=1,
        max_length=PROMPT_MAX_LENGTH,
        description="Words that must each start a word of the prompt (any order, any case).",
    )
    prompt_contains: str | None = Field(
        default=None,
        min_length=1,
        max_length=PROMPT_MAX_LENGTH,
        description="Text the prompt must contain, literally; slower (scans every row).",
    )
    filename: str | None = Field(
        default=None, min_length=1, max_length=255, description="Exact filename."
    )
    guid: UUID | None = Field(default=None, description="Exact guid.")
    created_after: datetime | None = Field(default=None, description="ISO 8601; exclusive.")
    created_before: datetime | None = Field(default=None, description="ISO 8601; exclusive.")

    def to_filter(self) -> ImageFilter:
        """The filter the service takes."""
        return ImageFilter(**self.model_dump())


def page_links(request: Request, next_cursor: str | None) -> str:
    """RFC 8288 links to the first page and, unless this is the last, the next one."""
    first = request.url.remove_query_params(["cursor", "offset"])
    links = [f'<{first}>; rel="first"']
    if next_cursor is not None:
        links.insert(0, f'<{first.include_query_params(cursor=next_cursor)}>; rel="next"')
    return ", ".join(links)
