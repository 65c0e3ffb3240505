"""Pydantic models: what clients send in and what they get back."""

from __future__ import annotations

import builtins
import re
import unicodedata
from datetime import UTC, datetime
from functools import cached_property
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from app.core.webhooks import parse_webhook_url

PROMPT_MAX_LENGTH = 4000
"""Longest prompt accepted, in characters (OpenAI's limit for DALL-E 3, the strictest model)."""

SEARCH_MAX_WORDS = 10
"""Most words a prompt search may have: each word past the indexed ones costs a scan."""

WEBHOOK_URL_MAX_LENGTH = 2048
"""Longest ``webhook_url`` accepted, in characters."""

SIZE_PATTERN = r"^(auto|[1-9][0-9]{1,4}x[1-9][0-9]{1,4})$"
"""``auto`` or ``WIDTHxHEIGHT``; which sizes a model makes is the settings' to say."""

Quality = Literal["auto", "low", "medium", "high"]
OutputFormat = Literal["png", "jpeg", "webp"]
Background = Literal["auto", "opaque", "transparent"]

_ALLOWED_CONTROLS = frozenset("\n\r\t")
# The same rules as regular expressions, for the OpenAPI schema: control characters other
# than tab, LF and CR; a separator is whitespace that is not one of them.
_CONTROL = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"
_WORD = rf"[^\s{_CONTROL}]+"
_GAP = rf"[^\S{_CONTROL}]"
SEARCH_WORDS_PATTERN = (
    rf"^{_GAP}*(?:{_WORD}(?:{_GAP}+{_WORD}){{0,{SEARCH_MAX_WORDS - 1}}}{_GAP}*)?$"
)
NO_CONTROLS_PATTERN = rf"^[^{_CONTROL}]*$"
# Characters that show nothing although they are not whitespace: soft hyphen, combining
# grapheme joiner, zero-width spaces and joiners, direction marks and isolates, word joiners,
# variation selectors, the byte order mark, the Hangul and Braille blanks.
_INVISIBLE = (
    r"\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e"
    r"\u2060-\u206f\u2800\u3164\ufe00-\ufe0f\ufeff\uffa0"
)
_VISIBLE = rf"[^\s{_CONTROL}{_INVISIBLE}]"
PROMPT_PATTERN = rf"^[^{_CONTROL}]*{_VISIBLE}[^{_CONTROL}]*$"
"""A prompt, for the OpenAPI schema: no control characters, and something visible."""
_HAS_VISIBLE = re.compile(_VISIBLE)


def _has_control(text: str) -> bool:
    """Whether ``text`` holds a control character other than tab, LF or CR."""
    return any(unicodedata.category(ch) == "Cc" and ch not in _ALLOWED_CONTROLS for ch in text)


def in_utc(moment: datetime | None) -> datetime | None:
    """A query's moment in UTC, as it is stored (naive means UTC); refused if UTC has no such
    date."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise ValueError("the date-time lies outside the years 1 to 9999 in UTC") from None


class ImageCreate(BaseModel):
    """The body of ``POST /image``."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)

    prompt: str = Field(
        min_length=1,
        max_length=PROMPT_MAX_LENGTH,
        description="What the image should show: no control characters other than tab, LF"
        " and CR, and not only whitespace or invisible characters.",
        examples=["a rubber duck on a sink"],
        json_schema_extra={"pattern": PROMPT_PATTERN},
    )

    size: str | None = Field(
        default=None,
        pattern=SIZE_PATTERN,
        description="`auto` or `WIDTHxHEIGHT`, one of the sizes the model makes (default: "
        "`PIXY_OPENAI_SIZE`).",
        examples=["1024x1536"],
    )
    quality: Quality | None = Field(default=None, description="Rendering quality.")
    output_format: OutputFormat | None = Field(
        default=None, description="The image's format (default: png)."
    )
    output_compression: int | None = Field(
        # Strict: a JSON true or 1.0 is not a compression level (found by schemathesis).
        default=None,
        ge=0,
        le=100,
        strict=True,
        description="0-100, for jpeg and webp only.",
    )
    background: Background | None = Field(
        default=None, description="`transparent` needs png or webp."
    )
    model: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="One of the models `GET /models` lists (default: the first): "
        "`PIXY_OPENAI_MODELS`, or `offline` with the offline generator.",
    )
    webhook_url: str | None = Field(
        default=None,
        min_length=1,
        max_length=WEBHOOK_URL_MAX_LENGTH,
        description="An http(s) URL that gets the finished job, signed (Standard Webhooks); its"
        " host must resolve to public addresses. Needs `PIXY_WEBHOOK_SECRET`.",
        examples=["https://example.com/hooks/pixyproxy"],
    )

    @field_validator("prompt")
    @classmethod
    def _printable(cls, prompt: str) -> str:
        if not _HAS_VISIBLE.search(prompt):  # zero-width spaces alone are blank too
            raise ValueError("prompt must not be blank")
        if _has_control(prompt):
            raise ValueError("prompt must not contain control characters")
        return prompt

    @field_validator("webhook_url")
    @classmethod
    def _webhook_target(cls, url: str | None) -> str | None:
        if url is not None:
            parse_webhook_url(url)
        return url

    # The combinations are checked on the later field of each pair, which then names it in the
    # error (``["body", "background"]``): a model validator could only name the whole body.
    # Fields are validated in the order declared, so ``output_format`` is known by then; when it
    # was itself refused, its own error says so and the pair is not judged.
    @field_validator("output_compression")
    @classmethod
    def _compression_is_lossy(cls, compression: int | None, info: ValidationInfo) -> int | None:
        if "output_format" not in info.data:
            return compression
        if compression is not None and info.data["output_format"] not in ("jpeg", "webp"):
            raise ValueError("output_compression is for output_format jpeg or webp only")
        return compression

    @field_validator("background")
    @classmethod
    def _transparent_format(
        cls, background: Background | None, info: ValidationInfo
    ) -> Background | None:
        if background == "transparent" and info.data.get("output_format", "png") == "jpeg":
            raise ValueError("background transparent needs output_format png or webp")
        return background

    def options(self) -> dict[str, str | int]:
        """The generation options that were given (the prompt and the webhook aside)."""
        return self.model_dump(exclude={"prompt", "webhook_url"}, exclude_none=True)


