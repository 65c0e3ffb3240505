"""``GET /models``: what a generation may ask for, public and cacheable, and true to the POST."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.fixtures import LiveServer, start_live_server
from tests.problems import assert_problem

KEY = {"Authorization": "Bearer models-key"}
SIZES = {
    "gpt-image-2": ["auto", "1024x1024", "1536x1024"],
    "tiny-model": ["256x256", "384x256"],
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """Two models, the second with sizes of its own; keys on, as in production."""
    live = start_live_server(
        tmp_path_factory.mktemp("models"),
        PIXY_API_KEYS="models-key",
        PIXY_OPENAI_MODELS="gpt-image-2,tiny-model",
        PIXY_OPENAI_MODEL_SIZES=json.dumps(SIZES),
    )
    yield live
    live.stop()


def test_models_lists_every_choice_without_a_key(server: LiveServer) -> None:
    with server.client() as client:
        response = client.get("/models")
        slashed = client.get("/models/")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "public, max-age=300"
    assert response.json() == {
        "models": [
            {"name": "gpt-image-2", "sizes": SIZES["gpt-image-2"], "default": True},
            {"name": "tiny-model", "sizes": SIZES["tiny-model"], "default": False},
        ],
        "qualities": ["auto", "low", "medium", "high"],
        "formats": ["png", "jpeg", "webp"],
        "backgrounds": ["auto", "opaque", "transparent"],
    }
    assert slashed.status_code == 200
    assert slashed.json() == response.json()


def test_a_single_model_is_the_default_with_the_standard_sizes(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    live = start_live_server(tmp_path_factory.mktemp("one-model"), PIXY_OPENAI_MODEL="solo")
    try:
        with live.client() as client:
            models = client.get("/models").json()["models"]
    finally:
        live.stop()
    assert models == [
        {"name": "solo", "sizes": ["auto", "1024x1024", "1536x1024", "1024x1536"], "default": True}
    ]


def test_what_models_offers_a_post_accepts_and_nothing_else(server: LiveServer) -> None:
    with server.client(headers=KEY) as client:
        offered = client.get("/models").json()["models"]
        tiny = next(model for model in offered if model["name"] == "tiny-model")
        made = client.post(
            "/image/", json={"prompt": "offered", "model": "tiny-model", "size": tiny["sizes"][-1]}
        )
        # A size the default model makes, but not this one.
        refused = client.post(
            "/image/", json={"prompt": "not offered", "model": "tiny-model", "size": "1024x1024"}
        )
    assert made.status_code == 200, made.text
    assert (made.json()["width"], made.json()["height"]) == (384, 256)
    assert_problem(refused, 422, "invalid_request")
    assert refused.json()["errors"][0]["loc"] == ["body", "size"]
