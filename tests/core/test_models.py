"""The request and response models, the image types and the exception tree."""

from __future__ import annotations

import inspect

import pytest
from pydantic import ValidationError

from app.core import exceptions
from app.core.image_types import GIF, JPEG, PNG, WEBP, media_type_for_key, sniff_image_type
from app.core.models import PROMPT_MAX_LENGTH, ImageCreate


@pytest.mark.parametrize(
    "prompt", ["a duck", "x" * PROMPT_MAX_LENGTH, "line\nbreak\r\n\ttab", "🦆", "日本語"]
)
def test_accepts_prompts(prompt: str) -> None:
    assert ImageCreate(prompt=prompt).prompt == prompt


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"prompt": ""},
        {"prompt": "  \t\n"},
        {"prompt": "x" * (PROMPT_MAX_LENGTH + 1)},
        {"prompt": "nul\x00"},
        {"prompt": "escape\x1b[31m"},
        {"prompt": "del\x7f"},
        {"prompt": None},
        {"prompt": 5},
        {"prompt": "ok", "extra": 1},
    ],
)
def test_refuses_bad_bodies(body: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        ImageCreate.model_validate(body)


@pytest.mark.parametrize(
    ("data", "image_type"),
    [
        (b"\x89PNG\r\n\x1a\n....", PNG),
        (b"\xff\xd8\xff\xe0....", JPEG),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", WEBP),
        (b"GIF89a....", GIF),
        (b"<svg></svg>", None),
        (b"", None),
    ],
)
def test_sniff_image_type(data: bytes, image_type: object) -> None:
    assert sniff_image_type(data) == image_type


def test_media_type_for_key() -> None:
    assert media_type_for_key("prefix/abc.png") == "image/png"
    assert media_type_for_key("abc.JPG") == "image/jpeg"
    assert media_type_for_key("abc") == "application/octet-stream"


def test_every_exception_has_a_status_and_a_unique_code() -> None:
    classes = [
        cls
        for _, cls in inspect.getmembers(exceptions, inspect.isclass)
        if issubclass(cls, exceptions.PixyProxyException)
    ]
    assert len(classes) > 10
    codes = [cls.code for cls in classes]
    assert len(codes) == len(set(codes))
    for cls in classes:
        assert 400 <= cls.status < 600
        assert cls.code in (exceptions.__doc__ or "")


def test_retry_after_and_extra_travel_with_the_exception() -> None:
    exc = exceptions.ProviderRateLimited("slow down", retry_after=7, extra={"a": 1})
    assert (exc.detail, exc.retry_after, exc.extra, exc.status) == ("slow down", 7, {"a": 1}, 503)
    assert exceptions.ImageNotFound().detail == "Image not found"
