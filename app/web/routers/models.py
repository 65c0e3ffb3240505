"""What a generation may ask for: ``GET /models``, public, the same for every caller."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from app.service.options import GenerationChoices
from app.web.dependencies import services_of
from app.web.problems import problem_responses
from app.web.request_log import LoggedRoute

# The choices change only when the settings do, which takes a restart: caches may keep them a
# while, and the gallery asks for them on every page load.
CACHE_CONTROL = "public, max-age=300"

router = APIRouter(
    prefix="/models",
    route_class=LoggedRoute,
    tags=["models"],
    responses=problem_responses(500),
)


@router.get("", response_model=GenerationChoices)
@router.get("/", response_model=GenerationChoices, include_in_schema=False)
async def get_models(request: Request) -> Response:
    """The models a POST may name (with the sizes each makes), qualities, formats, backgrounds."""
    body = services_of(request).catalog.describe().model_dump_json().encode()
    return Response(body, media_type="application/json", headers={"Cache-Control": CACHE_CONTROL})
