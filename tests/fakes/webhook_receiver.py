"""A webhook receiver on 127.0.0.1 that a test scripts: it answers each POST as told and
records what it got, and how many requests it held open at once."""

from __future__ import annotations

import contextlib
import select
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.fakes.serving import serve, stop_serving

# What the receiver does with a request: answer with a status, hold it open until the client
# leaves ("hang"), or redirect it to /elsewhere ("redirect").
Action = int | str


@dataclass(frozen=True)
class Received:
    """One request as the receiver got it."""

    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class WebhookReceiver:
    """The receiver's script and what it has seen."""

    answer: Action = 200
    script: list[Action] = field(default_factory=list)  # actions for the next requests, in turn
    requests: list[Received] = field(default_factory=list)
    answered: list[int] = field(default_factory=list)  # statuses sent, in order
    open_now: int = 0
    most_open: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    stopping: threading.Event = field(default_factory=threading.Event)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def take(self, received: Received) -> Action:
        with self.lock:
            self.requests.append(received)
            return self.script.pop(0) if self.script else self.answer

    @contextlib.contextmanager
    def held_open(self) -> Iterator[None]:
        with self.lock:
            self.open_now += 1
            self.most_open = max(self.most_open, self.open_now)
        try:
            yield
        finally:
            with self.lock:
                self.open_now -= 1


def _handler(receiver: WebhookReceiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            headers = {name.lower(): value for name, value in self.headers.items()}
            action = receiver.take(Received(self.path, headers, body))
            if action == "hang":
                with receiver.held_open():
                    self._wait_for_client_to_leave()
                return
            if action == "redirect":
                self._answer(302, {"location": "/elsewhere"})
                return
            assert isinstance(action, int)
            self._answer(action, {})

        def do_GET(self) -> None:  # a followed redirect would arrive as a GET
            self.do_POST()

        def _wait_for_client_to_leave(self) -> None:
            while not receiver.stopping.is_set():
                readable, _, _ = select.select([self.connection], [], [], 0.1)
                if readable and not self.connection.recv(1, 0x2):  # MSG_PEEK: EOF
                    return

        def _answer(self, status: int, headers: dict[str, str]) -> None:
            with receiver.lock:
                receiver.answered.append(status)
            data = b"x" * 5000  # more than the service reads of an answer
            self.send_response(status)
            self.send_header("content-length", str(len(data)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


def start_receiver() -> WebhookReceiver:
    """Serve a fresh receiver on a free port of 127.0.0.1, in a daemon thread."""
    receiver = WebhookReceiver()
    receiver.server = serve(_handler(receiver))
    return receiver


def stop_receiver(receiver: WebhookReceiver) -> None:
    """Let go of held requests and stop serving."""
    receiver.stopping.set()
    stop_serving(receiver.server)
