"""Generation options, image metadata, usage and budgets over HTTP, with the real ``openai``
client and the fake provider drawing what it is asked for."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.core.callers import key_id
from app.core.generation import TokenUsage
from app.core.settings import DEFAULT_PRICES
from tests.fakes.openai_server import FakeOpenAI, usage
from tests.fixtures import (
    create_scratch_database,
    drop_scratch_database,
    openai_settings,
    start_live_server,
)
from tests.problems import assert_problem
from tests.web.conftest import OpenAISetup, serve_fake_openai

OWNER = {"Authorization": "Bearer ducky-key"}
OTHER = {"Authorization": "Bearer other-key"}
ADMIN = {"Authorization": "Bearer operator-key"}


@pytest.fixture(scope="module")
def module_setup(request: pytest.FixtureRequest) -> Iterator[OpenAISetup]:
    with serve_fake_openai(
        request,
        "options",
        PIXY_API_KEYS="ducky=ducky-key,other-key",
        PIXY_ADMIN_KEYS="operator-key",
        PIXY_OPENAI_MODELS="gpt-image-2,gpt-image-1",
    ) as setup:
        yield setup


@pytest.fixture
def setup(setup: OpenAISetup) -> OpenAISetup:
    """The shared setup, with the fake drawing at the size asked for: these tests check it."""
    setup.fake.honour_size = True  # put back by the shared fixture after the test
    return setup


def test_every_option_reaches_the_provider_and_the_image_is_what_was_asked(
    setup: OpenAISetup,
) -> None:
    body = {
        "prompt": "a duck in the rain",
        "size": "1536x1024",
        "quality": "high",
        "output_format": "jpeg",
        "output_compression": 60,
        "background": "opaque",
        "model": "gpt-image-1",
    }
    with setup.server.client() as client:
        created = client.post("/image", json=body, headers=OWNER)
        detail = created.json()
        content = client.get(f"/image/{detail['guid']}/content")
        listed = client.get("/image/", params={"media_type": "image/jpeg", "model": "gpt-image-1"})
    assert created.status_code == 200, created.text
    assert setup.fake.requests == [{**body, "n": 1}]
    assert detail["filename"].endswith(".jpg")
    assert (detail["media_type"], detail["width"], detail["height"]) == ("image/jpeg", 1536, 1024)
    assert (detail["model"], detail["quality"]) == ("gpt-image-1", "high")
    assert content.headers["content-type"] == "image/jpeg"
    assert detail["bytes"] == len(content.content)
    assert content.content.startswith(b"\xff\xd8\xff")
    assert [image["guid"] for image in listed.json()] == [detail["guid"]]


def test_without_options_the_provider_gets_the_defaults_and_nothing_else(
    setup: OpenAISetup,
) -> None:
    with setup.server.client() as client:
        created = client.post("/image", json={"prompt": "plain"}, headers=OWNER).json()
    assert setup.fake.requests == [
        {"model": "gpt-image-2", "prompt": "plain", "size": "1024x1024", "n": 1}
    ]
    assert (created["media_type"], created["width"], created["height"]) == (
        "image/png",
        1024,
        1024,
    )
    assert created["model"] == "gpt-image-2" and created["quality"] is None


@pytest.mark.parametrize(
    ("options", "where"),
    [
        ({"size": "17x17"}, ["body", "size"]),
        ({"size": "1536x1536"}, ["body", "size"]),
        ({"size": "big"}, ["body", "size"]),
        ({"quality": "ultra"}, ["body", "quality"]),
        ({"output_format": "gif"}, ["body", "output_format"]),
        ({"output_format": "jpeg", "output_compression": 101}, ["body", "output_compression"]),
        ({"output_format": "webp", "output_compression": False}, ["body", "output_compression"]),
        ({"output_format": "webp", "output_compression": "50"}, ["body", "output_compression"]),
        ({"output_compression": 50}, ["body", "output_compression"]),
        ({"output_format": "png", "output_compression": 50}, ["body", "output_compression"]),
        ({"background": "transparent", "output_format": "jpeg"}, ["body", "background"]),
        ({"background": "glass"}, ["body", "background"]),
        ({"model": "dall-e-2"}, ["body", "model"]),
        ({"model": ""}, ["body", "model"]),
        ({"style": "vivid"}, ["body", "style"]),
        ({"n": 2}, ["body", "n"]),
        ({"size": 1024}, ["body", "size"]),
    ],
)
def test_impossible_options_are_refused_before_any_job_or_provider_call(
    setup: OpenAISetup, options: dict[str, Any], where: list[str]
) -> None:
    with setup.server.client() as client:
        before = client.get("/usage", headers=OWNER).json()["total"]["images"]
        response = client.post("/image", json={"prompt": "refused", **options}, headers=OWNER)
        after = client.get("/usage", headers=OWNER).json()["total"]["images"]
    body = assert_problem(response, 422, "invalid_request")
    assert where in [error["loc"] for error in body["errors"]], body["errors"]
    assert setup.fake.requests == []
    assert after == before


def test_an_idempotency_key_covers_the_options(setup: OpenAISetup) -> None:
    headers = {**OWNER, "Idempotency-Key": "options-1"}
    with setup.server.client() as client:
        first = client.post("/image", json={"prompt": "k", "size": "1024x1536"}, headers=headers)
        other = client.post("/image", json={"prompt": "k", "size": "1536x1024"}, headers=headers)
    assert first.status_code == 200
    assert_problem(other, 422, "idempotency_key_reused")
    assert len(setup.fake.requests) == 1


def test_usage_sums_what_the_provider_counted_priced_per_model(setup: OpenAISetup) -> None:
    bodies = [
        {"prompt": "a" * 40, "quality": "low"},
        {"prompt": "b" * 80, "quality": "high", "model": "gpt-image-1"},
        {"prompt": "c" * 12},
    ]
    with setup.server.client() as client:
        before = client.get("/usage", headers=OTHER).json()
        for body in bodies:
            assert client.post("/image", json=body, headers=OTHER).status_code == 200
        report = client.get("/usage", headers=OTHER).json()
        future = client.get("/usage", params={"from": "2999-01-01"}, headers=OTHER).json()
        job = client.get(f"/jobs/{client.get('/image/').json()[0]['guid']}", headers=OTHER)
    assert before["total"]["images"] == 0
    sent = setup.fake.requests
    expected: dict[str, dict[str, float]] = {}
    for body in sent:
        counted = usage(body)
        tokens = TokenUsage(
            text_input=counted["input_tokens_details"]["text_tokens"],
            image_input=counted["input_tokens_details"]["image_tokens"],
            output=counted["output_tokens"],
        )
        cost = DEFAULT_PRICES[body["model"]].cost_microusd(tokens) / 1_000_000
        model = expected.setdefault(body["model"], {"images": 0, "output": 0, "cost": 0.0})
        model["images"] += 1
        model["output"] += tokens.output
        model["cost"] += cost
    assert report["key"] == key_id("other-key") and report["name"] is None
    by_model = {row["model"]: row for row in report["by_model"]}
    assert set(by_model) == set(expected)
    for name, sums in expected.items():
        assert by_model[name]["images"] == sums["images"]
        assert by_model[name]["output_tokens"] == sums["output"]
        assert by_model[name]["cost_usd"] == pytest.approx(sums["cost"], abs=1e-6)
    assert report["total"]["images"] == 3
    assert report["total"]["cost_usd"] == pytest.approx(
        sum(sums["cost"] for sums in expected.values()), abs=1e-6
    )
    assert [day["images"] for day in report["by_day"]] == [3]
    assert future["total"]["images"] == 0
    assert job.json()["usage"]["cost_usd"] > 0


def test_usage_is_private_and_every_key_only_for_operators(setup: OpenAISetup) -> None:
    with setup.server.client() as client:
        client.post("/image", json={"prompt": "mine"}, headers=OWNER)
        anonymous = client.get("/usage")
        mine = client.get("/usage", headers=OWNER).json()
        snooping = client.get("/usage", params={"key": key_id("other-key")}, headers=OWNER)
        everything = client.get("/usage", params={"key": "all"}, headers=ADMIN).json()
        malformed = client.get("/usage", params={"from": "yesterday"}, headers=OWNER)
    assert_problem(anonymous, 401, "not_authenticated")
    assert mine["name"] == "ducky" and mine["key"] == key_id("ducky-key")
    assert_problem(snooping, 403, "forbidden")
    assert everything["key"] is None
    names = {row["key"]: row["name"] for row in everything["by_key"]}
    assert names[key_id("ducky-key")] == "ducky"
    assert "ducky-key" not in str(everything) and "other-key" not in str(everything)
    assert_problem(malformed, 422, "invalid_request")


def test_the_hourly_budget_holds_across_two_replicas_under_concurrent_posts(
    tmp_path: Path, mysql_available: None, fake_openai: FakeOpenAI
) -> None:
    database_url = create_scratch_database()
    settings = {
        "PIXY_DATABASE_URL": database_url,
        "PIXY_STORAGE_URL": f"file://{tmp_path / 'shared'}",
        **openai_settings(fake_openai.base_url),
        "PIXY_API_KEYS": "budget-key",
        "PIXY_KEY_IMAGES_PER_HOUR": "3",
    }
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = start_live_server(tmp_path / "a", **settings)
    second = start_live_server(tmp_path / "b", **settings)
    headers = {"Authorization": "Bearer budget-key", "Prefer": "respond-async"}

    def post(n: int) -> httpx.Response:
        server = (first, second)[n % 2]
        return httpx.post(
            f"{server.base_url}/image", json={"prompt": f"budget {n}"}, headers=headers, timeout=30
        )

    try:
        with ThreadPoolExecutor(8) as pool:
            responses = list(pool.map(post, range(8)))
    finally:
        first.stop()
        second.stop()
        drop_scratch_database(database_url)
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [202, 202, 202, 429, 429, 429, 429, 429]
    for refused in (r for r in responses if r.status_code == 429):
        assert_problem(refused, 429, "budget_exceeded")
        assert 3500 <= int(refused.headers["retry-after"]) <= 3600
