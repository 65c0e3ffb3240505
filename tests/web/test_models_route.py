"""``GET /models``: what a generation may ask for, public and cacheable, and true to the POST,
with OpenAI's models or with the offline generator's."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import pytest
from PIL import Image

from tests.fixtures import LiveServer, start_live_server
from tests.problems import assert_problem
from tests.web.conftest import OpenAISetup, serve_fake_openai

KEY = {"Authorization": "Bearer models-key"}
SIZES = {
    "gpt-image-2": ["auto", "1024x1024", "1536x1024"],
    "tiny-model": ["256x256", "384x256"],
}


@pytest.fixture(scope="module")
def module_setup(request: pytest.FixtureRequest) -> Iterator[OpenAISetup]:
    """Two models, the second with sizes of its own; keys on, as in production."""
    with serve_fake_openai(
        request,
        "models",
        PIXY_API_KEYS="models-key",
        PIXY_OPENAI_MODELS="gpt-image-2,tiny-model",
        PIXY_OPENAI_MODEL_SIZES=json.dumps(SIZES),
    ) as setup:
        yield setup


@pytest.fixture
def server(setup: OpenAISetup) -> LiveServer:
    setup.fake.honour_size = True  # put back by the shared fixture after the test
    return setup.server


@pytest.fixture(scope="module")
def offline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The offline generator, with OpenAI's models still set: they are not what it offers."""
    live = start_live_server(
        tmp_path_factory.mktemp("offline-models"),
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
    request: pytest.FixtureRequest,
) -> None:
    with (
        serve_fake_openai(request, "one-model", PIXY_OPENAI_MODEL="solo") as setup,
        setup.server.client() as client,
    ):
        models = client.get("/models").json()["models"]
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


def test_offline_offers_itself_and_what_it_draws(offline: LiveServer) -> None:
    with offline.client() as client:
        choices = client.get("/models").json()
    assert choices == {
        "models": [
            {
                "name": "offline",
                "sizes": ["auto", "1024x1024", "1536x1024", "1024x1536"],
                "default": True,
            }
        ],
        "qualities": ["auto"],
        "formats": ["png", "jpeg", "webp"],
        "backgrounds": ["auto", "opaque"],
    }


def _drawn(client: Any, body: dict[str, Any]) -> tuple[dict[str, Any], tuple[int, int]]:
    """The detail of the image ``body`` made, and the size of its bytes."""
    response = client.post("/image/", json={"prompt": "offline duck", **body})
    assert response.status_code == 200, response.text
    detail: dict[str, Any] = response.json()
    content = client.get(f"/image/{detail['guid']}/content").content
    return detail, Image.open(io.BytesIO(content)).size


@pytest.mark.parametrize(
    ("body", "size"),
    [
        ({}, (1024, 1024)),  # PIXY_OPENAI_SIZE, as for OpenAI
        ({"size": "auto", "model": "offline", "quality": "auto"}, (1024, 1024)),
        ({"size": "1024x1536", "background": "opaque"}, (1024, 1536)),
    ],
)
def test_offline_draws_what_models_offers_and_records_what_it_applied(
    offline: LiveServer, body: dict[str, Any], size: tuple[int, int]
) -> None:
    with offline.client() as client:
        detail, drawn = _drawn(client, body)
    assert drawn == size == (detail["width"], detail["height"])
    assert (detail["model"], detail["quality"]) == ("offline", "auto")


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"model": "gpt-image-2"}, "model", "model must be one of offline"),
        ({"size": "256x256"}, "size", "offline makes these sizes: auto, 1024x1024, "),
        ({"quality": "high"}, "quality", "offline makes these qualities: auto"),
        ({"background": "transparent"}, "background", "offline makes these backgrounds: "),
    ],
)
def test_offline_refuses_what_it_would_not_honour(
    offline: LiveServer, body: dict[str, Any], field: str, message: str
) -> None:
    with offline.client() as client:
        response = client.post("/image/", json={"prompt": "not drawn", **body})
        listed = client.get("/image/", params={"prompt": "drawn"}).json()
    problem = assert_problem(response, 422, "invalid_request")
    assert problem["errors"][0]["loc"] == ["body", field]
    assert problem["errors"][0]["msg"].startswith(message)
    assert listed == []
