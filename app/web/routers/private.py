"""Private resources: generating images spends money, so it needs an API key."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from app.core.models import ImageCreate, ImageDetail
from app.web.dependencies import (
    ApiKeyDep,
    CallerDep,
    IdempotencyKeyDep,
    JsonBodyDep,
    creator_of,
)
from app.web.problems import problem_responses
from app.web.request_log import LoggedRoute

router = APIRouter(
    prefix="/image",
    route_class=LoggedRoute,
    tags=["images"],
    dependencies=[ApiKeyDep, JsonBodyDep],
    responses=problem_responses(401, 409, 413, 415, 422, 500, 502, 503, 504),
)


@router.post("", response_model=ImageDetail)
@router.post("/", response_model=ImageDetail, include_in_schema=False)
async def create_image(
    body: ImageCreate,
    request: Request,
    response: Response,
    caller: CallerDep,
    idempotency_key: IdempotencyKeyDep,
) -> ImageDetail:
    """Generate an image from a prompt, store it, and return its detail."""
    creation = await creator_of(request).generate(body, scope=caller, key=idempotency_key)
    if creation.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return creation.image