class ImageDetail(BaseModel):
    """What PixyProxy knows about one image; the same on every read."""

    model_config = ConfigDict(frozen=True)

    guid: UUID = Field(description="The image's public identifier.")
    prompt: str = Field(description="The prompt the image was generated from.")
    filename: str = Field(description="The key of the image's bytes in the store.")
    created_at: datetime
    updated_at: datetime
    media_type: str = Field(
        default="image/png", description="What the content is served as, e.g. image/png."
    )
    width: int | None = Field(default=None, description="In pixels.")
    height: int | None = Field(default=None, description="In pixels.")
    bytes: int | None = Field(default=None, description="The size of the content.")
    model: str | None = Field(default=None, description="The model that made it.")
    quality: str | None = Field(
        default=None,
        description="The quality it was asked at (the offline generator's `auto` when none"
        " was); null: none was, and the provider's own default applied.",
    )

    @cached_property
    def json_bytes(self) -> builtins.bytes:  # "bytes" alone is the field here
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
        description="Words that must each start a word of the prompt (any order, any case);"
        f" at most {SEARCH_MAX_WORDS} words.",
        json_schema_extra={"pattern": SEARCH_WORDS_PATTERN},
    )
    prompt_contains: str | None = Field(
        default=None,
        min_length=1,
        max_length=PROMPT_MAX_LENGTH,
        description="Text the prompt must contain, literally; slower (scans every row).",
        json_schema_extra={"pattern": NO_CONTROLS_PATTERN},
    )
    model: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9._-]+$",
        description="Exact model that made the image (`offline` for the offline generator).",
    )
    media_type: str | None = Field(
        default=None,
        pattern=r"^image/[a-z0-9.+-]{1,40}$",
        description="Exact media type, e.g. image/jpeg.",
    )
    filename: str | None = Field(
        default=None, min_length=1, max_length=255, description="Exact filename."
    )
    guid: UUID | None = Field(default=None, description="Exact guid.")
    created_after: datetime | None = Field(
        default=None, description="ISO 8601 (UTC when no offset is given); exclusive."
    )
    created_before: datetime | None = Field(
        default=None, description="ISO 8601 (UTC when no offset is given); exclusive."
    )

    @field_validator("prompt", "prompt_contains")
    @classmethod
    def _searchable(cls, text: str | None) -> str | None:
        # No stored prompt holds these, and SQLite would read a NUL as the end of the text.
        if text is not None and _has_control(text):
            raise ValueError("search text must not contain control characters")
        return text

    @field_validator("prompt")
    @classmethod
    def _few_words(cls, text: str | None) -> str | None:
        if text is None:
            return text
        if not text.split():  # no word to look for: it would match every image
            raise ValueError("a prompt search needs at least one word")
        if len(text.split()) > SEARCH_MAX_WORDS:
            raise ValueError(f"a prompt search takes at most {SEARCH_MAX_WORDS} words")
        return text

    @field_validator("created_after", "created_before")
    @classmethod
    def _in_utc(cls, moment: datetime | None) -> datetime | None:
        return in_utc(moment)

    # After ``_in_utc``: an empty range (equal ends) has an answer; a reversed one is a mistake
    # that would read as "nothing was made", as /usage's from and to.
    @field_validator("created_before")
    @classmethod
    def _not_before_after(cls, before: datetime | None, info: ValidationInfo) -> datetime | None:
        after = info.data.get("created_after")
        if before is not None and after is not None and before < after:
            raise ValueError("created_before must not be before created_after")
        return before


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
