"""Prometheus metrics at /metrics, outside API-key auth (switched off or moved by settings)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from app.core.metrics import exposition
from app.web.request_log import LoggedRoute

router = APIRouter(tags=["operations"], route_class=LoggedRoute)


@router.get("/metrics", response_class=Response, responses={200: {"content": {"text/plain": {}}}})
async def metrics() -> Response:
    """Request, generation, content, database and store figures in Prometheus text format."""
    body, content_type = exposition()
    return Response(body, media_type=content_type)
