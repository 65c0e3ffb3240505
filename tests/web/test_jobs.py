"""Generation jobs over HTTP: 202 and polling, who may see a job, Prefer, clients that leave,
rate limits, on a live server with the real ``openai`` client and the fake provider."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.fixtures import wait_until
from tests.problems import assert_problem
from tests.web.conftest import OpenAISetup, serve_fake_openai

KEYS = "owner-key,other-key"
OWNER = {"Authorization": "Bearer owner-key"}
OTHER = {"X-API-Key": "other-key"}
ASYNC = {**OWNER, "Prefer": "respond-async"}


@pytest.fixture(scope="module")
def module_setup(request: pytest.FixtureRequest) -> Iterator[OpenAISetup]:
    with serve_fake_openai(request, "jobs", PIXY_API_KEYS=KEYS) as setup:
        yield setup


def finished(client: httpx.Client, location: str, **headers: str) -> dict[str, Any]:
    """The job at ``location`` once it has ended."""
    seen: dict[str, Any] = {}

    def ended() -> bool:
        seen.update(client.get(location, headers=headers or OWNER).json())
        return seen["status"] in ("succeeded", "failed")

    wait_until(ended, seconds=30)
    return seen


def test_respond_async_gives_202_and_the_job_then_its_image(setup: OpenAISetup) -> None:
    setup.fake.delay = 0.5
    with setup.server.client() as client:
        accepted = client.post("/image", json={"prompt": "later, please"}, headers=ASYNC)
        job = finished(client, accepted.headers["location"])
        image = job["image"]
        detail = client.get(f"/image/{image['guid']}").json()
        content = client.get(f"/image/{image['guid']}/content")
    assert accepted.status_code == 202
    body = accepted.json()
    assert body["status"] in ("queued", "running") and body["image"] is None
    assert accepted.headers["location"] == f"/jobs/{body['id']}"
    assert int(accepted.headers["retry-after"]) >= 1
    assert accepted.headers["preference-applied"] == "respond-async"
    assert accepted.headers["cache-control"] == "no-store"
    assert job["status"] == "succeeded" and job["error"] is None and job["attempts"] == 1
    assert image["guid"] == body["id"] and detail == image
    assert content.status_code == 200 and content.content.startswith(b"\x89PNG")


def test_a_job_is_seen_only_by_the_key_that_made_it(setup: OpenAISetup) -> None:
    with setup.server.client() as client:
        location = client.post("/image/", json={"prompt": "mine"}, headers=ASYNC).headers[
            "location"
        ]
        mine = client.get(location, headers=OWNER)
        theirs = client.get(location, headers=OTHER)
        anonymous = client.get(location)
        unknown = client.get("/jobs/00000000-0000-4000-8000-000000000000", headers=OWNER)
    assert mine.status_code == 200
    assert_problem(theirs, 404, "job_not_found")
    assert_problem(unknown, 404, "job_not_found")
    assert theirs.json()["detail"] == unknown.json()["detail"].replace(
        "00000000-0000-4000-8000-000000000000", location.rsplit("/", 1)[1]
    )
    assert_problem(anonymous, 401, "not_authenticated")


@pytest.mark.parametrize(
    "job_id", ["not-a-uuid", "1", "00000000-0000-4000-8000-00000000000g", "%00", "x" * 300]
)
def test_malformed_job_ids_are_422(setup: OpenAISetup, job_id: str) -> None:
    with setup.server.client() as client:
        response = client.get(f"/jobs/{job_id}", headers=OWNER)
    assert_problem(response, 422, "invalid_request")


@pytest.mark.parametrize(
    "prefer", ["handling=lenient", "return=minimal", "wait=abc", "respond-sync", ",;=", "wait=-5"]
)
def test_unknown_or_malformed_preferences_are_ignored(setup: OpenAISetup, prefer: str) -> None:
    with setup.server.client() as client:
        response = client.post(
            "/image", json={"prompt": f"prefer {prefer}"}, headers={**OWNER, "Prefer": prefer}
        )
    assert response.status_code == 200, response.text
    assert response.json()["prompt"] == f"prefer {prefer}"
    assert "preference-applied" not in response.headers


def test_wait_caps_the_synchronous_wait_then_answers_202(setup: OpenAISetup) -> None:
    setup.fake.delay = 2.0
    with setup.server.client() as client:
        started = time.monotonic()
        response = client.post(
            "/image", json={"prompt": "impatient"}, headers={**OWNER, "Prefer": "wait=1"}
        )
        waited = time.monotonic() - started
        job = finished(client, response.headers["location"])
    assert response.status_code == 202
    assert response.json()["status"] in ("queued", "running")
    assert waited < setup.fake.delay  # answered before the provider did
    assert job["status"] == "succeeded"


def test_a_failed_job_carries_its_problem(setup: OpenAISetup) -> None:
    setup.fake.scenario = "safety"
    with setup.server.client() as client:
        accepted = client.post("/image", json={"prompt": "forbidden"}, headers=ASYNC)
        job = finished(client, accepted.headers["location"])
    error = job["error"]
    assert job["status"] == "failed" and job["image"] is None
    assert error["type"] == "urn:pixyproxy:problem:prompt_rejected"
    assert (error["status"], error["code"]) == (422, "prompt_rejected")
    assert error["provider_request_id"].startswith("req_fake_")


def test_a_client_that_leaves_still_gets_its_image_made_and_kept(setup: OpenAISetup) -> None:
    setup.fake.delay = 3.0
    with setup.server.client() as client:
        with pytest.raises(httpx.ReadTimeout):
            client.post("/image", json={"prompt": "nobody waits for me"}, headers=OWNER, timeout=1)

        def listed() -> list[dict[str, Any]]:
            found: list[dict[str, Any]] = client.get(
                "/image/", params={"prompt_contains": "nobody waits for me"}
            ).json()
            return found

        wait_until(lambda: len(listed()) == 1, seconds=30)
        image = listed()[0]
        job = client.get(f"/jobs/{image['guid']}", headers=OWNER).json()
        content = client.get(f"/image/{image['guid']}/content")
    assert job["status"] == "succeeded" and job["image"] == image
    assert content.status_code == 200
    assert len(setup.fake.requests) == 1


def test_a_rate_limited_job_is_run_again_after_retry_after(setup: OpenAISetup) -> None:
    setup.fake.script, setup.fake.retry_after = ["rate_limit"], "1"
    with setup.server.client() as client:
        response = client.post("/image", json={"prompt": "patient"}, headers=OWNER)
        job = client.get(f"/jobs/{response.json()['guid']}", headers=OWNER).json()
    assert response.status_code == 200, response.text
    assert job["status"] == "succeeded" and job["attempts"] == 2
    assert len(setup.fake.requests) == 2
