"""A generator backed by OpenAI's images API, through the ``openai`` package's async client."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import anyio
import httpx2
import openai
import structlog
from openai import AsyncAPIResponse
from openai.types import ImagesResponse

from app.core.exceptions import (
    GenerationEmpty,
    GenerationFailed,
    InvalidImage,
    PromptRejected,
    ProviderError,
    ProviderQuotaExceeded,
    ProviderRateLimited,
    ProviderTimeout,
)
from app.core.generation import GeneratedImage, GenerationRequest, TokenUsage
from app.core.interfaces import Admit, OnPartial

_CONNECT_ATTEMPTS = 3
_CONNECT_BACKOFF_SECONDS = 0.25
_SAFETY_CODES = frozenset({"content_policy_violation", "moderation_blocked", "safety_violation"})
_DEFAULT_RETRY_AFTER = 30
_UNKNOWN_ANSWER_BYTES = 8 * 1024 * 1024  # an answer without Content-Length: assume a big one

log = structlog.get_logger(__name__)
_T = TypeVar("_T")


class OpenAIImageGenerator:
    """The ``ImageGenerator`` that asks OpenAI for one base64 image per prompt."""

    def __init__(self, client: openai.AsyncOpenAI, *, size: str, partial_images: int = 0) -> None:
        self._client = client
        self._size = size
        self._partial_images = partial_images

    async def generate(
        self, request: GenerationRequest, admit: Admit, on_partial: OnPartial | None = None
    ) -> GeneratedImage:
        """Ask for one image and decode it; every provider failure becomes one of ours.

        The answer's body (a 2-4 MB image as base64 in JSON) stays unread in the connection
        until the memory budget admits it, so a burst of answers waits instead of piling up.
        With partial images asked for (``PIXY_PARTIAL_IMAGES``), the answer is streamed and
        each partial render goes to ``on_partial`` as it arrives.
        """
        if self._partial_images and on_partial is not None:
            return await self._streamed(request, admit, on_partial)
        async with self._request(self._parameters(request)) as response:
            size = int(response.headers.get("content-length") or 0) or _UNKNOWN_ANSWER_BYTES
            # Held at once at the peak: the body, its JSON text, then the decoded image.
            await admit(size * 3)
            try:
                body = await response.read()
            except (httpx2.HTTPError, OSError) as exc:
                raise ProviderError("the image provider's answer broke off") from exc
        data, usage = decode_answer(body)
        return GeneratedImage(data, model=request.model, usage=usage)

    async def close(self) -> None:
        """Close the HTTP connections of the client."""
        await self._client.close()

    async def _streamed(
        self, request: GenerationRequest, admit: Admit, on_partial: OnPartial
    ) -> GeneratedImage:
        """Ask for a streamed answer; partial renders go out as they come, the last is kept.

        A stream that breaks off is a failed attempt like any other provider failure.
        """
        parameters = self._parameters(request) | {
            "stream": True,
            "partial_images": self._partial_images,
        }
        stream = await self._connected(lambda: self._client.images.generate(**parameters))
        admitted = False
        try:
            async for event in stream:
                if not admitted:  # the first render tells how big each will be
                    await admit(len(event.b64_json) * 3)
                    admitted = True
                data = _decoded(event.b64_json)
                if event.type == "image_generation.partial_image":
                    await on_partial(event.partial_image_index, data)
                elif event.type == "image_generation.completed":
                    usage = event.usage.model_dump() if event.usage else None
                    return GeneratedImage(data, model=request.model, usage=usage_of(usage))
        except openai.APIError as exc:
            raise provider_failure(exc) from exc
        except (httpx2.HTTPError, OSError) as exc:
            raise ProviderError("the image provider's stream broke off") from exc
        finally:
            await stream.close()
        raise ProviderError("the image provider's stream ended before the image")

    async def _connected(self, start: Callable[[], Awaitable[_T]]) -> _T:
        """Start a request; again only when the connection was refused, so no image exists."""
        for attempt in range(1, _CONNECT_ATTEMPTS + 1):
            try:
                return await start()
            except openai.APIError as exc:
                if attempt == _CONNECT_ATTEMPTS or not connection_refused(exc):
                    raise provider_failure(exc) from exc
                log.warning("provider_connection_refused", attempt=attempt)
                await anyio.sleep(_CONNECT_BACKOFF_SECONDS * attempt)
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _parameters(self, request: GenerationRequest) -> dict[str, Any]:
        """What the provider is sent: the options asked for, nothing it was not asked."""
        parameters: dict[str, Any] = {
            "model": request.model,
            "prompt": request.prompt,
            "size": request.size or self._size,
            "n": 1,
        }
        optional = {
            "quality": request.quality,
            "output_format": request.output_format,
            "output_compression": request.output_compression,
            "background": request.background,
        }
        return parameters | {name: value for name, value in optional.items() if value is not None}

    @asynccontextmanager
    async def _request(
        self, parameters: dict[str, Any]
    ) -> AsyncIterator[AsyncAPIResponse[ImagesResponse]]:
        """Ask once; again only when the connection was refused, so no image can exist yet."""

        async def start() -> tuple[Any, AsyncAPIResponse[ImagesResponse]]:
            answer = self._client.images.with_streaming_response.generate(**parameters)
            return answer, await answer.__aenter__()

        answer, response = await self._connected(start)
        try:
            yield response
        finally:
            await answer.__aexit__(None, None, None)


def decode_answer(body: bytes) -> tuple[bytes, TokenUsage]:
    """The image bytes and the usage in an images API answer (JSON with one base64 image)."""
    try:
        payload = json.loads(body)
    except ValueError as exc:
        raise ProviderError("the image provider sent an answer that could not be read") from exc
    del body  # the JSON text is all that is needed now
    data = payload.get("data") if isinstance(payload, dict) else None
    first = data[0] if isinstance(data, list) and data else None
    encoded = first.get("b64_json") if isinstance(first, dict) else None
    if not encoded or not isinstance(encoded, str):
        raise GenerationEmpty("the image provider answered without an image")
    return _decoded(encoded), usage_of(payload.get("usage"))


def _decoded(encoded: str) -> bytes:
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidImage("the image provider sent data that is not base64") from exc


def usage_of(usage: object) -> TokenUsage:
    """The provider's token counts; what it did not say counts as zero."""
    if not isinstance(usage, dict):
        return TokenUsage()
    details = usage.get("input_tokens_details")
    details = details if isinstance(details, dict) else {}
    return TokenUsage(
        text_input=_count(details.get("text_tokens")),
        image_input=_count(details.get("image_tokens")),
        output=_count(usage.get("output_tokens")),
    )


