"""The gallery: a page at / and /gallery, built on the public API, its assets under /static."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

from app.web.request_log import LoggedRoute

STATIC_DIR = Path(__file__).resolve().parents[1] / "static"

# Scripts and styles only from this origin: nothing inline runs, even if a prompt carried HTML.
# Images may come from elsewhere: in redirect mode their bytes live in a bucket or on a CDN.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: https: http:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)

router = APIRouter(route_class=LoggedRoute, include_in_schema=False)


@router.get("/")
@router.get("/gallery")
async def gallery() -> FileResponse:
    """The gallery page."""
    return FileResponse(
        STATIC_DIR / "index.html",
        media_type="text/html; charset=utf-8",
        headers={
            "Content-Security-Policy": CONTENT_SECURITY_POLICY,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "same-origin",
            "Cache-Control": "no-cache",
        },
    )
