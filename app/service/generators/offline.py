"""A generator that needs no network: draws a deterministic picture from the prompt."""

from __future__ import annotations

import hashlib
import io
import random
import textwrap

import anyio.to_thread
from PIL import Image, ImageDraw, ImageFont, ImageOps

from app.core.interfaces import Admit

SIZE = 512
_DRAWING_BYTES = SIZE * SIZE * 4 * 3  # RGBA layers composed while drawing, then the PNG
_TEXTURE_CELLS = 48


def draw_image(prompt: str, *, size: int = SIZE) -> bytes:
    """Draw ``prompt`` as a PNG: colours and shapes seeded by it, its text written on it."""
    rng = random.Random(hashlib.sha256(prompt.encode("utf-8")).digest())  # noqa: S311 - art, not secrets
    image = _background(rng, size)
    _draw_shapes(image, rng, size)
    _write_prompt(image, prompt, size)
    out = io.BytesIO()
    image.convert("RGB").save(out, format="PNG")
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


def _write_prompt(image: Image.Image, prompt: str, size: int) -> None:
    font = ImageFont.load_default(size=max(12, size // 24))
    lines = textwrap.wrap(" ".join(prompt.split()), width=36, max_lines=4, placeholder=" …")
    if not lines:
        return
    line_height = size // 20
    top = size - line_height * len(lines) - size // 32
    band = Image.new("RGBA", image.size, (0, 0, 0, 0))
    ImageDraw.Draw(band).rectangle((0, top - 8, size, size), fill=(0, 0, 0, 150))
    image.alpha_composite(band)
    draw = ImageDraw.Draw(image)
    for number, line in enumerate(lines):
        draw.text((16, top + number * line_height), line, font=font, fill=(255, 255, 255, 255))


class OfflineImageGenerator:
    """The ``ImageGenerator`` used by default: same prompt, same picture, no network."""

    async def generate(self, prompt: str, admit: Admit) -> bytes:
        """Draw the picture in the thread pool; drawing is CPU work."""
        await admit(_DRAWING_BYTES)
        return await anyio.to_thread.run_sync(draw_image, prompt)

    async def close(self) -> None:
        """Nothing to release."""
