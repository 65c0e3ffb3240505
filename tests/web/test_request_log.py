"""Request logging as the README ("Logs") describes it, read back from a live server's output."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from tests.fixtures import start_live_server
from tests.web.conftest import Backend

LINE = re.compile(
    r"^(?P<ts>\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2},\d{3}) (?P<level>[A-Z]+) (?P<rid>\S+)"
    r" \[(?P<thread>\d+)\] \[(?P<func>\w+):(?P<line>\d+)\]"
    r" REQUEST (?P<phase>START|END)(?P<rest>.*)$"
)

# What each kind of request must name as the code that served it.
REQUESTS: list[tuple[str, str, dict[str, object], str]] = [
    ("GET", "/image/", {}, "list_images"),
    ("GET", "/image", {"params": {"limit": 0}}, "list_images"),
    ("GET", f"/image/{uuid.uuid4()}", {}, "get_image"),
    ("GET", f"/image/{uuid.uuid4()}/content", {}, "get_image_content"),
    ("POST", "/image/", {"json": {"prompt": ""}}, "create_image"),
    ("GET", "/no/such/route", {}, "handle_exception"),
]


def request_lines(backend: Backend, ids: set[str], phases: int = 2) -> list[re.Match[str]]:
    """The START/END lines of ``ids``, waiting briefly for the last END lines to be written."""
    deadline = time.monotonic() + 10
    while True:
        matches = [m for m in map(LINE.match, backend.server.log_lines()) if m]
        mine = [m for m in matches if m["rid"] in ids]
        if len(mine) >= phases * len(ids) or time.monotonic() > deadline:
            return mine
        time.sleep(0.05)


def test_every_request_logs_start_and_end_naming_its_endpoint(backend: Backend) -> None:
    expected: dict[str, tuple[str, int]] = {}
    with backend.server.client() as client:
        for method, path, kwargs, function in REQUESTS:
            response = client.request(method, path, **kwargs)  # type: ignore[arg-type]
            expected[response.headers["x-request-id"]] = (function, response.status_code)
    lines = request_lines(backend, set(expected))
    assert Counter((m["rid"], m["phase"]) for m in lines) == Counter(
        {(rid, phase): 1 for rid in expected for phase in ("START", "END")}
    )
    for match in lines:
        function, status = expected[match["rid"]]
        assert match["func"] == function
        assert match["level"] == "INFO"
        if match["phase"] == "END":
            assert f"status={status}" in match["rest"]
            assert "duration_ms=" in match["rest"]


def test_request_ids_are_unique_under_concurrency(backend: Backend) -> None:
    with httpx.Client(base_url=backend.server.base_url, timeout=30) as client:

        def call(n: int) -> str:
            method, path, kwargs, _ = REQUESTS[n % len(REQUESTS)]
            return client.request(method, path, **kwargs).headers["x-request-id"]  # type: ignore[arg-type]

        with ThreadPoolExecutor(max_workers=32) as pool:
            ids = list(pool.map(call, range(300)))
    assert len(set(ids)) == 300
    lines = request_lines(backend, set(ids))
    phases = Counter(m["phase"] for m in lines)
    assert phases == {"START": 300, "END": 300}


def test_start_comes_before_end_and_the_id_matches_the_header(backend: Backend) -> None:
    with backend.server.client() as client:
        rid = client.get("/image/").headers["x-request-id"]
    lines = request_lines(backend, {rid})
    assert [m["phase"] for m in lines] == ["START", "END"]
    assert re.fullmatch(r"[A-Za-z0-9.-]+-\d{17}-\d+-\d+", rid)


def test_json_format_renders_the_same_fields(tmp_path: Path) -> None:
    server = start_live_server(tmp_path, PIXY_LOG_FORMAT="json")
    try:
        with server.client() as client:
            rid = client.get("/image/").headers["x-request-id"]
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            events = [json.loads(line) for line in server.log_lines() if line.startswith("{")]
            mine = [e for e in events if e.get("request_id") == rid]
            if len(mine) == 2:
                break
            time.sleep(0.05)
    finally:
        server.stop()
    assert [e["event"] for e in mine] == ["REQUEST START", "REQUEST END"]
    for event in mine:
        assert event["func_name"] == "list_images"
        assert event["level"] == "info"
        assert {"timestamp", "thread", "lineno", "method", "path"} <= set(event)
    assert mine[1]["status"] == 200


def test_control_characters_from_a_path_cannot_forge_log_lines(tmp_path: Path) -> None:
    """ESC, CR, LF, tab, NEL and U+2028 in a path are written escaped, never raw."""
    server = start_live_server(tmp_path)
    try:
        # No space, quote or LF, which were escaped before: the rest reached the log raw.
        forged = "/x%1b[2K%0dINFO:forged%09%0b%0c%C2%85%E2%80%A8%E2%80%AEend"
        with server.client() as client:
            rid = client.get(forged).headers["x-request-id"]
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and server.log_path.read_text().count(rid) < 2:
            time.sleep(0.05)
    finally:
        server.stop()
    # Read raw: splitlines() would itself break at CR, NEL and U+2028.
    lines = server.log_path.read_text(encoding="utf-8").split("\n")
    mine = [line for line in lines if rid in line]
    assert len(mine) == 2
    assert all(line.isprintable() for line in lines)
    escaped = r"path='/x\x1b[2K\rINFO:forged\t\x0b\x0c\x85\u2028\u202eend'"
    assert all(escaped in line for line in mine)
