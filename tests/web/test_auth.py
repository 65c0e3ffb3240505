"""API keys on private routes (README, "Generate an image"), over HTTP against a live server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures import LiveServer, run_app_command, start_live_server
from tests.problems import assert_problem

KEYS = "key-one-0123456789,key-two-abcdefghij"


@pytest.fixture(scope="module")
def keyed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = start_live_server(tmp_path_factory.mktemp("auth"), PIXY_API_KEYS=KEYS)
    yield server
    server.stop()


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-key"},
        {"Authorization": "Bearer"},
        {"Authorization": "Basic a2V5LW9uZS0wMTIzNDU2Nzg5Og=="},
        {"X-API-Key": "key-one-012345678"},
        {"X-API-Key": "key-one-0123456789,key-two-abcdefghij"},
    ],
)
def test_post_without_a_valid_key_is_401(keyed_server: LiveServer, headers: dict[str, str]) -> None:
    with keyed_server.client() as client:
        response = client.post("/image/", json={"prompt": "a duck"}, headers=headers)
        assert client.get("/image/").json() == []
    assert_problem(response, 401, "not_authenticated")
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer key-one-0123456789"},
        {"Authorization": "bearer key-two-abcdefghij"},
        {"X-API-Key": "key-two-abcdefghij"},
    ],
)
def test_post_with_a_configured_key_succeeds(
    keyed_server: LiveServer, headers: dict[str, str]
) -> None:
    with keyed_server.client() as client:
        response = client.post("/image/", json={"prompt": "a keyed duck"}, headers=headers)
    assert response.status_code == 200, response.text


def test_public_routes_need_no_key(keyed_server: LiveServer) -> None:
    with keyed_server.client() as client:
        created = client.post(
            "/image/", json={"prompt": "public"}, headers={"X-API-Key": "key-two-abcdefghij"}
        ).json()
        assert client.get("/image/").status_code == 200
        assert client.get(f"/image/{created['guid']}").status_code == 200
        assert client.get(f"/image/{created['guid']}/content").status_code == 200


def test_keys_never_reach_the_log(keyed_server: LiveServer) -> None:
    with keyed_server.client() as client:
        client.post("/image/", json={"prompt": "x"}, headers={"X-API-Key": "key-one-0123456789"})
        client.post("/image/", json={"prompt": "x"}, headers={"Authorization": "Bearer guessed"})
    log = keyed_server.log_path.read_text()
    assert "REQUEST END" in log
    assert "key-one" not in log and "key-two" not in log and "guessed" not in log


def test_without_keys_on_loopback_post_is_open(tmp_path: Path) -> None:
    server = start_live_server(tmp_path)
    try:
        with server.client() as client:
            assert client.post("/image/", json={"prompt": "open"}).status_code == 200
    finally:
        server.stop()


def test_refuses_to_start_open_on_a_public_address(tmp_path: Path) -> None:
    result = run_app_command(tmp_path, PIXY_HOST="0.0.0.0")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "PIXY_API_KEYS" in lines[0] and "0.0.0.0" in lines[0]
