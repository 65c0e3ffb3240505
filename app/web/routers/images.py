"""Public resources: anyone may read images and their content."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, TypeVar

import anyio
from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from app.core.exceptions import InvalidRequest
from app.core.image_types import AVIF, GIF, JPEG, PNG, WEBP
from app.core.models import ImageDetail
from app.web.content_delivery import CONTENT_PARAMETERS, ContentQuery, ContentResponse
from app.web.dependencies import reader_of
from app.web.guids import GuidPath, require_canonical_image
from app.web.listing import LISTING_PARAMETERS, ListingQuery, page_links
from app.web.problems import problem_responses
from app.web.query_models import parse_query
from app.web.request_log import LoggedRoute

router = APIRouter(
    prefix="/image",
    route_class=LoggedRoute,
    tags=["images"],
    responses=problem_responses(500, 503),
)


_T = TypeVar("_T")
# Ordinary pages take milliseconds: only a listing still running after this long starts watching
# for its client leaving, so that a fast page pays for a timer and nothing more.
_WATCH_AFTER_SECONDS = 0.2
# The status nginx logs for a client that closed its request: nobody reads it, the log does.
_CLIENT_CLOSED_REQUEST = 499

# Every type an image or a variant may be stored as: the schema names them all.
IMAGE_CONTENT: dict[str, Any] = {kind.media_type: {} for kind in (PNG, JPEG, WEBP, GIF, AVIF)}


@router.get(
    "",
    response_model=list[ImageDetail],
    responses=problem_responses(414, 422, 504),
    openapi_extra={"parameters": LISTING_PARAMETERS},
)
@router.get("/", response_model=list[ImageDetail], include_in_schema=False)
async def list_images(request: Request) -> Response:
    """List images newest first, as a bare JSON array; pages are linked in the Link header."""
    query = parse_query(ListingQuery, request)
    if query.cursor is not None and query.offset:
        raise InvalidRequest("use either cursor or offset, not both")
    page = await _unless_client_leaves(
        request,
        reader_of(request).list(
            query.filters(),
            limit=query.limit,
            offset=query.offset,
            cursor=query.cursor,
            count=query.count,
        ),
    )
    if page is None:
        return Response(status_code=_CLIENT_CLOSED_REQUEST)
    # A listing changes with every image made, and clients list right after a POST: caches
    # may keep it but must ask again each time (an image's own detail and bytes never change).
    headers = {"Link": page_links(request, page.next_cursor), "Cache-Control": "no-cache"}
    if page.total is not None:
        headers["X-Total-Count"] = str(page.total)
    return Response(page.json_bytes, media_type="application/json", headers=headers)


async def _unless_client_leaves(request: Request, work: Awaitable[_T]) -> _T | None:
    """The result of ``work``; None if the client disconnected first, which cancels ``work``
    (and so the query of a costly search, once no other caller waits for it)."""
    with anyio.CancelScope() as scope:
        watch = _DisconnectWatch(request, scope)
        timer = asyncio.get_running_loop().call_later(_WATCH_AFTER_SECONDS, watch.start)
        try:
            return await work
        finally:
            timer.cancel()
            watch.stop()
    return None  # the watch cancelled the scope: the client is gone


class _DisconnectWatch:
    """Cancels a scope when the request's client disconnects, once started."""

    def __init__(self, request: Request, scope: anyio.CancelScope) -> None:
        self._request = request
        self._scope = scope
        self._task: asyncio.Task[None] | None = None  # held: the loop keeps a weak reference

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._watch())

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()

    async def _watch(self) -> None:
        # A listing has no body to read: what the server has to say now is the client's going.
        while (await self._request.receive())["type"] != "http.disconnect":
            pass
        self._scope.cancel()


@router.get("/{guid}", response_model=ImageDetail, responses=problem_responses(404, 422))
async def get_image(guid: GuidPath, request: Request) -> Response:
    """Get what is known about one image."""
    require_canonical_image(request, guid)
    image = await reader_of(request).get(guid)
    return Response(image.json_bytes, media_type="application/json")


@router.head("/{guid}/content", response_class=Response, include_in_schema=False)
@router.get(
    "/{guid}/content",
    response_class=Response,
    responses={
        200: {"content": IMAGE_CONTENT, "description": "The image (or variant) bytes."},
        206: {"content": IMAGE_CONTENT, "description": "The range of bytes asked for."},
        304: {"description": "The client's cached copy is current."},
        307: {"description": "Redirect mode: fetch the bytes from the bucket or the CDN."},
        **problem_responses(404, 416, 422),
    },
    openapi_extra={"parameters": CONTENT_PARAMETERS},
)
async def get_image_content(guid: GuidPath, request: Request) -> Response:
    """Get the bytes of one image, or of a variant of it (width, format): cacheable forever,
    with conditional and range requests."""
    require_canonical_image(request, guid)
    # An <img> URL may carry what its page or a share added (``?v=2``, ``fbclid``): the image
    # still answers. Only what the content route takes is read.
    query = parse_query(ContentQuery, request, refuse_unknown=False)
    content = await reader_of(request).content(
        guid, width=query.width, variant_format=query.variant_format
    )
    link = await content.link() if query.redirect else None
    if link is not None:
        return RedirectResponse(
            link.url, status_code=307, headers={"Cache-Control": f"public, max-age={link.max_age}"}
        )
    return ContentResponse(content)
