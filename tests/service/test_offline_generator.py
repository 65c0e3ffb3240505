"""The offline generator: a real, deterministic PNG drawn from the prompt."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from app.core.exceptions import ConfigurationError
from app.core.generation import GenerationRequest, TokenUsage
from app.service.generation import check_image
from app.service.generators.offline import OfflineImageGenerator, draw_image
from tests.budget import Admitted

pytestmark = pytest.mark.anyio


async def test_draws_a_real_png_well_over_5_kb() -> None:
    admitted = Admitted()
    request = GenerationRequest(prompt="a rubber duck on a sink", model="offline")
    generated = await OfflineImageGenerator().generate(request, admitted)
    data = generated.data
    assert generated.model == "offline" and generated.usage == TokenUsage()  # costs nothing
    assert admitted.asks and admitted.asks[0] >= len(data)  # drawing is admitted by the budget
    assert check_image(data).media_type == "image/png"
    assert len(data) > 20_000
    with Image.open(io.BytesIO(data)) as image:
        assert image.size == (1024, 1024)  # the default size setting's own default
        assert len(image.getcolors(maxcolors=1_000_000) or []) > 1_000  # not a flat placeholder


@pytest.mark.parametrize(
    ("default", "asked", "drawn"),
    [
        ("1536x1024", None, (1536, 1024)),
        ("1536x1024", "auto", (1536, 1024)),
        ("1536x1024", "1024x1536", (1024, 1536)),
        ("auto", None, (1024, 1024)),  # OpenAI picks then; offline draws its own default
    ],
)
async def test_without_a_size_it_draws_the_default_size_setting(
    default: str, asked: str | None, drawn: tuple[int, int]
) -> None:
    request = GenerationRequest(prompt="sized", model="offline", size=asked)
    generated = await OfflineImageGenerator(size=default).generate(request, Admitted())
    with Image.open(io.BytesIO(generated.data)) as image:
        assert image.size == drawn


@pytest.mark.parametrize("default", ["big", "1024", "0x10", ""])
def test_a_default_size_it_cannot_draw_is_refused_at_start(default: str) -> None:
    with pytest.raises(ConfigurationError, match="PIXY_OPENAI_SIZE"):
        OfflineImageGenerator(size=default)


def test_same_prompt_same_picture_other_prompt_other_picture() -> None:
    assert draw_image("a rubber duck") == draw_image("a rubber duck")
    assert draw_image("a rubber duck") != draw_image("a rubber duck!")


@pytest.mark.parametrize("prompt", ["🦆🛁", "日本語の猫", "x" * 4000, "a\nb\tc", " "])
def test_any_prompt_draws(prompt: str) -> None:
    assert check_image(draw_image(prompt)).extension == "png"
