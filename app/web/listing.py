"""The image listing's filters from the query, its paging limits and Link headers."""

from __future__ import annotations

from pydantic import Field, ValidationError, ValidatorFunctionWrapHandler, field_validator
from pydantic_core import PydanticCustomError
from starlette.datastructures import URL
from starlette.requests import Request

from app.core.models import ImageFilter
from app.service import cursors
from app.web.query_models import iso_moment, openapi_parameters

MAX_OFFSET = 100_000_000


def page_links(request: Request, next_cursor: str | None) -> str:
    """RFC 8288 links to the first page and, unless this is the last, the next one.

    The targets are relative references (``/image/?limit=3``), resolved by the client against
    the URL it asked for: behind a TLS load balancer that is ``https://`` and the public host,
    which this process cannot know (an absolute ``http://`` link failed under the gallery's CSP).
    """
    first = request.url.remove_query_params(["cursor", "offset"])
    links = [f'<{_relative(first)}>; rel="first"']
    if next_cursor is not None:
        links.insert(
            0, f'<{_relative(first.include_query_params(cursor=next_cursor))}>; rel="next"'
        )
    return ", ".join(links)


def _relative(url: URL) -> str:
    """The path and query of ``url``: a reference relative to the request's origin."""
    return f"{url.path}?{url.query}" if url.query else url.path


class ListingQuery(ImageFilter):
    """The listing's query: the filters of ``ImageFilter``, and paging."""

    limit: int = Field(default=50, ge=1, le=500, description="Images per page.")
    offset: int = Field(
        default=0, ge=0, le=MAX_OFFSET, description="Images to skip (slower than cursor)."
    )
    cursor: str | None = Field(
        default=None,
        pattern=cursors.PATTERN,
        description="Where to continue: the Link rel=next, as the service wrote it.",
    )
    count: bool = Field(default=False, description="Send the match count in X-Total-Count.")

    @field_validator("cursor", mode="wrap")
    @classmethod
    def _cursor_refused(cls, value: object, handler: ValidatorFunctionWrapHandler) -> object:
        # The pattern's own message would show a regular expression for what the signature
        # check calls an altered cursor: whichever notices, the client is told the same.
        try:
            return handler(value)
        except ValidationError:
            raise PydanticCustomError("value_error", cursors.REFUSED) from None

    @field_validator("created_after", "created_before", mode="before")
    @classmethod
    def _iso_only(cls, value: object) -> object:
        return iso_moment(value)

    def filters(self) -> ImageFilter:
        """The filters alone."""
        return ImageFilter.model_construct(
            **{name: getattr(self, name) for name in ImageFilter.model_fields}
        )


LISTING_PARAMETERS = openapi_parameters(ListingQuery)
