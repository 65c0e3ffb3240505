"""Rendition names and keys: derived in one place, always keys the local store accepts."""

from __future__ import annotations

import pytest

from app.core.image_types import AVIF, PNG, WEBP
from app.core.renditions import key_stem, original_key_stem, rendition_key, rendition_name
from app.data.blob_local import _SAFE_KEY


@pytest.mark.parametrize(
    ("original", "expected"),
    [
        ("3f2a-guid.png", "3f2a-guid_w256.webp"),
        ("images/3f2a-guid.png", "images/3f2a-guid_w256.webp"),
        ("a.b/c/job-2.jpg", "a.b/c/job-2_w256.webp"),
    ],
)
def test_a_rendition_key_is_the_original_key_with_the_name(original: str, expected: str) -> None:
    assert rendition_key(original, rendition_name(256, WEBP)) == expected
    assert original_key_stem(expected) == key_stem(original)


def test_local_keys_of_renditions_are_safe_keys() -> None:
    for image_type in (PNG, WEBP, AVIF):
        key = rendition_key(
            "0b6f1c9e-5a3d-4e2b-9f1a-2c3d4e5f6a7b.png", rendition_name(64, image_type)
        )
        assert _SAFE_KEY.fullmatch(key)


@pytest.mark.parametrize(
    "name", ["../x.png", "w256.exe", "w0.png", "w256", "w-1.png", "w256.png/.."]
)
def test_names_not_made_here_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="rendition name"):
        rendition_key("guid.png", name)


@pytest.mark.parametrize("width", [0, -1, 100_000])
def test_widths_outside_reason_are_refused(width: int) -> None:
    with pytest.raises(ValueError, match="width"):
        rendition_name(width, PNG)


@pytest.mark.parametrize(
    "key", ["guid.png", "guid_x.png", "_w256.png", "a/guid-2.png", "guid_w256"]
)
def test_other_keys_are_not_renditions(key: str) -> None:
    assert original_key_stem(key) is None
