"""What one client may make a server process hold: a request's head, time, and connections.

Two places enforce them, because the app does not choose its server:

- ``HeadLimitMiddleware`` (in the app, so under any server): a request whose line and headers
  exceed ``PIXY_MAX_HEADER_BYTES`` is answered 431. By then the server has read the head whole.
- ``LimitedHttpToolsProtocol`` (uvicorn's httptools protocol, which ``python -m app`` uses and
  ``uvicorn --http app.web.http_limits:LimitedHttpToolsProtocol`` selects) stops reading a head
  as soon as it is over the limit, closes a connection that has not sent a whole head within
  ``PIXY_HEADER_TIMEOUT`` seconds (uvicorn itself waits forever: slow clients held a file
  descriptor each until the process had none), and turns away connections beyond
  ``PIXY_MAX_CONNECTIONS``. Idle keep-alive connections are uvicorn's ``timeout_keep_alive``.
"""

from __future__ import annotations

import asyncio
import http
from typing import Any

import structlog
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from app.core.exceptions import (
    PixyProxyException,
    RequestHeadersTooLarge,
    RequestTimeout,
    ServiceUnavailable,
)
from app.core.settings import get_settings
from app.web.problems import PROBLEM_MEDIA_TYPE, Problem, problem_type
from app.web.request_log import REQUEST_ID_HEADER, new_request_id

log = structlog.get_logger(__name__)

LIMITED_PROTOCOL = "app.web.http_limits:LimitedHttpToolsProtocol"
_REQUEST_LINE_EXTRA = len(" HTTP/1.1\r\n?")  # around the method, path and query
_HEADER_LINE_EXTRA = len(": \r\n")
_LINGER_SECONDS = 2.0  # how long a refused connection's further bytes are read and dropped


def head_size(scope: Scope) -> int:
    """The bytes of a request's line and headers, as they came on the wire (near enough)."""
    size = len(scope["method"]) + len(scope["raw_path"]) + len(scope["query_string"])
    size += _REQUEST_LINE_EXTRA
    for name, value in scope["headers"]:
        size += len(name) + len(value) + _HEADER_LINE_EXTRA
    return size


def too_large(limit: int) -> RequestHeadersTooLarge:
    """The problem for a head over ``limit`` bytes."""
    return RequestHeadersTooLarge(
        f"the request line and headers may take at most {limit} bytes together"
    )


class HeadLimitMiddleware:
    """Answers 431 to a request whose line and headers are over the limit, whatever the server."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and head_size(scope) > self.max_bytes:
            raise too_large(self.max_bytes)  # rendered by the request log's single handler
        await self.app(scope, receive, send)


def problem_message(exc: PixyProxyException, request_id: str) -> bytes:
    """A whole HTTP response carrying ``exc``'s problem, that closes the connection.

    For answers given before there is a request for the app to handle.
    """
    problem = Problem(
        type=problem_type(exc.code),
        title=exc.title,
        status=exc.status,
        detail=exc.detail,
        instance="",
        code=exc.code,
        request_id=request_id,
    )
    body = problem.model_dump_json(exclude_none=True).encode()
    headers = [
        f"HTTP/1.1 {exc.status} {http.HTTPStatus(exc.status).phrase}",
        f"content-type: {PROBLEM_MEDIA_TYPE}",
        f"content-length: {len(body)}",
        "cache-control: no-store",
        "connection: close",
        f"{REQUEST_ID_HEADER.lower()}: {request_id}",
    ]
    if exc.retry_after is not None:
        headers.append(f"retry-after: {exc.retry_after}")
    return "\r\n".join([*headers, "", ""]).encode("ascii") + body


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a bound on each head's size and time, and on connections.

    A head is counted from the first byte after the previous request's body (or the connection's
    start) to the end of its headers; its timer runs from the connection's start, or from its
    first byte on a kept-alive connection (before that, uvicorn's keep-alive timeout applies).
    """

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        settings = get_settings()
        self._max_head_bytes = settings.max_header_bytes
        self._head_timeout = settings.header_timeout
        self._max_connections = settings.max_connections
        self._reading_head = True
        self._head_bytes = 0
        self._head_timer: asyncio.TimerHandle | None = None
        self._refused = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)  # type: ignore[arg-type]
        if len(self.connections) > self._max_connections:
            busy = ServiceUnavailable(
                "the server holds as many connections as it may: try again shortly",
                retry_after=1,
            )
            # Closed at once: lingering would hold the descriptor that the limit is there to save.
            self._refuse(busy, reason="too_many_connections", linger=False)
            return
        self._start_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_head_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return  # answered already: what follows is dropped until the connection closes
        if self._reading_head:
            self._head_bytes += len(data)
            if self._head_timer is None:
                self._start_head_timer()
        super().data_received(data)
        # Still in the head after more than the limit: refuse before buffering any more of it.
        over = self._reading_head and self._head_bytes > self._max_head_bytes
        if over and not self._refused and not self.transport.is_closing():
            self._refuse(too_large(self._max_head_bytes), reason="head_too_large")

    def on_headers_complete(self) -> None:
        self._reading_head = False
        self._head_bytes = 0
        self._stop_head_timer()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._reading_head = True  # what follows is the next request's head

    def _start_head_timer(self) -> None:
        self._head_timer = self.loop.call_later(self._head_timeout, self._head_timed_out)

    def _stop_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self._refused or self.transport.is_closing():
            return
        if self.cycle is not None and not self.cycle.response_complete:
            self._start_head_timer()  # a pipelined head waits for the answer before it
            return
        if self._head_bytes == 0:
            self.transport.close()  # nothing asked: nothing to answer
            return
        late = RequestTimeout(f"the request's headers did not arrive within {self._head_timeout} s")
        self._refuse(late, reason="head_timeout")

    def _refuse(self, exc: PixyProxyException, *, reason: str, linger: bool = True) -> None:
        """Answer ``exc`` and close; to ``linger`` is to read and drop what still comes a while.

        Closed at once with unread bytes, the socket would reset the connection, and the client
        could lose the answer before reading it.
        """
        request_id = new_request_id()
        client = f"{self.client[0]}:{self.client[1]}" if self.client else "-"
        log.warning("connection_refused", reason=reason, client=client, request_id=request_id)
        self._stop_head_timer()
        self._refused = True
        self.transport.write(problem_message(exc, request_id))
        if not (linger and self.transport.can_write_eof()):
            self.transport.close()
            return
        self.transport.write_eof()
        self.loop.call_later(_LINGER_SECONDS, self.transport.close)
