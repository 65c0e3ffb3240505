"""The offline generator: a real, deterministic PNG drawn from the prompt."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from app.core.generation import GenerationRequest, TokenUsage
from app.service.generation import check_image
from app.service.generators.offline import OfflineImageGenerator, draw_image
from tests.budget import Admitted

pytestmark = pytest.mark.anyio


async def test_draws_a_real_png_well_over_5_kb() -> None:
    admitted = Admitted()
    request = GenerationRequest(prompt="a rubber duck on a sink", model="gpt-image-2")
    generated = await OfflineImageGenerator().generate(request, admitted)
    data = generated.data
    assert generated.model == "offline" and generated.usage == TokenUsage()  # costs nothing
    assert admitted.asks and admitted.asks[0] >= len(data)  # drawing is admitted by the budget
    assert check_image(data).media_type == "image/png"
    assert len(data) > 20_000
    with Image.open(io.BytesIO(data)) as image:
        assert image.size == (512, 512)
        assert len(image.getcolors(maxcolors=1_000_000) or []) > 1_000  # not a flat placeholder


def test_same_prompt_same_picture_other_prompt_other_picture() -> None:
    assert draw_image("a rubber duck") == draw_image("a rubber duck")
    assert draw_image("a rubber duck") != draw_image("a rubber duck!")


@pytest.mark.parametrize("prompt", ["🦆🛁", "日本語の猫", "x" * 4000, "a\nb\tc", " "])
def test_any_prompt_draws(prompt: str) -> None:
    assert check_image(draw_image(prompt)).extension == "png"
