"""Making a variant's bytes: never up, aspect kept, every format, the same bytes twice."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image

from app.core.exceptions import ImageTooLarge, StorageError
from app.core.image_types import AVIF, JPEG, PNG, WEBP, ImageType, sniff_image_type
from app.service.resizing import measure, resize

MAX_PIXELS = 4096 * 4096


def encoded(width: int, height: int, *, mode: str = "RGB", kind: str = "PNG") -> bytes:
    image = Image.linear_gradient("L").resize((width, height)).convert(mode)
    out = io.BytesIO()
    image.save(out, format=kind)
    return out.getvalue()


def png_bomb(width: int, height: int) -> bytes:
    """A valid PNG header declaring ``width`` x ``height`` 1-bit pixels, with a tiny body."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    rows = zlib.compress(b"\x00" * (1 + (width + 7) // 8) * 16)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize("image_type", [PNG, JPEG, WEBP, AVIF])
def test_a_variant_keeps_the_aspect_in_the_format_asked(image_type: ImageType) -> None:
    made = resize(encoded(600, 400), width=256, image_type=image_type, max_pixels=MAX_PIXELS)
    assert (made.width, made.height) == (256, 171)
    if image_type is AVIF:
        assert made.data[4:12] == b"ftypavif"
    else:
        assert sniff_image_type(made.data) == image_type
    assert measure(made.data) == (256, 171)


def test_a_variant_is_never_upscaled() -> None:
    made = resize(encoded(300, 150), width=1024, image_type=WEBP, max_pixels=MAX_PIXELS)
    assert (made.width, made.height) == (300, 150)


def test_the_same_variant_is_the_same_bytes() -> None:
    source = encoded(640, 480, mode="RGBA")
    first = resize(source, width=128, image_type=WEBP, max_pixels=MAX_PIXELS)
    second = resize(source, width=128, image_type=WEBP, max_pixels=MAX_PIXELS)
    assert first.data == second.data


def test_transparency_becomes_white_in_jpeg() -> None:
    clear = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    out = io.BytesIO()
    clear.save(out, format="PNG")
    made = resize(out.getvalue(), width=64, image_type=JPEG, max_pixels=MAX_PIXELS)
    pixel = Image.open(io.BytesIO(made.data)).getpixel((32, 32))
    assert isinstance(pixel, tuple) and min(pixel) > 245


def test_images_over_the_pixel_limit_are_refused_before_decoding() -> None:
    with pytest.raises(ImageTooLarge, match="variants are made of images up to 1000000 pixels"):
        resize(png_bomb(1001, 1000), width=64, image_type=PNG, max_pixels=1_000_000)


def test_a_decompression_bomb_is_refused_whatever_the_limit() -> None:
    with pytest.raises(ImageTooLarge):
        resize(png_bomb(30_000, 30_000), width=64, image_type=PNG, max_pixels=89_478_485)


def truncated() -> bytes:
    noise = Image.effect_noise((256, 256), 64).convert("RGB")
    out = io.BytesIO()
    noise.save(out, format="PNG")
    return out.getvalue()[: out.tell() // 2]


@pytest.mark.parametrize("data", [b"not an image", truncated()])
def test_undecodable_bytes_are_a_storage_error(data: bytes) -> None:
    with pytest.raises(StorageError):
        resize(data, width=64, image_type=PNG, max_pixels=MAX_PIXELS)
