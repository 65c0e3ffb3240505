"""The gallery: a page at / and /gallery, built on the public API, its assets under /static."""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response
from starlette.types import Scope

from app.web.request_log import LoggedRoute

STATIC_DIR = Path(__file__).resolve().parents[1] / "static"

# Scripts and styles only from this origin: nothing inline runs, even if a prompt carried HTML.
# Images may come from elsewhere: in redirect mode their bytes live in a bucket or on a CDN;
# blob: is a partial render the page fetched with the API key and shows from memory.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data: blob: https: http:; connect-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)

# What every gallery file is served with, the page and its assets alike.
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}

router = APIRouter(route_class=LoggedRoute, include_in_schema=False)


class GalleryAssets(StaticFiles):
    """The files under /static, each with the gallery's security headers.

    The page itself is reachable here too (``/static/index.html``): without the policy another
    site could frame it, Generate button included.
    """

    def file_response(
        self,
        full_path: str | os.PathLike[str],
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers.update(SECURITY_HEADERS)
        return response


def static_assets() -> GalleryAssets:
    """The ASGI app to mount at /static."""
    return GalleryAssets(directory=STATIC_DIR)


@router.get("/")
@router.get("/gallery")
async def gallery() -> FileResponse:
    """The gallery page."""
    return FileResponse(
        STATIC_DIR / "index.html",
        media_type="text/html; charset=utf-8",
        headers={**SECURITY_HEADERS, "Cache-Control": "no-cache"},
    )
