"""A fake of OpenAI's images API on 127.0.0.1, for the real ``openai`` client to talk to.

The test that owns it picks how it answers (``scenario``); it records every request it got.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import io
import json
import random
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from PIL import Image

from app.service.generators.offline import draw_image
from tests.fakes.serving import serve, stop_serving

SCENARIOS = (
    "ok",
    "empty",
    "safety",
    "rate_limit",
    "quota",
    "server_error",
    "hang",
    "not_image",
    "bad_base64",
    "unauthorized",
)


@dataclass
class FakeOpenAI:
    """The state behind the fake server: what to answer, and what was asked."""

    scenario: str = "ok"
    delay: float = 0.0
    image: bytes | None = None  # answer with these bytes instead of drawing per prompt
    script: list[str] = field(default_factory=list)  # scenarios for the next requests, in turn
    retry_after: str = "7"  # what a rate-limited answer says
    honour_size: bool = False  # draw at the size asked for (slower) instead of 256 px
    requests: list[dict[str, Any]] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def answer(self, body: dict[str, Any]) -> Answer:
        with self.lock:
            self.requests.append(body)
            scenario = self.script.pop(0) if self.script else self.scenario
        if self.delay:
            time.sleep(self.delay)
        return _ANSWERS[scenario](body, self)

    def reset(self) -> None:
        """Answer as a fresh fake does, with nothing asked yet; an answer still hanging ends.

        A module shares one fake between its tests, so each starts from this.
        """
        defaults = FakeOpenAI()
        with self.lock:
            for setting in fields(self):
                if setting.name not in _STATE:
                    setattr(self, setting.name, getattr(defaults, setting.name))
            # Cleared in place: a benchmark's log that keeps nothing stays one.
            self.requests.clear()
        # Set then cleared: a "hang" still waiting from the last test gives up now, and the
        # next one waits again.
        self.release.set()
        self.release.clear()


# What the fake has, as opposed to how it answers: reset() keeps these objects.
_STATE = frozenset({"requests", "release", "lock", "server"})


Answer = tuple[int, dict[str, str], dict[str, Any]]


def _error(status: int, code: str, message: str, kind: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


def _ok(body: dict[str, Any], fake: FakeOpenAI) -> tuple[int, dict[str, str], dict[str, Any]]:
    if fake.image is not None:  # answered from the encoded fixed answer (_encoded)
        return 200, {}, {}
    image = base64.b64encode(_drawn(body, exact=fake.honour_size)).decode()
    return (
        200,
        {},
        {"created": int(time.time()), "data": [{"b64_json": image}], "usage": usage(body)},
    )


def _drawn(body: dict[str, Any], *, exact: bool) -> bytes:
    """The prompt drawn in the format asked for; at the size asked for when ``exact`` (else
    small, which is quicker: most tests do not look at the size)."""
    width, height = 256, 256
    size = str(body.get("size", "auto"))
    if exact and size != "auto":
        width, height = (int(side) for side in size.split("x"))
    elif exact:
        width, height = 1024, 1024
    return draw_image(
        body["prompt"],
        width=width,
        height=height,
        output_format=body.get("output_format", "png"),
        compression=body.get("output_compression"),
    )


def _render_fields(body: dict[str, Any], image: bytes) -> dict[str, Any]:
    return {
        "b64_json": base64.b64encode(image).decode(),
        "background": body.get("background", "auto"),
        "created_at": int(time.time()),
        "output_format": body.get("output_format", "png"),
        "quality": body.get("quality", "auto"),
        "size": body.get("size", "auto"),
    }


OUTPUT_TOKENS = {"low": 272, "medium": 1056, "high": 4160}


def usage(body: dict[str, Any]) -> dict[str, Any]:
    """Token counts as the images API reports them, derived from the request so tests can
    compute what they should be: a token per 4 prompt characters, output by quality."""
    text = max(1, len(body["prompt"]) // 4)
    output = OUTPUT_TOKENS.get(str(body.get("quality")), OUTPUT_TOKENS["medium"])
    return {
        "input_tokens": text,
        "input_tokens_details": {"text_tokens": text, "image_tokens": 0},
        "output_tokens": output,
        "total_tokens": text + output,
    }


def noisy_png(side: int) -> bytes:
    """A PNG of random pixels: it compresses as badly as a photo (``side``**2 * 3 bytes or so).

    The real provider answers with 2-4 MB images; a gradient of that size would be a few KB.
    """
    pixels = random.Random(side).randbytes(side * side * 3)
    out = io.BytesIO()
    Image.frombytes("RGB", (side, side), pixels).save(out, format="PNG", compress_level=1)
    return out.getvalue()


def _hang(_: dict[str, Any], fake: FakeOpenAI) -> tuple[int, dict[str, str], dict[str, Any]]:
    fake.release.wait(timeout=10)
    return 500, {}, _error(500, "late", "too late", "server_error")


_ANSWERS: dict[str, Callable[[dict[str, Any], FakeOpenAI], Answer]] = {
    "ok": _ok,
    "empty": lambda _, __: (200, {}, {"created": 1, "data": []}),
    "safety": lambda _, __: (
        400,
        {},
        _error(
            400,
            "moderation_blocked",
            "Your request was rejected by the safety system.",
            "image_generation_user_error",
        ),
    ),
    "rate_limit": lambda _, fake: (
        429,
        {"retry-after": fake.retry_after},
        _error(429, "rate_limit_exceeded", "Slow down", "requests"),
    ),
    "quota": lambda _, __: (
        429,
        {},
        _error(429, "insufficient_quota", "You exceeded your quota", "insufficient_quota"),
    ),
    "server_error": lambda _, __: (500, {}, _error(500, "server_error", "Oops", "server_error")),
    "hang": _hang,
    "not_image": lambda _, __: (
        200,
        {},
        {"created": 1, "data": [{"b64_json": base64.b64encode(b"<html>no</html>").decode()}]},
    ),
    "bad_base64": lambda _, __: (200, {}, {"created": 1, "data": [{"b64_json": "%%% not base64"}]}),
    "unauthorized": lambda _, __: (
        401,
        {},
        _error(401, "invalid_api_key", "Incorrect API key", "invalid_request_error"),
    ),
}


def _handler(fake: FakeOpenAI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body leave in separate writes: without this, Nagle's algorithm and the
        # client's delayed ACK hold every answer back by 40 ms.
        disable_nagle_algorithm = True

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", 0))
            body = json.loads(self.rfile.read(length) or b"{}")
            if self.path != "/v1/images/generations":
                self._send(404, {}, _error(404, "not_found", self.path, "invalid_request_error"))
                return
            if body.get("stream") and fake.scenario in ("ok", "stream_break"):
                self._stream(body)
                return
            self._send(*fake.answer(body))

        def _stream(self, body: dict[str, Any]) -> None:
            """An images API stream: partial renders spaced over the delay, then the image
            (or, for ``stream_break``, the connection cut after the first partial)."""
            with fake.lock:
                fake.requests.append(body)
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.send_header("connection", "close")
            self.end_headers()
            count = int(body.get("partial_images", 0))
            pause = fake.delay / (count + 1)
            for index in range(count):
                time.sleep(pause)
                partial = draw_image(f"{body['prompt']} (partial {index})", size=64)
                self._event(
                    "image_generation.partial_image",
                    {**_render_fields(body, partial), "partial_image_index": index},
                )
                if fake.scenario == "stream_break":
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
            time.sleep(pause)
            final = _drawn(body, exact=fake.honour_size)
            self._event(
                "image_generation.completed",
                {**_render_fields(body, final), "usage": usage(body)},
            )

        def _event(self, kind: str, payload: dict[str, Any]) -> None:
            data = json.dumps({"type": kind, **payload})
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(f"event: {kind}\ndata: {data}\n\n".encode())
                self.wfile.flush()

        def _send(self, status: int, headers: dict[str, str], payload: dict[str, Any]) -> None:
            data = _encoded(fake, status, payload)
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.send_header("x-request-id", f"req_fake_{len(fake.requests)}")
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            # The client may have given up waiting, as a timeout test wants it to.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


def _encoded(fake: FakeOpenAI, status: int, payload: dict[str, Any]) -> bytes:
    """The answer as JSON; a fixed image's answer is encoded once (it may be megabytes)."""
    if status == 200 and fake.image is not None:
        return _fixed_answer(fake.image)
    return json.dumps(payload).encode()


