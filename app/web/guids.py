"""Guids in paths: each image and job answers at one spelling only.

Python's ``UUID`` reads upper case, braces, ``urn:uuid:`` and the bare 32 digits alike, so one
image answered at many URLs and a CDN kept a copy of its bytes for each. Only the form the
service writes (lower case, hyphenated) names a resource; any other spelling is a 404, which
no cache keeps (``no-store``). Clients do not follow redirects, so a 301 would help none.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

CANONICAL_GUID = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
GUID_SCHEMA: dict[str, Any] = {"pattern": CANONICAL_GUID}
"""For ``Path(json_schema_extra=...)``: the one spelling, in the OpenAPI schema."""


def is_canonical(spelled: str, guid: UUID) -> bool:
    """Whether the path spelled ``guid`` the way the service writes it."""
    return spelled == str(guid)
