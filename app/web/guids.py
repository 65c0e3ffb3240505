"""Guids in paths: each image and job answers at one spelling only.

Python's ``UUID`` reads upper case, braces, ``urn:uuid:`` and the bare 32 digits alike, so one
image answered at many URLs and a CDN kept a copy of its bytes for each. Only the form the
service writes (lower case, hyphenated) names a resource; any other spelling is a 404, which
no cache keeps (``no-store``). Clients do not follow redirects, so a 301 would help none.
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import Path, Request

from app.core.exceptions import ImageNotFound, JobNotFound

CANONICAL_GUID = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
GUID_SCHEMA: dict[str, Any] = {"pattern": CANONICAL_GUID}
"""For ``Path(json_schema_extra=...)``: the one spelling, in the OpenAPI schema."""

GuidPath = Annotated[
    UUID,
    Path(
        description="The image's guid, in lower case with hyphens.", json_schema_extra=GUID_SCHEMA
    ),
]
JobIdPath = Annotated[
    UUID,
    Path(description="The job's id, in lower case with hyphens.", json_schema_extra=GUID_SCHEMA),
]


def is_canonical(spelled: str, guid: UUID) -> bool:
    """Whether the path spelled ``guid`` the way the service writes it."""
    return spelled == str(guid)


def require_canonical_image(request: Request, guid: UUID) -> None:
    """One URL per image: another spelling of its guid is not found."""
    if not is_canonical(request.path_params["guid"], guid):
        raise ImageNotFound(f"guids are written in lower case with hyphens: {guid}")


def require_canonical_job(request: Request, job_id: UUID) -> None:
    """One URL per job: another spelling of its id is not found."""
    if not is_canonical(request.path_params["job_id"], job_id):
        raise JobNotFound(f"job ids are written in lower case with hyphens: {job_id}")