@functools.lru_cache(maxsize=2)
def _fixed_answer(image: bytes) -> bytes:
    encoded = base64.b64encode(image).decode()
    return json.dumps({"created": 1, "data": [{"b64_json": encoded}]}).encode()


class _Server(ThreadingHTTPServer):
    request_queue_size = 1024  # load tests open hundreds of connections at once


def start_fake_openai(port: int = 0) -> FakeOpenAI:
    """Serve a fresh fake on 127.0.0.1 (on a free port unless told), in a daemon thread."""
    fake = FakeOpenAI()
    fake.server = serve(_handler(fake), port, _Server)
    return fake


def stop_fake_openai(fake: FakeOpenAI) -> None:
    """Release any hanging answer and stop serving."""
    fake.release.set()
    stop_serving(fake.server)


def main() -> None:
    """Serve a fake in a process of its own: ``python -m tests.fakes.openai_server PORT DELAY
    [SIDE]``.

    Benchmarks use this so that the fake provider does not share an interpreter with the client.
    Answers every request with one fixed 30 KB PNG, or with a noisy PNG of SIDE x SIDE pixels
    (1024: about 3 MB, like the real provider's).
    """
    from tests.bench.common import png_of_size  # here: the tests import this module, not the bench

    fake = start_fake_openai(port=int(sys.argv[1]))
    fake.delay = float(sys.argv[2])
    fake.image = noisy_png(int(sys.argv[3])) if len(sys.argv) > 3 else png_of_size(30_000)
    fake.requests = _Discarded()
    threading.Event().wait()


class _Discarded(list[dict[str, Any]]):
    """A request log that keeps nothing, for long benchmark runs."""

    def append(self, _: dict[str, Any]) -> None:
        return None


if __name__ == "__main__":
    main()
