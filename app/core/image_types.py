"""The image types PixyProxy stores and serves, recognised by their first bytes."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ImageType:
    """One image format: its file extension and its media type."""

    extension: str
    media_type: str


PNG = ImageType("png", "image/png")
JPEG = ImageType("jpg", "image/jpeg")
WEBP = ImageType("webp", "image/webp")
GIF = ImageType("gif", "image/gif")
AVIF = ImageType("avif", "image/avif")  # written for variants only; never generated

_BY_EXTENSION = {t.extension: t for t in (PNG, JPEG, WEBP, GIF, AVIF)}
_BY_MEDIA_TYPE = {t.media_type: t for t in (PNG, JPEG, WEBP, GIF, AVIF)}


def sniff_image_type(data: bytes) -> ImageType | None:
    """Recognise an image type from its magic bytes, or None for anything else."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return WEBP
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return GIF
    return None


def media_type_for_key(key: str) -> str:
    """The media type of a stored object, from the extension its generated key carries."""
    extension = key.rsplit(".", 1)[-1].lower() if "." in key else ""
    image_type = _BY_EXTENSION.get(extension)
    return image_type.media_type if image_type else "application/octet-stream"


def image_type_for_media_type(media_type: str) -> ImageType | None:
    """The image type of a media type, or None for one PixyProxy does not store."""
    return _BY_MEDIA_TYPE.get(media_type)
