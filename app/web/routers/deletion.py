"""Taking an image down needs a key: ``DELETE /image/{guid}``, by its owner or an operator."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from app.core.exceptions import InvalidRequest
from app.web.dependencies import CallerDep, services_of
from app.web.guids import GuidPath, require_canonical_image
from app.web.problems import problem_responses
from app.web.request_log import LoggedRoute

router = APIRouter(
    prefix="/image",
    route_class=LoggedRoute,
    tags=["images"],
    responses=problem_responses(401, 500, 503),
)


async def require_no_body(request: Request) -> None:
    """Refuse a DELETE that sends a body: it would be ignored, and may mean a client mistake."""
    length = request.headers.get("content-length")
    if request.headers.get("transfer-encoding") or (length is not None and length != "0"):
        raise InvalidRequest("DELETE /image/{guid} takes no body")


@router.delete(
    "/{guid}",
    status_code=204,
    response_class=Response,
    responses={
        204: {"description": "The image, its variants and partial renders are deleted."},
        **problem_responses(404, 422),
    },
)
async def delete_image(
    guid: GuidPath,
    request: Request,
    caller: CallerDep,
    _: Annotated[None, Depends(require_no_body)],
) -> Response:
    """Delete an image of the caller's (an operator key: any image) everywhere: its detail and
    content answer 404 on every replica within seconds, and no listing shows it any more."""
    require_canonical_image(request, guid)
    await services_of(request).deletion.delete(guid, caller)
    return Response(status_code=204)
