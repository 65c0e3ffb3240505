"""Generation jobs: ``GET /jobs/{id}``, seen only with the key that made the job."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Request, Response

from app.core.jobs import Job
from app.web.dependencies import CallerDep, jobs_of
from app.web.jobs_view import job_response
from app.web.problems import problem_responses
from app.web.request_log import LoggedRoute

router = APIRouter(
    prefix="/jobs",
    route_class=LoggedRoute,
    tags=["jobs"],
    responses=problem_responses(401, 404, 422, 500, 503),
)


@router.get("/{job_id}", response_model=Job)
async def get_job(job_id: UUID, request: Request, caller: CallerDep) -> Response:
    """Where a generation job stands: its image once succeeded, its problem once failed."""
    return job_response(await jobs_of(request).get(job_id, caller=caller))
