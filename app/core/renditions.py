"""Renditions of an image (width variants, other formats): what they are and where they live.

This is the one module that derives a rendition's name and object key. Both come from the
original's key and from values PixyProxy checked (a width off the ladder, a format from a fixed
list), never from text a client sent: ``images/<guid>.png`` has the rendition ``w256.webp`` under
``images/<guid>_w256.webp``, a key the local store's rules accept (one dot, no separators).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal
from uuid import UUID

from app.core.image_types import AVIF, JPEG, PNG, WEBP, ImageType

VariantFormat = Literal["png", "jpeg", "webp", "avif"]
"""The formats a variant may be asked in (``?format=``)."""

_TYPE_OF_FORMAT: dict[str, ImageType] = {"png": PNG, "jpeg": JPEG, "webp": WEBP, "avif": AVIF}
_NAME = re.compile(r"w([1-9][0-9]{0,4})\.(png|jpg|webp|avif)")
DEFAULT_WIDTHS = (64, 128, 256, 384, 512, 768, 1024, 1536, 2048)
"""The default width ladder (``PIXY_VARIANT_WIDTHS``)."""


@dataclass(frozen=True)
class Rendition:
    """One stored rendition of an image: a row of the ``renditions`` table."""

    image_guid: UUID
    name: str
    key: str
    media_type: str
    width: int
    height: int
    bytes: int


def image_type_of_format(variant_format: VariantFormat) -> ImageType:
    """The image type a ``?format=`` value names."""
    return _TYPE_OF_FORMAT[variant_format]


def rendition_name(width: int, image_type: ImageType) -> str:
    """The name of the rendition ``width`` pixels wide in ``image_type``: ``w256.webp``."""
    if not 0 < width < 100_000:
        raise ValueError(f"a rendition width must be positive and below 100000, not {width}")
    return f"w{width}.{image_type.extension}"


def rendition_key(original_key: str, name: str) -> str:
    """The object key of the rendition ``name`` of the image stored under ``original_key``."""
    if not _NAME.fullmatch(name):
        raise ValueError(f"not a rendition name: {name!r}")
    folder, slash, filename = original_key.rpartition("/")
    stem = filename.rsplit(".", 1)[0]
    width, extension = name.split(".")
    return f"{folder}{slash}{stem}_{width}.{extension}"


def original_key_stem(key: str) -> str | None:
    """For a rendition's key, the original's key without its extension; None for any other key.

    ``reconcile`` uses it to tell renditions of known images from objects nobody owns.
    """
    folder, slash, filename = key.rpartition("/")
    stem, underscore, name = filename.rpartition("_")
    if not underscore or not stem or not _NAME.fullmatch(name):
        return None
    return f"{folder}{slash}{stem}"


def key_stem(key: str) -> str:
    """A key without its extension."""
    folder, slash, filename = key.rpartition("/")
    return f"{folder}{slash}{filename.rsplit('.', 1)[0]}"
