"""Without API keys the service serves this machine only, however it is started."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from app.web.exposure import exposed_addresses, listening_addresses
from tests.fixtures import (
    PROJECT_ROOT,
    clean_environment,
    free_port,
    start_live_server,
    wait_until_answers,
)
from tests.problems import assert_problem


def outward_address() -> str | None:
    """This machine's address on its default route: reaching it is what another host does."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("203.0.113.1", 9))  # UDP: nothing is sent
        except OSError:
            return None
        address: str = probe.getsockname()[0]
    return None if address.startswith("127.") else address


def start_uvicorn(workdir: Path, port: int, **settings: str) -> subprocess.Popen[str]:
    """``uvicorn app.main:app --host 0.0.0.0``, as the README's other-server line runs it."""
    env = clean_environment(PYTHONPATH=str(PROJECT_ROOT), **settings)
    command = ["-m", "uvicorn", "app.main:app", "--host", "0.0.0.0", "--port", str(port)]
    return subprocess.Popen(
        [sys.executable, *command],
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_uvicorn_on_every_address_without_keys_stops_and_says_why(tmp_path: Path) -> None:
    port = free_port()
    process = start_uvicorn(tmp_path, port, PIXY_API_KEYS="")
    statuses: list[int] = []
    outward = outward_address()
    try:
        # What another host would do while the process still runs: none of it may succeed.
        while outward is not None and process.poll() is None and 200 not in statuses:
            try:
                response = httpx.post(
                    f"http://{outward}:{port}/image/", json={"prompt": "open door"}, timeout=5
                )
                statuses.append(response.status_code)
            except httpx.TransportError:
                pass
        if 200 in statuses:
            process.kill()
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 3
    assert f"refusing to listen on 0.0.0.0:{port} without PIXY_API_KEYS" in stderr
    assert 200 not in statuses


def test_uvicorn_on_every_address_with_keys_serves(tmp_path: Path) -> None:
    port = free_port()
    process = start_uvicorn(tmp_path, port, PIXY_API_KEYS="exposure-key")
    try:
        wait_until_answers(f"http://127.0.0.1:{port}/healthz", process)
        base = f"http://{outward_address() or '127.0.0.1'}:{port}"
        anonymous = httpx.post(f"{base}/image/", json={"prompt": "no key"}, timeout=30)
        keyed = httpx.post(
            f"{base}/image/",
            json={"prompt": "with key"},
            headers={"Authorization": "Bearer exposure-key"},
            timeout=30,
        )
    finally:
        process.terminate()
        process.communicate(timeout=30)
    assert anonymous.status_code == 401
    assert keyed.status_code == 200


def test_open_service_refuses_private_requests_forwarded_from_elsewhere(tmp_path: Path) -> None:
    """A proxy on this machine passing on another host's request: refused, as that host would be."""
    server = start_live_server(tmp_path)
    forwarded = {"X-Forwarded-For": "203.0.113.9"}
    try:
        with server.client() as client:
            refused = client.post("/image/", json={"prompt": "via proxy"}, headers=forwarded)
            local = client.post("/image/", json={"prompt": "from here"})
            public = client.get("/image/", headers=forwarded)
    finally:
        server.stop()
    assert_problem(refused, 401, "not_authenticated")
    assert "PIXY_API_KEYS" in refused.json()["detail"]
    assert local.status_code == 200
    assert public.status_code == 200


def test_listening_sockets_are_read_from_proc() -> None:
    if listening_addresses() is None:
        pytest.skip("no /proc on this system")
    with socket.socket() as everywhere, socket.socket() as local:
        everywhere.bind(("0.0.0.0", 0))
        local.bind(("127.0.0.1", 0))
        everywhere.listen()
        local.listen()
        found = listening_addresses() or []
        wide, narrow = everywhere.getsockname()[1], local.getsockname()[1]
    assert ("0.0.0.0", wide) in found
    assert ("127.0.0.1", narrow) in found
    assert f"0.0.0.0:{wide}" in exposed_addresses(found)
    assert not [a for a in exposed_addresses(found) if a.endswith(f":{narrow}")]
    assert exposed_addresses([("::1", 1), ("::ffff:127.0.0.1", 2), ("::", 3)]) == ["[::]:3"]
