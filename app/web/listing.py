"""The image listing's filters from the query, its paging limits and Link headers."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field, ValidationError
from starlette.requests import Request

from app.core.models import ImageFilter

MAX_OFFSET = 100_000_000


def page_links(request: Request, next_cursor: str | None) -> str:
    """RFC 8288 links to the first page and, unless this is the last, the next one."""
    first = request.url.remove_query_params(["cursor", "offset"])
    links = [f'<{first}>; rel="first"']
    if next_cursor is not None:
        links.insert(0, f'<{first.include_query_params(cursor=next_cursor)}>; rel="next"')
    return ", ".join(links)


class ListingQuery(ImageFilter):
    """The listing's query: the filters of ``ImageFilter``, and paging."""

    limit: int = Field(default=50, ge=1, le=500, description="Images per page.")
    offset: int = Field(
        default=0, ge=0, le=MAX_OFFSET, description="Images to skip (slower than cursor)."
    )
    cursor: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="Where to continue: the Link rel=next.",
    )
    count: bool = Field(default=False, description="Send the match count in X-Total-Count.")

    def filters(self) -> ImageFilter:
        """The filters alone."""
        return ImageFilter.model_construct(
            **{name: getattr(self, name) for name in ImageFilter.model_fields}
        )


async def listing_query(request: Request) -> ListingQuery:
    """The listing's query parameters, checked by the model in one pass.

    FastAPI checks declared query parameters one by one, with type introspection for each on
    every request: for the listing's ten that was a quarter of its cost. The route documents
    them with ``LISTING_PARAMETERS`` instead; errors are the same 422 as any other.
    """
    try:
        return ListingQuery.model_validate(dict(request.query_params))
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_context=False, include_input=False)
        raise RequestValidationError(
            [{**error, "loc": ("query", *error["loc"])} for error in errors]
        ) from exc


def _openapi_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    """OpenAPI query parameters from a model's fields, as FastAPI would declare them."""
    properties = model.model_json_schema()["properties"]
    return [
        {
            "name": name,
            "in": "query",
            "required": False,
            "description": model.model_fields[name].description or "",
            "schema": {key: value for key, value in schema.items() if key != "description"},
        }
        for name, schema in properties.items()
    ]


LISTING_PARAMETERS = _openapi_parameters(ListingQuery)
ListingQueryDep = Annotated[ListingQuery, Depends(listing_query)]
