"""Generation jobs: ``GET /jobs/{id}``, seen only with the key that made the job."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated

import structlog
from fastapi import APIRouter, Path, Request, Response
from fastapi.responses import StreamingResponse

from app.core.exceptions import PixyProxyException
from app.core.jobs import Job
from app.service.job_events import JobEvent
from app.web.dependencies import CallerDep, jobs_of, services_of
from app.web.guids import JobIdPath, require_canonical_job
from app.web.jobs_view import job_json, job_response
from app.web.problems import problem_responses
from app.web.request_log import LoggedRoute

log = structlog.get_logger(__name__)

router = APIRouter(
    prefix="/jobs",
    route_class=LoggedRoute,
    tags=["jobs"],
    responses=problem_responses(401, 404, 422, 500, 503),
)


@router.get("/{job_id}", response_model=Job)
async def get_job(job_id: JobIdPath, request: Request, caller: CallerDep) -> Response:
    """Where a generation job stands: its image once succeeded, its problem once failed."""
    require_canonical_job(request, job_id)
    return job_response(await jobs_of(request).get(job_id, caller=caller))


@router.get(
    "/{job_id}/events",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"text/event-stream": {}},
            "description": "Server-Sent Events: `status` (the Job) first and on every change, "
            "`partial_image` when the provider streams a render; ends after the final status. "
            "Send `Last-Event-ID` to resume after an event.",
        },
        204: {"description": "The job ended and the client saw its final status: nothing more."},
    },
)
async def job_events(job_id: JobIdPath, request: Request, caller: CallerDep) -> Response:
    """Follow a job as it moves: its status on every change and its partial renders."""
    require_canonical_job(request, job_id)
    events = services_of(request).events
    record = await events.open(job_id, caller=caller)
    last_event_id = _last_event_id(request)
    if last_event_id is not None and record.status.terminal and record.revision <= last_event_id:
        # An EventSource reconnects after every stream that ends, until it is answered 204.
        return Response(status_code=204, headers={"Cache-Control": "no-store"})
    stream = events.stream(record, last_event_id=last_event_id)
    return StreamingResponse(
        _server_sent(stream),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


@router.get(
    "/{job_id}/partials/{index}",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}, "description": "A partial render."}},
)
async def job_partial(
    job_id: JobIdPath, index: Annotated[int, Path(ge=0, le=9)], request: Request, caller: CallerDep
) -> Response:
    """A partial render of the job, as its event announced it."""
    require_canonical_job(request, job_id)
    data, media_type = await services_of(request).events.partial(job_id, index, caller=caller)
    return Response(data, media_type=media_type, headers={"Cache-Control": "private, max-age=3600"})


def _last_event_id(request: Request) -> int | None:
    """The event a reconnecting client saw last; a value we never sent starts afresh."""
    value = request.headers.get("last-event-id", "").strip()
    if value.isascii() and value.isdigit() and len(value) <= 9:
        return int(value)
    return None


async def _server_sent(events: AsyncIterator[JobEvent | None]) -> AsyncIterator[bytes]:
    yield b"retry: 3000\n\n"
    try:
        async for event in events:
            if event is None:
                yield b": keep-alive\n\n"
                continue
            data = event.data
            body = job_json(data) if isinstance(data, Job) else json.dumps(data).encode()
            yield b"id: %d\nevent: %s\ndata: %s\n\n" % (event.id, event.kind.encode(), body)
    except PixyProxyException as exc:
        # The answer has begun: no problem can be sent. The stream ends cleanly, and the client
        # reconnects with Last-Event-ID (to another replica, or once the database is back).
        log.warning("job_events_ended", error=exc.code, detail=exc.detail)
