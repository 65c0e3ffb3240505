"""Which methods a path answers: HEAD wherever GET is, and ``Allow`` naming them all.

FastAPI answers HEAD only where a route declares it (the content route does, to answer it
without opening the bytes), and a 405 names only the methods of the first route whose path
matched: ``/image`` has a GET route and a POST route, so ``Allow: GET`` left POST out.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable

from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# The methods a route of this service may have. Each is tried on the path: routers that
# FastAPI keeps nested answer ``matches`` like any route, but do not list their methods.
_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def allowed_methods(routes: Iterable[BaseRoute], scope: Scope) -> list[str]:
    """Every method some route of ``scope``'s path answers, HEAD included wherever GET is."""
    routes = list(routes)
    methods = {m for m in _METHODS if _answered(routes, {**scope, "method": m})}
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods)


def _answered(routes: Iterable[BaseRoute], scope: Scope) -> bool:
    """Whether a route or mount takes ``scope`` as it is (method included)."""
    return any(route.matches(scope)[0] == Match.FULL for route in routes)


class HeadAsGetMiddleware:
    """Answers HEAD on a path that has GET but no HEAD route: the GET's head, without a body.

    The body is dropped here rather than left to the server, so that the answer is the same
    whichever server runs the app, and the GET is stopped once its head is sent: a body that
    streams (job events) would otherwise hold the request until it ended.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return
        routes = scope["app"].router.routes
        as_get = {**scope, "method": "GET"}
        if _answered(routes, scope) or not _answered(routes, as_get):
            await self.app(scope, receive, send)  # a HEAD route of its own, or a 404/405
            return

        async def send_head(message: Message) -> None:
            if message["type"] != "http.response.start":
                return
            await send(message)
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            raise _HeadSent  # the body is not wanted: stop making it (an event stream never ends)

        with contextlib.suppress(_HeadSent):
            await self.app(as_get, receive, send_head)


class _HeadSent(Exception):
    """Raised into a GET answering a HEAD once its status and headers are sent."""
