"""HEAD answered as GET without the body, and stopped once the head is sent."""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi import FastAPI
from fastapi.responses import StreamingResponse
from fastapi.testclient import TestClient

from app.web.methods import HeadAsGetMiddleware


def test_head_on_a_streaming_get_stops_the_stream_after_the_head() -> None:
    made: list[int] = []
    app = FastAPI()

    async def endless() -> AsyncIterator[bytes]:
        for n in range(1_000):
            made.append(n)
            yield b"event: tick\n\n"

    @app.get("/events")
    async def events() -> StreamingResponse:
        return StreamingResponse(endless(), media_type="text/event-stream")

    app.add_middleware(HeadAsGetMiddleware)
    with TestClient(app) as client:
        head = client.head("/events")
        made_for_head = len(made)
        get = client.get("/events")
    assert head.status_code == get.status_code == 200
    assert head.content == b"" and head.headers["content-type"].startswith("text/event-stream")
    assert made_for_head <= 1  # stopped once its head was sent
    assert len(made) - made_for_head == 1_000  # the GET made the whole stream
