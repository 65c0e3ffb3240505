"""Making a variant's bytes with Pillow: blocking, CPU-bound, run in a worker thread.

Pillow against pyvips (the pyvips-binary wheel), 1024 and 2048 px PNG sources to 256 and 512 px
in JPEG, WebP and AVIF, on this project's 2-core machine: neither was faster throughout (pyvips
won 7 of 12 cases by up to 40 %, Pillow 5 by up to 2x), and pyvips peaked at 3 times the memory
(33-103 MiB against 9-37 MiB). Pillow is already a dependency; it stays. See README, Variants.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

from app.core.exceptions import ImageTooLarge, StorageError
from app.core.image_types import AVIF, JPEG, PNG, WEBP, ImageType

# Encoder settings: fixed, so that two replicas making one variant write the same bytes.
_SAVE_OPTIONS: dict[ImageType, tuple[str, dict[str, object]]] = {
    PNG: ("PNG", {"compress_level": 6}),
    JPEG: ("JPEG", {"quality": 82, "optimize": True, "progressive": True}),
    WEBP: ("WEBP", {"quality": 80, "method": 4}),
    AVIF: ("AVIF", {"quality": 60, "speed": 8}),
}
_ALPHA_FORMATS = frozenset({PNG, WEBP, AVIF})
WRITABLE_TYPES = frozenset(_SAVE_OPTIONS)
"""The image types variants are written in."""


@dataclass(frozen=True)
class Resized:
    """A variant's encoded bytes and its dimensions."""

    data: bytes
    width: int
    height: int


def measure(data: bytes) -> tuple[int, int]:
    """The width and height an image's header declares, without decoding its pixels."""
    with _opened(data) as image:
        return image.size


def resize(data: bytes, *, width: int, image_type: ImageType, max_pixels: int) -> Resized:
    """``data`` scaled to ``width`` (never up), aspect kept, encoded as ``image_type``.

    ``ImageTooLarge`` before any decoding when the header declares more than ``max_pixels``.
    """
    limit = f"variants are made of images up to {max_pixels} pixels"
    with _opened(data, limit) as image:
        source_width, source_height = image.size
        if source_width * source_height > max_pixels:
            raise ImageTooLarge(f"the image has {source_width}x{source_height} pixels; {limit}")
        width = min(width, source_width)
        height = max(1, round(source_height * width / source_width))
        try:
            return _scaled(image, width, height, image_type)
        except OSError as exc:  # truncated or corrupt pixel data
            raise StorageError("the stored image could not be decoded") from exc


def _scaled(image: Image.Image, width: int, height: int, image_type: ImageType) -> Resized:
    image.draft("RGB", (width, height))  # JPEG decodes at a fraction of its size
    pixels = _for_format(image, image_type)
    if pixels.size != (width, height):
        pixels = pixels.resize((width, height), Image.Resampling.LANCZOS, reducing_gap=3.0)
    kind, options = _SAVE_OPTIONS[image_type]
    icc = image.info.get("icc_profile")
    out = io.BytesIO()
    pixels.save(out, format=kind, **options, **({"icc_profile": icc} if icc else {}))
    return Resized(out.getvalue(), width, height)


def _opened(data: bytes, limit: str = "") -> Image.Image:
    try:
        return Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as exc:
        # Pillow's own limit (twice Image.MAX_IMAGE_PIXELS), above ours: the same answer.
        over = 2 * (Image.MAX_IMAGE_PIXELS or 0)
        raise ImageTooLarge(f"the image has over {over} pixels; {limit}") from exc
    except (UnidentifiedImageError, OSError) as exc:
        raise StorageError("the stored image could not be decoded") from exc


def _for_format(image: Image.Image, image_type: ImageType) -> Image.Image:
    """The pixels in a mode the format writes and resizing handles (palettes resize badly)."""
    has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
    if has_alpha and image_type in _ALPHA_FORMATS:
        return image.convert("RGBA") if image.mode != "RGBA" else image
    if has_alpha:
        # JPEG has no alpha: transparent parts show white, as a page behind them would.
        rgba = image.convert("RGBA")
        white = Image.new("RGB", rgba.size, (255, 255, 255))
        white.paste(rgba, mask=rgba.getchannel("A"))
        return white
    return image.convert("RGB") if image.mode != "RGB" else image
