"""Image details as JSON bytes, each rendered once: an image never changes, nor does its JSON."""

from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

from app.core.models import ImageDetail
from app.service.lru import BoundedLru

_RENDERED = 10_000


class DetailJson:
    """Renders details, keeping the JSON of the most recently rendered ones."""

    def __init__(self, capacity: int = _RENDERED) -> None:
        self._rendered: BoundedLru[UUID, bytes] = BoundedLru(capacity)

    def one(self, image: ImageDetail) -> bytes:
        """The JSON object of one image."""
        rendered = self._rendered.get(image.guid)
        if rendered is None:
            rendered = image.model_dump_json().encode()
            self._rendered.put(image.guid, rendered)
        return rendered

    def array(self, images: Iterable[ImageDetail]) -> bytes:
        """The JSON array of these images, in their order."""
        return b"[" + b",".join(self.one(image) for image in images) + b"]"


DETAIL_JSON = DetailJson()
