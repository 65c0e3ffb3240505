"""Pydantic models: what clients send in and what they get back."""

from __future__ import annotations

import unicodedata
from datetime import datetime
from functools import cached_property
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator

PROMPT_MAX_LENGTH = 4000
"""Longest prompt accepted, in characters (OpenAI's limit for DALL-E 3, the strictest model)."""

_ALLOWED_CONTROLS = frozenset("\n\r\t")


class ImageCreate(BaseModel):
    """The body of ``POST /image``."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)

    prompt: str = Field(
        min_length=1,
        max_length=PROMPT_MAX_LENGTH,
        description="What the image should show.",
        examples=["a rubber duck on a sink"],
    )

    @field_validator("prompt")
    @classmethod
    def _printable(cls, prompt: str) -> str:
        if not prompt.strip():
            raise ValueError("prompt must not be blank")
        if any(unicodedata.category(ch) == "Cc" and ch not in _ALLOWED_CONTROLS for ch in prompt):
            raise ValueError("prompt must not contain control characters")
        return prompt


class ImageDetail(BaseModel):
    """What PixyProxy knows about one image; the same on every read."""

    model_config = ConfigDict(frozen=True)

    guid: UUID = Field(description="The image's public identifier.")
    prompt: str = Field(description="The prompt the image was generated from.")
    filename: str = Field(description="The key of the image's bytes in the store.")
    created_at: datetime
    updated_at: datetime

    @cached_property
    def json_bytes(self) -> bytes:
        """This image as JSON, rendered on first use: an image never changes, nor its JSON.

        Not a field: pydantic leaves cached properties out of dumps and comparisons.
        """
        return self.model_dump_json().encode()


class ImageFilter(BaseModel):
    """Which images a listing returns; every filter given must hold."""

    model_config = ConfigDict(frozen=True)

    prompt: str | None = Field(
        default=None,
        min_length=1,
        max_length=PROMPT_MAX_LENGTH,
        description="Words that must each start a word of the prompt (any order, any case).",
    )
    prompt_contains: str | None = Field(
        default=None,
        min_length=1,
        max_length=PROMPT_MAX_LENGTH,
        description="Text the prompt must contain, literally; slower (scans every row).",
    )
    filename: str | None = Field(
        default=None, min_length=1, max_length=255, description="Exact filename."
    )
    guid: UUID | None = Field(default=None, description="Exact guid.")
    created_after: datetime | None = Field(default=None, description="ISO 8601; exclusive.")
    created_before: datetime | None = Field(default=None, description="ISO 8601; exclusive.")


class ImagePage(BaseModel):
    """One page of a listing, and the cursor of the next page when there is one."""

    model_config = ConfigDict(frozen=True)

    images: list[ImageDetail]
    next_cursor: str | None = None
    total: int | None = None

    @cached_property
    def json_bytes(self) -> bytes:
        """The images as a JSON array, rendered once however many callers share this page."""
        return b"[" + b",".join([image.json_bytes for image in self.images]) + b"]"
