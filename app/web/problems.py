"""RFC 9457 problem details: the one JSON shape of every error response."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

PROBLEM_MEDIA_TYPE = "application/problem+json"


class Problem(BaseModel):
    """An error, as ``application/problem+json``."""

    type: str = Field(examples=["urn:pixyproxy:problem:image_not_found"])
    title: str = Field(examples=["Image not found"])
    status: int = Field(examples=[404])
    detail: str = Field(examples=["no image has the guid 1c8e..."])
    instance: str = Field(description="The path of the request.", examples=["/image/1c8e..."])
    code: str = Field(description="Stable machine-readable code.", examples=["image_not_found"])
    request_id: str = Field(description="Also in the X-Request-ID header and the logs.")
    errors: list[dict[str, Any]] | None = Field(
        default=None, description="For invalid requests: what was wrong, where."
    )


def problem_type(code: str) -> str:
    """The problem type URI for a stable code."""
    return f"urn:pixyproxy:problem:{code}"


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI documentation of the problems a route can answer with."""
    descriptions = {
        400: "The body could not be read: not UTF-8, or JSON nested too deeply",
        401: "Missing or invalid API key",
        403: "Only an operator key may do this",
        429: "The key's budget of images per hour is spent (Retry-After says when a slot frees)",
        404: "No image with that guid, or its bytes are missing from the store",
        413: "The body is larger than the limit",
        414: "The query string is longer than the limit",
        415: "The body is not JSON",
        416: "The byte range lies outside the image",
        422: "Invalid request, or the prompt was rejected",
        500: "Unexpected error",
        502: "The generator returned no usable image",
        503: "A dependency is unavailable, generations or searches are at capacity, or the "
        "provider is rate limiting; see Retry-After",
        504: "The image provider timed out, or a search ran past its time limit",
    }
    return {
        status: {
            "model": Problem,
            "description": descriptions[status],
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status in statuses
    }
