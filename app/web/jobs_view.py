"""How a job is answered over HTTP: the Job as JSON, its problem with a type URI, 202s."""

from __future__ import annotations

from fastapi import Response

from app.core.jobs import Job
from app.web.problems import problem_type

POLL_AFTER_SECONDS = 5
"""The Retry-After of a 202: how soon a poll of the job is worth it."""


def job_json(job: Job) -> bytes:
    """The job as JSON; its problem, if any, carries the type URI every problem has."""
    if job.error is not None and "type" not in job.error:
        error = {"type": problem_type(str(job.error.get("code"))), **job.error}
        job = job.model_copy(update={"error": error})
    return job.model_dump_json().encode()


def job_response(job: Job, *, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A job as a response that no cache keeps: it changes until it ends."""
    headers = {"Cache-Control": "no-store", **(headers or {})}
    return Response(
        job_json(job), status_code=status, media_type="application/json", headers=headers
    )


def accepted(job: Job, headers: dict[str, str] | None = None) -> Response:
    """202: the job is recorded and runs; ``Location`` says where to follow it."""
    headers = {
        "Location": f"/jobs/{job.id}",
        "Retry-After": str(POLL_AFTER_SECONDS),
        **(headers or {}),
    }
    return job_response(job, status=202, headers=headers)
