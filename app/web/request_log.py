"""Request logging: an id per request, a START and an END line for each, whatever happens.

``RequestLogMiddleware`` is a pure ASGI middleware, so it sees every request (the ones no route
matches included) and renders exceptions nothing else handled through the single handler.
The START line names the endpoint that serves the request, which only routing knows: routes of
class ``LoggedRoute`` announce their endpoint as they begin; a request that reaches no endpoint
is logged as served by the error handler when its response begins.
"""

from __future__ import annotations

import itertools
import re
import socket
import threading
import time
from collections.abc import Callable, Coroutine
from typing import Any

import structlog
from fastapi.routing import APIRoute
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core import metrics
from app.core.log_setup import CALLSITE_KEY, UtcClock, bind_request, unbind_request
from app.web.errors import handle_exception

REQUEST_ID_HEADER = "X-Request-ID"
_SCOPE_KEY = "pixyproxy.request_log"

log = structlog.get_logger(__name__)
_HOST = re.sub(r"[^A-Za-z0-9.-]", "", socket.gethostname().split(".")[0]) or "host"
_sequence = itertools.count(1)
_ID_CLOCK = UtcClock("%Y%m%d%H%M%S")


def new_request_id() -> str:
    """Host, date-time and thread id, plus a per-process sequence that keeps it unique."""
    return f"{_HOST}-{_ID_CLOCK.now()}-{threading.get_native_id()}-{next(_sequence)}"


def callsite_of(function: Callable[..., Any]) -> tuple[str, int]:
    """The name and first line of a function, as log lines show them."""
    code = getattr(function, "__code__", None)
    return getattr(function, "__name__", "?"), code.co_firstlineno if code else 0


class _RequestLog:
    """The START and END lines of one request."""

    def __init__(self, scope: Scope) -> None:
        self.method: str = scope["method"]
        self.path: str = scope["path"]
        self.callsite = callsite_of(handle_exception)
        self.started = time.perf_counter()
        self._start_logged = False

    def start(self, callsite: tuple[str, int] | None = None) -> None:
        """Log START once, naming ``callsite`` as the code that serves the request."""
        if self._start_logged:
            return
        self._start_logged = True
        if callsite is not None:
            self.callsite = callsite
        log.info(
            "REQUEST START", method=self.method, path=self.path, **{CALLSITE_KEY: self.callsite}
        )

    def end(self, status: int, route: str) -> None:
        """Log END with the outcome (START first if nothing did) and count the request."""
        self.start()
        elapsed = time.perf_counter() - self.started
        metrics.series(metrics.HTTP_REQUESTS, self.method, route, str(status)).inc()
        metrics.series(metrics.HTTP_DURATION, self.method, route).observe(elapsed)
        duration_ms = round(elapsed * 1000, 2)
        log.info(
            "REQUEST END",
            method=self.method,
            path=self.path,
            status=status,
            duration_ms=duration_ms,
            **{CALLSITE_KEY: self.callsite},
        )


class LoggedRoute(APIRoute):
    """An APIRoute that names its endpoint in the request's START line."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        callsite = callsite_of(self.endpoint)

        async def logged_handler(request: Request) -> Response:
            request_log = request.scope.get(_SCOPE_KEY)
            if request_log is not None:
                request_log.start(callsite)
            return await handler(request)

        return logged_handler


class RequestLogMiddleware:
    """Gives each HTTP request an id, logs its START and END, answers unhandled errors."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = new_request_id()
        scope.setdefault("state", {})["request_id"] = request_id
        request_log = scope[_SCOPE_KEY] = _RequestLog(scope)
        tokens = bind_request(request_id=request_id)
        status = 500
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                # Routes that are not LoggedRoutes (the API docs) are named once routing is done.
                endpoint = scope.get("endpoint")
                request_log.start(callsite_of(endpoint) if endpoint else None)
                response_started = True
                status = message["status"]
                MutableHeaders(scope=message).append(REQUEST_ID_HEADER, request_id)
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:
            if response_started:
                log.error("response_interrupted", exc_info=exc)
                raise
            response = await handle_exception(Request(scope), exc)
            await response(scope, receive, send_with_id)
        finally:
            # The route template, never the raw path: one time series per route, not per guid.
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            request_log.end(status, route)
            unbind_request(tokens)
