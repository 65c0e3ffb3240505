"""Checks every request passes before any route sees it: body size, query size, one value per
parameter.

A pure ASGI middleware rather than dependencies: FastAPI resolving an app-wide dependency cost
a sixth of a cached GET, for a check that costs next to nothing here.
"""

from __future__ import annotations

from collections import Counter
from urllib.parse import parse_qsl

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.exceptions import InvalidRequest, QueryTooLong, RequestTooLarge

# Enough for the longest filter a listing takes (4,000 characters of up to 12 bytes each once
# percent-encoded: 48,000) and its other parameters. The listing takes twelve and a route refuses
# any it does not take (``parse_query``): 64 only bounds the parsing here, before any route runs.
# uvicorn's httptools parser refuses a request line of 64 KiB itself, with a 400.
MAX_QUERY_BYTES = 48 * 1024
MAX_QUERY_PARAMETERS = 64


class RequestGuardMiddleware:
    """Refuses bodies over ``max_bytes``, oversized queries, and parameters given twice."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        check_query_string(scope["query_string"])
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            raise RequestTooLarge(f"request bodies are limited to {self.max_bytes} bytes")
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                # Raised while the route reads its body: FastAPI lets HTTPException through.
                raise HTTPException(413, f"request bodies are limited to {self.max_bytes} bytes")
            return message

        await self.app(scope, limited_receive, send)


def check_query_string(query_string: bytes) -> None:
    """Refuse a query string too long or with too many parameters, or a parameter given twice.

    Runs on the event loop for every request, so each check is linear and bounded: the length
    and the parameter count are read off the bytes before anything is parsed.
    """
    if len(query_string) > MAX_QUERY_BYTES:
        raise QueryTooLong(f"query strings are limited to {MAX_QUERY_BYTES} bytes")
    if b"&" not in query_string:
        return  # one parameter at most
    if query_string.count(b"&") >= MAX_QUERY_PARAMETERS:
        raise InvalidRequest(f"a request takes at most {MAX_QUERY_PARAMETERS} query parameters")
    pairs = parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)
    names = Counter(name for name, _ in pairs)
    repeated = sorted(name for name, times in names.items() if times > 1)
    if repeated:
        raise InvalidRequest(f"query parameters given more than once: {', '.join(repeated)}")
