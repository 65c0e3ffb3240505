"""Provider failures over HTTP: the service on SQLite and a folder, with the fake OpenAI."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fixtures import FAKE_OPENAI_KEY
from tests.problems import assert_problem
from tests.web.conftest import OpenAISetup, serve_fake_openai


@pytest.fixture(scope="module")
def module_setup(request: pytest.FixtureRequest) -> Iterator[OpenAISetup]:
    with serve_fake_openai(
        request,
        "openai",
        PIXY_OPENAI_TIMEOUT="1.5",
        # A rate-limited job is queued again for after Retry-After (tests/web/test_jobs.py);
        # with one attempt allowed, the 429 is the job's answer at once.
        PIXY_JOB_MAX_ATTEMPTS="1",
    ) as setup:
        yield setup


def test_success_stores_the_providers_image(setup: OpenAISetup) -> None:
    with setup.server.client() as client:
        created = client.post("/image/", json={"prompt": "from the provider"})
        assert created.status_code == 200, created.text
        content = client.get(f"/image/{created.json()['guid']}/content")
    assert content.headers["content-type"] == "image/png"
    assert setup.fake.requests[-1]["prompt"] == "from the provider"


@pytest.mark.parametrize(
    ("scenario", "status", "code"),
    [
        ("safety", 422, "prompt_rejected"),
        ("rate_limit", 503, "provider_rate_limited"),
        ("quota", 503, "provider_quota_exceeded"),
        ("server_error", 502, "provider_error"),
        ("empty", 502, "generation_empty"),
        ("not_image", 502, "invalid_image"),
        ("hang", 504, "provider_timeout"),
    ],
)
def test_provider_failures_answer_their_own_problem_and_store_nothing(
    setup: OpenAISetup, scenario: str, status: int, code: str
) -> None:
    setup.fake.scenario = scenario
    with setup.server.client() as client:
        before = len(client.get("/image/", params={"limit": 500}).json())
        response = client.post("/image/", json={"prompt": f"fails with {scenario}"})
        after = len(client.get("/image/", params={"limit": 500}).json())
    body = assert_problem(response, status, code)
    assert after == before
    assert FAKE_OPENAI_KEY not in response.text
    if scenario == "rate_limit":
        assert response.headers["retry-after"] == "7"
    if scenario == "safety":
        assert body["provider_request_id"].startswith("req_fake_")