def _count(value: object) -> int:
    return value if isinstance(value, int) and value >= 0 else 0


def connection_refused(exc: BaseException) -> bool:
    """Whether the request never reached the provider (nothing was generated or billed)."""
    if isinstance(exc, openai.APITimeoutError) or not isinstance(exc, openai.APIConnectionError):
        return False
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ConnectionRefusedError) or type(seen).__name__ == "ConnectError":
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def provider_failure(exc: openai.APIError) -> GenerationFailed:
    """Map an ``openai`` exception onto the PixyProxy exception tree."""
    if isinstance(exc, openai.APITimeoutError):
        return ProviderTimeout("the image provider did not answer in time")
    if isinstance(exc, openai.APIConnectionError):
        return ProviderError("the image provider could not be reached")
    if not isinstance(exc, openai.APIStatusError):
        return ProviderError("the image provider sent an answer that could not be read")
    request_id = {"provider_request_id": exc.request_id} if exc.request_id else {}
    log.warning("provider_error", status=exc.status_code, code=exc.code, **request_id)
    if isinstance(exc, openai.RateLimitError):
        if exc.code == "insufficient_quota":
            return ProviderQuotaExceeded("the image provider account has no quota left")
        return ProviderRateLimited(
            "the image provider is rate limiting us; retry later",
            retry_after=_retry_after(exc),
        )
    if isinstance(exc, openai.BadRequestError) and exc.code in _SAFETY_CODES:
        return PromptRejected(
            "the image provider's safety system rejected the prompt", extra=request_id
        )
    if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
        return ProviderError("the image provider refused our credentials")
    return ProviderError(f"the image provider failed (HTTP {exc.status_code})")


def _retry_after(exc: openai.APIStatusError) -> int:
    value = exc.response.headers.get("retry-after", "")
    try:
        return max(1, int(float(value)))
    except ValueError:
        return _DEFAULT_RETRY_AFTER
