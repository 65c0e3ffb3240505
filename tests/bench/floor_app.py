"""The floor: a bare FastAPI app answering the same shapes as PixyProxy, from memory.

No database, no store, no logging: what the framework costs on this machine. Run with
``uvicorn tests.bench.floor_app:app``.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from uuid import UUID, uuid4

from fastapi import FastAPI, Response

from app.core.models import ImageDetail
from tests.bench.common import png_of_size

app = FastAPI()

_NOW = datetime.now(UTC)
_IMAGES = [
    ImageDetail(
        guid=uuid4(),
        prompt=f"floor image {n}",
        filename=f"{n}.png",
        created_at=_NOW,
        updated_at=_NOW,
    )
    for n in range(50)
]
_CONTENT = png_of_size(int(os.environ.get("FLOOR_CONTENT_BYTES", "30000")))


@app.get("/image/")
async def list_images() -> list[ImageDetail]:
    return _IMAGES


@app.get("/image/{guid}")
async def get_image(guid: UUID) -> ImageDetail:
    return _IMAGES[0]


@app.get("/image/{guid}/content")
async def get_content(guid: UUID) -> Response:
    return Response(_CONTENT, media_type="image/png")
