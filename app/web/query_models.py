"""Query parameters checked by one pydantic model per route, in one pass.

FastAPI checks declared query parameters one by one, with type introspection for each on every
request: for the listing's ten that was a quarter of its cost, for content's one a twentieth.
A route reads its query with ``parse_query`` and documents it with ``openapi_parameters``, so
what is documented is what is accepted; errors are the same 422 as FastAPI's own, located at
``("query", name)``, for a parameter the route does not take as for a bad value.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any, TypeVar

from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.requests import Request

Query = TypeVar("Query", bound=BaseModel)
# An ISO 8601 date (and time) starts with its year, month and day.
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def iso_moment(value: object) -> object:
    """Refuse a query moment that is not ISO 8601 text (a ``mode="before"`` validator's body).

    pydantic would read a bare number as Unix time, which the schema (``date-time``) does not
    allow, so a client generated from the schema could never mean it.
    """
    if isinstance(value, str) and not _ISO_DATE.match(value):
        raise ValueError("give an ISO 8601 date-time, such as 2026-03-01T12:00:00Z")
    return value


def parse_query(model: type[Query], request: Request, *, refuse_unknown: bool = True) -> Query:
    """The request's query as ``model``; a parameter the model does not name is refused.

    As a body's unknown field is: a misspelt filter (``promt=duck``) ignored would answer with
    every image, which reads as a match. The names are those the schema declares (aliases),
    so a field's Python name (``from_``) is unknown too. ``refuse_unknown=False`` ignores them
    instead, for URLs that pages embed and others decorate (``?v=2``, ``fbclid``).
    """
    query = dict(request.query_params)
    accepted = _names(model)
    errors: list[dict[str, Any]] = [
        {
            "loc": ("query", name),
            "msg": f"unknown parameter; this endpoint takes {', '.join(accepted)}",
            "type": "extra_forbidden",
        }
        for name in query
        if refuse_unknown and name not in accepted
    ]
    try:
        parsed = model.model_validate(query)
    except ValidationError as exc:
        found = exc.errors(include_url=False, include_context=False, include_input=False)
        errors += [{**error, "loc": ("query", *error["loc"])} for error in found]
        raise RequestValidationError(errors) from exc
    if errors:
        raise RequestValidationError(errors)
    return parsed


@cache
def _names(model: type[BaseModel]) -> tuple[str, ...]:
    """The parameters ``model`` takes, as a query spells them."""
    return tuple(field.alias or name for name, field in model.model_fields.items())


def openapi_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    """OpenAPI query parameters from a model's fields, as FastAPI would declare them."""
    properties = model.model_json_schema()["properties"]
    fields = {field.alias or name: field for name, field in model.model_fields.items()}
    return [
        {
            "name": name,
            "in": "query",
            "required": False,
            "description": fields[name].description or "",
            "schema": {key: value for key, value in schema.items() if key != "description"},
        }
        for name, schema in properties.items()
    ]
