"""A generator that needs no network: draws a deterministic picture from the prompt."""

from __future__ import annotations

import hashlib
import io
import random
import re
import textwrap
from functools import partial

import anyio.to_thread
from PIL import Image, ImageDraw, ImageFont, ImageOps

from app.core.exceptions import ConfigurationError
from app.core.generation import GeneratedImage, GenerationRequest
from app.core.interfaces import Admit, OnPartial

SIZE = 512
"""The side of the square ``draw_image`` draws when given no dimensions."""
MODEL = "offline"
"""The one model the offline generator offers, and the one its images record."""
QUALITIES = ("auto",)
"""It has no quality levels: ``auto`` alone, recorded as what was applied."""
BACKGROUNDS = ("auto", "opaque")
"""It draws every picture opaque: a transparent one is refused, not silently made opaque."""
DEFAULT_SIZE = "1024x1024"
"""What ``auto`` (or no size) draws when the default size setting is itself ``auto``."""
_TEXTURE_CELLS = 48
_DIMENSIONS = re.compile(r"([1-9][0-9]{0,4})x([1-9][0-9]{0,4})")


def draw_image(
    prompt: str,
    *,
    size: int = SIZE,
    width: int | None = None,
    height: int | None = None,
    output_format: str = "png",
    compression: int | None = None,
) -> bytes:
    """Draw ``prompt``: colours and shapes seeded by it, its text written on it.

    Square at ``size`` unless ``width`` and ``height`` say otherwise; PNG unless told jpeg or
    webp (``compression`` 0-100 is their quality).
    """
    width, height = width or size, height or size
    side = max(width, height)
    rng = random.Random(hashlib.sha256(prompt.encode("utf-8")).digest())  # noqa: S311 - art, not secrets
    image = _background(rng, side)
    _draw_shapes(image, rng, side)
    if (width, height) != (side, side):
        image = ImageOps.fit(image, (width, height))
    _write_prompt(image, prompt)
    return _encoded(image.convert("RGB"), output_format, compression)


def _encoded(image: Image.Image, output_format: str, compression: int | None) -> bytes:
    out = io.BytesIO()
    if output_format == "png":
        image.save(out, format="PNG")
    else:
        quality = 85 if compression is None else compression
        image.save(out, format=output_format.upper(), quality=quality)
    return out.getvalue()


def _colour(rng: random.Random) -> tuple[int, int, int]:
    return rng.randrange(256), rng.randrange(256), rng.randrange(256)


def _background(rng: random.Random, size: int) -> Image.Image:
    gradient = Image.linear_gradient("L").rotate(rng.choice((0, 45, 90, 135))).resize((size, size))
    base = ImageOps.colorize(gradient, _colour(rng), _colour(rng)).convert("RGBA")
    # A coarse random field, smoothly enlarged, gives the picture a painted texture.
    cells = rng.randbytes(_TEXTURE_CELLS * _TEXTURE_CELLS)
    texture = Image.frombytes("L", (_TEXTURE_CELLS, _TEXTURE_CELLS), cells).resize(
        (size, size), Image.Resampling.BICUBIC
    )
    tint = ImageOps.colorize(texture, _colour(rng), _colour(rng)).convert("RGBA")
    return Image.blend(base, tint, 0.35)


def _draw_shapes(image: Image.Image, rng: random.Random, size: int) -> None:
    overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    for _ in range(rng.randint(10, 18)):
        x, y = rng.randrange(size), rng.randrange(size)
        r = rng.randint(size // 24, size // 5)
        fill = (*_colour(rng), rng.randint(90, 200))
        box = (x - r, y - r, x + r, y + r)
        kind = rng.randrange(3)
        if kind == 0:
            draw.ellipse(box, fill=fill)
        elif kind == 1:
            draw.rectangle(box, fill=fill)
        else:
            points = [(rng.randrange(size), rng.randrange(size)) for _ in range(3)]
            draw.polygon(points, fill=fill)
    image.alpha_composite(overlay)


def _write_prompt(image: Image.Image, prompt: str) -> None:
    width, height = image.size
    size = min(width, height)
    font = ImageFont.load_default(size=max(12, size // 24))
    lines = textwrap.wrap(" ".join(prompt.split()), width=36, max_lines=4, placeholder=" …")
    if not lines:
        return
    line_height = size // 20
    top = height - line_height * len(lines) - size // 32
    band = Image.new("RGBA", image.size, (0, 0, 0, 0))
    ImageDraw.Draw(band).rectangle((0, top - 8, width, height), fill=(0, 0, 0, 150))
    image.alpha_composite(band)
    draw = ImageDraw.Draw(image)
    for number, line in enumerate(lines):
        draw.text((16, top + number * line_height), line, font=font, fill=(255, 255, 255, 255))


def _dimensions(size: str | None) -> tuple[int, int] | None:
    """The width and height ``size`` names; None for ``auto``, no size, or no such shape."""
    found = _DIMENSIONS.fullmatch(size or "")
    return (int(found[1]), int(found[2])) if found else None


class OfflineImageGenerator:
    """The ``ImageGenerator`` used by default: same prompt, same picture, no network.

    Without a size (or with ``auto``) it draws ``size``: the default size setting, which a POST
    without one gets from OpenAI too.
    """

    def __init__(self, *, size: str = DEFAULT_SIZE) -> None:
        default = _dimensions(DEFAULT_SIZE if size == "auto" else size)
        if default is None:
            raise ConfigurationError(f"PIXY_OPENAI_SIZE must be auto or WIDTHxHEIGHT, not {size}")
        self._default = default

    async def generate(
        self, request: GenerationRequest, admit: Admit, on_partial: OnPartial | None = None
    ) -> GeneratedImage:
        """Draw the picture in the thread pool (drawing is CPU work); it costs nothing."""
        # A WIDTHxHEIGHT was checked against the catalog's sizes when the job was made.
        width, height = _dimensions(request.size) or self._default
        side = max(width, height)
        await admit(side * side * 4 * 3)  # RGBA layers composed while drawing, then encoding
        draw = partial(
            draw_image,
            request.prompt,
            width=width,
            height=height,
            output_format=request.output_format or "png",
            compression=request.output_compression,
        )
        return GeneratedImage(await anyio.to_thread.run_sync(draw), model=MODEL)

    async def close(self) -> None:
        """Nothing to release."""
