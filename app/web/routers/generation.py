"""Generating images spends money, so it needs an API key: ``POST /image``.

The request records a job and, unless the client prefers otherwise, waits for it: 200 with the
image, or the job's problem. A client that leaves does not stop the job.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from app.core.exceptions import ServiceUnavailable
from app.core.jobs import Job, JobStatus
from app.core.models import ImageCreate, ImageDetail
from app.service.jobs import job_failure
from app.web.dependencies import (
    CallerDep,
    IdempotencyKeyDep,
    JsonBodyDep,
    services_of,
)
from app.web.jobs_view import accepted
from app.web.prefer import parse_prefer
from app.web.problems import problem_responses
from app.web.request_log import LoggedRoute

router = APIRouter(
    prefix="/image",
    route_class=LoggedRoute,
    tags=["images"],
    dependencies=[JsonBodyDep],
    # 404: an Idempotency-Key repeated after its image was deleted (DELETE /image/{guid}).
    responses=problem_responses(400, 401, 404, 413, 415, 422, 429, 500, 502, 503, 504),
)

_PREFER_HEADER: dict[str, Any] = {
    "name": "Prefer",
    "in": "header",
    "required": False,
    "schema": {"type": "string"},
    "description": (
        "RFC 7240. `respond-async`: answer 202 with the job at once. `wait=N`: wait at most N "
        "seconds for the image, then answer 202 with the job."
    ),
}
_ACCEPTED: dict[int | str, dict[str, Any]] = {
    202: {
        "model": Job,
        "description": "The job was recorded; poll `Location` (`GET /jobs/{id}`) for its end.",
    }
}


@router.post(
    "",
    response_model=ImageDetail,
    responses=_ACCEPTED,
    openapi_extra={"parameters": [_PREFER_HEADER]},
)
@router.post("/", response_model=ImageDetail, include_in_schema=False)
async def create_image(
    body: ImageCreate,
    request: Request,
    caller: CallerDep,
    idempotency_key: IdempotencyKeyDep,
) -> Response:
    """Generate an image from a prompt, store it, and return its detail (or 202 and the job)."""
    services = services_of(request)
    await services.webhook_targets.check(body.webhook_url)
    submission = await services.jobs.submit(body, caller=caller, key=idempotency_key)
    replay_headers = {} if submission.created else {"Idempotent-Replayed": "true"}
    preferences = parse_prefer(request.headers)
    if preferences.respond_async:
        job = await services.jobs.view(submission.job)
        return accepted(job, replay_headers | {"Preference-Applied": "respond-async"})
    wait = services.sync_wait_seconds
    if preferences.wait is not None:
        wait = min(wait, preferences.wait)
    try:
        record = await services.jobs.wait(submission.job.id, seconds=wait)
    except ServiceUnavailable as exc:
        # The job is recorded and runs on: say where to follow it once the outage is over.
        exc.headers["Location"] = f"/jobs/{submission.job.id}"
        raise
    if record.status is JobStatus.SUCCEEDED:
        image = await services.jobs.image_of(record)
        return Response(image.json_bytes, media_type="application/json", headers=replay_headers)
    if record.status is JobStatus.FAILED and record.error is not None:
        failure = job_failure(record.error)
        failure.headers.update(replay_headers)
        raise failure
    return accepted(await services.jobs.view(record), replay_headers)
