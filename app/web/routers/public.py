"""Public resources: anyone may read images and their content."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Response

from app.core.models import ImageDetail
from app.web.dependencies import ImageReaderDep
from app.web.problems import problem_responses
from app.web.request_log import LoggedRoute

router = APIRouter(
    prefix="/image",
    route_class=LoggedRoute,
    tags=["images"],
    responses=problem_responses(500, 503),
)


@router.get("", response_model=list[ImageDetail], responses=problem_responses(422))
@router.get("/", response_model=list[ImageDetail], include_in_schema=False)
async def list_images(
    reader: ImageReaderDep,
    limit: Annotated[int, Query(ge=1, le=500, description="Images per page.")] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000, description="Images to skip.")] = 0,
) -> list[ImageDetail]:
    """List images, newest first, as a bare JSON array."""
    return await reader.list(limit=limit, offset=offset)


@router.get("/{guid}", response_model=ImageDetail, responses=problem_responses(404, 422))
async def get_image(guid: UUID, reader: ImageReaderDep) -> ImageDetail:
    """Get what is known about one image."""
    return await reader.get(guid)


@router.get(
    "/{guid}/content",
    response_class=Response,
    responses={
        200: {"content": {"image/png": {}}, "description": "The image bytes."},
        **problem_responses(404, 422),
    },
)
async def get_image_content(guid: UUID, reader: ImageReaderDep) -> Response:
    """Get the bytes of one image, with its media type."""
    content = await reader.content(guid)
    return Response(
        content=content.data,
        media_type=content.media_type,
        headers={"X-Content-Type-Options": "nosniff"},
    )
