"""Idempotency-Key on POST /image, over HTTP with the fake OpenAI counting generations."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.problems import assert_problem
from tests.web.conftest import OpenAISetup, serve_fake_openai

KEYS = "first-caller-key,second-caller-key"


@pytest.fixture(scope="module")
def module_setup(request: pytest.FixtureRequest) -> Iterator[OpenAISetup]:
    with serve_fake_openai(request, "idempotency", PIXY_API_KEYS=KEYS) as setup:
        yield setup


def post(
    client: httpx.Client, prompt: str, key: str | None, caller: str = "first-caller-key"
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {caller}"}
    if key is not None:
        headers["Idempotency-Key"] = key
    return client.post("/image/", json={"prompt": prompt}, headers=headers)


def test_same_key_same_body_returns_the_first_result_without_generating(setup: OpenAISetup) -> None:
    with setup.server.client() as client:
        first = post(client, "a duck", "key-1")
        again = post(client, "a duck", "key-1")
        listed = client.get("/image/").json()
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert len(setup.fake.requests) == 1
    assert len(listed) == 1


def test_same_key_other_body_is_422(setup: OpenAISetup) -> None:
    with setup.server.client() as client:
        assert post(client, "a duck", "key-2").status_code == 200
        other = post(client, "a goose", "key-2")
    assert_problem(other, 422, "idempotency_key_reused")
    assert len(setup.fake.requests) == 1


def test_while_the_first_runs_a_second_waits_for_the_same_job(setup: OpenAISetup) -> None:
    setup.fake.delay = 1.5
    with (
        setup.server.client() as client,
        httpx.Client(base_url=setup.server.base_url, timeout=30) as other,
    ):
        results: list[httpx.Response] = []
        first = threading.Thread(target=lambda: results.append(post(client, "slow", "key-3")))
        first.start()
        time.sleep(0.5)
        during = post(other, "slow", "key-3")
        first.join()
        after = post(other, "slow", "key-3")
    # The key names one job: the second request waits for it instead of generating again.
    assert during.status_code == 200
    assert during.headers["idempotent-replayed"] == "true"
    assert during.json() == results[0].json()
    assert results[0].status_code == 200
    assert after.json()["guid"] == results[0].json()["guid"]
    assert len(setup.fake.requests) == 1


def test_concurrent_duplicates_generate_exactly_once(setup: OpenAISetup) -> None:
    setup.fake.delay = 0.5
    with httpx.Client(base_url=setup.server.base_url, timeout=30) as client:
        with ThreadPoolExecutor(12) as pool:
            responses = list(pool.map(lambda _: post(client, "once", "key-4"), range(12)))
        settled = post(client, "once", "key-4")
    assert len(setup.fake.requests) == 1
    statuses = sorted(r.status_code for r in responses)
    assert set(statuses) <= {200, 409} and 200 in statuses
    guids = {r.json()["guid"] for r in responses if r.status_code == 200}
    assert guids == {settled.json()["guid"]}


def test_keys_are_scoped_per_api_key(setup: OpenAISetup) -> None:
    with setup.server.client() as client:
        mine = post(client, "shared key", "key-5", caller="first-caller-key")
        theirs = post(client, "shared key", "key-5", caller="second-caller-key")
    assert mine.status_code == theirs.status_code == 200
    assert mine.json()["guid"] != theirs.json()["guid"]
    assert len(setup.fake.requests) == 2


def test_a_failed_job_is_replayed_never_run_again(setup: OpenAISetup) -> None:
    # A 5xx after the request was sent may have been billed: the key's job is not paid twice.
    setup.fake.scenario = "server_error"
    with setup.server.client() as client:
        failed = post(client, "retry me", "key-6")
        setup.fake.scenario = "ok"
        retried = post(client, "retry me", "key-6")
        fresh = post(client, "retry me", "key-7")
    assert_problem(failed, 502, "provider_error")
    assert_problem(retried, 502, "provider_error")
    assert retried.headers["idempotent-replayed"] == "true"
    assert fresh.status_code == 200
    assert len(setup.fake.requests) == 2


@pytest.mark.parametrize(
    "key", [b"", b"x" * 256, b"bad key with spaces", "ünïcode".encode(), b"tab\there"]
)
def test_malformed_keys_are_422(setup: OpenAISetup, key: bytes) -> None:
    with setup.server.client() as client:
        response = client.post(
            "/image/",
            json={"prompt": "a duck"},
            headers={b"Authorization": b"Bearer first-caller-key", b"Idempotency-Key": key},
        )
    assert_problem(response, 422, "invalid_request")
    assert setup.fake.requests == []
