"""Usage per API key: ``GET /usage``, the caller's images, tokens and estimated cost."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from app.core.models import in_utc
from app.core.usage import UsageReport
from app.web.dependencies import CallerDep, services_of
from app.web.problems import problem_responses
from app.web.query_models import iso_moment, openapi_parameters, parse_query
from app.web.request_log import LoggedRoute

router = APIRouter(
    prefix="/usage",
    route_class=LoggedRoute,
    tags=["usage"],
    responses=problem_responses(401, 403, 422, 500, 503),
)


class UsageQuery(BaseModel):
    """The query of ``GET /usage``."""

    model_config = ConfigDict(populate_by_name=True, frozen=True)

    from_: datetime | None = Field(
        default=None,
        alias="from",
        description="ISO 8601 (UTC when no offset is given); images made at or after it.",
    )
    to: datetime | None = Field(
        default=None, description="ISO 8601 (UTC when no offset is given); images made before it."
    )
    key: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        pattern=r"^([0-9a-f]{16}|all|anonymous)$",
        description="Operator keys only: another key's id, or `all` for every key.",
    )

    @field_validator("from_", "to", mode="before")
    @classmethod
    def _iso_only(cls, value: object) -> object:
        return iso_moment(value)

    @field_validator("from_", "to")
    @classmethod
    def _in_utc(cls, moment: datetime | None) -> datetime | None:
        return in_utc(moment)

    # After ``_in_utc``, so both moments are in UTC; an empty range (equal ends) is a question
    # with an answer, a reversed one a mistake that would read as "nothing was made".
    @field_validator("to")
    @classmethod
    def _not_before_from(cls, to: datetime | None, info: ValidationInfo) -> datetime | None:
        since = info.data.get("from_")
        if to is not None and since is not None and to < since:
            raise ValueError("to must not be before from")
        return to


@router.get(
    "",
    response_model=UsageReport,
    openapi_extra={"parameters": openapi_parameters(UsageQuery)},
)
@router.get("/", response_model=UsageReport, include_in_schema=False)
async def get_usage(request: Request, caller: CallerDep) -> Response:
    """The caller's images, tokens and estimated cost, in total, by model and by UTC day."""
    query = parse_query(UsageQuery, request)
    report = await services_of(request).usage.report(
        caller, key=query.key, since=query.from_, until=query.to
    )
    body = report.model_dump_json(by_alias=True).encode()
    return Response(body, media_type="application/json", headers={"Cache-Control": "no-store"})
