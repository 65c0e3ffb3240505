"""Health for load balancers and orchestrators: liveness and readiness, outside auth."""

from __future__ import annotations

from fastapi import APIRouter, Request

from app.core.exceptions import NotReady
from app.web.dependencies import services_of
from app.web.problems import problem_responses
from app.web.request_log import LoggedRoute

router = APIRouter(tags=["health"], route_class=LoggedRoute)


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is alive; no dependency is checked."""
    return {"status": "ok"}


@router.get("/readyz", responses=problem_responses(503))
async def readyz(request: Request) -> dict[str, str]:
    """The database and the store answer, and the process is not shutting down."""
    if request.app.state.shutting_down:
        raise NotReady("shutting down")
    await services_of(request).readiness.check()
    return {"status": "ready"}
