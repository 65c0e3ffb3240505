"""Heads bounded in size and time, connections in number: over real sockets, on real servers."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.web.http_limits import LIMITED_PROTOCOL
from tests.fixtures import LiveServer, start_live_server, start_uvicorn
from tests.problems import PROBLEM_FIELDS, assert_problem

HEAD_LIMIT = 16_384


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """``python -m app`` with a small head limit and a short head timeout."""
    live = start_live_server(
        tmp_path_factory.mktemp("limits"),
        PIXY_MAX_HEADER_BYTES=str(HEAD_LIMIT),
        PIXY_HEADER_TIMEOUT="1",
    )
    yield live
    live.stop()


def connect(server: LiveServer) -> socket.socket:
    host, port = server.base_url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=30)


def read_all(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    received = b""
    while chunk := sock.recv(65_536):
        received += chunk
    return received


def problem_of(answer: bytes) -> tuple[int, dict[str, str], dict[str, Any]]:
    """The status, headers and JSON body of one raw HTTP answer."""
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("ascii").split("\r\n")
    headers = {k.lower(): v.strip() for k, v in (line.split(":", 1) for line in lines)}
    return int(status_line.split()[1]), headers, json.loads(body)


def healthz_head(extra_bytes: int) -> bytes:
    padding = b"a" * extra_bytes
    return b"GET /healthz HTTP/1.1\r\nHost: pixy\r\nX-Padding: " + padding + b"\r\n\r\n"


def test_a_head_over_the_limit_is_refused_before_it_is_read_whole(server: LiveServer) -> None:
    """1 MB of header: 431 as a problem, read no further than the limit and a socket's buffer."""
    with connect(server) as sock:
        sock.sendall(healthz_head(1_000_000)[:200_000])  # the rest would never be read
        answer = read_all(sock)
    status, headers, body = problem_of(answer)
    assert status == 431
    assert headers["content-type"] == "application/problem+json"
    assert headers["connection"] == "close"
    assert set(body) >= PROBLEM_FIELDS
    assert body["code"] == "request_headers_too_large"
    assert body["request_id"] == headers["x-request-id"]


def test_a_whole_head_over_the_limit_is_a_431_problem(server: LiveServer) -> None:
    with server.client() as client:
        big = client.get("/healthz", headers={"X-Padding": "a" * (HEAD_LIMIT + 1)})
        fits = client.get("/healthz", headers={"X-Padding": "a" * (HEAD_LIMIT // 2)})
    assert_problem(big, 431, "request_headers_too_large")
    assert fits.status_code == 200


def test_a_head_never_finished_is_answered_408_and_closed(server: LiveServer) -> None:
    with connect(server) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: pixy\r\nX-Slow: one byte at a ti")
        answer = read_all(sock)  # returns only once the server closes
    status, headers, body = problem_of(answer)
    assert status == 408
    assert body["code"] == "request_timeout"
    assert headers["connection"] == "close"


def test_a_connection_that_sends_nothing_is_closed(server: LiveServer) -> None:
    with connect(server) as sock:
        assert read_all(sock) == b""


def test_connections_beyond_the_limit_are_turned_away(tmp_path: Path) -> None:
    server = start_live_server(tmp_path, PIXY_MAX_CONNECTIONS="3")
    held: list[socket.socket] = []
    try:
        for _ in range(3):
            sock = connect(server)
            held.append(sock)
            # A request answered on each: the server has counted the connection (kept alive).
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: pixy\r\n\r\n")
            assert sock.recv(65_536).startswith(b"HTTP/1.1 200")
        with connect(server) as extra:
            answer = read_all(extra)
    finally:
        for sock in held:
            sock.close()
        server.stop()
    status, headers, body = problem_of(answer)
    assert status == 503
    assert body["code"] == "service_unavailable"
    assert headers["retry-after"] == "1"


def test_uvicorn_with_its_own_parser_still_answers_431(tmp_path: Path) -> None:
    """``uvicorn app.main:app`` as is: the app's own check answers what the server let through."""
    plain = start_uvicorn(tmp_path, PIXY_MAX_HEADER_BYTES=str(HEAD_LIMIT))
    try:
        with plain.client() as client:
            big = client.get("/healthz", headers={"X-Padding": "a" * 1_000_000})
    finally:
        plain.stop()
    assert_problem(big, 431, "request_headers_too_large")


def test_uvicorn_with_the_documented_protocol_closes_slow_heads(tmp_path: Path) -> None:
    """The README's uvicorn line: the head timeout holds there too."""
    limited = start_uvicorn(tmp_path, "--http", LIMITED_PROTOCOL, PIXY_HEADER_TIMEOUT="1")
    try:
        with connect(limited) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: pixy\r\n")
            answer = read_all(sock)
        with limited.client() as client:
            after = client.get("/healthz")
    finally:
        limited.stop()
    assert problem_of(answer)[0] == 408
    assert after.status_code == 200


def test_a_problem_answer_is_readable_by_an_http_client(server: LiveServer) -> None:
    """httpx sending a 1 MB header gets the 431, not a reset connection."""
    with server.client() as client:
        response = client.get("/healthz", headers={"X-Padding": "a" * 1_000_000})
    assert_problem(response, 431, "request_headers_too_large")
